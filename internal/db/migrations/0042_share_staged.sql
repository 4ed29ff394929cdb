-- Sharing hub: consent of organisations added to sharing groups, imports
-- written in short transactions and published at once, and the record of
-- a label raised by a stricter marking inside an imported object.

-- An organisation is in a group only once one of its admins accepted.
-- Existing members of "customers" groups were added without asking them:
-- they are asked again.
ALTER TABLE share_group_members ADD COLUMN state TEXT NOT NULL DEFAULT 'accepted' CHECK (state IN ('pending','accepted'));
ALTER TABLE share_group_members ADD COLUMN invited_by TEXT NOT NULL DEFAULT '';
ALTER TABLE share_group_members ADD COLUMN invited_at TIMESTAMP;
UPDATE share_group_members SET state = 'pending' WHERE group_id IN (SELECT id FROM share_groups WHERE kind = 'customers');

-- Rows written by an import in progress carry its id and are seen by
-- nobody; the import's last transaction clears it. Imports that stopped
-- touching their row are removed with everything they staged.
CREATE TABLE share_imports (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	started_at TIMESTAMP NOT NULL,
	touched_at TIMESTAMP NOT NULL
);
ALTER TABLE share_posts ADD COLUMN import_id TEXT;
CREATE INDEX share_posts_import ON share_posts(import_id) WHERE import_id IS NOT NULL;
ALTER TABLE share_stix_objects ADD COLUMN import_id TEXT;
CREATE INDEX share_stix_objects_import ON share_stix_objects(import_id) WHERE import_id IS NOT NULL;

-- The label an imported post would have had before a stricter marking on
-- part of it (a granular marking) raised the whole post to that marking.
ALTER TABLE share_posts ADD COLUMN label_raised_from TEXT NOT NULL DEFAULT '';
