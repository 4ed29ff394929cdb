package db

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// openShortBusy opens a SQLite database whose busy_timeout is short, so
// that a writer left to SQLite's own waiting would fail with SQLITE_BUSY
// well within the test.
func openShortBusy(t testing.TB, path string) *DB {
	t.Helper()
	old := sqliteBusyTimeout
	sqliteBusyTimeout = 300 * time.Millisecond
	defer func() { sqliteBusyTimeout = old }()
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func newQueueDB(t testing.TB) *DB {
	t.Helper()
	d := openShortBusy(t, filepath.Join(t.TempDir(), "q.db"))
	if _, err := d.Exec(context.Background(), `CREATE TABLE w (id INTEGER PRIMARY KEY AUTOINCREMENT, who TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return d
}

// One writer holds the write transaction ten times longer than
// busy_timeout while 24 others write through every path (InTx, Exec,
// QueryRow … RETURNING, Query … RETURNING): all of them wait their turn
// and succeed.
func TestWriteQueueLongHolderNoBusy(t *testing.T) {
	d := newQueueDB(t)
	ctx := context.Background()
	hold := 3 * time.Second
	holding := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	wg.Go(func() {
		errs <- d.InTx(ctx, func(tx *Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO w (who) VALUES ('holder')`); err != nil {
				return err
			}
			close(holding)
			time.Sleep(hold)
			return nil
		})
	})
	<-holding
	start := time.Now()
	for i := range 24 {
		wg.Go(func() {
			who := fmt.Sprintf("w%d", i)
			var err error
			switch i % 4 {
			case 0:
				err = d.InTx(ctx, func(tx *Tx) error {
					var n int
					if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM w`).Scan(&n); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, `INSERT INTO w (who) VALUES (?)`, who)
					return err
				})
			case 1:
				_, err = d.Exec(ctx, `INSERT INTO w (who) VALUES (?)`, who)
			case 2:
				var id int64
				err = ScanErr(d.QueryRow(ctx, `INSERT INTO w (who) VALUES (?) RETURNING id`, who).Scan(&id))
			case 3:
				rows, qerr := d.Query(ctx, `INSERT INTO w (who) VALUES (?) RETURNING id`, who)
				if qerr != nil {
					err = qerr
					break
				}
				for rows.Next() {
				}
				err = errors.Join(rows.Err(), rows.Close())
			}
			if err != nil {
				errs <- fmt.Errorf("%s: %w", who, err)
			}
		})
	}
	// Readers are not queued: they answer while the holder writes.
	var n int
	if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM w`).Scan(&n); err != nil {
		t.Fatalf("read during the long write: %v", err)
	}
	if time.Since(start) > hold/2 {
		t.Fatalf("a read waited %v behind the writer", time.Since(start))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM w`).Scan(&n); err != nil || n != 25 {
		t.Fatalf("rows = %d (%v), want 25", n, err)
	}
}

// Without the queue the same long holder makes other writers fail with
// SQLITE_BUSY (now ErrBusy): the situation the queue removes. This keeps
// the test above honest about what it proves.
func TestWithoutQueueWritersGetBusy(t *testing.T) {
	d := newQueueDB(t)
	d.wq = nil
	ctx := context.Background()
	holding := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- d.InTx(ctx, func(tx *Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO w (who) VALUES ('holder')`); err != nil {
				return err
			}
			close(holding)
			time.Sleep(time.Second)
			return nil
		})
	}()
	<-holding
	_, err := d.Exec(ctx, `INSERT INTO w (who) VALUES ('late')`)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("unqueued writer behind a long holder: %v, want ErrBusy (SQLITE_BUSY)", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A waiter whose context ends leaves the queue at once with ErrBusy, and
// the queue keeps working for the others.
func TestWriteQueueWaiterCancelled(t *testing.T) {
	d := newQueueDB(t)
	ctx := context.Background()
	holding := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- d.InTx(ctx, func(tx *Tx) error {
			close(holding)
			<-release
			_, err := tx.Exec(ctx, `INSERT INTO w (who) VALUES ('holder')`)
			return err
		})
	}()
	<-holding
	for _, tc := range []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"InTx", func(ctx context.Context) error {
			return d.InTx(ctx, func(tx *Tx) error { return errors.New("must not run") })
		}},
		{"Exec", func(ctx context.Context) error {
			_, err := d.Exec(ctx, `INSERT INTO w (who) VALUES ('x')`)
			return err
		}},
		{"QueryRow", func(ctx context.Context) error {
			var id int64
			return ScanErr(d.QueryRow(ctx, `INSERT INTO w (who) VALUES ('x') RETURNING id`).Scan(&id))
		}},
		{"Query", func(ctx context.Context) error {
			_, err := d.Query(ctx, `INSERT INTO w (who) VALUES ('x') RETURNING id`)
			return err
		}},
	} {
		t.Run(tc.name+"/deadline", func(t *testing.T) {
			wctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := tc.run(wctx)
			if !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got %v, want ErrBusy wrapping the deadline", err)
			}
			if el := time.Since(start); el > time.Second {
				t.Fatalf("returned after %v", el)
			}
		})
		t.Run(tc.name+"/cancel", func(t *testing.T) {
			wctx, cancel := context.WithCancel(ctx)
			res := make(chan error, 1)
			go func() { res <- tc.run(wctx) }()
			time.Sleep(50 * time.Millisecond)
			cancel()
			select {
			case err := <-res:
				if !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
					t.Fatalf("got %v, want ErrBusy wrapping the cancellation", err)
				}
			case <-time.After(time.Second):
				t.Fatal("waiter did not return after its context was cancelled")
			}
		})
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(ctx, `INSERT INTO w (who) VALUES ('after')`); err != nil {
		t.Fatalf("queue after cancelled waiters: %v", err)
	}
	var n int
	if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM w`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows = %d (%v), want 2 (nothing written by the cancelled waiters)", n, err)
	}
}

// Writers get their turn in the order they arrived.
func TestWriteQueueFIFO(t *testing.T) {
	d := newQueueDB(t)
	ctx := context.Background()
	holding := make(chan struct{})
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = d.InTx(ctx, func(tx *Tx) error {
			close(holding)
			<-release
			return nil
		})
	})
	<-holding
	const n = 12
	for i := range n {
		wg.Go(func() {
			if _, err := d.Exec(ctx, `INSERT INTO w (who) VALUES (?)`, fmt.Sprint(i)); err != nil {
				t.Error(err)
			}
		})
		// Let waiter i block in the queue before waiter i+1 arrives.
		time.Sleep(20 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	rows, err := d.Query(ctx, `SELECT who FROM w ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var who string
		if err := rows.Scan(&who); err != nil {
			t.Fatal(err)
		}
		if who != fmt.Sprint(i) {
			t.Fatalf("write %d was %q: not in arrival order", i, who)
		}
		i++
	}
	if i != n {
		t.Fatalf("%d writes, want %d", i, n)
	}
}

