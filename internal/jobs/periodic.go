package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/medisac/medisac/internal/db"
)

type periodicTask struct {
	name     string
	interval time.Duration
	fn       func(ctx context.Context) error
}

// Every registers fn to run once per interval across all nodes sharing the
// database: whichever node first finds the interval over takes the named
// lease "every:"+name in the locks table and runs fn, renewing the lease
// while fn runs so that no other node starts it meanwhile. Errors are
// logged; the next run is still one interval later. Call Every before Run.
func (q *Queue) Every(name string, interval time.Duration, fn func(ctx context.Context) error) {
	if interval <= 0 {
		panic("jobs: Every " + name + ": interval must be positive")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range q.periodic {
		if p.name == name {
			panic("jobs: periodic task registered twice: " + name)
		}
	}
	q.periodic = append(q.periodic, periodicTask{name: name, interval: interval, fn: fn})
}

func (q *Queue) runPeriodic(ctx context.Context, p periodicTask) {
	check := min(p.interval, q.PollInterval)
	t := time.NewTicker(check)
	defer t.Stop()
	for {
		q.tickPeriodic(ctx, p)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tickPeriodic runs p when this node wins the current interval.
func (q *Queue) tickPeriodic(ctx context.Context, p periodicTask) {
	lock := "every:" + p.name
	now := q.now()
	unlock := q.serial()
	res, err := q.d.Exec(ctx, `INSERT INTO locks (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE locks.expires_at <= ?`, lock, q.NodeID, now.Add(p.interval), now)
	unlock()
	if err != nil {
		if ctx.Err() == nil {
			q.log.Error("periodic task lease", "task", p.name, "err", err)
		}
		return
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := q.heartbeat(func() bool {
		n := q.now()
		if _, err := q.d.Exec(rctx, `UPDATE locks SET expires_at = ? WHERE name = ? AND holder = ? AND expires_at < ?`,
			n.Add(q.Lease), lock, q.NodeID, n.Add(q.Lease)); err != nil && rctx.Err() == nil {
			q.log.Warn("renew periodic task lease", "task", p.name, "err", err)
		}
		return true
	})
	err = guarded(func() error { return p.fn(rctx) })
	stop()
	if err != nil && ctx.Err() == nil {
		q.log.Error("periodic task failed", "task", p.name, "err", err)
	}
}

// TryLock takes or renews the named lease for holder until now+ttl. It
// succeeds when nobody holds the lease, when it has expired, or when holder
// already holds it; it reports false, without error, when another holder's
// lease is still valid. Leases live in the locks table, so they are shared
// by every node on the database.
func TryLock(ctx context.Context, d db.Querier, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	res, err := d.Exec(ctx, `INSERT INTO locks (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE locks.expires_at <= ? OR locks.holder = ?`, name, holder, now.Add(ttl), now, holder)
	if err != nil {
		return false, fmt.Errorf("jobs: take lock %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("jobs: take lock %s: %w", name, err)
	}
	return n == 1, nil
}

// Unlock gives up the named lease if holder holds it; it is a no-op
// otherwise.
func Unlock(ctx context.Context, d db.Querier, name, holder string) error {
	if _, err := d.Exec(ctx, `DELETE FROM locks WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("jobs: release lock %s: %w", name, err)
	}
	return nil
}
