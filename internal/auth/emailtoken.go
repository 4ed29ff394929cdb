package auth

import (
	"context"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// EmailToken kinds.
const (
	LinkInvite = "invite"
	LinkReset  = "reset"
)

// Link lifetimes: invitations stay valid a week, password resets an hour.
const (
	InviteTTL = 7 * 24 * time.Hour
	ResetTTL  = time.Hour
)

// EmailLink is a single-use link sent by e-mail.
type EmailLink struct {
	Kind      string    `json:"kind"`
	Email     string    `json:"email"`
	UserID    string    `json:"-"`
	OrgID     string    `json:"org_id"`
	Role      Role      `json:"role"`
	CreatedBy string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    *time.Time
}

// CreateLink stores a link and returns the raw token that goes in the URL.
func CreateLink(ctx context.Context, q db.Querier, l EmailLink, ttl time.Duration, now time.Time) (string, error) {
	raw := RandomToken(32)
	_, err := q.Exec(ctx, `INSERT INTO email_tokens (token_hash, kind, email, user_id, org_id, role, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		HashToken(raw), l.Kind, l.Email, l.UserID, l.OrgID, string(l.Role), l.CreatedBy, now, now.Add(ttl))
	return raw, err
}

// PeekLink returns a link without using it, or an error saying whether it
// is unknown, used or expired.
func PeekLink(ctx context.Context, q db.Querier, kind, raw string, now time.Time) (*EmailLink, error) {
	if raw == "" || len(raw) > 100 {
		return nil, apperr.New(apperr.NotFound, "auth.link.invalid")
	}
	var l EmailLink
	var role string
	err := db.ScanErr(q.QueryRow(ctx, `SELECT kind, email, user_id, org_id, role, created_by, created_at, expires_at, used_at FROM email_tokens WHERE token_hash = ? AND kind = ?`, HashToken(raw), kind).
		Scan(&l.Kind, &l.Email, &l.UserID, &l.OrgID, &role, &l.CreatedBy, &l.CreatedAt, &l.ExpiresAt, &l.UsedAt))
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return nil, apperr.New(apperr.NotFound, "auth.link.invalid")
		}
		return nil, err
	}
	l.Role = Role(role)
	if l.UsedAt != nil {
		return nil, apperr.New(apperr.Invalid, "auth.link.used")
	}
	if !now.Before(l.ExpiresAt) {
		return nil, apperr.New(apperr.Invalid, "auth.link.expired")
	}
	return &l, nil
}

// UseLink marks a link used and returns it. Two concurrent uses cannot both
// succeed: the update only matches an unused, unexpired link.
func UseLink(ctx context.Context, q db.Querier, kind, raw string, now time.Time) (*EmailLink, error) {
	l, err := PeekLink(ctx, q, kind, raw, now)
	if err != nil {
		return nil, err
	}
	res, err := q.Exec(ctx, `UPDATE email_tokens SET used_at = ? WHERE token_hash = ? AND kind = ? AND used_at IS NULL AND expires_at > ?`, now, HashToken(raw), kind, now)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, apperr.New(apperr.Invalid, "auth.link.used")
	}
	t := now
	l.UsedAt = &t
	return l, nil
}

// PendingInvites lists an organisation's unused, unexpired invitations.
// Its members see them all; an ISAC operator sees another organisation's
// invitations only where its own people made them (a first admin's), since
// the others name the organisation's people.
func PendingInvites(ctx context.Context, q db.Querier, p *Principal, orgID string, now time.Time) ([]EmailLink, error) {
	if !p.CanSeeOrg(orgID) {
		return nil, db.ErrNotFound
	}
	where, args := "", []any{orgID, now}
	if p.OrgID != orgID {
		where = ` AND created_by IN (SELECT user_id FROM memberships WHERE org_id = ?)`
		args = append(args, p.OrgID)
	}
	return db.QueryAll(ctx, q, func(r db.Scanner) (EmailLink, error) {
		var l EmailLink
		var role string
		err := r.Scan(&l.Kind, &l.Email, &l.OrgID, &role, &l.CreatedAt, &l.ExpiresAt)
		l.Role = Role(role)
		return l, err
	}, `SELECT kind, email, org_id, role, created_at, expires_at FROM email_tokens WHERE kind = 'invite' AND org_id = ? AND used_at IS NULL AND expires_at > ?`+where+` ORDER BY created_at DESC`, args...)
}
