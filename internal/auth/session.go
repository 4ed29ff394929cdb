package auth

import (
	"context"
	"time"

	"github.com/medisac/medisac/internal/db"
)

// SessionPolicy holds the session time-outs.
type SessionPolicy struct {
	Idle     time.Duration
	Absolute time.Duration
}

// TouchThreshold is how stale a stored last-seen time may be before a use
// of the session is recorded (Touches): Idle/30, between 1 s and 1 minute.
func (p SessionPolicy) TouchThreshold() time.Duration {
	return min(max(p.Idle/30, time.Second), time.Minute)
}

// FlushInterval is how often a node writes the recorded uses: Idle/60,
// between 1 s and 30 s.
func (p SessionPolicy) FlushInterval() time.Duration {
	return min(max(p.Idle/60, time.Second), 30*time.Second)
}

// IdleGrace is how far the stored last-seen time may lag behind a use on
// another node: the threshold plus two flush intervals (2 minutes with the
// default 30 idle minutes). A session ends between Idle and Idle+IdleGrace
// after its last use, so that no node ends a session another node has just
// seen.
func (p SessionPolicy) IdleGrace() time.Duration {
	return p.TouchThreshold() + 2*p.FlushInterval()
}

// DefaultSessionPolicy signs a person out after 30 idle minutes and 12 hours
// in all, a working shift.
var DefaultSessionPolicy = SessionPolicy{Idle: 30 * time.Minute, Absolute: 12 * time.Hour}

// Session is a server-side session. The browser holds only the random id;
// the database holds its hash.
type Session struct {
	IDHash     string
	UserID     string
	OrgID      string
	CSRFToken  string
	MFAPassed  bool
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	IP         string
	UserAgent  string
}

// CreateSession starts a session and returns the raw id for the cookie.
// Sign-in always creates a new session (rotation), so an id planted before
// sign-in is never upgraded.
func CreateSession(ctx context.Context, q db.Querier, userID, orgID string, mfaPassed bool, ip, ua string, pol SessionPolicy, now time.Time) (string, *Session, error) {
	raw := RandomToken(32)
	s := &Session{IDHash: HashToken(raw), UserID: userID, OrgID: orgID, CSRFToken: RandomToken(32), MFAPassed: mfaPassed,
		CreatedAt: now.UTC(), LastSeenAt: now.UTC(), ExpiresAt: now.Add(pol.Absolute).UTC(), IP: ip, UserAgent: truncate(ua, 400)}
	_, err := q.Exec(ctx, `INSERT INTO sessions (id_hash, user_id, org_id, csrf_token, mfa_passed, created_at, last_seen_at, expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.IDHash, s.UserID, s.OrgID, s.CSRFToken, s.MFAPassed, s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.IP, s.UserAgent)
	if err != nil {
		return "", nil, err
	}
	return raw, s, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// LookupSession returns the live session for a raw id. It does not write
// for a session in use: the use is recorded in the Touches of ctx (when the
// stored last-seen time is older than pol.TouchThreshold) and written with
// the next flush. Only the first use after a pause of pol.Idle/2 or more is
// written at once, so that every node knows the session is alive again. A session is idle
// when neither the stored nor this node's pending last-seen time is within
// pol.Idle+pol.IdleGrace. An unknown, expired or idle session is reported as
// db.ErrNotFound (and an expired or idle one deleted).
func LookupSession(ctx context.Context, q db.Querier, raw string, pol SessionPolicy, now time.Time) (*Session, error) {
	if raw == "" || len(raw) > 100 {
		return nil, db.ErrNotFound
	}
	h := HashToken(raw)
	var s Session
	err := db.ScanErr(q.QueryRow(ctx, `SELECT id_hash, user_id, org_id, csrf_token, mfa_passed, created_at, last_seen_at, expires_at, ip, user_agent FROM sessions WHERE id_hash = ?`, h).
		Scan(&s.IDHash, &s.UserID, &s.OrgID, &s.CSRFToken, &s.MFAPassed, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.IP, &s.UserAgent))
	if err != nil {
		return nil, err
	}
	t := touchesFrom(ctx)
	stored := s.LastSeenAt
	if at, ok := t.seenSession(h); ok && at.After(s.LastSeenAt) {
		s.LastSeenAt = at
	}
	if !now.Before(s.ExpiresAt) || now.Sub(s.LastSeenAt) >= pol.Idle+pol.IdleGrace() {
		// Deleted at once when the database is free, else by the next prune.
		dctx, cancel := context.WithTimeout(ctx, shortWrite)
		_, _ = q.Exec(dctx, `DELETE FROM sessions WHERE id_hash = ?`, h)
		cancel()
		return nil, db.ErrNotFound
	}
	if t != nil && now.Sub(stored) >= pol.TouchThreshold() && now.After(s.LastSeenAt) {
		if now.Sub(stored) >= pol.Idle/2 && writeAfterPause(ctx, q, h, now) == nil {
			// The first use after a long pause is written at once: another
			// node, seeing only the stored time, could otherwise end the
			// session before the next flush.
		} else {
			t.touchSession(h, now)
		}
		s.LastSeenAt = now
	}
	return &s, nil
}

// shortWrite bounds the rare writes a lookup makes, so that a read never
// waits long behind another transaction's write.
const shortWrite = 500 * time.Millisecond

// writeAfterPause stores a session's last-seen time, waiting at most
// shortWrite for the database; when it cannot, the time is batched instead.
func writeAfterPause(ctx context.Context, q db.Querier, idHash string, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, shortWrite)
	defer cancel()
	_, err := q.Exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?`, now, idHash, now)
	return err
}

// MarkMFAPassed records that the session's second factor was checked.
func MarkMFAPassed(ctx context.Context, q db.Querier, idHash string) error {
	_, err := q.Exec(ctx, `UPDATE sessions SET mfa_passed = TRUE WHERE id_hash = ?`, idHash)
	return err
}

// SwitchSessionOrg changes the organisation a session acts for. The caller
// checks the membership.
func SwitchSessionOrg(ctx context.Context, q db.Querier, idHash, orgID string) error {
	_, err := q.Exec(ctx, `UPDATE sessions SET org_id = ? WHERE id_hash = ?`, orgID, idHash)
	return err
}

// DeleteSession ends one session.
func DeleteSession(ctx context.Context, q db.Querier, idHash string) error {
	_, err := q.Exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
	return err
}

// DeleteUserSessions ends every session of a person ("sign out
// everywhere"), except keepHash when it is not empty. It returns how many
// ended.
func DeleteUserSessions(ctx context.Context, q db.Querier, userID, keepHash string) (int64, error) {
	res, err := q.Exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id_hash <> ?`, userID, keepHash)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// CountUserSessions returns how many live sessions a person has.
func CountUserSessions(ctx context.Context, q db.Querier, userID string, now time.Time) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT COUNT(*) FROM sessions WHERE user_id = ? AND expires_at > ?`, userID, now).Scan(&n)
	return n, err
}

// PruneSessions deletes expired sessions; a periodic job calls it. A session
// is idle only after pol.Idle+pol.IdleGrace, as other nodes may not have
// written its last use yet.
func PruneSessions(ctx context.Context, q db.Querier, pol SessionPolicy, now time.Time) (int64, error) {
	res, err := q.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?`, now, now.Add(-pol.Idle-pol.IdleGrace()))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
