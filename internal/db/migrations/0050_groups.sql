-- Hospital groups (病院グループ): a head-office organisation and the member
-- organisations that accepted its invitation. invited_as keeps what the
-- owner typed (an id or a 医療機関コード) so a pending invitation can be
-- shown without the invitee's name.
CREATE TABLE org_groups (
	id TEXT PRIMARY KEY,
	owner_org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	created_by TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL,
	updated_at {timestamp} NOT NULL,
	UNIQUE (owner_org_id, name)
);

CREATE TABLE org_group_members (
	group_id TEXT NOT NULL REFERENCES org_groups(id) ON DELETE CASCADE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	status TEXT NOT NULL CHECK (status IN ('invited','active','declined')),
	invited_as TEXT NOT NULL DEFAULT '',
	invited_by TEXT NOT NULL DEFAULT '',
	invited_at {timestamp} NOT NULL,
	answered_at {timestamp},
	PRIMARY KEY (group_id, org_id)
);
CREATE INDEX org_group_members_org ON org_group_members(org_id, status);
