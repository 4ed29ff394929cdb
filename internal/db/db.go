// Package db opens medisac's database (SQLite or PostgreSQL), applies the
// embedded migrations and hides the differences between the two dialects.
//
// SQL in medisac is written once, with `?` placeholders; DB rewrites them to
// `$n` for PostgreSQL. Times are always stored in UTC with microsecond
// precision; on SQLite they are written as fixed-width text so that they sort
// and compare correctly in SQL.
package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Dialect names the SQL dialect of an open database.
type Dialect string

// The two supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Sentinel errors returned by store functions after translating driver errors.
var (
	ErrNotFound = errors.New("db: not found")
	ErrConflict = errors.New("db: conflict")
)

// sqliteBusyTimeout is how long a SQLite write waits for a writer in
// another process (this process's writers queue instead; see
// writequeue.go). A variable so that tests can shorten it.
var sqliteBusyTimeout = 15 * time.Second

// sqliteTimeFormat is fixed-width so that stored times compare as text.
const sqliteTimeFormat = "2006-01-02 15:04:05.000000-07:00"

// DB is an open database with its dialect. It is safe for concurrent use.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	// wq queues this process's writes on SQLite (nil on PostgreSQL); see
	// writequeue.go.
	wq *writeQueue
	// Source is a printable description of where the database lives, with
	// any password removed.
	Source string
}

// Open opens the database named by target: a postgres:// or postgresql:// URL,
// or a path to a SQLite file (created when missing, with its folder).
func Open(ctx context.Context, target string) (*DB, error) {
	if strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://") {
		sdb, err := sql.Open("pgx", target)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		sdb.SetMaxOpenConns(20)
		sdb.SetMaxIdleConns(10)
		sdb.SetConnMaxIdleTime(5 * time.Minute)
		if err := sdb.PingContext(ctx); err != nil {
			sdb.Close()
			return nil, fmt.Errorf("connect to postgres: %w", err)
		}
		return &DB{sql: sdb, dialect: Postgres, Source: redactURL(target)}, nil
	}
	path := strings.TrimPrefix(target, "sqlite://")
	path = strings.TrimPrefix(path, "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database folder: %w", err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	reg, err := sql.Open("sqlite", "")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	drv := reg.Driver()
	reg.Close()
	sdb := sql.OpenDB(sqliteConnector{drv: drv, dsn: "file:" + path + "?" + q.Encode()})
	// WAL lets readers run beside the single writer; this process's writers
	// wait their turn in the write queue before they take a connection, and
	// busy_timeout covers writers in other processes.
	sdb.SetMaxOpenConns(8)
	sdb.SetMaxIdleConns(8)
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{sql: sdb, dialect: SQLite, Source: path, wq: newWriteQueue()}, nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "postgres://(unparseable)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
	}
	return u.String()
}

// Close closes the database.
func (d *DB) Close() error { return d.sql.Close() }

// SQL returns the underlying *sql.DB for the few callers (backup, benchmarks)
// that need it. Store code uses the methods of DB and Tx instead.
func (d *DB) SQL() *sql.DB { return d.sql }

// Querier is what store functions run SQL on: a DB or a Tx.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
	Dialect() Dialect
}

// Exec runs a statement that returns no rows. On SQLite it first waits its
// turn in the write queue (ErrBusy if ctx ends first).
func (d *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if d.wq != nil {
		if err := d.wq.acquire(ctx); err != nil {
			return nil, err
		}
		defer d.wq.release()
	}
	res, err := d.sql.ExecContext(ctx, d.rebind(query), d.args(args)...)
	return res, MapError(err)
}

// Query runs a query that returns rows. On SQLite a statement that writes
// (INSERT … RETURNING) waits its turn in the write queue and holds it until
// the rows are closed.
func (d *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if d.wq != nil && writes(query) {
		rctx, qw, err := d.queued(ctx)
		if err != nil {
			return nil, err
		}
		rows, err := d.sql.QueryContext(rctx, d.rebind(query), d.args(args)...)
		if err != nil || !qw.attached.Load() {
			qw.release()
		}
		return rows, MapError(err)
	}
	rows, err := d.sql.QueryContext(ctx, d.rebind(query), d.args(args)...)
	return rows, MapError(err)
}

