-- Vulnerability watch: vulnerabilities from every feed (global, not tenant
-- data), their compiled match rules per source, KEV and EPSS, the product
-- identities of each asset, findings per organisation with their
-- remediation state, and alerts.
CREATE TABLE vuln_vulns (
	id TEXT PRIMARY KEY,
	title TEXT NOT NULL DEFAULT '',
	title_ja TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT '',
	summary_ja TEXT NOT NULL DEFAULT '',
	nvd_status TEXT NOT NULL DEFAULT '',
	withdrawn BOOLEAN NOT NULL DEFAULT FALSE,
	published {timestamp},
	modified {timestamp},
	cvss_score {double} NOT NULL DEFAULT 0,
	cvss_version TEXT NOT NULL DEFAULT '',
	cvss_severity TEXT NOT NULL DEFAULT '',
	cvss_vector TEXT NOT NULL DEFAULT '',
	cwes TEXT NOT NULL DEFAULT '',
	updated_at {timestamp} NOT NULL
);
CREATE INDEX vuln_vulns_updated ON vuln_vulns(updated_at);

CREATE TABLE vuln_refs (
	vuln_id TEXT NOT NULL,
	ref_id TEXT NOT NULL,
	source TEXT NOT NULL,
	url TEXT NOT NULL DEFAULT '',
	title TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (vuln_id, ref_id)
){without_rowid};
CREATE INDEX vuln_refs_ref ON vuln_refs(ref_id);

CREATE TABLE vuln_rules (
	vuln_id TEXT NOT NULL,
	source TEXT NOT NULL,
	source_id TEXT NOT NULL,
	rules TEXT NOT NULL,
	pending BOOLEAN NOT NULL DEFAULT FALSE,
	wildcard BOOLEAN NOT NULL DEFAULT FALSE,
	rule_keys TEXT NOT NULL DEFAULT '',
	fixed TEXT NOT NULL DEFAULT '',
	updated_at {timestamp} NOT NULL,
	PRIMARY KEY (vuln_id, source, source_id)
);
CREATE INDEX vuln_rules_updated ON vuln_rules(updated_at);

-- Which vulnerabilities name a "vendor:product" ("*" for wildcards), for
-- matching one asset against only the rules that could concern it.
CREATE TABLE vuln_rule_keys (
	rkey TEXT NOT NULL,
	vuln_id TEXT NOT NULL,
	PRIMARY KEY (rkey, vuln_id)
){without_rowid};

CREATE TABLE vuln_kev (
	cve TEXT PRIMARY KEY,
	vendor TEXT NOT NULL DEFAULT '',
	product TEXT NOT NULL DEFAULT '',
	name TEXT NOT NULL DEFAULT '',
	added TEXT NOT NULL DEFAULT '',
	due TEXT NOT NULL DEFAULT '',
	action TEXT NOT NULL DEFAULT '',
	ransomware BOOLEAN NOT NULL DEFAULT FALSE,
	updated_at {timestamp} NOT NULL
);

CREATE TABLE vuln_epss (
	cve TEXT PRIMARY KEY,
	score {double} NOT NULL,
	percentile {double} NOT NULL DEFAULT -1,
	score_date TEXT NOT NULL DEFAULT '',
	updated_at {timestamp} NOT NULL
);

CREATE TABLE vuln_docs (
	id TEXT PRIMARY KEY,
	format TEXT NOT NULL,
	body TEXT NOT NULL,
	vendors TEXT NOT NULL DEFAULT '',
	updated_at {timestamp} NOT NULL
);

