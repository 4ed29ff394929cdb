-- The alias table version each identity was derived under: a changed
-- table re-derives every identity, and an identity whose result did not
-- change only gets the new version.
ALTER TABLE vuln_asset_identity ADD COLUMN aliases TEXT NOT NULL DEFAULT '';

-- Findings waiting for their alert, found without reading every finding.
CREATE INDEX vuln_findings_pending ON vuln_findings(org_id) WHERE alert_pending;
