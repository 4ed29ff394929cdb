-- Background job queue shared by all nodes, and the e-mail outbox.
-- A job in state 'running' whose locked_until has passed belongs to a node
-- that stopped; any node may claim it again. attempts counts claims, so
-- (id, locked_by, attempts) identifies one run and fences late writers.
CREATE TABLE jobs (
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL,
	payload TEXT NOT NULL DEFAULT '{}',
	state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued','running','done','failed')),
	attempts INTEGER NOT NULL DEFAULT 0,
	max_attempts INTEGER NOT NULL DEFAULT 8,
	run_at {timestamp} NOT NULL,
	locked_by TEXT NOT NULL DEFAULT '',
	locked_until {timestamp},
	last_error TEXT NOT NULL DEFAULT '',
	unique_key TEXT,
	created_at {timestamp} NOT NULL,
	finished_at {timestamp}
);
CREATE INDEX jobs_ready ON jobs(state, run_at);
CREATE INDEX jobs_kind ON jobs(kind, state);
-- A unique key blocks a second job only while the first is still to run.
CREATE UNIQUE INDEX jobs_unique ON jobs(unique_key) WHERE state IN ('queued','running');

-- Every e-mail medisac writes. delivery is 'outbox' (kept here for the
-- outbox page, no SMTP configured) or 'smtp' (sent by the mail.send job).
CREATE TABLE mail_outbox (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL DEFAULT '',
	to_addr TEXT NOT NULL,
	subject TEXT NOT NULL,
	body TEXT NOT NULL,
	created_at {timestamp} NOT NULL,
	sent_at {timestamp},
	failed_at {timestamp},
	delivery TEXT NOT NULL DEFAULT 'outbox' CHECK (delivery IN ('outbox','smtp')),
	job_id TEXT NOT NULL DEFAULT '',
	attempts INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_outbox_created ON mail_outbox(created_at);
CREATE INDEX mail_outbox_org ON mail_outbox(org_id, created_at);