CREATE TABLE vuln_imports (
	id TEXT PRIMARY KEY,
	at {timestamp} NOT NULL,
	name TEXT NOT NULL,
	format TEXT NOT NULL DEFAULT '',
	records {bigint} NOT NULL DEFAULT 0,
	ok BOOLEAN NOT NULL,
	error_key TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX vuln_imports_at ON vuln_imports(at);

CREATE TABLE vuln_sync_state (
	name TEXT PRIMARY KEY,
	sync_cursor TEXT NOT NULL DEFAULT '',
	last_ok {timestamp},
	last_error TEXT NOT NULL DEFAULT '',
	updated_at {timestamp} NOT NULL
);

CREATE TABLE vuln_asset_identity (
	asset_id TEXT PRIMARY KEY REFERENCES inv_assets(id) ON DELETE CASCADE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	input_sig TEXT NOT NULL,
	vendor TEXT NOT NULL DEFAULT '',
	product TEXT NOT NULL DEFAULT '',
	model TEXT NOT NULL DEFAULT '',
	version TEXT NOT NULL DEFAULT '',
	vendor_key TEXT NOT NULL DEFAULT '',
	cpe TEXT NOT NULL DEFAULT '',
	candidates TEXT NOT NULL DEFAULT '[]',
	names TEXT NOT NULL DEFAULT '',
	retired BOOLEAN NOT NULL DEFAULT FALSE,
	override TEXT NOT NULL DEFAULT '',
	confirmed_by TEXT NOT NULL DEFAULT '',
	confirmed_at {timestamp},
	external BOOLEAN NOT NULL DEFAULT FALSE,
	vpn BOOLEAN NOT NULL DEFAULT FALSE,
	exposed BOOLEAN NOT NULL DEFAULT FALSE,
	updated_at {timestamp} NOT NULL
);
CREATE INDEX vuln_asset_identity_org ON vuln_asset_identity(org_id);
CREATE INDEX vuln_asset_identity_updated ON vuln_asset_identity(updated_at);
CREATE INDEX vuln_asset_identity_vendor ON vuln_asset_identity(vendor_key);

CREATE TABLE vuln_findings (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	asset_id TEXT NOT NULL REFERENCES inv_assets(id) ON DELETE CASCADE,
	vuln_id TEXT NOT NULL,
	active BOOLEAN NOT NULL DEFAULT TRUE,
	closed_reason TEXT NOT NULL DEFAULT '',
	confidence TEXT NOT NULL CHECK (confidence IN ('exact','product')),
	reasons TEXT NOT NULL DEFAULT '',
	sources TEXT NOT NULL DEFAULT '',
	matched TEXT NOT NULL DEFAULT '',
	fixed TEXT NOT NULL DEFAULT '',
	external BOOLEAN NOT NULL DEFAULT FALSE,
	exposed BOOLEAN NOT NULL DEFAULT FALSE,
	priority INTEGER NOT NULL,
	rank {bigint} NOT NULL DEFAULT 0,
	state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open','in_progress','resolved','accepted','not_applicable')),
	state_reason TEXT NOT NULL DEFAULT '',
	review_on TEXT NOT NULL DEFAULT '',
	state_by TEXT NOT NULL DEFAULT '',
	state_at {timestamp},
	first_seen {timestamp} NOT NULL,
	changed_at {timestamp} NOT NULL,
	alert_pending BOOLEAN NOT NULL DEFAULT FALSE,
	UNIQUE (org_id, asset_id, vuln_id)
);
CREATE INDEX vuln_findings_list ON vuln_findings(org_id, active, priority, rank);
CREATE INDEX vuln_findings_asset ON vuln_findings(org_id, asset_id);
CREATE INDEX vuln_findings_vuln ON vuln_findings(vuln_id, active);

CREATE TABLE vuln_notifications (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	kind TEXT NOT NULL CHECK (kind IN ('new','digest')),
	created_at {timestamp} NOT NULL,
	findings {bigint} NOT NULL DEFAULT 0,
	top_priority INTEGER NOT NULL DEFAULT 4,
	subject TEXT NOT NULL,
	body TEXT NOT NULL,
	read_at {timestamp}
);
CREATE INDEX vuln_notifications_org ON vuln_notifications(org_id, created_at);

CREATE TABLE vuln_webhooks (
	org_id TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
	url TEXT NOT NULL,
	created_at {timestamp} NOT NULL
);
