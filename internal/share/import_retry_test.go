package share

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// stagedLeft counts the rows of imports in progress: staged posts and
// objects, and registered imports.
func stagedLeft(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.QueryRow(context.Background(), `SELECT (SELECT COUNT(*) FROM share_posts WHERE import_id IS NOT NULL)
		+ (SELECT COUNT(*) FROM share_stix_objects WHERE import_id IS NOT NULL)
		+ (SELECT COUNT(*) FROM share_imports)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestImportFailedThenRetried fails an import half-way through its writes
// (its sixth transaction fails, as when the disk is full): the import
// reports the failure and what it staged is gone when it returns, so the
// same file imported again at once lands whole (before, the staged report
// kept its STIX id until the cleanup task ran, and the second import hit
// the unique constraint on share_posts.stix_id).
func TestImportFailedThenRetried(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		body := bundleString(7, 600)
		diskFull := errors.New("disk full")
		n := 0
		opts := ImportOptions{beforeTx: func() error {
			if n++; n == 6 {
				return diskFull
			}
			return nil
		}}
		if _, err := ImportSTIX(ctx, d, w.author, strings.NewReader(body), opts, t0); !errors.Is(err, diskFull) {
			t.Fatalf("import failing in its sixth transaction: %v", err)
		}
		if left := stagedLeft(t, d); left != 0 {
			t.Fatalf("%d staged rows left by the failed import", left)
		}
		var posts int
		if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM share_posts WHERE stix_id = 'report--00000007-0000-4000-8000-000000000000'`).Scan(&posts); err != nil || posts != 0 {
			t.Fatalf("failed import left %d posts (%v)", posts, err)
		}
		res, err := ImportSTIX(ctx, d, w.author, strings.NewReader(body), ImportOptions{}, t0)
		if err != nil {
			t.Fatalf("the same file again: %v", err)
		}
		if res.Objects != 601 || len(res.Posts) != 1 || res.Posts[0].Indicators != 600 {
			t.Fatalf("objects %d, posts %+v", res.Objects, res.Posts)
		}
		if p := must[*Post](t)(GetPost(ctx, d, w.author, res.Posts[0].ID)); len(p.Indicators) != 600 {
			t.Errorf("imported post has %d indicators", len(p.Indicators))
		}
		if left := stagedLeft(t, d); left != 0 {
			t.Errorf("%d staged rows left after publishing", left)
		}
	})
}

// TestImportWaitsForBusyDatabase imports while another process (a second
// handle on the same SQLite file, with its own write queue) holds the
// write lock longer than the importer's busy timeout: the import's
// transactions wait and try again instead of failing, and the result says
// it waited.
func TestImportWaitsForBusyDatabase(t *testing.T) {
	d := dbtest.SQLite(t)
	w := newWorld(t, d)
	ctx := context.Background()
	oldPause := busyPause
	busyPause = 50 * time.Millisecond
	defer func() { busyPause = oldPause }()
	// One connection whose busy timeout is 100 ms instead of 15 s, so
	// that the test need not wait that long.
	d.SQL().SetMaxOpenConns(1)
	if _, err := d.SQL().ExecContext(ctx, `PRAGMA busy_timeout = 100`); err != nil {
		t.Fatal(err)
	}
	other, err := db.Open(ctx, d.Source)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	held := make(chan error, 1)
	holdWriteLock(ctx, other, w.otherOrg, held, func() { time.Sleep(time.Second) })
	res, err := ImportSTIX(ctx, d, w.author, strings.NewReader(bundleString(8, 300)), ImportOptions{}, t0)
	if err != nil {
		t.Fatalf("import beside another process's long write: %v", err)
	}
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if res.Objects != 301 || len(res.Posts) != 1 {
		t.Fatalf("objects %d, posts %+v", res.Objects, res.Posts)
	}
	if res.BusyWaits == 0 || res.BusyWaited < 100*time.Millisecond {
		t.Errorf("the import did not say it waited: %d waits, %v", res.BusyWaits, res.BusyWaited)
	}
	t.Logf("waited %d times, %v", res.BusyWaits, res.BusyWaited)

	// A cancelled context stops the waiting.
	release := make(chan struct{})
	holdWriteLock(ctx, other, w.otherOrg, held, func() { <-release })
	cctx, cancel := context.WithTimeout(ctx, 600*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = ImportSTIX(cctx, d, w.author, strings.NewReader(bundleString(9, 10)), ImportOptions{}, t0)
	close(release)
	if err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("import cancelled while waiting: %v after %v", err, time.Since(start))
	}
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if left := stagedLeft(t, d); left != 0 {
		t.Errorf("%d staged rows left", left)
	}

	// An import failing half-way while the other process holds the lock:
	// removing what it staged waits for the lock too, so that the same
	// file imported again at once lands (before, the removal failed busy
	// and left the staged report holding its STIX id).
	body := bundleString(10, 600)
	diskFull := errors.New("disk full")
	n := 0
	opts := ImportOptions{beforeTx: func() error {
		if n++; n < 6 {
			return nil
		}
		holdWriteLock(ctx, other, w.otherOrg, held, func() { time.Sleep(time.Second) })
		return diskFull
	}}
	if _, err := ImportSTIX(ctx, d, w.author, strings.NewReader(body), opts, t0); !errors.Is(err, diskFull) {
		t.Fatalf("import failing in its sixth transaction: %v", err)
	}
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if left := stagedLeft(t, d); left != 0 {
		t.Fatalf("%d staged rows left by the failed import", left)
	}
	if res, err := ImportSTIX(ctx, d, w.author, strings.NewReader(body), ImportOptions{}, t0); err != nil || res.Objects != 601 {
		t.Fatalf("the same file again: %v", err)
	}
}

// retryBusy gives up after busyAttempts tries and passes other errors
// through at once.
func TestRetryBusyBounded(t *testing.T) {
	oldPause := busyPause
	busyPause = time.Millisecond
	defer func() { busyPause = oldPause }()
	tries, waits := 0, 0
	err := retryBusy(context.Background(), func() error { tries++; return db.ErrBusy }, func(time.Duration) { waits++ })
	if !errors.Is(err, db.ErrBusy) || tries != busyAttempts || waits != busyAttempts-1 {
		t.Errorf("always busy: %v after %d tries, %d waits", err, tries, waits)
	}
	tries = 0
	other := errors.New("other")
	if err := retryBusy(context.Background(), func() error { tries++; return other }, nil); err != other || tries != 1 {
		t.Errorf("other error: %v after %d tries", err, tries)
	}
}

// holdWriteLock has other, a second process on the same database, take the
// write lock in a transaction that lasts until wait returns. It returns
// once the lock is held; the transaction's result goes to held.
func holdWriteLock(ctx context.Context, other *db.DB, orgID string, held chan<- error, wait func()) {
	holding := make(chan struct{})
	go func() {
		held <- other.InTx(ctx, func(tx *db.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE organizations SET name = name WHERE id = ?`, orgID); err != nil {
				return err
			}
			close(holding)
			wait()
			return nil
		})
	}()
	<-holding
}
