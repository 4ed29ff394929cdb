-- The alias table version each identity was derived under: a changed
-- table re-derives every identity, and an identity whose result did not
-- change only gets the new version.
ALTER TABLE vuln_asset_identity ADD COLUMN aliases TEXT NOT NULL DEFAULT '';

-- Findings waiting for their alert, found without reading every finding.
CREATE INDEX vuln_findings_pending ON vuln_findings(org_id) WHERE alert_pending;

-- What the watch last brought up to date: the time every identity was
-- last checked against the inventory and the alias table version then.
CREATE TABLE vuln_state (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- Per vulnerability, a digest of what the last full matching found; a
-- result with the same digest is not compared row by row again. Any other
-- change to a vulnerability's findings removes its row.
CREATE TABLE vuln_match_state (
	vuln_id TEXT PRIMARY KEY,
	digest TEXT NOT NULL,
	updated_at {timestamp} NOT NULL
);

-- Assets and connections changed since a time, without reading them all.
CREATE INDEX inv_assets_updated ON inv_assets(updated_at);
CREATE INDEX inv_connections_updated ON inv_connections(updated_at);
