-- An import of vulnerability data is recorded when its first transaction
-- commits (state 'running'), keeps a heartbeat while it writes, and is
-- marked 'interrupted' when it stops part-way; matched says whether the
-- matching of what an interrupted import committed has been enqueued or
-- run. Finished attempts have state '' as before.
ALTER TABLE vuln_imports ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE vuln_imports ADD COLUMN heartbeat {timestamp};
ALTER TABLE vuln_imports ADD COLUMN matched BOOLEAN NOT NULL DEFAULT TRUE;
CREATE INDEX vuln_imports_state ON vuln_imports(state) WHERE state <> '';
CREATE INDEX vuln_imports_name ON vuln_imports(name, at);

-- The vulnerability list (GET /api/v1/vulns) pages by (modified, id)
-- newest first with keyset cursors; this index serves that order.
CREATE INDEX vuln_vulns_list ON vuln_vulns(modified, id);
