package auth

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/medisac/medisac/internal/db"
)

// Touches keeps the last-seen times of sessions and the last-used times of
// API tokens in memory, so that an authenticated read never writes to the
// database: the node writes them in one short transaction every
// SessionPolicy.FlushInterval and when it stops (Run, Flush). A time is only
// kept when the stored one is older than SessionPolicy.TouchThreshold, so a
// session in constant use is written about once a minute.
//
// The requests of a node find it in their context (WithTouches); without
// one, lookups record nothing.
type Touches struct {
	mu       sync.Mutex
	sessions map[string]time.Time
	tokens   map[string]time.Time
}

// NewTouches returns an empty buffer.
func NewTouches() *Touches {
	return &Touches{sessions: map[string]time.Time{}, tokens: map[string]time.Time{}}
}

type touchesKey struct{}

// WithTouches returns ctx carrying t (ctx itself when t is nil).
func WithTouches(ctx context.Context, t *Touches) context.Context {
	if t == nil {
		return ctx
	}
	return context.WithValue(ctx, touchesKey{}, t)
}

func touchesFrom(ctx context.Context) *Touches {
	t, _ := ctx.Value(touchesKey{}).(*Touches)
	return t
}

func later(m map[string]time.Time, k string, at time.Time) {
	if at.After(m[k]) {
		m[k] = at
	}
}

func (t *Touches) touchSession(idHash string, at time.Time) {
	t.mu.Lock()
	later(t.sessions, idHash, at.UTC())
	t.mu.Unlock()
}

func (t *Touches) touchToken(id string, at time.Time) {
	t.mu.Lock()
	later(t.tokens, id, at.UTC())
	t.mu.Unlock()
}

// seenSession and seenToken return the pending time of a session or token.
func (t *Touches) seenSession(idHash string) (time.Time, bool) {
	if t == nil {
		return time.Time{}, false
	}
	return t.seen(t.sessions, idHash)
}

func (t *Touches) seenToken(id string) (time.Time, bool) {
	if t == nil {
		return time.Time{}, false
	}
	return t.seen(t.tokens, id)
}

func (t *Touches) seen(m map[string]time.Time, k string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := m[k]
	return at, ok
}

// Pending returns how many sessions and tokens wait to be written.
func (t *Touches) Pending() (sessions, tokens int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sessions), len(t.tokens)
}

// flushBatch bounds one write transaction.
const flushBatch = 500

// Flush writes the pending times, never moving a stored time backwards. The
// rows are written in key order, so that two nodes flushing at once cannot
// deadlock. What could not be written stays pending for the next flush.
func (t *Touches) Flush(ctx context.Context, d *db.DB) error {
	t.mu.Lock()
	sess, toks := t.sessions, t.tokens
	t.sessions, t.tokens = map[string]time.Time{}, map[string]time.Time{}
	t.mu.Unlock()
	sKeys, tKeys := slices.Sorted(maps.Keys(sess)), slices.Sorted(maps.Keys(toks))
	for len(sKeys) > 0 || len(tKeys) > 0 {
		ns := min(len(sKeys), flushBatch)
		nt := min(len(tKeys), flushBatch-ns)
		err := d.InTx(ctx, func(tx *db.Tx) error {
			for _, h := range sKeys[:ns] {
				if _, err := tx.Exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?`, sess[h], h, sess[h]); err != nil {
					return err
				}
			}
			for _, id := range tKeys[:nt] {
				if _, err := tx.Exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`, toks[id], id, toks[id]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.mu.Lock()
			for _, h := range sKeys {
				later(t.sessions, h, sess[h])
			}
			for _, id := range tKeys {
				later(t.tokens, id, toks[id])
			}
			t.mu.Unlock()
			return err
		}
		sKeys, tKeys = sKeys[ns:], tKeys[nt:]
	}
	return nil
}

// Run flushes every interval until ctx ends; the caller flushes once more
// after the last request (see Flush). Errors go to onErr and the times stay
// pending.
func (t *Touches) Run(ctx context.Context, d *db.DB, interval time.Duration, onErr func(error)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := t.Flush(ctx, d); err != nil && ctx.Err() == nil && onErr != nil {
				onErr(err)
			}
		}
	}
}
