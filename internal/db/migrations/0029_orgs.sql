-- Membership proposals: an ISAC operator's invitation into an organisation
-- that has admins waits here for one of them to accept (the invitation
-- mail then goes out) or decline. Nothing reaches the invitee before.
CREATE TABLE org_proposals (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	email TEXT NOT NULL,
	role TEXT NOT NULL CHECK (role IN ('admin','staff','auditor')),
	lang TEXT NOT NULL DEFAULT '',
	proposed_by TEXT NOT NULL,
	proposer_email TEXT NOT NULL DEFAULT '',
	proposer_org_id TEXT NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('pending','accepted','declined')),
	created_at {timestamp} NOT NULL,
	answered_by TEXT NOT NULL DEFAULT '',
	answered_at {timestamp}
);
CREATE INDEX org_proposals_org ON org_proposals(org_id, status);
