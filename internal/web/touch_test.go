package web

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// TestReadsDoNotWrite: pages read with a valid session leave the session row
// as it was; the node's flush writes the last-seen time; the idle time-out
// still ends the session.
func TestReadsDoNotWrite(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		c := e.signedIn(e.staff, e.hosp)
		row := func() (time.Time, int) {
			t.Helper()
			var at time.Time
			var n int
			if err := d.QueryRow(bg, `SELECT COUNT(*) FROM sessions WHERE user_id = ?`, e.staff.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if err := d.QueryRow(bg, `SELECT last_seen_at FROM sessions WHERE user_id = ?`, e.staff.ID).Scan(&at); err != nil {
				t.Fatal(err)
			}
			return at, n
		}
		created, _ := row()
		e.clock.Advance(10 * time.Minute)
		for _, path := range []string{"/", "/account", "/org"} {
			wantStatus(t, c.get(path), http.StatusOK)
		}
		if at, n := row(); !at.Equal(created) || n != 1 {
			t.Fatalf("reads changed the sessions table: last seen %v (was %v), %d rows", at, created, n)
		}
		if s, _ := e.srv.Touches.Pending(); s != 1 {
			t.Fatalf("%d sessions pending", s)
		}
		if err := e.srv.Touches.Flush(bg, d); err != nil {
			t.Fatal(err)
		}
		if at, _ := row(); !at.Equal(e.clock.Now()) {
			t.Fatalf("flush wrote %v, want %v", at, e.clock.Now())
		}
		// Still signed in just before the idle time-out, not after it.
		pol := auth.DefaultSessionPolicy
		e.clock.Advance(pol.Idle - time.Minute)
		wantStatus(t, c.get("/account"), http.StatusOK)
		e.clock.Advance(pol.Idle + pol.IdleGrace())
		r := c.get("/account")
		wantStatus(t, r, http.StatusSeeOther)
		if r.loc() != "/signin?next=%2Faccount" {
			t.Fatalf("idle session went to %q", r.loc())
		}
	})
}

// TestReadsDoNotWaitForWriters: while another transaction holds a write
// lock on the session's row (the whole database on SQLite), pages still
// answer at once: an active session's read does not write, and the one
// write after a long pause gives up quickly and is batched instead.
func TestReadsDoNotWaitForWriters(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		c := e.signedIn(e.staff, e.hosp)
		var idHash string
		if err := d.QueryRow(bg, `SELECT id_hash FROM sessions WHERE user_id = ?`, e.staff.ID).Scan(&idHash); err != nil {
			t.Fatal(err)
		}
		locked, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- d.InTx(bg, func(tx *db.Tx) error {
				if _, err := tx.Exec(bg, `UPDATE sessions SET ip = ip WHERE id_hash = ?`, idHash); err != nil {
					return err
				}
				close(locked)
				<-release
				return nil
			})
		}()
		<-locked
		var once sync.Once
		unlock := func() { once.Do(func() { close(release) }) }
		t.Cleanup(unlock)
		for _, pause := range []time.Duration{5 * time.Minute, 20 * time.Minute} {
			e.clock.Advance(pause)
			ctx, cancel := context.WithTimeout(bg, 5*time.Second)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+"/account", nil)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err := c.c.Do(req)
			cancel()
			if err != nil {
				t.Fatalf("after a %v pause the page waited for the writer: %v after %v", pause, err, time.Since(start))
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("after a %v pause: status %d", pause, res.StatusCode)
			}
		}
		unlock()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := e.srv.Touches.Flush(bg, d); err != nil {
			t.Fatal(err)
		}
		var at time.Time
		if err := d.QueryRow(bg, `SELECT last_seen_at FROM sessions WHERE id_hash = ?`, idHash).Scan(&at); err != nil || !at.Equal(e.clock.Now()) {
			t.Fatalf("last seen %v %v, want %v", at, err, e.clock.Now())
		}
	})
}
