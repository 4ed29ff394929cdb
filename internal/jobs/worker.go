package jobs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/db"
)

// maxErrorLen bounds the last_error text kept for a job.
const maxErrorLen = 2000

// writeTimeout bounds the bookkeeping writes after a handler returns; they
// run even while the node shuts down.
const writeTimeout = 30 * time.Second

func jitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return rand.N(max)
}

// claimed is a job this node holds a lease on.
type claimed struct {
	id          string
	kind        string
	payload     []byte
	attempts    int
	maxAttempts int
}

// Run claims and runs due jobs with up to workers handlers at a time, and
// runs the periodic and daily tasks, until ctx is cancelled. It then waits
// for the running handlers (whose contexts are cancelled too); a job interrupted
// this way goes back to the queue without using up an attempt. Run returns
// nil after a shutdown.
func (q *Queue) Run(ctx context.Context, workers int) error {
	if workers < 1 {
		workers = 1
	}
	var wg sync.WaitGroup
	q.mu.Lock()
	periodic := append([]periodicTask(nil), q.periodic...)
	daily := append([]*dailyTask(nil), q.daily...)
	q.mu.Unlock()
	for _, p := range periodic {
		wg.Go(func() { q.runPeriodic(ctx, p) })
	}
	for _, t := range daily {
		wg.Go(func() { q.runDaily(ctx, t) })
	}
	slots := make(chan struct{}, workers)
	timer := time.NewTimer(q.PollInterval)
	defer timer.Stop()
loop:
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		j, err := q.claim(ctx)
		if err != nil && ctx.Err() == nil {
			q.log.Error("claim job", "node", q.NodeID, "err", err)
		}
		if j == nil {
			<-slots
			timer.Reset(q.PollInterval)
			select {
			case <-ctx.Done():
				break loop
			case <-q.wake:
			case <-timer.C:
			}
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			q.execute(ctx, j)
		})
	}
	wg.Wait()
	return nil
}

// RunOnce claims and runs due jobs one after another until none is due, and
// returns how many it ran. It is meant for tests and for one-shot commands.
func (q *Queue) RunOnce(ctx context.Context) (int, error) {
	n := 0
	for {
		j, err := q.claim(ctx)
		if err != nil {
			return n, err
		}
		if j == nil {
			return n, nil
		}
		q.execute(ctx, j)
		n++
	}
}

// claim takes the lease on one due job of a registered kind, or returns
// nil when there is none.
func (q *Queue) claim(ctx context.Context) (*claimed, error) {
	kinds := q.kinds()
	if len(kinds) == 0 {
		return nil, nil
	}
	now := q.now()
	lockClause := ""
	if q.d.Dialect() == db.Postgres {
		lockClause = " FOR UPDATE SKIP LOCKED"
	}
	query := `UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = ?, locked_until = ?
		WHERE id = (SELECT id FROM jobs
			WHERE kind IN (` + db.In(len(kinds)) + `)
			AND ((state = 'queued' AND run_at <= ?) OR (state = 'running' AND locked_until <= ?))
			ORDER BY run_at, id LIMIT 1` + lockClause + `)
		RETURNING id, kind, payload, attempts, max_attempts`
	args := []any{q.NodeID, now.Add(q.Lease)}
	for _, k := range kinds {
		args = append(args, k)
	}
	args = append(args, now, now)
	var j claimed
	var payload string
	unlock := q.serial()
	err := q.d.InTx(ctx, func(tx *db.Tx) error {
		return db.ScanErr(tx.QueryRow(ctx, query, args...).Scan(&j.id, &j.kind, &payload, &j.attempts, &j.maxAttempts))
	})
	unlock()
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	j.payload = []byte(payload)
	return &j, nil
}

// execute runs a claimed job's handler and records the outcome.
func (q *Queue) execute(runCtx context.Context, j *claimed) {
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(runCtx), writeTimeout)
	defer wcancel()
	if j.attempts > j.maxAttempts {
		q.finish(wctx, j, errors.New("the node running this job stopped and no attempts are left"), true)
		return
	}
	h := q.handler(j.kind)
	if h == nil {
		q.finish(wctx, j, fmt.Errorf("no handler for job kind %q", j.kind), true)
		return
	}
	hctx, cancel := context.WithTimeout(runCtx, q.Timeout)
	defer cancel()
	hctx = context.WithValue(hctx, runInfoKey{}, RunInfo{ID: j.id, Kind: j.kind, Attempt: j.attempts, MaxAttempts: j.maxAttempts})

	var lost bool
	stop := q.heartbeat(func() bool {
		ok, err := q.renew(hctx, j)
		if err != nil {
			if hctx.Err() == nil {
				q.log.Warn("renew job lease", "job", j.id, "err", err)
			}
			return true
		}
		if !ok {
			lost = true
			cancel()
		}
		return ok
	})
	err := call(hctx, h, j.payload)
	stop()

	switch {
	case lost:
		q.log.Warn("job lease lost to another node; result discarded", "job", j.id, "kind", j.kind)
	case err == nil:
		q.finish(wctx, j, nil, false)
	case runCtx.Err() != nil:
		q.release(wctx, j)
	default:
		q.finish(wctx, j, err, IsPermanent(err))
	}
}

// call runs h, turning a panic into an error.
func call(ctx context.Context, h Handler, payload []byte) error {
	return guarded(func() error { return h(ctx, payload) })
}

// guarded runs fn, turning a panic into an error that carries the stack.
func guarded(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return fn()
}

// heartbeat calls renew every renewInterval until the returned stop is
// called, or until renew returns false (the lease is lost); stop waits for
// a call under way to end.
func (q *Queue) heartbeat(renew func() bool) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(q.renewInterval())
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if !renew() {
					return
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// renew extends the lease of a running job; false means the lease is gone.
func (q *Queue) renew(ctx context.Context, j *claimed) (bool, error) {
	defer q.serial()()
	res, err := q.d.Exec(ctx, `UPDATE jobs SET locked_until = ?
		WHERE id = ? AND locked_by = ? AND attempts = ? AND state = 'running'`,
		q.now().Add(q.Lease), j.id, q.NodeID, j.attempts)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// finish records the outcome of a run: done when runErr is nil, otherwise
// queued again after a backoff, or failed when final or out of attempts.
func (q *Queue) finish(ctx context.Context, j *claimed, runErr error, final bool) {
	defer q.serial()()
	now := q.now()
	var res interface{ RowsAffected() (int64, error) }
	var err error
	switch {
	case runErr == nil:
		res, err = q.d.Exec(ctx, `UPDATE jobs SET state = 'done', finished_at = ?, locked_by = '', locked_until = NULL
			WHERE id = ? AND locked_by = ? AND attempts = ? AND state = 'running'`,
			now, j.id, q.NodeID, j.attempts)
	case final || j.attempts >= j.maxAttempts:
		q.log.Error("job failed", "job", j.id, "kind", j.kind, "attempt", j.attempts, "err", runErr)
		res, err = q.d.Exec(ctx, `UPDATE jobs SET state = 'failed', finished_at = ?, locked_by = '', locked_until = NULL, last_error = ?
			WHERE id = ? AND locked_by = ? AND attempts = ? AND state = 'running'`,
			now, errorText(runErr), j.id, q.NodeID, j.attempts)
	default:
		delay := q.Backoff(j.attempts)
		q.log.Warn("job attempt failed; will retry", "job", j.id, "kind", j.kind, "attempt", j.attempts, "retry_in", delay, "err", runErr)
		res, err = q.d.Exec(ctx, `UPDATE jobs SET state = 'queued', run_at = ?, locked_by = '', locked_until = NULL, last_error = ?
			WHERE id = ? AND locked_by = ? AND attempts = ? AND state = 'running'`,
			now.Add(delay), errorText(runErr), j.id, q.NodeID, j.attempts)
	}
	if err != nil {
		q.log.Error("record job outcome", "job", j.id, "err", err)
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		q.log.Warn("job lease lost to another node; result discarded", "job", j.id, "kind", j.kind)
	}
}

// release puts a job interrupted by shutdown back in the queue, giving the
// attempt back.
func (q *Queue) release(ctx context.Context, j *claimed) {
	defer q.serial()()
	if _, err := q.d.Exec(ctx, `UPDATE jobs SET state = 'queued', run_at = ?, attempts = attempts - 1, locked_by = '', locked_until = NULL
		WHERE id = ? AND locked_by = ? AND attempts = ? AND state = 'running'`,
		q.now(), j.id, q.NodeID, j.attempts); err != nil {
		q.log.Error("release job at shutdown", "job", j.id, "err", err)
	}
}

func errorText(err error) string {
	s := strings.ToValidUTF8(err.Error(), "?")
	if len(s) <= maxErrorLen {
		return s
	}
	s = s[:maxErrorLen]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