// The nesting rule: inside InTx, a write on the DB by the same goroutine
// fails at once with ErrNestedWrite (it could never get its turn); reads on
// the DB still work; the transaction itself goes on and commits.
func TestWriteQueueNestedWrite(t *testing.T) {
	d := newQueueDB(t)
	ctx := context.Background()
	start := time.Now()
	err := d.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO w (who) VALUES ('outer')`); err != nil {
			return err
		}
		if _, err := d.Exec(ctx, `INSERT INTO w (who) VALUES ('nested exec')`); !errors.Is(err, ErrNestedWrite) {
			return fmt.Errorf("nested Exec: %v, want ErrNestedWrite", err)
		}
		if err := d.InTx(ctx, func(*Tx) error { return errors.New("nested InTx ran") }); !errors.Is(err, ErrNestedWrite) {
			return fmt.Errorf("nested InTx: %v, want ErrNestedWrite", err)
		}
		var id int64
		if err := ScanErr(d.QueryRow(ctx, `INSERT INTO w (who) VALUES ('nested row') RETURNING id`).Scan(&id)); !errors.Is(err, ErrNestedWrite) {
			return fmt.Errorf("nested QueryRow write: %v, want ErrNestedWrite", err)
		}
		if _, err := d.Query(ctx, `DELETE FROM w RETURNING id`); !errors.Is(err, ErrNestedWrite) {
			return fmt.Errorf("nested Query write: %v, want ErrNestedWrite", err)
		}
		var n int
		if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM w`).Scan(&n); err != nil {
			return fmt.Errorf("read on the DB inside InTx: %v", err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO w (who) VALUES ('outer 2')`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("nested writes took %v: they waited instead of failing", el)
	}
	var n int
	if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM w`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows = %d (%v), want the 2 written through the tx", n, err)
	}
	// Another goroutine writing while a transaction is open is not nested:
	// it waits for its turn and then succeeds.
	holding := make(chan struct{})
	other := make(chan error, 1)
	err = d.InTx(ctx, func(tx *Tx) error {
		go func() {
			close(holding)
			_, err := d.Exec(ctx, `INSERT INTO w (who) VALUES ('other goroutine')`)
			other <- err
		}()
		<-holding
		time.Sleep(50 * time.Millisecond)
		_, err := tx.Exec(ctx, `INSERT INTO w (who) VALUES ('outer 3')`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-other; err != nil {
		t.Fatalf("other goroutine's write: %v", err)
	}
}

// Another process (here a second DB on the same file, with its own queue)
// is still covered by busy_timeout: a short hold is waited out, a hold
// beyond busy_timeout gives ErrBusy rather than a raw driver error.
func TestCrossProcessBusyTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	a := openShortBusy(t, path)
	b := openShortBusy(t, path)
	ctx := context.Background()
	if _, err := a.Exec(ctx, `CREATE TABLE w (id INTEGER PRIMARY KEY AUTOINCREMENT, who TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	holdFor := func(d time.Duration) chan error {
		holding := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- b.InTx(ctx, func(tx *Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO w (who) VALUES ('b')`); err != nil {
					return err
				}
				close(holding)
				time.Sleep(d)
				return nil
			})
		}()
		<-holding
		return done
	}
	done := holdFor(100 * time.Millisecond)
	if _, err := a.Exec(ctx, `INSERT INTO w (who) VALUES ('a')`); err != nil {
		t.Fatalf("short hold by another process: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done = holdFor(time.Second)
	if _, err := a.Exec(ctx, `INSERT INTO w (who) VALUES ('a')`); !errors.Is(err, ErrBusy) {
		t.Fatalf("hold beyond busy_timeout by another process: %v, want ErrBusy", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWrites(t *testing.T) {
	for q, want := range map[string]bool{
		`SELECT id, updated_at FROM t WHERE deleted = 0`:                    false,
		`  select count(*) from inserts_log`:                                false,
		`SELECT 'INSERT' FROM t`:                                            false,
		`INSERT INTO t (a) VALUES (?)`:                                      true,
		"\n\t\tUPDATE jobs SET state = 'running' RETURNING id":              true,
		`delete from t where id = ? returning data`:                         true,
		`WITH x AS (SELECT 1) UPDATE t SET a = 1`:                           true,
		`WITH x AS (SELECT updated_at FROM t) SELECT * FROM x`:              false,
		`REPLACE INTO t VALUES (1)`:                                         true,
		`SELECT replace(name, ' ', '') FROM t`:                              false,
		`INSERT INTO rate_counters (key) VALUES (?) ON CONFLICT DO NOTHING`: true,
	} {
		if got := writes(q); got != want {
			t.Errorf("writes(%q) = %v, want %v", q, got, want)
		}
	}
}

// newBenchDB opens a SQLite database with the production busy_timeout,
// so that the unqueued figures are those of the code before the queue.
func newBenchDB(b *testing.B) *DB {
	b.Helper()
	d, err := Open(context.Background(), filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	if _, err := d.Exec(context.Background(), `CREATE TABLE w (id INTEGER PRIMARY KEY AUTOINCREMENT, who TEXT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkSmallWriteTx measures a one-row write transaction on SQLite
// with the write queue and without it (the figure before the queue).
func BenchmarkSmallWriteTx(b *testing.B) {
	for _, queued := range []bool{false, true} {
		name := "unqueued"
		if queued {
			name = "queued"
		}
		b.Run(name+"/serial", func(b *testing.B) {
			d := newBenchDB(b)
			if !queued {
				d.wq = nil
			}
			ctx := context.Background()
			for b.Loop() {
				if err := d.InTx(ctx, func(tx *Tx) error {
					_, err := tx.Exec(ctx, `INSERT INTO w (who) VALUES ('b')`)
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parallel8", func(b *testing.B) {
			d := newBenchDB(b)
			if !queued {
				d.wq = nil
			}
			ctx := context.Background()
			b.SetParallelism(4) // 8 writers on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := d.InTx(ctx, func(tx *Tx) error {
						_, err := tx.Exec(ctx, `INSERT INTO w (who) VALUES ('b')`)
						return err
					}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkWriteQueueTurn measures taking and giving back an uncontended
// turn (including reading the goroutine id).
func BenchmarkWriteQueueTurn(b *testing.B) {
	q := newWriteQueue()
	ctx := context.Background()
	for b.Loop() {
		if err := q.acquire(ctx); err != nil {
			b.Fatal(err)
		}
		q.release()
	}
}

// A transaction whose function panics is rolled back and gives its turn
// back: the next writer neither waits nor finds the lock taken.
func TestWriteQueuePanicInTx(t *testing.T) {
	d := newQueueDB(t)
	ctx := context.Background()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic not propagated")
			}
		}()
		_ = d.InTx(ctx, func(tx *Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO w (who) VALUES ('panicked')`); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := d.Exec(wctx, `INSERT INTO w (who) VALUES ('next')`); err != nil {
		t.Fatalf("write after a panicked transaction: %v", err)
	}
	var n int
	if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM w WHERE who = 'panicked'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("panicked transaction's row: %d (%v), want rolled back", n, err)
	}
}

// A write through Query holds the turn until its rows are closed.
func TestWriteQueueQueryHoldsUntilClose(t *testing.T) {
	d := newQueueDB(t)
	ctx := context.Background()
	rows, err := d.Query(ctx, `INSERT INTO w (who) VALUES ('a'), ('b') RETURNING id`)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	// From another goroutine: the same goroutine would be refused as nested.
	errc := make(chan error, 1)
	go func() {
		_, err := d.Exec(wctx, `INSERT INTO w (who) VALUES ('c')`)
		errc <- err
	}()
	if err := <-errc; !errors.Is(err, ErrBusy) {
		t.Fatalf("write while a writing Query's rows are open: %v, want ErrBusy", err)
	}
	for rows.Next() {
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(ctx, `INSERT INTO w (who) VALUES ('c')`); err != nil {
		t.Fatalf("write after the rows closed: %v", err)
	}
}
