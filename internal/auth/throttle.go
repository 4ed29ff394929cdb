package auth

import (
	"context"
	"errors"
	"time"

	"github.com/medisac/medisac/internal/db"
)

// ThrottlePolicy sets when failed sign-ins lock an account or a source
// address. The Free-th failure inside Window locks the key for Base; every
// further failure within Window of the lock's end doubles the lock, up to
// Max.
type ThrottlePolicy struct {
	Free   int
	Window time.Duration
	Base   time.Duration
	Max    time.Duration
}

// AccountThrottle applies per e-mail address; SourceThrottle per source
// address, more lenient because a hospital's staff often share one public
// address.
var (
	AccountThrottle = ThrottlePolicy{Free: 5, Window: 15 * time.Minute, Base: time.Minute, Max: time.Hour}
	SourceThrottle  = ThrottlePolicy{Free: 30, Window: 15 * time.Minute, Base: time.Minute, Max: time.Hour}
)

// LockedUntil returns the time until which key is locked, or the zero time.
func LockedUntil(ctx context.Context, q db.Querier, key string, now time.Time) (time.Time, error) {
	var until *time.Time
	err := db.ScanErr(q.QueryRow(ctx, `SELECT locked_until FROM login_throttle WHERE key = ?`, key).Scan(&until))
	if errors.Is(err, db.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	if until == nil || !until.After(now) {
		return time.Time{}, nil
	}
	return *until, nil
}

// RecordFailure counts a failed attempt for key and returns the lock end
// when the key is now locked.
func RecordFailure(ctx context.Context, q db.Querier, key string, pol ThrottlePolicy, now time.Time) (time.Time, error) {
	var failures int
	var windowStart time.Time
	err := db.ScanErr(q.QueryRow(ctx, `INSERT INTO login_throttle (key, failures, window_start) VALUES (?, 1, ?)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN login_throttle.window_start <= ? THEN 1 ELSE login_throttle.failures + 1 END,
			window_start = CASE WHEN login_throttle.window_start <= ? THEN excluded.window_start ELSE login_throttle.window_start END
		RETURNING failures, window_start`, key, now, now.Add(-pol.Window), now.Add(-pol.Window)).Scan(&failures, &windowStart))
	if err != nil {
		return time.Time{}, err
	}
	if failures < pol.Free {
		return time.Time{}, nil
	}
	d := pol.Base
	for i := pol.Free; i < failures && d < pol.Max; i++ {
		d *= 2
	}
	if d > pol.Max {
		d = pol.Max
	}
	until := now.Add(d)
	// The window restarts when the lock ends, so that a failure soon after
	// any lock, however long, doubles it again.
	_, err = q.Exec(ctx, `UPDATE login_throttle SET locked_until = ?, window_start = ? WHERE key = ?`, until, until, key)
	return until, err
}

// ClearFailures forgets the failures of key (after a successful sign-in).
func ClearFailures(ctx context.Context, q db.Querier, key string) error {
	_, err := q.Exec(ctx, `DELETE FROM login_throttle WHERE key = ?`, key)
	return err
}

// Allow counts one event for key in the current fixed window and reports
// whether the count is still within limit. Counters live in the database so
// that every node enforces the same limit.
func Allow(ctx context.Context, q db.Querier, key string, limit int, window time.Duration, now time.Time) (bool, error) {
	start := now.UTC().Truncate(window)
	var n int
	err := db.ScanErr(q.QueryRow(ctx, `INSERT INTO rate_counters (key, window_start, count) VALUES (?, ?, 1)
		ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1
		RETURNING count`, key, start).Scan(&n))
	if err != nil {
		return false, err
	}
	return n <= limit, nil
}

// PruneRateCounters deletes counters of windows that ended before cutoff.
func PruneRateCounters(ctx context.Context, q db.Querier, cutoff time.Time) error {
	if _, err := q.Exec(ctx, `DELETE FROM rate_counters WHERE window_start < ?`, cutoff); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `DELETE FROM login_throttle WHERE window_start < ? AND (locked_until IS NULL OR locked_until < ?)`, cutoff, cutoff)
	return err
}
