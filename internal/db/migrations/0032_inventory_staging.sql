-- A register import is written in short transactions. Its rows are first
-- staged under the import's id, where no reader sees them; once every row
-- is staged the import turns 'applying' and the staged rows are applied
-- to the register chunk by chunk, each chunk deleting the rows it applied
-- in the same transaction. An import that stops while 'applying' is
-- finished from its remaining rows (at the next start or the next import
-- of the organisation); one that stops while 'staging' is discarded and
-- leaves the register as it was. One import per organisation at a time.
CREATE TABLE inv_imports (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	state TEXT NOT NULL CHECK (state IN ('staging','applying')),
	entry TEXT NOT NULL DEFAULT '',
	staged INTEGER NOT NULL DEFAULT 0,
	started_at TIMESTAMP NOT NULL,
	touched_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX inv_imports_org ON inv_imports(org_id);

CREATE TABLE inv_import_rows (
	import_id TEXT NOT NULL,
	seq INTEGER NOT NULL,
	kind TEXT NOT NULL,
	data TEXT NOT NULL,
	PRIMARY KEY (import_id, seq)
);

-- The check that the register did not change between an import's preview
-- and its apply reads the newest updated_at of the organisation's assets.
CREATE INDEX inv_assets_org_updated ON inv_assets(org_id, updated_at);
