// Package jobs is medisac's background work: a queue of jobs stored in the
// database and run by worker goroutines on every node, and periodic and
// daily tasks that run on one node at a time.
//
// The queue lives in our own tables (jobs, locks) rather than in a queue
// library such as River. That keeps the schema in medisac's numbered
// migrations, identical on SQLite and PostgreSQL, with no second migration
// system to run, version and back up; the whole mechanism is a few
// statements that are easy to read and test on both databases.
//
// How it works: Enqueue inserts a row, inside the caller's transaction when
// given one, so a job exists exactly when the change that asked for it
// commits. A node claims a due job with one atomic UPDATE (on PostgreSQL
// with FOR UPDATE SKIP LOCKED, on SQLite inside an immediate transaction)
// that sets a lease (locked_by, locked_until) which it renews while the
// handler runs. A node that stops leaves an expired lease behind and any
// node claims the job again. Every claim increments attempts, and the
// finishing write names (id, locked_by, attempts), so a node that lost its
// lease cannot overwrite the result of the run that replaced it. Failures
// are retried with exponential backoff and jitter until max_attempts; then
// the job stays in state failed, with its last error, for operators to see
// and retry.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/medisac/medisac/internal/db"
)

// State is the state of a job.
type State string

// The job states.
const (
	Queued  State = "queued"
	Running State = "running"
	Done    State = "done"
	Failed  State = "failed"
)

// States lists every state, in the order operators read them.
var States = []State{Queued, Running, Done, Failed}

// Handler does the work of one job kind. A returned error (or a panic)
// counts as a failed attempt; wrap it with Permanent to fail the job at once.
// Handlers must be idempotent: after a node stops mid-run, the job runs again.
type Handler func(ctx context.Context, payload []byte) error

// DefaultMaxAttempts is the number of attempts a job gets unless Enqueue is
// given MaxAttempts.
const DefaultMaxAttempts = 8

// Queue enqueues and runs jobs. Set its exported fields, if at all, before
// calling Run; Register, Every, Daily and Enqueue are safe for concurrent use.
type Queue struct {
	// NodeID names this process in locked_by and in the locks table. New
	// sets it to host name, process id and a random suffix.
	NodeID string
	// Lease is how long a claimed job stays locked without a renewal; a
	// running handler renews it every Lease/3. Default 2 minutes.
	Lease time.Duration
	// PollInterval is how often an idle node looks for due jobs and
	// periodic tasks. Default 500ms.
	PollInterval time.Duration
	// Timeout bounds one run of a handler. Default 10 minutes.
	Timeout time.Duration
	// Backoff returns the delay before attempt+1 after attempt failed.
	// Default DefaultBackoff.
	Backoff func(attempt int) time.Duration

	// renewEvery is how often leases are renewed; 0 means Lease/3.
	renewEvery time.Duration

	d   *db.DB
	now func() time.Time
	log *slog.Logger

	// wmu serialises this node's queue writes on SQLite, where writers
	// otherwise meet in the database's busy handler and sleep.
	wmu sync.Mutex

	mu       sync.Mutex
	handlers map[string]Handler
	periodic []periodicTask
	daily    []*dailyTask
	wake     chan struct{}
}

// New returns a queue on d. now is the clock used for scheduling and leases
// (time.Now when nil); logger receives failures (slog.Default when nil).
func New(d *db.DB, now func() time.Time, logger *slog.Logger) *Queue {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "node"
	}
	id := db.NewID()
	return &Queue{
		NodeID:       fmt.Sprintf("%s-%d-%s", host, os.Getpid(), id[len(id)-8:]),
		Lease:        2 * time.Minute,
		PollInterval: 500 * time.Millisecond,
		Timeout:      10 * time.Minute,
		Backoff:      DefaultBackoff,
		d:            d,
		now:          now,
		log:          logger.With("component", "jobs"),
		handlers:     map[string]Handler{},
		wake:         make(chan struct{}, 1),
	}
}

// Register sets the handler for kind. This node claims only jobs of
// registered kinds, so nodes of different versions can share a database.
// Registering a kind twice panics.
func (q *Queue) Register(kind string, h Handler) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, dup := q.handlers[kind]; dup {
		panic("jobs: kind registered twice: " + kind)
	}
	q.handlers[kind] = h
}

func (q *Queue) renewInterval() time.Duration {
	if q.renewEvery > 0 {
		return q.renewEvery
	}
	return max(q.Lease/3, time.Millisecond)
}

// serial takes the write mutex on SQLite and returns its release.
func (q *Queue) serial() func() {
	if q.d.Dialect() != db.SQLite {
		return func() {}
	}
	q.wmu.Lock()
	return q.wmu.Unlock
}

