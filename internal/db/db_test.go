package db_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func TestMigrateAndDialect(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		pending, err := d.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) != 0 {
			t.Fatalf("pending after migrate: %v", pending)
		}
		again, err := d.Migrate(ctx)
		if err != nil || len(again) != 0 {
			t.Fatalf("second migrate applied %v, err %v", again, err)
		}
		now := time.Date(2026, 3, 31, 23, 59, 58, 123456789, time.FixedZone("JST", 9*3600))
		id := db.NewID()
		if _, err := d.Exec(ctx, `INSERT INTO organizations (id, kind, name, created_at, updated_at) VALUES (?, 'clinic', ?, ?, ?)`, id, "テスト診療所 'quoted?'", now, now); err != nil {
			t.Fatal(err)
		}
		_, err = d.Exec(ctx, `INSERT INTO organizations (id, kind, name, created_at, updated_at) VALUES (?, 'clinic', 'x', ?, ?)`, id, now, now)
		if !errors.Is(err, db.ErrConflict) {
			t.Fatalf("duplicate id: got %v, want ErrConflict", err)
		}
		var name string
		var got time.Time
		if err := d.QueryRow(ctx, `SELECT name, created_at FROM organizations WHERE id = ? AND created_at <= ?`, id, now.Add(time.Second)).Scan(&name, &got); err != nil {
			t.Fatal(err)
		}
		if name != "テスト診療所 'quoted?'" || !got.Equal(now.Truncate(time.Microsecond)) {
			t.Fatalf("round trip: %q %v, want %v", name, got, now)
		}
		err = db.ScanErr(d.QueryRow(ctx, `SELECT name FROM organizations WHERE id = ?`, db.NewID()).Scan(&name))
		if !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("missing row: got %v", err)
		}
	})
}

// TestMapErrorSentinels: driver errors are mapped by their codes, so
// errors.Is finds the sentinel on both databases and the driver's text
// stays in the message.
func TestMapErrorSentinels(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.Exec(ctx, `CREATE TABLE map_error_probe (id TEXT PRIMARY KEY, name TEXT UNIQUE)`); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Exec(ctx, `INSERT INTO map_error_probe (id, name) VALUES ('a', 'x')`); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`INSERT INTO map_error_probe (id, name) VALUES ('b', 'x')`, // unique
			`INSERT INTO map_error_probe (id, name) VALUES ('a', 'y')`, // primary key
		} {
			_, err := d.Exec(ctx, q)
			err = db.MapError(err)
			if !errors.Is(err, db.ErrConflict) {
				t.Fatalf("%s: %v is not ErrConflict", q, err)
			}
			if errors.Is(err, db.ErrBusy) || errors.Is(err, db.ErrNotFound) {
				t.Fatalf("%s: %v matches another sentinel", q, err)
			}
			if err.Error() == db.ErrConflict.Error() {
				t.Fatalf("driver detail lost: %v", err)
			}
		}
		var s string
		err := db.MapError(d.QueryRow(ctx, `SELECT name FROM map_error_probe WHERE id = 'zz'`).Scan(&s))
		if !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("no rows: %v", err)
		}
		_, err = d.Exec(ctx, `INSERT INTO map_error_probe (id) VALUES (NULL, 'too many')`)
		if err = db.MapError(err); err == nil || errors.Is(err, db.ErrConflict) || errors.Is(err, db.ErrNotFound) {
			t.Fatalf("syntax error mapped to a sentinel: %v", err)
		}
	})
}

// TestInBatchTxLeavesLockFree: on SQLite a batch transaction is followed by
// a pause as long as it held the lock (a writer in another process gets
// its turn then); on PostgreSQL, which locks rows, there is none.
func TestInBatchTxLeavesLockFree(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		hold := 60 * time.Millisecond
		start := time.Now()
		if err := d.InBatchTx(ctx, func(tx *db.Tx) error {
			time.Sleep(hold)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if d.Dialect() == db.SQLite && took < 2*hold {
			t.Fatalf("SQLite batch transaction returned after %v, before its pause", took)
		}
	})
}