// QueryRow runs a query that returns at most one row. Use ScanErr on its
// Scan result to turn sql.ErrNoRows into ErrNotFound. On SQLite a statement
// that writes waits its turn in the write queue and holds it until Scan.
// When the wait fails, Scan returns ErrBusy or ErrNestedWrite.
func (d *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if d.wq != nil && writes(query) {
		rctx, qw, err := d.queued(ctx)
		if err != nil {
			// A Row can only come from a query: the connection fails this
			// one with err, which Scan then returns.
			return d.sql.QueryRowContext(context.WithValue(context.WithoutCancel(ctx), failKey{}, err), "SELECT 1")
		}
		row := d.sql.QueryRowContext(rctx, d.rebind(query), d.args(args)...)
		if row.Err() != nil || !qw.attached.Load() {
			qw.release()
		}
		return row
	}
	return d.sql.QueryRowContext(ctx, d.rebind(query), d.args(args)...)
}

// queued waits for the write turn and returns a context that carries it,
// for the connection to give back when the rows close.
func (d *DB) queued(ctx context.Context) (context.Context, *queuedWrite, error) {
	if err := d.wq.acquire(ctx); err != nil {
		return nil, nil, err
	}
	qw := &queuedWrite{release: once(d.wq.release)}
	return context.WithValue(ctx, releaseKey{}, qw), qw, nil
}

// Dialect returns the database's dialect.
func (d *DB) Dialect() Dialect { return d.dialect }

// Tx is a database transaction with the same methods as DB.
type Tx struct {
	tx *sql.Tx
	d  *DB
}

// Exec runs a statement in the transaction.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := t.tx.ExecContext(ctx, t.d.rebind(query), t.d.args(args)...)
	return res, MapError(err)
}

// Query runs a query in the transaction.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := t.tx.QueryContext(ctx, t.d.rebind(query), t.d.args(args)...)
	return rows, MapError(err)
}

// QueryRow runs a single-row query in the transaction.
func (t *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.rebind(query), t.d.args(args)...)
}

// Dialect returns the dialect of the transaction's database.
func (t *Tx) Dialect() Dialect { return t.d.dialect }

// InTx runs fn in a transaction, committing when fn returns nil and rolling
// back otherwise. On SQLite the transaction takes the write lock at once
// (BEGIN IMMEDIATE), so read-then-write sequences inside fn are serialised;
// before that it waits its turn in the write queue (ErrBusy if ctx ends
// first), and inside fn every write must go through tx (a write on d from
// the same goroutine fails with ErrNestedWrite).
func (d *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	if d.wq != nil {
		if err := d.wq.acquire(ctx); err != nil {
			return err
		}
		defer d.wq.release()
	}
	stx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return MapError(err)
	}
	tx := &Tx{tx: stx, d: d}
	done := false
	defer func() {
		if !done {
			// fn panicked: end the transaction before the queue's turn is
			// given back, so that the next writer finds the lock free.
			_ = stx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		done = true
		_ = stx.Rollback()
		return err
	}
	done = true
	return MapError(stx.Commit())
}

// InBatchTx is InTx for one transaction of a long batch (matching runs,
// imports). On SQLite, after the transaction ends, it leaves the write
// lock free as long as the transaction held it (at most 100 ms): writers
// in other processes (the command line beside a server) poll for the lock
// with sleeps, and a batch that took it again at once would keep them
// waiting for the whole batch. Within the process the write queue already
// takes turns. The pause ends early when ctx ends.
func (d *DB) InBatchTx(ctx context.Context, fn func(tx *Tx) error) error {
	var began time.Time
	err := d.InTx(ctx, func(tx *Tx) error {
		began = time.Now()
		return fn(tx)
	})
	if d.dialect != SQLite || began.IsZero() {
		return err
	}
	pause := min(time.Since(began), maxBatchPause)
	t := time.NewTimer(pause)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return err
}

// maxBatchPause bounds InBatchTx's pause.
const maxBatchPause = 100 * time.Millisecond

// Lock takes a transaction-scoped exclusive lock named by key: on
// PostgreSQL an advisory lock, on SQLite a no-op because the immediate
// transaction already holds the database's single write lock.
func (t *Tx) Lock(ctx context.Context, key string) error {
	if t.d.dialect != Postgres {
		return nil
	}
	_, err := t.tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", key)
	return MapError(err)
}

