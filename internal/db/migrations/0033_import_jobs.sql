-- An import job is a file import that the node runs on its own: an API
-- import that has not finished within a bound (or that the client asked
-- to run in the background), or a command line import handed to the
-- running server. state is queued, running, done, failed or interrupted
-- (its process stopped while it ran). The file waits in the data folder
-- while the job runs and is removed when it ends. progress_done and
-- progress_total count bytes of the file read; result is the JSON summary
-- of a finished import; error_key and error_args (JSON) the message of a
-- failed one.
CREATE TABLE import_jobs (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL,
	actor_org_id TEXT NOT NULL DEFAULT '',
	kind TEXT NOT NULL,
	state TEXT NOT NULL,
	actor TEXT NOT NULL DEFAULT '',
	via TEXT NOT NULL DEFAULT '',
	file_name TEXT NOT NULL DEFAULT '',
	size BIGINT NOT NULL DEFAULT 0,
	progress_done BIGINT NOT NULL DEFAULT 0,
	progress_total BIGINT NOT NULL DEFAULT 0,
	result TEXT,
	error_code TEXT NOT NULL DEFAULT '',
	error_key TEXT NOT NULL DEFAULT '',
	error_args TEXT NOT NULL DEFAULT '',
	error_field TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL,
	started_at {timestamp},
	finished_at {timestamp},
	heartbeat {timestamp},
	-- runner names the node (host and data folder) that runs the job, so
	-- that a restarted node marks its own jobs interrupted at once.
	runner TEXT NOT NULL DEFAULT ''
);
CREATE INDEX import_jobs_org ON import_jobs(org_id, created_at);
CREATE INDEX import_jobs_actor_org ON import_jobs(actor_org_id, created_at);
CREATE INDEX import_jobs_open ON import_jobs(state) WHERE state IN ('queued', 'running');
