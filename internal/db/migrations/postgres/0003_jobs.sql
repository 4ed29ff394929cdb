-- Background job queue shared by all nodes, and the e-mail outbox.
CREATE TABLE jobs (
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL,
	payload TEXT NOT NULL DEFAULT '{}',
	state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued','running','done','failed')),
	attempts INTEGER NOT NULL DEFAULT 0,
	max_attempts INTEGER NOT NULL DEFAULT 8,
	run_at TIMESTAMPTZ NOT NULL,
	locked_by TEXT NOT NULL DEFAULT '',
	locked_until TIMESTAMPTZ,
	last_error TEXT NOT NULL DEFAULT '',
	unique_key TEXT,
	created_at TIMESTAMPTZ NOT NULL,
	finished_at TIMESTAMPTZ
);
CREATE INDEX jobs_ready ON jobs(state, run_at);
CREATE UNIQUE INDEX jobs_unique ON jobs(unique_key);

CREATE TABLE mail_outbox (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL DEFAULT '',
	to_addr TEXT NOT NULL,
	subject TEXT NOT NULL,
	body TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	sent_at TIMESTAMPTZ,
	delivery TEXT NOT NULL DEFAULT 'outbox',
	last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_outbox_created ON mail_outbox(created_at);
