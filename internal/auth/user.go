package auth

import (
	"context"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
)

// Role is a person's role in one organisation.
type Role string

// The membership roles: admin manages the organisation, staff works in it,
// auditor reads only.
const (
	RoleAdmin   Role = "admin"
	RoleStaff   Role = "staff"
	RoleAuditor Role = "auditor"
)

// Roles lists the roles in display order.
var Roles = []Role{RoleAdmin, RoleStaff, RoleAuditor}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleStaff || r == RoleAuditor }

// User is a person who can sign in.
type User struct {
	ID                string     `json:"id"`
	Email             string     `json:"email"`
	DisplayName       string     `json:"display_name"`
	Lang              string     `json:"lang"`
	PasswordHash      string     `json:"-"`
	PasswordChangedAt *time.Time `json:"password_changed_at,omitempty"`
	TOTPEnabled       bool       `json:"totp_enabled"`
	Disabled          bool       `json:"disabled"`
	CreatedAt         time.Time  `json:"created_at"`
}

// Membership is a person's role in an organisation.
type Membership struct {
	OrgID     string    `json:"org_id"`
	OrgName   string    `json:"org_name"`
	OrgKind   OrgKind   `json:"org_kind"`
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"display_name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// NormalizeEmail trims and lower-cases an address and checks its form; it
// returns an Invalid error on field "email" when it is not an address.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", apperr.Field("email", "auth.email.required")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 || !strings.Contains(s[strings.LastIndexByte(s, '@'):], ".") {
		return "", apperr.Field("email", "auth.email.invalid")
	}
	return s, nil
}

const userColumns = `id, email, display_name, lang, password_hash, password_changed_at, totp_enabled, disabled, created_at`

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	var u User
	if err := row.Scan(&u.ID, &u.Email, &u.DisplayName, &u.Lang, &u.PasswordHash, &u.PasswordChangedAt, &u.TOTPEnabled, &u.Disabled, &u.CreatedAt); err != nil {
		return nil, db.ScanErr(err)
	}
	return &u, nil
}

// NewUser is the input to CreateUser. Password may be empty (the person
// then sets one through an invitation link).
type NewUser struct {
	Email       string
	DisplayName string
	Lang        string
	Password    string
}

// CreateUser inserts a person. An e-mail already registered is a Conflict
// on field "email".
func CreateUser(ctx context.Context, q db.Querier, in NewUser, now time.Time) (*User, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.DisplayName)
	if utf8.RuneCountInString(name) > 100 {
		return nil, apperr.Field("display_name", "auth.user.name_too_long", 100)
	}
	lang := in.Lang
	if !i18n.Valid(lang) {
		lang = i18n.Default
	}
	u := &User{ID: db.NewID(), Email: email, DisplayName: name, Lang: lang, CreatedAt: now.UTC()}
	if in.Password != "" {
		if err := CheckPasswordPolicy(in.Password, email, name); err != nil {
			return nil, err
		}
		h, err := HashPassword(in.Password, DefaultArgon2)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = h
		t := now.UTC()
		u.PasswordChangedAt = &t
	}
	_, err = q.Exec(ctx, `INSERT INTO users (id, email, display_name, lang, password_hash, password_changed_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.DisplayName, u.Lang, u.PasswordHash, u.PasswordChangedAt, u.CreatedAt, u.CreatedAt)
	if apperr.Is(err, apperr.Conflict) {
		return nil, &apperr.Error{Code: apperr.Conflict, Key: "auth.email.taken", Field: "email", Err: err}
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// GetUser returns a person by id, or db.ErrNotFound.
func GetUser(ctx context.Context, q db.Querier, id string) (*User, error) {
	if !db.ValidID(id) {
		return nil, db.ErrNotFound
	}
	return scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

// GetUserByEmail returns a person by e-mail (case-insensitive), or
// db.ErrNotFound.
func GetUserByEmail(ctx context.Context, q db.Querier, email string) (*User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	return scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
}

// SetPassword checks the policy and stores a new password hash.
func SetPassword(ctx context.Context, q db.Querier, u *User, password string, now time.Time) error {
	if err := CheckPasswordPolicy(password, u.Email, u.DisplayName); err != nil {
		return err
	}
	h, err := HashPassword(password, DefaultArgon2)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ? WHERE id = ?`, h, now, now, u.ID)
	return err
}