// NewID returns a new sortable identifier (UUIDv7 in text form). Every
// table in medisac uses these as primary keys.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// ValidID reports whether s has the form of an id made by NewID, so that
// handlers can answer "not found" without a query for obviously bad ids.
func ValidID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// rebind rewrites `?` placeholders into `$n` for PostgreSQL, leaving
// question marks inside quoted strings alone.
func (d *DB) rebind(q string) string {
	if d.dialect != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(fmt.Sprint(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// args normalises arguments: times become UTC with microsecond precision,
// and on SQLite fixed-width text.
func (d *DB) args(args []any) []any {
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			args[i] = d.timeArg(v)
		case *time.Time:
			if v == nil {
				args[i] = nil
			} else {
				args[i] = d.timeArg(*v)
			}
		case sql.NullTime:
			if !v.Valid {
				args[i] = nil
			} else {
				args[i] = d.timeArg(v.Time)
			}
		}
	}
	return args
}

func (d *DB) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if d.dialect == SQLite {
		return t.Format(sqliteTimeFormat)
	}
	return t
}

// MapError turns driver errors into the package's sentinels, by the
// drivers' error codes: no rows into ErrNotFound; unique and primary-key
// violations (PostgreSQL 23505, SQLite SQLITE_CONSTRAINT_UNIQUE and
// _PRIMARYKEY) into ErrConflict; a busy or locked SQLite database
// (SQLITE_BUSY, SQLITE_LOCKED and their extended codes) and PostgreSQL lock
// time-outs, deadlocks and serialization failures (55P03, 40P01, 40001)
// into ErrBusy. The driver error stays in the chain, so
// callers test with errors.Is and logs keep the detail. Other errors are
// returned unchanged.
func MapError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.Is(err, ErrBusy) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return &mappedError{sentinel: ErrConflict, err: err}
		case "55P03", "40P01", "40001":
			// Lock time-out, deadlock, serialization failure: the
			// transaction was rolled back and may succeed if tried again.
			return &mappedError{sentinel: ErrBusy, err: err}
		}
		return err
	}
	var se interface{ Code() int }
	if errors.As(err, &se) {
		switch code := se.Code(); {
		case code == sqliteConstraintUnique || code == sqliteConstraintPrimaryKey:
			return &mappedError{sentinel: ErrConflict, err: err}
		case code&0xff == sqliteBusy || code&0xff == sqliteLocked:
			return &mappedError{sentinel: ErrBusy, err: err}
		}
	}
	return err
}

// SQLite result codes (https://www.sqlite.org/rescode.html).
const (
	sqliteBusy                 = 5
	sqliteLocked               = 6
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
)

// mappedError is a driver error with the sentinel it means: errors.Is
// matches both.
type mappedError struct {
	sentinel error
	err      error
}

func (e *mappedError) Error() string   { return e.sentinel.Error() + ": " + e.err.Error() }
func (e *mappedError) Unwrap() []error { return []error{e.sentinel, e.err} }

// Unreachable reports whether err means the database cannot be reached
// right now (PostgreSQL down or restarting, the connection refused or cut,
// SQLite busy beyond its time-out), as opposed to a bad query: the request
// may succeed if tried again shortly.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 08: connection exception; 57P01-57P03: shutting down, cannot
		// connect now; 53300: too many connections.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || pe.Code == "53300"
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "failed to connect") ||
		strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY")
}

// ScanErr maps the error of a Row.Scan: sql.ErrNoRows becomes ErrNotFound.
func ScanErr(err error) error { return MapError(err) }

// In returns "?, ?, ?" for n placeholders, for IN lists.
func In(n int) string {
	if n <= 0 {
		return "NULL"
	}
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Backup writes a consistent copy of a SQLite database to path (VACUUM
// INTO, which reads one snapshot while writers continue). PostgreSQL
// databases are copied with pg_dump instead.
func (d *DB) Backup(ctx context.Context, path string) error {
	if d.dialect != SQLite {
		return errors.New("backup: use pg_dump for PostgreSQL")
	}
	_, err := d.sql.ExecContext(ctx, "VACUUM INTO ?", path)
	return err
}
