-- Organisations, people, sign-in state. Times are UTC.
CREATE TABLE organizations (
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('hospital','clinic','pharmacy','vendor','device_maker','isac')),
	name TEXT NOT NULL,
	name_kana TEXT NOT NULL DEFAULT '',
	prefecture TEXT NOT NULL DEFAULT '',
	medical_code TEXT NOT NULL DEFAULT '',
	beds INTEGER,
	mfa_policy TEXT NOT NULL DEFAULT 'admins' CHECK (mfa_policy IN ('admins','everyone')),
	created_at {timestamp} NOT NULL,
	updated_at {timestamp} NOT NULL
);
CREATE INDEX organizations_kind ON organizations(kind);

CREATE TABLE users (
	id TEXT PRIMARY KEY,
	email TEXT NOT NULL UNIQUE,
	display_name TEXT NOT NULL DEFAULT '',
	lang TEXT NOT NULL DEFAULT 'ja',
	password_hash TEXT NOT NULL DEFAULT '',
	password_changed_at {timestamp},
	totp_secret TEXT NOT NULL DEFAULT '',
	totp_enabled BOOLEAN NOT NULL DEFAULT FALSE,
	totp_last_step {bigint} NOT NULL DEFAULT 0,
	disabled BOOLEAN NOT NULL DEFAULT FALSE,
	created_at {timestamp} NOT NULL,
	updated_at {timestamp} NOT NULL
);

CREATE TABLE memberships (
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	role TEXT NOT NULL CHECK (role IN ('admin','staff','auditor')),
	created_at {timestamp} NOT NULL,
	PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

CREATE TABLE sessions (
	id_hash TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	org_id TEXT NOT NULL DEFAULT '',
	csrf_token TEXT NOT NULL,
	mfa_passed BOOLEAN NOT NULL DEFAULT FALSE,
	created_at {timestamp} NOT NULL,
	last_seen_at {timestamp} NOT NULL,
	expires_at {timestamp} NOT NULL,
	ip TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	token_hash TEXT NOT NULL UNIQUE,
	can_write BOOLEAN NOT NULL DEFAULT FALSE,
	expires_at {timestamp},
	created_at {timestamp} NOT NULL,
	last_used_at {timestamp}
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

-- Failed sign-in counters per account and per source address, shared by all nodes.
CREATE TABLE login_throttle (
	key TEXT PRIMARY KEY,
	failures INTEGER NOT NULL DEFAULT 0,
	window_start {timestamp} NOT NULL,
	locked_until {timestamp}
);

-- Fixed-window request counters shared by all nodes.
CREATE TABLE rate_counters (
	key TEXT NOT NULL,
	window_start {timestamp} NOT NULL,
	count INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (key, window_start)
);

-- Single-use links sent by e-mail: invitations and password resets.
CREATE TABLE email_tokens (
	token_hash TEXT PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('invite','reset')),
	email TEXT NOT NULL,
	user_id TEXT NOT NULL DEFAULT '',
	org_id TEXT NOT NULL DEFAULT '',
	role TEXT NOT NULL DEFAULT '',
	created_by TEXT NOT NULL DEFAULT '',
	created_at {timestamp} NOT NULL,
	expires_at {timestamp} NOT NULL,
	used_at {timestamp}
);
CREATE INDEX email_tokens_org ON email_tokens(org_id, kind);

CREATE TABLE recovery_codes (
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	code_hash TEXT NOT NULL,
	used_at {timestamp},
	PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE webauthn_credentials (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	credential_id TEXT NOT NULL UNIQUE,
	name TEXT NOT NULL DEFAULT '',
	data TEXT NOT NULL,
	created_at {timestamp} NOT NULL,
	last_used_at {timestamp}
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials(user_id);

-- Short-lived ceremony state (WebAuthn challenges, TOTP enrolment) kept in
-- the database so any node can finish what another began.
CREATE TABLE auth_challenges (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	kind TEXT NOT NULL,
	data TEXT NOT NULL,
	expires_at {timestamp} NOT NULL
);

-- Named leases for work that only one node may do at a time.
CREATE TABLE locks (
	name TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	expires_at {timestamp} NOT NULL
);
