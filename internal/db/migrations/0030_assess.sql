-- Assessments: questionnaire editions loaded at run time, sheets per
-- organisation and fiscal year, answers per item and cell, evidence,
-- hint decisions, vendor requests and ISAC surveys. Calendar dates are
-- TEXT 'YYYY-MM-DD' ('' when not set) on both dialects.
CREATE TABLE assess_editions (
	id TEXT PRIMARY KEY,
	owner_org_id TEXT NOT NULL DEFAULT '',
	source TEXT NOT NULL,
	created_by TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL
);

CREATE TABLE assess_sheets (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	edition_id TEXT NOT NULL,
	family TEXT NOT NULL,
	fiscal_year INTEGER NOT NULL,
	subject TEXT NOT NULL DEFAULT '',
	shared BOOLEAN NOT NULL DEFAULT FALSE,
	signed_by TEXT NOT NULL DEFAULT '',
	signed_name TEXT NOT NULL DEFAULT '',
	signed_at {timestamp},
	created_at {timestamp} NOT NULL,
	updated_at {timestamp} NOT NULL,
	UNIQUE (org_id, edition_id, fiscal_year, subject)
);
CREATE INDEX assess_sheets_family ON assess_sheets(org_id, family, fiscal_year);

CREATE TABLE assess_answers (
	sheet_id TEXT NOT NULL REFERENCES assess_sheets(id) ON DELETE CASCADE,
	org_id TEXT NOT NULL,
	item_id TEXT NOT NULL,
	cell TEXT NOT NULL DEFAULT '',
	answer1 TEXT NOT NULL DEFAULT '',
	date1 TEXT NOT NULL DEFAULT '',
	target TEXT NOT NULL DEFAULT '',
	answer2 TEXT NOT NULL DEFAULT '',
	date2 TEXT NOT NULL DEFAULT '',
	value TEXT NOT NULL DEFAULT '',
	comment TEXT NOT NULL DEFAULT '',
	updated_by TEXT NOT NULL DEFAULT '',
	updated_at {timestamp} NOT NULL,
	PRIMARY KEY (sheet_id, item_id, cell)
);
CREATE INDEX assess_answers_org ON assess_answers(org_id, sheet_id);

CREATE TABLE assess_files (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size {bigint} NOT NULL,
	sha256 TEXT NOT NULL,
	content {bytes} NOT NULL,
	created_by TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL
);

CREATE TABLE assess_evidence (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	sheet_id TEXT NOT NULL REFERENCES assess_sheets(id) ON DELETE CASCADE,
	item_id TEXT NOT NULL,
	file_id TEXT REFERENCES assess_files(id) ON DELETE CASCADE,
	link_type TEXT NOT NULL DEFAULT '',
	link_ref TEXT NOT NULL DEFAULT '',
	note TEXT NOT NULL DEFAULT '',
	created_by TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL
);
CREATE INDEX assess_evidence_item ON assess_evidence(org_id, sheet_id, item_id);

CREATE TABLE assess_hint_decisions (
	sheet_id TEXT NOT NULL REFERENCES assess_sheets(id) ON DELETE CASCADE,
	org_id TEXT NOT NULL,
	item_id TEXT NOT NULL,
	hint_key TEXT NOT NULL,
	decision TEXT NOT NULL CHECK (decision IN ('accepted','ignored')),
	decided_by TEXT NOT NULL DEFAULT '',
	decided_at {timestamp} NOT NULL,
	PRIMARY KEY (sheet_id, item_id, hint_key)
);

CREATE TABLE assess_vendor_requests (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	vendor_id TEXT NOT NULL DEFAULT '',
	vendor_name TEXT NOT NULL,
	vendor_email TEXT NOT NULL DEFAULT '',
	vendor_org_id TEXT NOT NULL DEFAULT '',
	edition_id TEXT NOT NULL,
	fiscal_year INTEGER NOT NULL,
	due_on TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL DEFAULT 'requested' CHECK (status IN ('requested','answered')),
	token_hash TEXT UNIQUE,
	token_expires_at {timestamp},
	token_used_at {timestamp},
	sheet_id TEXT NOT NULL DEFAULT '',
	file_id TEXT NOT NULL DEFAULT '',
	answered_at {timestamp},
	reminded_at {timestamp},
	created_by TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL,
	updated_at {timestamp} NOT NULL
);
CREATE INDEX assess_vendor_requests_org ON assess_vendor_requests(org_id, fiscal_year);
CREATE INDEX assess_vendor_requests_vendor ON assess_vendor_requests(vendor_org_id, status);

CREATE TABLE assess_surveys (
	id TEXT PRIMARY KEY,
	owner_org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	edition_id TEXT NOT NULL,
	title TEXT NOT NULL,
	status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','closed')),
	due_on TEXT NOT NULL DEFAULT '',
	filter TEXT NOT NULL DEFAULT '{}',
	created_by TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL
);

CREATE TABLE assess_survey_targets (
	survey_id TEXT NOT NULL REFERENCES assess_surveys(id) ON DELETE CASCADE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	sheet_id TEXT NOT NULL DEFAULT '',
	invited_at {timestamp} NOT NULL,
	responded_at {timestamp},
	reminded_at {timestamp},
	PRIMARY KEY (survey_id, org_id)
);
CREATE INDEX assess_survey_targets_org ON assess_survey_targets(org_id);
