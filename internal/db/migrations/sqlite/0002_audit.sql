-- Append-only, hash-chained audit log and its signed checkpoints.
CREATE TABLE audit_log (
	seq INTEGER PRIMARY KEY,
	at TIMESTAMP NOT NULL,
	actor_id TEXT NOT NULL DEFAULT '',
	actor TEXT NOT NULL DEFAULT '',
	org_id TEXT NOT NULL DEFAULT '',
	action TEXT NOT NULL,
	object_type TEXT NOT NULL DEFAULT '',
	object_id TEXT NOT NULL DEFAULT '',
	outcome TEXT NOT NULL,
	ip TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT '',
	details TEXT NOT NULL DEFAULT '{}',
	prev_hash TEXT NOT NULL,
	hash TEXT NOT NULL
);
CREATE INDEX audit_log_org ON audit_log(org_id, seq);

CREATE TABLE audit_checkpoints (
	seq INTEGER PRIMARY KEY,
	at TIMESTAMP NOT NULL,
	hash TEXT NOT NULL,
	key_id TEXT NOT NULL,
	signature TEXT NOT NULL
);
