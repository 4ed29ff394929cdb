package db

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// SQLite has one write lock per database. Left to itself, a writer that
// finds the lock taken sleeps and retries until busy_timeout runs out and
// then fails with SQLITE_BUSY, while holding one of the pool's connections;
// a long write (an import) then turns every other organisation's writes
// into errors and starves readers of connections. So within one process
// every SQLite write waits its turn in writeQueue, in arrival order, before
// it takes a connection: write transactions (InTx) from BEGIN IMMEDIATE to
// COMMIT or ROLLBACK, statements run with DB.Exec, and statements that write
// and return rows (INSERT … RETURNING) run with DB.Query or DB.QueryRow
// until their rows are closed. Readers are never queued (WAL lets them run
// beside the writer). A waiter gives up when its context ends, with
// ErrBusy. busy_timeout stays as the safety net against writers in other
// processes (the command line while the server runs).
//
// The rule for nesting: inside InTx every statement runs on the Tx. A write
// on the DB from the goroutine that holds the queue (DB.Exec, a nested
// DB.InTx, a writing DB.QueryRow) could never get its turn, so it fails at
// once with ErrNestedWrite instead of waiting for itself.

// ErrBusy is returned when a write gave up waiting for the database: its
// context ended while another write held the SQLite write lock, or another
// process held it beyond busy_timeout. Callers show it as "busy, try
// again" (apperr maps it to 503).
var ErrBusy = errors.New("db: busy")

// ErrNestedWrite is returned for a write on the DB made by the goroutine
// that is inside a SQLite write transaction: it must use the transaction.
var ErrNestedWrite = errors.New("db: write outside the transaction by the goroutine that holds the write transaction; use the Tx")

// writeQueue is a fair (first come, first served) lock that a waiter can
// leave when its context ends. A buffered channel of one holds the turn:
// the runtime queues blocked senders in order and, on release, hands the
// slot straight to the first of them, so a newcomer cannot jump the queue.
type writeQueue struct {
	slot   chan struct{}
	holder atomic.Int64 // goroutine id of the holder, 0 when free
}

func newWriteQueue() *writeQueue {
	return &writeQueue{slot: make(chan struct{}, 1)}
}

// acquire waits for the turn to write. It returns ErrNestedWrite when the
// calling goroutine already holds it, and ErrBusy (wrapping the context's
// error) when ctx ends first.
func (q *writeQueue) acquire(ctx context.Context) error {
	me := goid()
	select {
	case q.slot <- struct{}{}:
		q.holder.Store(me)
		return nil
	default:
	}
	if q.holder.Load() == me {
		return ErrNestedWrite
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	select {
	case q.slot <- struct{}{}:
		q.holder.Store(me)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for the write lock: %w", ErrBusy, ctx.Err())
	}
}

func (q *writeQueue) release() {
	q.holder.Store(0)
	<-q.slot
}

// goid returns the id of the calling goroutine, read from the first line
// of its stack ("goroutine 123 [running]:"). It is used only to recognise
// a goroutine that already holds the write queue.
func goid() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// writes reports whether a statement run with Query or QueryRow may write:
// one with the word INSERT, UPDATE, DELETE or RETURNING outside quotes
// (INSERT … RETURNING, WITH … UPDATE …), or that starts with REPLACE (not
// the replace() function of a read). A read that only mentions such a word
// in a column name (updated_at) is not counted.
func writes(query string) bool {
	var quote byte
	start := -1
	first := true
	word := func(end int) bool {
		if start < 0 {
			return false
		}
		w := strings.ToUpper(query[start:end])
		start = -1
		wasFirst := first
		first = false
		switch w {
		case "INSERT", "UPDATE", "DELETE", "RETURNING":
			return true
		case "REPLACE":
			return wasFirst
		}
		return false
	}
	for i := 0; i < len(query); i++ {
		c := query[i]
		if quote != 0 {
			if c == quote {
				quote = 0
			}
			continue
		}
		if c == '_' || c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z' {
			if start < 0 {
				start = i
			}
			continue
		}
		if word(i) {
			return true
		}
		if c == '\'' || c == '"' {
			quote = c
		}
	}
	return word(len(query))
}

// releaseKey carries, in the context of a queued Query, the *queuedWrite
// whose turn the connection wrapper gives back when the rows close.
type releaseKey struct{}

// queuedWrite is the turn of one Query or QueryRow that writes. attached
// records that the rows took charge of release; if they did not (a driver
// that answered through another path), the caller releases at once rather
// than leave the queue held.
type queuedWrite struct {
	release  func()
	attached atomic.Bool
}

// failKey carries an error that the connection returns for the query
// instead of running it (how QueryRow reports a failed wait through Scan).
type failKey struct{}

// once returns f wrapped so that only its first call runs.
func once(f func()) func() {
	var o sync.Once
	return func() { o.Do(f) }
}

// sqliteConnector opens connections of the sqlite driver wrapped so that a
// queued Query releases its turn when its rows close.
type sqliteConnector struct {
	drv driver.Driver
	dsn string
}

func (c sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	inner, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &queuedConn{inner}, nil
}

func (c sqliteConnector) Driver() driver.Driver { return c.drv }

// queuedConn passes everything to the sqlite connection; only QueryContext
// differs, to attach the release of a queued write to its rows.
type queuedConn struct{ c driver.Conn }

func (q *queuedConn) Prepare(query string) (driver.Stmt, error) { return q.c.Prepare(query) }
func (q *queuedConn) Close() error                              { return q.c.Close() }

// Begin is required by driver.Conn; database/sql calls BeginTx instead.
func (q *queuedConn) Begin() (driver.Tx, error) {
	return q.c.(driver.ConnBeginTx).BeginTx(context.Background(), driver.TxOptions{})
}

func (q *queuedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return q.c.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (q *queuedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return q.c.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (q *queuedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return q.c.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (q *queuedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err, ok := ctx.Value(failKey{}).(error); ok {
		return nil, err
	}
	rows, err := q.c.(driver.QueryerContext).QueryContext(ctx, query, args)
	if err != nil {
		return nil, err
	}
	if qw, ok := ctx.Value(releaseKey{}).(*queuedWrite); ok {
		qw.attached.Store(true)
		return &releasingRows{Rows: rows, release: qw.release}, nil
	}
	return rows, nil
}

func (q *queuedConn) Ping(ctx context.Context) error { return q.c.(driver.Pinger).Ping(ctx) }

func (q *queuedConn) ResetSession(ctx context.Context) error {
	return q.c.(driver.SessionResetter).ResetSession(ctx)
}

func (q *queuedConn) IsValid() bool { return q.c.(driver.Validator).IsValid() }

// releasingRows gives the write turn back when the rows close (Row.Scan
// closes them; so does the end of the context).
type releasingRows struct {
	driver.Rows
	release func()
}

func (r *releasingRows) Close() error {
	err := r.Rows.Close()
	r.release()
	return err
}

func (r *releasingRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *releasingRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}