// UpdateProfile changes a person's display name and language.
func UpdateProfile(ctx context.Context, q db.Querier, userID, displayName, lang string, now time.Time) error {
	displayName = strings.TrimSpace(displayName)
	if utf8.RuneCountInString(displayName) > 100 {
		return apperr.Field("display_name", "auth.user.name_too_long", 100)
	}
	if !i18n.Valid(lang) {
		return apperr.Field("lang", "auth.user.lang_invalid")
	}
	_, err := q.Exec(ctx, `UPDATE users SET display_name = ?, lang = ?, updated_at = ? WHERE id = ?`, displayName, lang, now, userID)
	return err
}

// AddMember gives a person a role in an organisation (or changes it).
func AddMember(ctx context.Context, q db.Querier, orgID, userID string, role Role, now time.Time) error {
	if !role.Valid() {
		return apperr.Field("role", "auth.role.invalid")
	}
	_, err := q.Exec(ctx, `INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role`, orgID, userID, role, now)
	return err
}

const membershipSelect = `SELECT m.org_id, o.name, o.kind, m.user_id, u.email, u.display_name, m.role, m.created_at
	FROM memberships m JOIN organizations o ON o.id = m.org_id JOIN users u ON u.id = m.user_id`

func scanMembership(r db.Scanner) (Membership, error) {
	var m Membership
	err := r.Scan(&m.OrgID, &m.OrgName, &m.OrgKind, &m.UserID, &m.Email, &m.Name, &m.Role, &m.CreatedAt)
	return m, err
}

func scanMemberships(ctx context.Context, q db.Querier, where string, args ...any) ([]Membership, error) {
	return db.QueryAll(ctx, q, scanMembership, membershipSelect+" WHERE "+where, args...)
}

// MembershipsOf lists the organisations a person belongs to, by name.
func MembershipsOf(ctx context.Context, q db.Querier, userID string) ([]Membership, error) {
	return scanMemberships(ctx, q, "m.user_id = ? ORDER BY o.name, o.id", userID)
}

// ListMembers lists the members of orgID: names and addresses, so only
// the organisation's own people may ("record.read.members"); anyone else,
// ISAC operators included, gets db.ErrNotFound.
func ListMembers(ctx context.Context, q db.Querier, p *Principal, orgID string) ([]Membership, error) {
	ms, _, err := PageMembers(ctx, q, p, orgID, All)
	return ms, err
}

type memberKey struct {
	Email  string `json:"e"`
	UserID string `json:"i"`
}

var memberOrder = Keyset[Membership, memberKey]{
	Order:  []SortKey{{"u.email", false}, {"m.user_id", false}},
	Key:    func(m Membership) memberKey { return memberKey{m.Email, m.UserID} },
	Values: func(k memberKey) []any { return []any{k.Email, k.UserID} },
}

// PageMembers is one page of ListMembers, by address, and the cursor of
// the next.
func PageMembers(ctx context.Context, q db.Querier, p *Principal, orgID string, pg Page) ([]Membership, string, error) {
	if err := Authorize(p, "record.read.members", Target{OrgID: orgID}); err != nil {
		return nil, "", err
	}
	return memberOrder.Query(ctx, q, pg, scanMembership, membershipSelect+" WHERE m.org_id = ?", orgID)
}

