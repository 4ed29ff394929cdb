-- Inventory (資産台帳): assets, segments, allowed communications, external
-- connections, vendors, systems, contracts, responsibility split, documents
-- and accounts. Every table carries org_id; the store adds it to every
-- statement. Calendar dates are TEXT 'YYYY-MM-DD' ('' when unknown) on both
-- dialects so that they compare as text.
CREATE TABLE inv_segments (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	kind TEXT NOT NULL DEFAULT 'other' CHECK (kind IN ('medical','business','maintenance','guest','dmz','other')),
	cidr TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL,
	updated_at {timestamp} NOT NULL,
	UNIQUE (org_id, name)
);

CREATE TABLE inv_assets (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('server','pc','network','medical','iot','printer','cloud','other')),
	role TEXT NOT NULL DEFAULT '',
	vendor TEXT NOT NULL DEFAULT '',
	product TEXT NOT NULL DEFAULT '',
	model TEXT NOT NULL DEFAULT '',
	version TEXT NOT NULL DEFAULT '',
	serial TEXT NOT NULL DEFAULT '',
	hostname TEXT NOT NULL DEFAULT '',
	ip TEXT NOT NULL DEFAULT '',
	mac TEXT NOT NULL DEFAULT '',
	segment_id TEXT REFERENCES inv_segments(id) ON DELETE SET NULL,
	location TEXT NOT NULL DEFAULT '',
	department TEXT NOT NULL DEFAULT '',
	maintainer TEXT NOT NULL DEFAULT '',
	support_end TEXT NOT NULL DEFAULT '',
	remote_maintenance TEXT NOT NULL DEFAULT 'unknown' CHECK (remote_maintenance IN ('yes','no','unknown')),
	default_password_changed TEXT NOT NULL DEFAULT 'unknown' CHECK (default_password_changed IN ('yes','no','unknown')),
	password_shared TEXT NOT NULL DEFAULT 'unknown' CHECK (password_shared IN ('yes','no','unknown')),
	admin_mfa TEXT NOT NULL DEFAULT 'unknown' CHECK (admin_mfa IN ('yes','no','unknown')),
	internet_exposed TEXT NOT NULL DEFAULT 'unknown' CHECK (internet_exposed IN ('yes','no','unknown')),
	cpe TEXT NOT NULL DEFAULT '',
	open_ports TEXT NOT NULL DEFAULT '[]',
	os_guess TEXT NOT NULL DEFAULT '',
	notes TEXT NOT NULL DEFAULT '',
	lifecycle TEXT NOT NULL DEFAULT 'in_use' CHECK (lifecycle IN ('in_use','spare','retired')),
	firmware_current TEXT NOT NULL DEFAULT 'unknown' CHECK (firmware_current IN ('yes','no','unknown')),
	firmware_checked_on TEXT NOT NULL DEFAULT '',
	vulnerable BOOLEAN NOT NULL DEFAULT FALSE,
	created_at {timestamp} NOT NULL,
	updated_at {timestamp} NOT NULL,
	UNIQUE (org_id, name)
);
CREATE INDEX inv_assets_kind ON inv_assets(org_id, kind, name);
CREATE INDEX inv_assets_segment ON inv_assets(org_id, segment_id);
CREATE INDEX inv_assets_ip ON inv_assets(org_id, ip);
CREATE INDEX inv_assets_hostname ON inv_assets(org_id, hostname);

