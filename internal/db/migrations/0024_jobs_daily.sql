-- Tasks that run once per calendar day (jobs.Queue.Daily): one row per
-- task and local date. A row in state 'running' whose lease_until has
-- passed belongs to a node that stopped; any node may start that day's run
-- again. 'retry' waits for lease_until after a failed run. 'done' and
-- 'failed' are final for the day. attempts counts starts, so (name, day,
-- holder, attempts) identifies one run and fences late writers.
CREATE TABLE jobs_daily (
	name TEXT NOT NULL,
	day TEXT NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('running','retry','done','failed')),
	holder TEXT NOT NULL DEFAULT '',
	attempts INTEGER NOT NULL DEFAULT 0,
	lease_until {timestamp} NOT NULL,
	started_at {timestamp} NOT NULL,
	finished_at {timestamp},
	last_error TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (name, day)
);

-- What the organisation was last told about a finding: its priority (0
-- when never alerted), whether it was known exploited and its EPSS score.
-- A later alert compares with these to say why a finding became more
-- urgent.
ALTER TABLE vuln_findings ADD COLUMN alerted_priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE vuln_findings ADD COLUMN alerted_kev BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE vuln_findings ADD COLUMN alerted_epss {double} NOT NULL DEFAULT 0;
UPDATE vuln_findings SET alerted_priority = priority WHERE NOT alert_pending;
