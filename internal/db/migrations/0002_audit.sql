-- Append-only, hash-chained audit log and its signed checkpoints (see
-- internal/audit). The triggers stop the program itself from changing or
-- removing rows; they are a guard against mistakes, not against someone with
-- database rights, whom audit verification catches instead.
CREATE TABLE audit_log (
	seq {bigint} PRIMARY KEY,
	at {timestamp} NOT NULL,
	actor_id TEXT NOT NULL DEFAULT '',
	actor TEXT NOT NULL DEFAULT '',
	org_id TEXT NOT NULL DEFAULT '',
	action TEXT NOT NULL,
	object_type TEXT NOT NULL DEFAULT '',
	object_id TEXT NOT NULL DEFAULT '',
	outcome TEXT NOT NULL CHECK (outcome IN ('success','failure','denied')),
	ip TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT '',
	details TEXT NOT NULL DEFAULT '{}',
	prev_hash TEXT NOT NULL,
	hash TEXT NOT NULL
);
CREATE INDEX audit_log_org ON audit_log(org_id, seq);

CREATE TABLE audit_checkpoints (
	seq {bigint} PRIMARY KEY,
	at {timestamp} NOT NULL,
	hash TEXT NOT NULL,
	key_id TEXT NOT NULL,
	signature TEXT NOT NULL
);

-- postgres:
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
	FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
	FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
-- sqlite:
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
-- both:
