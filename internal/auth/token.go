package auth

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// TokenPrefix starts every API token, so that leaked tokens are easy to
// recognise in logs and by secret scanners.
const TokenPrefix = "msac_"

// APIToken is a personal API token's record (never the token itself).
type APIToken struct {
	ID         string     `json:"id"`
	UserID     string     `json:"-"`
	OrgID      string     `json:"org_id"`
	Name       string     `json:"name"`
	Write      bool       `json:"write"`
	ExpiresAt  *time.Time `json:"expires_at"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// CreateToken creates a token for a person in one of their organisations
// and returns the raw token, shown once.
func CreateToken(ctx context.Context, q db.Querier, userID, orgID, name string, write bool, expires *time.Time, now time.Time) (string, *APIToken, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil, apperr.Field("name", "auth.token.name_required")
	}
	if utf8.RuneCountInString(name) > 100 {
		return "", nil, apperr.Field("name", "auth.token.name_too_long", 100)
	}
	if expires != nil && !expires.After(now) {
		return "", nil, apperr.Field("expires_at", "auth.token.expiry_past")
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM memberships WHERE user_id = ? AND org_id = ?`, userID, orgID).Scan(&n); err != nil {
		return "", nil, err
	}
	if n == 0 {
		return "", nil, db.ErrNotFound
	}
	raw := TokenPrefix + RandomToken(32)
	t := &APIToken{ID: db.NewID(), UserID: userID, OrgID: orgID, Name: name, Write: write, ExpiresAt: expires, CreatedAt: now.UTC()}
	_, err := q.Exec(ctx, `INSERT INTO api_tokens (id, user_id, org_id, name, token_hash, can_write, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.UserID, t.OrgID, t.Name, HashToken(raw), t.Write, t.ExpiresAt, t.CreatedAt)
	if err != nil {
		return "", nil, err
	}
	return raw, t, nil
}

// ListTokens lists a person's tokens, newest first, with this node's
// pending last-used times.
func ListTokens(ctx context.Context, q db.Querier, userID string) ([]APIToken, error) {
	ts, _, err := PageTokens(ctx, q, userID, All)
	return ts, err
}

type tokenKey struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

var tokenOrder = Keyset[APIToken, tokenKey]{
	Order:  []SortKey{{"created_at", true}, {"id", false}},
	Key:    func(t APIToken) tokenKey { return tokenKey{t.CreatedAt, t.ID} },
	Values: func(k tokenKey) []any { return []any{k.At, k.ID} },
}

// PageTokens is one page of ListTokens, and the cursor of the next.
func PageTokens(ctx context.Context, q db.Querier, userID string, p Page) ([]APIToken, string, error) {
	touches := touchesFrom(ctx)
	return tokenOrder.Query(ctx, q, p, func(r db.Scanner) (APIToken, error) {
		var t APIToken
		if err := r.Scan(&t.ID, &t.UserID, &t.OrgID, &t.Name, &t.Write, &t.ExpiresAt, &t.CreatedAt, &t.LastUsedAt); err != nil {
			return t, err
		}
		if at, ok := touches.seenToken(t.ID); ok && (t.LastUsedAt == nil || at.After(*t.LastUsedAt)) {
			t.LastUsedAt = &at
		}
		return t, nil
	}, `SELECT id, user_id, org_id, name, can_write, expires_at, created_at, last_used_at FROM api_tokens WHERE user_id = ?`, userID)
}

// RevokeToken deletes one of the person's tokens; another person's token id
// is db.ErrNotFound.
func RevokeToken(ctx context.Context, q db.Querier, userID, tokenID string) error {
	res, err := q.Exec(ctx, `DELETE FROM api_tokens WHERE id = ? AND user_id = ?`, tokenID, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return db.ErrNotFound
	}
	return nil
}

// PrincipalForToken authenticates a raw API token. It does not write. An unknown, expired or
// orphaned token (its owner left the organisation or was disabled) is
// db.ErrNotFound.
func PrincipalForToken(ctx context.Context, q db.Querier, raw string, now time.Time) (*Principal, error) {
	if !strings.HasPrefix(raw, TokenPrefix) || len(raw) > 100 {
		return nil, db.ErrNotFound
	}
	var p Principal
	var expires, lastUsed *time.Time
	err := db.ScanErr(q.QueryRow(ctx, `SELECT t.id, t.can_write, t.expires_at, t.last_used_at, u.id, u.email, u.display_name, u.lang, o.id, o.name, o.kind, m.role
		FROM api_tokens t
		JOIN users u ON u.id = t.user_id
		JOIN memberships m ON m.user_id = t.user_id AND m.org_id = t.org_id
		JOIN organizations o ON o.id = t.org_id
		WHERE t.token_hash = ? AND u.disabled = FALSE`, HashToken(raw)).
		Scan(&p.TokenID, &p.TokenWrite, &expires, &lastUsed, &p.UserID, &p.Email, &p.DisplayName, &p.Lang, &p.OrgID, &p.OrgName, &p.OrgKind, &p.Role))
	if err != nil {
		return nil, err
	}
	if expires != nil && !now.Before(*expires) {
		return nil, db.ErrNotFound
	}
	// No write here: the use is recorded in the node's Touches and written
	// with the next flush.
	if t := touchesFrom(ctx); t != nil && (lastUsed == nil || now.Sub(*lastUsed) >= time.Minute) {
		t.touchToken(p.TokenID, now)
	}
	return &p, nil
}

// PrincipalForSession builds the principal of a session: the person in the
// session's organisation with their role there. A person who is no longer a
// member, or is disabled, is db.ErrNotFound.
func PrincipalForSession(ctx context.Context, q db.Querier, s *Session) (*Principal, error) {
	var p Principal
	err := db.ScanErr(q.QueryRow(ctx, `SELECT u.id, u.email, u.display_name, u.lang, o.id, o.name, o.kind, m.role
		FROM users u
		JOIN memberships m ON m.user_id = u.id AND m.org_id = ?
		JOIN organizations o ON o.id = m.org_id
		WHERE u.id = ? AND u.disabled = FALSE`, s.OrgID, s.UserID).
		Scan(&p.UserID, &p.Email, &p.DisplayName, &p.Lang, &p.OrgID, &p.OrgName, &p.OrgKind, &p.Role))
	if err != nil {
		return nil, err
	}
	p.SessionID = s.IDHash
	return &p, nil
}