// MemberCounts returns how many members and admins orgID has: part of the
// organisation record, so anyone who may see the record may ask.
func MemberCounts(ctx context.Context, q db.Querier, p *Principal, orgID string) (members, admins int, err error) {
	if !p.CanSeeOrg(orgID) {
		return 0, 0, db.ErrNotFound
	}
	err = q.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN role = 'admin' THEN 1 ELSE 0 END), 0) FROM memberships WHERE org_id = ?`, orgID).
		Scan(&members, &admins)
	return members, admins, err
}

// GetMember returns one membership of orgID, scoped like ListMembers.
func GetMember(ctx context.Context, q db.Querier, p *Principal, orgID, userID string) (*Membership, error) {
	if err := Authorize(p, "record.read.members", Target{OrgID: orgID}); err != nil {
		return nil, err
	}
	return getMember(ctx, q, orgID, userID)
}

func getMember(ctx context.Context, q db.Querier, orgID, userID string) (*Membership, error) {
	if !db.ValidID(userID) {
		return nil, db.ErrNotFound
	}
	ms, err := scanMemberships(ctx, q, "m.org_id = ? AND m.user_id = ?", orgID, userID)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, db.ErrNotFound
	}
	return &ms[0], nil
}

// ChangeRole changes a member's role and mails the organisation's admins.
// Only its own admins may ("org.member.role"; another organisation, an
// operator's included, looks missing); the last admin cannot stop being
// one. It returns the membership after the change and the role before.
func ChangeRole(ctx context.Context, q db.Querier, n *Notices, p *Principal, orgID, userID string, role Role) (*Membership, Role, error) {
	if err := Authorize(p, "org.member.role", Target{OrgID: orgID}); err != nil {
		return nil, "", err
	}
	m, err := getMember(ctx, q, orgID, userID)
	if err != nil {
		return nil, "", err
	}
	if !role.Valid() {
		return nil, "", apperr.Field("role", "auth.role.invalid")
	}
	from := m.Role
	if from == role {
		return m, from, nil
	}
	if m.Role == RoleAdmin && role != RoleAdmin {
		if err := ensureAnotherAdmin(ctx, q, orgID, userID); err != nil {
			return nil, "", err
		}
	}
	if _, err := q.Exec(ctx, `UPDATE memberships SET role = ? WHERE org_id = ? AND user_id = ?`, role, orgID, userID); err != nil {
		return nil, "", err
	}
	m.Role = role
	org, err := getOrg(ctx, q, orgID)
	if err != nil {
		return nil, "", err
	}
	return m, from, n.send(ctx, q, org, noticeRole, who(p), m.Email, roleArg(from), roleArg(role))
}

// RemoveMember removes a person from an organisation, ends their sessions
// and tokens there, and mails the organisation's admins. Only its own
// admins may ("org.member.remove"); the last admin cannot be removed.
func RemoveMember(ctx context.Context, q db.Querier, n *Notices, p *Principal, orgID, userID string) (*Membership, error) {
	if err := Authorize(p, "org.member.remove", Target{OrgID: orgID}); err != nil {
		return nil, err
	}
	m, err := getMember(ctx, q, orgID, userID)
	if err != nil {
		return nil, err
	}
	if m.Role == RoleAdmin {
		if err := ensureAnotherAdmin(ctx, q, orgID, userID); err != nil {
			return nil, err
		}
	}
	if _, err := q.Exec(ctx, `DELETE FROM memberships WHERE org_id = ? AND user_id = ?`, orgID, userID); err != nil {
		return nil, err
	}
	if _, err := q.Exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND org_id = ?`, userID, orgID); err != nil {
		return nil, err
	}
	if _, err := q.Exec(ctx, `DELETE FROM api_tokens WHERE user_id = ? AND org_id = ?`, userID, orgID); err != nil {
		return nil, err
	}
	org, err := getOrg(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	return m, n.send(ctx, q, org, noticeRemoved, who(p), m.Email, roleArg(m.Role))
}

func ensureAnotherAdmin(ctx context.Context, q db.Querier, orgID, userID string) error {
	// Inside a transaction, serialise admin changes of one organisation so
	// that two admins demoting each other cannot both succeed.
	if tx, ok := q.(*db.Tx); ok {
		if err := tx.Lock(ctx, "auth:admins:"+orgID); err != nil {
			return err
		}
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM memberships WHERE org_id = ? AND role = 'admin' AND user_id <> ?`, orgID, userID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return apperr.New(apperr.Conflict, "auth.member.last_admin")
	}
	return nil
}