CREATE TABLE inv_asset_history (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	asset_id TEXT NOT NULL,
	actor_id TEXT NOT NULL DEFAULT '',
	at {timestamp} NOT NULL,
	action TEXT NOT NULL CHECK (action IN ('create','update','delete')),
	changes TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX inv_asset_history_asset ON inv_asset_history(org_id, asset_id, at);

CREATE TABLE inv_communications (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	from_segment_id TEXT REFERENCES inv_segments(id) ON DELETE CASCADE,
	to_segment_id TEXT REFERENCES inv_segments(id) ON DELETE CASCADE,
	asset_id TEXT REFERENCES inv_assets(id) ON DELETE CASCADE,
	peer TEXT NOT NULL DEFAULT '',
	port TEXT NOT NULL DEFAULT '',
	protocol TEXT NOT NULL DEFAULT 'tcp' CHECK (protocol IN ('tcp','udp','icmp','any')),
	reason TEXT NOT NULL DEFAULT '',
	reviewed_on TEXT NOT NULL DEFAULT '',
	reviewed_by TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL,
	updated_at {timestamp} NOT NULL
);
CREATE INDEX inv_communications_asset ON inv_communications(org_id, asset_id);

CREATE TABLE inv_vendors (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	medisac_org_id TEXT REFERENCES organizations(id) ON DELETE SET NULL,
	contact TEXT NOT NULL DEFAULT '',
	phone TEXT NOT NULL DEFAULT '',
	email TEXT NOT NULL DEFAULT '',
	notes TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL,
	updated_at {timestamp} NOT NULL,
	UNIQUE (org_id, name)
);

CREATE TABLE inv_connections (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	type TEXT NOT NULL CHECK (type IN ('internet','ipsec_vpn','ssl_vpn','mobile','isdn','leased_line','remote_desktop','cloud','other')),
	asset_id TEXT REFERENCES inv_assets(id) ON DELETE SET NULL,
	peer TEXT NOT NULL DEFAULT '',
	vendor_id TEXT REFERENCES inv_vendors(id) ON DELETE SET NULL,
	purpose TEXT NOT NULL DEFAULT '',
	mfa TEXT NOT NULL DEFAULT 'unknown' CHECK (mfa IN ('yes','no','unknown')),
	manager TEXT NOT NULL DEFAULT 'unknown' CHECK (manager IN ('it','vendor','other_dept','unknown')),
	last_reviewed_on TEXT NOT NULL DEFAULT '',
	notes TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL,
	updated_at {timestamp} NOT NULL,
	UNIQUE (org_id, name)
);

CREATE TABLE inv_systems (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	vendor_id TEXT REFERENCES inv_vendors(id) ON DELETE SET NULL,
	description TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL,
	updated_at {timestamp} NOT NULL,
	UNIQUE (org_id, name)
);

CREATE TABLE inv_contracts (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	vendor_id TEXT NOT NULL REFERENCES inv_vendors(id) ON DELETE CASCADE,
	title TEXT NOT NULL,
	start_on TEXT NOT NULL DEFAULT '',
	end_on TEXT NOT NULL DEFAULT '',
	remote_maintenance TEXT NOT NULL DEFAULT 'unknown' CHECK (remote_maintenance IN ('yes','no','unknown')),
	contact TEXT NOT NULL DEFAULT '',
	notes TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL,
	updated_at {timestamp} NOT NULL
);
CREATE INDEX inv_contracts_vendor ON inv_contracts(org_id, vendor_id);

CREATE TABLE inv_contract_systems (
	contract_id TEXT NOT NULL REFERENCES inv_contracts(id) ON DELETE CASCADE,
	system_id TEXT NOT NULL REFERENCES inv_systems(id) ON DELETE CASCADE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	PRIMARY KEY (contract_id, system_id)
);

CREATE TABLE inv_responsibilities (
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	system_id TEXT NOT NULL REFERENCES inv_systems(id) ON DELETE CASCADE,
	duty TEXT NOT NULL CHECK (duty IN ('firmware','os_patch','log_monitoring','backup','password','incident_first_response')),
	holder TEXT NOT NULL CHECK (holder IN ('institution','vendor','shared','undecided')),
	note TEXT NOT NULL DEFAULT '',
	updated_at {timestamp} NOT NULL,
	PRIMARY KEY (system_id, duty)
);

CREATE TABLE inv_documents (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	system_id TEXT NOT NULL REFERENCES inv_systems(id) ON DELETE CASCADE,
	kind TEXT NOT NULL CHECK (kind IN ('mds','sds','other')),
	title TEXT NOT NULL DEFAULT '',
	filename TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size {bigint} NOT NULL,
	sha256 TEXT NOT NULL,
	uploaded_by TEXT NOT NULL DEFAULT '',
	uploaded_at {timestamp} NOT NULL
);
CREATE INDEX inv_documents_system ON inv_documents(org_id, system_id);

CREATE TABLE inv_accounts (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	system_id TEXT REFERENCES inv_systems(id) ON DELETE CASCADE,
	asset_id TEXT REFERENCES inv_assets(id) ON DELETE CASCADE,
	username TEXT NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('personal','shared','vendor','admin','service')),
	admin BOOLEAN NOT NULL DEFAULT FALSE,
	holder TEXT NOT NULL DEFAULT '',
	holder_left BOOLEAN NOT NULL DEFAULT FALSE,
	expires_on TEXT NOT NULL DEFAULT '',
	last_reviewed_on TEXT NOT NULL DEFAULT '',
	state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active','disabled','removed')),
	notes TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL,
	updated_at {timestamp} NOT NULL
);
CREATE INDEX inv_accounts_org ON inv_accounts(org_id, username);
