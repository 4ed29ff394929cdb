package db_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// Many goroutines writing at once, one of them holding its transaction for
// a while: on both databases every write succeeds.
func TestConcurrentWriteTransactions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.Exec(ctx, `CREATE TABLE qw (id TEXT PRIMARY KEY, n INTEGER NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		holding := make(chan struct{})
		wg.Go(func() {
			errs <- d.InTx(ctx, func(tx *db.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO qw (id, n) VALUES (?, 0)`, db.NewID()); err != nil {
					return err
				}
				close(holding)
				time.Sleep(time.Second)
				return nil
			})
		})
		<-holding
		for i := range 40 {
			wg.Go(func() {
				errs <- d.InTx(ctx, func(tx *db.Tx) error {
					_, err := tx.Exec(ctx, `INSERT INTO qw (id, n) VALUES (?, ?)`, db.NewID(), i)
					return err
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		var n int
		if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM qw`).Scan(&n); err != nil || n != 41 {
			t.Fatalf("rows = %d (%v), want 41", n, err)
		}
	})
}

// A write that gave up waiting is shown as 503 "busy, try again", never
// as an internal error.
func TestBusyIsUnavailable(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	holding := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- d.InTx(ctx, func(tx *db.Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := d.InTx(wctx, func(tx *db.Tx) error { return nil })
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, db.ErrBusy) {
		t.Fatalf("got %v, want ErrBusy", err)
	}
	wrapped := fmt.Errorf("store: save: %w", err)
	ae := apperr.From(wrapped)
	if ae.Code != apperr.Unavailable || ae.Key != "error.busy" || apperr.Status(ae.Code) != http.StatusServiceUnavailable {
		t.Fatalf("apperr.From = %v (status %d), want unavailable/error.busy/503", ae, apperr.Status(ae.Code))
	}
}
