-- Counts of each organisation's findings, kept by the database in the
-- same transaction as every change of a finding (triggers), so that the
-- summary and the list's total read a few rows instead of counting every
-- finding. vuln_org_counts: findings per state, priority and confidence;
-- vuln_asset_counts: findings that need work (active, open or in
-- progress) per asset. A removed finding only lowers a count (its
-- organisation or asset may be going at the same time); rows at 0 stay.
CREATE TABLE vuln_org_counts (
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	active BOOLEAN NOT NULL,
	state TEXT NOT NULL,
	priority INTEGER NOT NULL,
	confidence TEXT NOT NULL,
	n INTEGER NOT NULL,
	PRIMARY KEY (org_id, active, state, priority, confidence)
);
CREATE TABLE vuln_asset_counts (
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	asset_id TEXT NOT NULL REFERENCES inv_assets(id) ON DELETE CASCADE,
	n INTEGER NOT NULL,
	PRIMARY KEY (org_id, asset_id)
);
CREATE INDEX vuln_asset_counts_asset ON vuln_asset_counts(asset_id);

INSERT INTO vuln_org_counts (org_id, active, state, priority, confidence, n)
	SELECT org_id, active, state, priority, confidence, COUNT(*) FROM vuln_findings GROUP BY org_id, active, state, priority, confidence;
INSERT INTO vuln_asset_counts (org_id, asset_id, n)
	SELECT org_id, asset_id, COUNT(*) FROM vuln_findings WHERE active AND state IN ('open','in_progress') GROUP BY org_id, asset_id;

CREATE TRIGGER vuln_findings_count_insert AFTER INSERT ON vuln_findings BEGIN
	INSERT INTO vuln_org_counts (org_id, active, state, priority, confidence, n)
		VALUES (NEW.org_id, NEW.active, NEW.state, NEW.priority, NEW.confidence, 1)
		ON CONFLICT (org_id, active, state, priority, confidence) DO UPDATE SET n = n + 1;
	INSERT INTO vuln_asset_counts (org_id, asset_id, n)
		SELECT NEW.org_id, NEW.asset_id, 1 WHERE NEW.active AND NEW.state IN ('open','in_progress')
		ON CONFLICT (org_id, asset_id) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER vuln_findings_count_update AFTER UPDATE OF org_id, asset_id, active, state, priority, confidence ON vuln_findings
	WHEN OLD.org_id IS NOT NEW.org_id OR OLD.asset_id IS NOT NEW.asset_id OR OLD.active IS NOT NEW.active
		OR OLD.state IS NOT NEW.state OR OLD.priority IS NOT NEW.priority OR OLD.confidence IS NOT NEW.confidence
BEGIN
	UPDATE vuln_org_counts SET n = n - 1 WHERE org_id = OLD.org_id AND active = OLD.active AND state = OLD.state
		AND priority = OLD.priority AND confidence = OLD.confidence;
	INSERT INTO vuln_org_counts (org_id, active, state, priority, confidence, n)
		VALUES (NEW.org_id, NEW.active, NEW.state, NEW.priority, NEW.confidence, 1)
		ON CONFLICT (org_id, active, state, priority, confidence) DO UPDATE SET n = n + 1;
	UPDATE vuln_asset_counts SET n = n - 1 WHERE OLD.active AND OLD.state IN ('open','in_progress')
		AND org_id = OLD.org_id AND asset_id = OLD.asset_id;
	INSERT INTO vuln_asset_counts (org_id, asset_id, n)
		SELECT NEW.org_id, NEW.asset_id, 1 WHERE NEW.active AND NEW.state IN ('open','in_progress')
		ON CONFLICT (org_id, asset_id) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER vuln_findings_count_delete AFTER DELETE ON vuln_findings BEGIN
	UPDATE vuln_org_counts SET n = n - 1 WHERE org_id = OLD.org_id AND active = OLD.active AND state = OLD.state
		AND priority = OLD.priority AND confidence = OLD.confidence;
	UPDATE vuln_asset_counts SET n = n - 1 WHERE OLD.active AND OLD.state IN ('open','in_progress')
		AND org_id = OLD.org_id AND asset_id = OLD.asset_id;
END;
