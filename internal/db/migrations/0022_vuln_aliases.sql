-- Versions of the alias table (vendor spellings and product names to CPE
-- identities) that ISAC operators edit; the one with the highest seq is in
-- force, none means the table shipped with medisac.
CREATE TABLE vuln_alias_versions (
	id TEXT PRIMARY KEY,
	seq {bigint} NOT NULL UNIQUE,
	version TEXT NOT NULL,
	body TEXT NOT NULL,
	action TEXT NOT NULL,
	note TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL,
	created_by_id TEXT NOT NULL DEFAULT '',
	created_by TEXT NOT NULL DEFAULT ''
);
