-- Sharing hub (the ISAC): posts under TLP 2.0, their recipients, sharing
-- groups, indicators with an indexed table of normalised values, responses,
-- comments, sightings, a bi-gram search index, STIX objects served over
-- TAXII, notifications and warning lists.
CREATE TABLE share_groups (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('regional','customers','other')),
	owner_org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	created_at {timestamp} NOT NULL
);

CREATE TABLE share_group_members (
	group_id TEXT NOT NULL REFERENCES share_groups(id) ON DELETE CASCADE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, org_id)
);
CREATE INDEX share_group_members_org ON share_group_members(org_id);

CREATE TABLE share_posts (
	id TEXT PRIMARY KEY,
	stix_id TEXT NOT NULL UNIQUE,
	kind TEXT NOT NULL CHECK (kind IN ('advisory','incident','vuln_note','indicator_set','question')),
	tlp TEXT NOT NULL CHECK (tlp IN ('clear','green','amber','amber_strict','red')),
	title TEXT NOT NULL,
	body TEXT NOT NULL DEFAULT '',
	body_html TEXT NOT NULL DEFAULT '',
	refs TEXT NOT NULL DEFAULT '[]',
	cves TEXT NOT NULL DEFAULT '[]',
	author_org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	author_user_id TEXT NOT NULL DEFAULT '',
	anonymous BOOLEAN NOT NULL DEFAULT FALSE,
	source TEXT NOT NULL DEFAULT 'local',
	created_at {timestamp} NOT NULL,
	updated_at {timestamp} NOT NULL
);
CREATE INDEX share_posts_created ON share_posts(created_at);
CREATE INDEX share_posts_tlp ON share_posts(tlp, created_at);
CREATE INDEX share_posts_author ON share_posts(author_org_id);

CREATE TABLE share_recipients (
	post_id TEXT NOT NULL REFERENCES share_posts(id) ON DELETE CASCADE,
	kind TEXT NOT NULL CHECK (kind IN ('org','group','user')),
	ref_id TEXT NOT NULL,
	added_by TEXT NOT NULL DEFAULT '',
	added_at {timestamp} NOT NULL,
	PRIMARY KEY (post_id, kind, ref_id)
);
CREATE INDEX share_recipients_ref ON share_recipients(kind, ref_id);

CREATE TABLE share_ioc_values (
	id TEXT PRIMARY KEY,
	type TEXT NOT NULL,
	value TEXT NOT NULL,
	post_count {bigint} NOT NULL DEFAULT 0,
	first_seen {timestamp} NOT NULL,
	UNIQUE (type, value)
);

CREATE TABLE share_indicators (
	id TEXT PRIMARY KEY,
	post_id TEXT NOT NULL REFERENCES share_posts(id) ON DELETE CASCADE,
	value_id TEXT NOT NULL REFERENCES share_ioc_values(id),
	type TEXT NOT NULL,
	raw TEXT NOT NULL,
	norm TEXT NOT NULL,
	comment TEXT NOT NULL DEFAULT '',
	warning TEXT NOT NULL DEFAULT '',
	stix_id TEXT NOT NULL,
	created_at {timestamp} NOT NULL,
	UNIQUE (post_id, value_id)
);
CREATE INDEX share_indicators_value ON share_indicators(value_id);

CREATE TABLE share_warnings (
	id TEXT PRIMARY KEY,
	list TEXT NOT NULL,
	type TEXT NOT NULL CHECK (type IN ('ip','cidr','domain','hash','url','email','filename')),
	value TEXT NOT NULL,
	builtin BOOLEAN NOT NULL DEFAULT FALSE,
	disabled BOOLEAN NOT NULL DEFAULT FALSE,
	created_at {timestamp} NOT NULL,
	UNIQUE (type, value)
);

CREATE TABLE share_responses (
	post_id TEXT NOT NULL REFERENCES share_posts(id) ON DELETE CASCADE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	user_id TEXT NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('affected','not_affected','investigating')),
	updated_at {timestamp} NOT NULL,
	PRIMARY KEY (post_id, org_id)
);

CREATE TABLE share_sightings (
	indicator_id TEXT NOT NULL REFERENCES share_indicators(id) ON DELETE CASCADE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	user_id TEXT NOT NULL,
	stix_id TEXT NOT NULL,
	seen_at {timestamp} NOT NULL,
	PRIMARY KEY (indicator_id, org_id)
);

CREATE TABLE share_comments (
	id TEXT PRIMARY KEY,
	post_id TEXT NOT NULL REFERENCES share_posts(id) ON DELETE CASCADE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	user_id TEXT NOT NULL,
	body TEXT NOT NULL,
	body_html TEXT NOT NULL,
	stix_id TEXT NOT NULL,
	created_at {timestamp} NOT NULL
);
CREATE INDEX share_comments_post ON share_comments(post_id, created_at);

CREATE TABLE share_search (
	gram TEXT NOT NULL,
	post_id TEXT NOT NULL REFERENCES share_posts(id) ON DELETE CASCADE,
	PRIMARY KEY (gram, post_id)
);
CREATE INDEX share_search_post ON share_search(post_id);

CREATE TABLE share_stix_objects (
	seq {serial_key},
	post_id TEXT NOT NULL REFERENCES share_posts(id) ON DELETE CASCADE,
	stix_id TEXT NOT NULL,
	type TEXT NOT NULL,
	version TEXT NOT NULL,
	date_added {timestamp} NOT NULL,
	body TEXT NOT NULL
);
CREATE INDEX share_stix_objects_added ON share_stix_objects(date_added, seq);
CREATE INDEX share_stix_objects_stix ON share_stix_objects(stix_id);
CREATE INDEX share_stix_objects_post ON share_stix_objects(post_id);

CREATE TABLE share_taxii_status (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL,
	created_at {timestamp} NOT NULL,
	body TEXT NOT NULL
);

CREATE TABLE share_taxii_feeds (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	user_id TEXT NOT NULL,
	title TEXT NOT NULL,
	objects_url TEXT NOT NULL,
	username TEXT NOT NULL DEFAULT '',
	secret TEXT NOT NULL DEFAULT '',
	tlp TEXT NOT NULL DEFAULT 'amber',
	interval_minutes INTEGER NOT NULL DEFAULT 60,
	added_after TEXT NOT NULL DEFAULT '',
	next_run_at {timestamp} NOT NULL,
	last_error TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL
);

CREATE TABLE share_subscriptions (
	user_id TEXT NOT NULL,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	immediate_tlp TEXT NOT NULL DEFAULT 'amber,amber_strict,red',
	immediate_kinds TEXT NOT NULL DEFAULT '',
	digest BOOLEAN NOT NULL DEFAULT TRUE,
	updated_at {timestamp} NOT NULL,
	PRIMARY KEY (user_id, org_id)
);

CREATE TABLE share_webhooks (
	org_id TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
	url TEXT NOT NULL,
	secret TEXT NOT NULL,
	created_at {timestamp} NOT NULL
);

CREATE TABLE share_notifications (
	user_id TEXT NOT NULL,
	post_id TEXT NOT NULL REFERENCES share_posts(id) ON DELETE CASCADE,
	org_id TEXT NOT NULL,
	mode TEXT NOT NULL CHECK (mode IN ('immediate','digest','none')),
	created_at {timestamp} NOT NULL,
	sent_at {timestamp},
	PRIMARY KEY (user_id, post_id)
);
CREATE INDEX share_notifications_pending ON share_notifications(mode, sent_at, user_id);
