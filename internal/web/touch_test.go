package web

import (
	"net/http"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// TestReadsDoNotWrite: pages read with a valid session leave the session row
// as it was; the node's flush writes the last-seen time; the idle time-out
// still ends the session.
func TestReadsDoNotWrite(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
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
		e.clock.Add(10 * time.Minute)
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
		e.clock.Add(pol.Idle - time.Minute)
		wantStatus(t, c.get("/account"), http.StatusOK)
		e.clock.Add(pol.Idle + pol.IdleGrace())
		r := c.get("/account")
		wantStatus(t, r, http.StatusSeeOther)
		if r.loc() != "/signin?next=%2Faccount" {
			t.Fatalf("idle session went to %q", r.loc())
		}
	})
}
