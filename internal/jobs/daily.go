package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/medisac/medisac/internal/db"
)

// DailyMaxAttempts is how many times one day's run of a Daily task is
// started (after failures and after nodes that stopped mid-run) before
// that day is given up.
const DailyMaxAttempts = 3

type dailyTask struct {
	name string
	at   time.Duration
	loc  *time.Location
	fn   func(ctx context.Context, day string) error

	mu      sync.Mutex
	settled string // the last day known to be done or given up
}

// Daily registers fn to run once per calendar day in loc (UTC when nil), at
// at after local midnight (7*time.Hour + 30*time.Minute is 07:30), on
// exactly one of the nodes sharing the database. fn receives the day as
// "2006-01-02" in loc.
//
// Each day's run is a row of the jobs_daily table keyed by (name, day), so:
//
//   - A node that starts after that day's time, when the day's run has not
//     happened, runs it at once (catching up); days that passed entirely
//     while no node ran are not caught up.
//   - A day whose run finished is never run again, also not after a
//     restart.
//   - The running node renews a lease on the row while fn runs. When it
//     stops mid-run, the lease expires (after Lease) and any node, itself
//     after a restart included, runs that day again while the day lasts.
//     A run whose fn returned an error is retried after Backoff, also
//     only while the day lasts. Either way a day gets at most
//     DailyMaxAttempts starts, and fn may see the same day more than once:
//     it should skip what an earlier, interrupted run of that day did
//     (the day argument is for that).
//   - A run interrupted by this node's shutdown gives its attempt back and
//     is resumed by the next node to look.
//
// Errors are logged. Call Daily before Run; registering a name twice, a
// negative at or one of 24 hours or more panics.
func (q *Queue) Daily(name string, at time.Duration, loc *time.Location, fn func(ctx context.Context, day string) error) {
	if at < 0 || at >= 24*time.Hour {
		panic("jobs: Daily " + name + ": the time of day must be in [0, 24h)")
	}
	if loc == nil {
		loc = time.UTC
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, t := range q.daily {
		if t.name == name {
			panic("jobs: daily task registered twice: " + name)
		}
	}
	q.daily = append(q.daily, &dailyTask{name: name, at: at, loc: loc, fn: fn})
}

// DailyRun is the record of one day's run of a Daily task, as operators
// see it. State is "running", "retry" (waiting after a failure), "done" or
// "failed" (given up for the day).
type DailyRun struct {
	Name       string
	Day        string
	State      string
	Holder     string
	Attempts   int
	StartedAt  time.Time
	FinishedAt time.Time
	LastError  string
}

// DailyRuns returns the recorded runs of the Daily task name, newest day
// first (at most limit, default 30).
func (q *Queue) DailyRuns(ctx context.Context, name string, limit int) ([]DailyRun, error) {
	if limit <= 0 {
		limit = 30
	}
	rows, err := q.d.Query(ctx, `SELECT name, day, state, holder, attempts, started_at, finished_at, last_error
		FROM jobs_daily WHERE name = ? ORDER BY day DESC LIMIT ?`, name, limit)
	if err != nil {
		return nil, fmt.Errorf("jobs: daily runs of %s: %w", name, err)
	}
	defer rows.Close()
	var out []DailyRun
	for rows.Next() {
		var r DailyRun
		var fin sql.NullTime
		if err := rows.Scan(&r.Name, &r.Day, &r.State, &r.Holder, &r.Attempts, &r.StartedAt, &fin, &r.LastError); err != nil {
			return nil, fmt.Errorf("jobs: daily runs of %s: %w", name, err)
		}
		r.FinishedAt = fin.Time
		out = append(out, r)
	}
	return out, rows.Err()
}

// RunDaily runs, one after another, the Daily tasks that are due now and
// that no node has run today, and returns how many it ran. Run does this
// on its own; RunDaily is for tests and one-shot commands.
func (q *Queue) RunDaily(ctx context.Context) (int, error) {
	q.mu.Lock()
	tasks := append([]*dailyTask(nil), q.daily...)
	q.mu.Unlock()
	n := 0
	for _, t := range tasks {
		ran, err := q.tickDaily(ctx, t)
		if err != nil {
			return n, err
		}
		if ran {
			n++
		}
	}
	return n, nil
}

func (q *Queue) runDaily(ctx context.Context, t *dailyTask) {
	tk := time.NewTicker(q.PollInterval)
	defer tk.Stop()
	for {
		if _, err := q.tickDaily(ctx, t); err != nil && ctx.Err() == nil {
			q.log.Error("daily task", "task", t.name, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
	}
}

// dayOf returns the local date of now and when that day's run is due.
func (t *dailyTask) dayOf(now time.Time) (string, time.Time) {
	l := now.In(t.loc)
	midnight := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, t.loc)
	return l.Format(time.DateOnly), midnight.Add(t.at)
}

// tickDaily starts today's run of t when it is due and this node wins it,
// and reports whether it ran.
func (q *Queue) tickDaily(ctx context.Context, t *dailyTask) (bool, error) {
	now := q.now()
	day, due := t.dayOf(now)
	t.mu.Lock()
	settled := t.settled == day
	t.mu.Unlock()
	if settled || now.Before(due) {
		return false, nil
	}
	attempts, err := q.claimDay(ctx, t, day, now)
	if err != nil || attempts == 0 {
		return false, err
	}
	q.runDay(ctx, t, day, attempts)
	return true, nil
}

// claimDay takes the day's run of t, returning the attempt number, or 0
// when the run is done, given up, or another node holds it.
func (q *Queue) claimDay(ctx context.Context, t *dailyTask, day string, now time.Time) (int, error) {
	unlock := q.serial()
	defer unlock()
	var attempts int
	err := db.ScanErr(q.d.QueryRow(ctx, `INSERT INTO jobs_daily (name, day, state, holder, attempts, lease_until, started_at)
		VALUES (?, ?, 'running', ?, 1, ?, ?)
		ON CONFLICT (name, day) DO UPDATE SET state = 'running', holder = excluded.holder, attempts = jobs_daily.attempts + 1,
			lease_until = excluded.lease_until, started_at = excluded.started_at
		WHERE jobs_daily.state IN ('running','retry') AND jobs_daily.lease_until <= ? AND jobs_daily.attempts < ?
		RETURNING attempts`, t.name, day, q.NodeID, now.Add(q.Lease), now, now, DailyMaxAttempts).Scan(&attempts))
	if err == nil {
		return attempts, nil
	}
	if !errors.Is(err, db.ErrNotFound) {
		return 0, fmt.Errorf("jobs: claim daily %s %s: %w", t.name, day, err)
	}
	var state string
	var until time.Time
	if err := db.ScanErr(q.d.QueryRow(ctx, `SELECT state, attempts, lease_until FROM jobs_daily WHERE name = ? AND day = ?`,
		t.name, day).Scan(&state, &attempts, &until)); err != nil {
		return 0, fmt.Errorf("jobs: read daily %s %s: %w", t.name, day, err)
	}
	switch {
	case state == "done" || state == "failed":
	case attempts >= DailyMaxAttempts && !until.After(now):
		if _, err := q.d.Exec(ctx, `UPDATE jobs_daily SET state = 'failed', finished_at = ?,
			last_error = CASE WHEN state = 'running' THEN ? ELSE last_error END
			WHERE name = ? AND day = ? AND state IN ('running','retry') AND lease_until <= ?`,
			now, "the node running this task stopped and no attempts are left", t.name, day, now); err != nil {
			return 0, fmt.Errorf("jobs: give up daily %s %s: %w", t.name, day, err)
		}
		q.log.Error("daily task given up for the day", "task", t.name, "day", day, "attempts", attempts)
	default:
		return 0, nil
	}
	t.mu.Lock()
	t.settled = day
	t.mu.Unlock()
	return 0, nil
}

// runDay runs fn for day while renewing the lease, then records the
// outcome, fenced by (holder, attempts).
func (q *Queue) runDay(ctx context.Context, t *dailyTask, day string, attempts int) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lost bool
	stop := q.heartbeat(func() bool {
		unlock := q.serial()
		res, err := q.d.Exec(rctx, `UPDATE jobs_daily SET lease_until = ?
			WHERE name = ? AND day = ? AND holder = ? AND attempts = ? AND state = 'running'`,
			q.now().Add(q.Lease), t.name, day, q.NodeID, attempts)
		unlock()
		if err != nil {
			if rctx.Err() == nil {
				q.log.Warn("renew daily task lease", "task", t.name, "err", err)
			}
			return true
		}
		if n, _ := res.RowsAffected(); n == 0 {
			lost = true
			cancel()
			return false
		}
		return true
	})
	err := guarded(func() error { return t.fn(rctx, day) })
	stop()

	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer wcancel()
	if lost {
		q.log.Warn("daily task lease lost to another node; result discarded", "task", t.name, "day", day)
		return
	}
	defer q.serial()()
	now := q.now()
	fence := []any{t.name, day, q.NodeID, attempts}
	var werr error
	switch {
	case err == nil:
		_, werr = q.d.Exec(wctx, `UPDATE jobs_daily SET state = 'done', finished_at = ?, last_error = ''
			WHERE name = ? AND day = ? AND holder = ? AND attempts = ? AND state = 'running'`, append([]any{now}, fence...)...)
		if werr == nil {
			t.mu.Lock()
			t.settled = day
			t.mu.Unlock()
		}
	case ctx.Err() != nil:
		_, werr = q.d.Exec(wctx, `UPDATE jobs_daily SET state = 'retry', attempts = attempts - 1, lease_until = ?
			WHERE name = ? AND day = ? AND holder = ? AND attempts = ? AND state = 'running'`, append([]any{now}, fence...)...)
	case attempts >= DailyMaxAttempts:
		q.log.Error("daily task failed; given up for the day", "task", t.name, "day", day, "attempt", attempts, "err", err)
		_, werr = q.d.Exec(wctx, `UPDATE jobs_daily SET state = 'failed', finished_at = ?, last_error = ?
			WHERE name = ? AND day = ? AND holder = ? AND attempts = ? AND state = 'running'`, append([]any{now, errorText(err)}, fence...)...)
	default:
		delay := q.Backoff(attempts)
		q.log.Warn("daily task failed; will retry", "task", t.name, "day", day, "attempt", attempts, "retry_in", delay, "err", err)
		_, werr = q.d.Exec(wctx, `UPDATE jobs_daily SET state = 'retry', lease_until = ?, last_error = ?
			WHERE name = ? AND day = ? AND holder = ? AND attempts = ? AND state = 'running'`, append([]any{now.Add(delay), errorText(err)}, fence...)...)
	}
	if werr != nil {
		q.log.Error("record daily task outcome", "task", t.name, "day", day, "err", werr)
	}
}
