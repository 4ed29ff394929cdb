-- Counts of each organisation's findings, kept by the database in the
-- same transaction as every change of a finding (triggers), so that the
-- summary and the list's total read a few rows instead of counting every
-- finding. vuln_org_counts: findings per state, priority and confidence;
-- vuln_asset_counts: findings that need work (active, open or in
-- progress) per asset. A removed finding only lowers a count (its
-- organisation or asset may be going at the same time); rows at 0 stay.
-- postgres:
--
-- The triggers run once per statement over its changed rows (transition
-- tables) and apply the summed changes in key order: a matching run that
-- writes thousands of findings in one transaction touches each count a
-- few times per statement, not once per finding (repeated updates of one
-- row in one transaction would grow its version chain), and concurrent
-- writers lock counts in the same order.
-- sqlite:
-- both:
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

-- postgres:
-- Every statement that changes findings first takes one transaction lock
-- per organisation it touches, in the order of the organisations' ids:
-- transactions that change the same organisation's counts then wait for
-- each other instead of locking count rows in different orders (a long
-- matching run and a person's state change would otherwise deadlock).
CREATE FUNCTION vuln_findings_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		PERFORM pg_advisory_xact_lock(hashtext('vuln_counts:' || org_id)) FROM (SELECT DISTINCT org_id FROM vuln_count_old ORDER BY org_id) o;
	ELSE
		PERFORM pg_advisory_xact_lock(hashtext('vuln_counts:' || org_id)) FROM (SELECT DISTINCT org_id FROM vuln_count_new ORDER BY org_id) o;
	END IF;
	IF TG_OP = 'INSERT' THEN
		INSERT INTO vuln_org_counts AS c (org_id, active, state, priority, confidence, n)
			SELECT org_id, active, state, priority, confidence, COUNT(*) FROM vuln_count_new
			GROUP BY org_id, active, state, priority, confidence ORDER BY org_id, active, state, priority, confidence
			ON CONFLICT (org_id, active, state, priority, confidence) DO UPDATE SET n = c.n + excluded.n;
		INSERT INTO vuln_asset_counts AS c (org_id, asset_id, n)
			SELECT org_id, asset_id, COUNT(*) FROM vuln_count_new WHERE active AND state IN ('open','in_progress')
			GROUP BY org_id, asset_id ORDER BY org_id, asset_id
			ON CONFLICT (org_id, asset_id) DO UPDATE SET n = c.n + excluded.n;
	ELSIF TG_OP = 'UPDATE' THEN
		INSERT INTO vuln_org_counts AS c (org_id, active, state, priority, confidence, n)
			SELECT org_id, active, state, priority, confidence, SUM(d) FROM (
				SELECT org_id, active, state, priority, confidence, -1 AS d FROM vuln_count_old
				UNION ALL SELECT org_id, active, state, priority, confidence, 1 FROM vuln_count_new) x
			GROUP BY org_id, active, state, priority, confidence HAVING SUM(d) <> 0
			ORDER BY org_id, active, state, priority, confidence
			ON CONFLICT (org_id, active, state, priority, confidence) DO UPDATE SET n = c.n + excluded.n;
		INSERT INTO vuln_asset_counts AS c (org_id, asset_id, n)
			SELECT org_id, asset_id, SUM(d) FROM (
				SELECT org_id, asset_id, -1 AS d FROM vuln_count_old WHERE active AND state IN ('open','in_progress')
				UNION ALL SELECT org_id, asset_id, 1 FROM vuln_count_new WHERE active AND state IN ('open','in_progress')) x
			GROUP BY org_id, asset_id HAVING SUM(d) <> 0 ORDER BY org_id, asset_id
			ON CONFLICT (org_id, asset_id) DO UPDATE SET n = c.n + excluded.n;
	ELSE
		UPDATE vuln_org_counts c SET n = c.n - o.n FROM (
			SELECT org_id, active, state, priority, confidence, COUNT(*) AS n FROM vuln_count_old
			GROUP BY org_id, active, state, priority, confidence) o
			WHERE c.org_id = o.org_id AND c.active = o.active AND c.state = o.state AND c.priority = o.priority AND c.confidence = o.confidence;
		UPDATE vuln_asset_counts c SET n = c.n - o.n FROM (
			SELECT org_id, asset_id, COUNT(*) AS n FROM vuln_count_old WHERE active AND state IN ('open','in_progress')
			GROUP BY org_id, asset_id) o
			WHERE c.org_id = o.org_id AND c.asset_id = o.asset_id;
	END IF;
	RETURN NULL;
END $$;
-- sqlite:
CREATE TRIGGER vuln_findings_count_insert AFTER INSERT ON vuln_findings BEGIN
	INSERT INTO vuln_org_counts (org_id, active, state, priority, confidence, n)
		VALUES (NEW.org_id, NEW.active, NEW.state, NEW.priority, NEW.confidence, 1)
		ON CONFLICT (org_id, active, state, priority, confidence) DO UPDATE SET n = n + 1;
	INSERT INTO vuln_asset_counts (org_id, asset_id, n)
		SELECT NEW.org_id, NEW.asset_id, 1 WHERE NEW.active AND NEW.state IN ('open','in_progress')
		ON CONFLICT (org_id, asset_id) DO UPDATE SET n = n + 1;
END;
-- both:

-- postgres:
CREATE TRIGGER vuln_findings_count_insert AFTER INSERT ON vuln_findings
	REFERENCING NEW TABLE AS vuln_count_new FOR EACH STATEMENT EXECUTE FUNCTION vuln_findings_count();
CREATE TRIGGER vuln_findings_count_update AFTER UPDATE ON vuln_findings
	REFERENCING OLD TABLE AS vuln_count_old NEW TABLE AS vuln_count_new FOR EACH STATEMENT EXECUTE FUNCTION vuln_findings_count();
CREATE TRIGGER vuln_findings_count_delete AFTER DELETE ON vuln_findings
	REFERENCING OLD TABLE AS vuln_count_old FOR EACH STATEMENT EXECUTE FUNCTION vuln_findings_count();
-- sqlite:
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
-- both:
