package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// Job is a stored job as operators see it. Zero times mean "not set".
type Job struct {
	ID          string
	Kind        string
	Payload     []byte
	State       State
	Attempts    int
	MaxAttempts int
	RunAt       time.Time
	LockedBy    string
	LockedUntil time.Time
	LastError   string
	UniqueKey   string
	CreatedAt   time.Time
	FinishedAt  time.Time
}

// Filter selects jobs for List. Empty fields match everything; Limit
// defaults to 100 and is capped at 1000.
type Filter struct {
	State State
	Kind  string
	Limit int
}

const jobColumns = `id, kind, payload, state, attempts, max_attempts, run_at, locked_by, locked_until,
	last_error, COALESCE(unique_key, ''), created_at, finished_at`

func scanJob(s interface{ Scan(...any) error }) (Job, error) {
	var j Job
	var payload string
	var lockedUntil, finishedAt sql.NullTime
	err := s.Scan(&j.ID, &j.Kind, &payload, &j.State, &j.Attempts, &j.MaxAttempts, &j.RunAt, &j.LockedBy,
		&lockedUntil, &j.LastError, &j.UniqueKey, &j.CreatedAt, &finishedAt)
	if err != nil {
		return j, db.ScanErr(err)
	}
	j.Payload = []byte(payload)
	j.LockedUntil = lockedUntil.Time
	j.FinishedAt = finishedAt.Time
	return j, nil
}

// List returns jobs matching f, newest first. Jobs are not tenant data:
// only operators may see this list.
func (q *Queue) List(ctx context.Context, f Filter) ([]Job, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	query := `SELECT ` + jobColumns + ` FROM jobs WHERE 1 = 1`
	var args []any
	if f.State != "" {
		query += ` AND state = ?`
		args = append(args, string(f.State))
	}
	if f.Kind != "" {
		query += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	out, err := db.QueryAll(ctx, q.d, scanJob, query, args...)
	if err != nil {
		return nil, fmt.Errorf("jobs: list: %w", err)
	}
	return out, nil
}

// Get returns the job with id, or an error matching db.ErrNotFound.
func (q *Queue) Get(ctx context.Context, id string) (Job, error) {
	j, err := scanJob(q.d.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		err = fmt.Errorf("jobs: get %s: %w", id, err)
	}
	return j, err
}

// Retry puts a failed job back in the queue with a fresh set of attempts,
// due now. It returns an apperr NotFound error when there is no such job
// and Conflict when the job is not failed or an equal job (same unique key)
// is already waiting.
func (q *Queue) Retry(ctx context.Context, id string) error {
	res, err := q.d.Exec(ctx, `UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?, finished_at = NULL,
		locked_by = '', locked_until = NULL WHERE id = ? AND state = 'failed'`, q.now(), id)
	if errors.Is(err, db.ErrConflict) {
		return apperr.Wrap(err, apperr.Conflict, "jobs.error.duplicate")
	}
	if err != nil {
		return fmt.Errorf("jobs: retry %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		q.Notify()
		return nil
	}
	if _, err := q.Get(ctx, id); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return apperr.Wrap(err, apperr.NotFound, "jobs.error.not_found")
		}
		return err
	}
	return apperr.New(apperr.Conflict, "jobs.error.not_failed")
}

// Counts returns the number of jobs in each state (every state present,
// zero when empty), for metrics and the operator view.
func (q *Queue) Counts(ctx context.Context) (map[State]int64, error) {
	out := make(map[State]int64, len(States))
	for _, s := range States {
		out[s] = 0
	}
	err := db.EachRow(ctx, q.d, `SELECT state, COUNT(*) FROM jobs GROUP BY state`, nil, func(r db.Scanner) error {
		var s State
		var n int64
		if err := r.Scan(&s, &n); err != nil {
			return err
		}
		out[s] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: counts: %w", err)
	}
	return out, nil
}

// Prune deletes done jobs that finished more than olderThan ago and
// returns how many it deleted. Failed jobs stay until an operator retries
// them.
func (q *Queue) Prune(ctx context.Context, olderThan time.Duration) (int64, error) {
	res, err := q.d.Exec(ctx, `DELETE FROM jobs WHERE state = 'done' AND finished_at < ?`, q.now().Add(-olderThan))
	if err != nil {
		return 0, fmt.Errorf("jobs: prune: %w", err)
	}
	return res.RowsAffected()
}