func (q *Queue) kinds() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]string, 0, len(q.handlers))
	for k := range q.handlers {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (q *Queue) handler(kind string) Handler {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.handlers[kind]
}

// Notify wakes this node's workers to look for due jobs now instead of at
// the next poll. Enqueue calls it when not given a transaction; after
// committing a transaction that enqueued jobs, callers may call it
// themselves.
func (q *Queue) Notify() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Option changes how Enqueue schedules a job.
type Option func(*options)

type options struct {
	runAt       time.Time
	maxAttempts int
	uniqueKey   string
}

// RunAt schedules the job's first attempt for t instead of now.
func RunAt(t time.Time) Option { return func(o *options) { o.runAt = t } }

// MaxAttempts sets how many attempts the job gets before it fails (at least 1).
func MaxAttempts(n int) Option {
	return func(o *options) {
		if n < 1 {
			n = 1
		}
		o.maxAttempts = n
	}
}

// UniqueKey makes Enqueue a no-op, returning the existing job's id, while a
// job with the same key is queued or running.
func UniqueKey(k string) Option { return func(o *options) { o.uniqueKey = k } }

// Enqueue adds a job of kind with payload (encoded as JSON; json.RawMessage
// and []byte are stored as they are and must be valid JSON) and returns its
// id. tx may be a *db.Tx, so that the job exists exactly when the caller's
// transaction commits, or a *db.DB (or nil for the queue's database).
func (q *Queue) Enqueue(ctx context.Context, tx db.Querier, kind string, payload any, opts ...Option) (string, error) {
	if kind == "" {
		return "", errors.New("jobs: empty kind")
	}
	var raw []byte
	switch p := payload.(type) {
	case json.RawMessage:
		raw = p
	case []byte:
		raw = p
	case nil:
		raw = []byte("{}")
	default:
		b, err := json.Marshal(payload)
		if err != nil {
			return "", fmt.Errorf("jobs: encode %s payload: %w", kind, err)
		}
		raw = b
	}
	if !json.Valid(raw) {
		return "", fmt.Errorf("jobs: %s payload is not valid JSON", kind)
	}
	now := q.now()
	o := options{runAt: now, maxAttempts: DefaultMaxAttempts}
	for _, opt := range opts {
		opt(&o)
	}
	if tx == nil {
		tx = q.d
	}
	id := db.NewID()
	var unique any
	if o.uniqueKey != "" {
		unique = o.uniqueKey
	}
	res, err := tx.Exec(ctx, `INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, run_at, unique_key, created_at)
		VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?)
		ON CONFLICT (unique_key) WHERE state IN ('queued','running') DO NOTHING`,
		id, kind, string(raw), o.maxAttempts, o.runAt, unique, now)
	if err != nil {
		return "", fmt.Errorf("jobs: enqueue %s: %w", kind, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		if err := db.ScanErr(tx.QueryRow(ctx, `SELECT id FROM jobs WHERE unique_key = ? AND state IN ('queued','running')`,
			o.uniqueKey).Scan(&id)); err != nil {
			return "", fmt.Errorf("jobs: find job with key %q: %w", o.uniqueKey, err)
		}
		return id, nil
	}
	if _, inTx := tx.(*db.Tx); !inTx {
		q.Notify()
	}
	return id, nil
}

// DefaultBackoff returns 10s·2^(attempt-1), capped at one hour, less a
// random jitter of up to a quarter so that jobs failing together spread out.
func DefaultBackoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := time.Hour
	if attempt <= 10 {
		d = min(10*time.Second<<(attempt-1), time.Hour)
	}
	return d - jitter(d/4)
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err so that the job fails at once instead of being retried.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// RunInfo describes the run a handler is part of.
type RunInfo struct {
	ID          string
	Kind        string
	Attempt     int // 1 for the first run
	MaxAttempts int
}

// LastAttempt reports whether a failure of this run fails the job for good.
func (r RunInfo) LastAttempt() bool { return r.Attempt >= r.MaxAttempts }

type runInfoKey struct{}

// Current returns the run a handler's context belongs to, and false outside
// a handler.
func Current(ctx context.Context) (RunInfo, bool) {
	r, ok := ctx.Value(runInfoKey{}).(RunInfo)
	return r, ok
}

// RunNow makes a job still waiting in the queue due at once (from the
// moment it was created) and reports whether it was still waiting. tx may
// be the caller's transaction.
func (q *Queue) RunNow(ctx context.Context, tx db.Querier, id string) (bool, error) {
	if tx == nil {
		tx = q.d
	}
	r, err := tx.Exec(ctx, `UPDATE jobs SET run_at = created_at WHERE id = ? AND state = 'queued'`, id)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}
