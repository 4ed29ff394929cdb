package auth_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
)

func TestSessionRotationAndStorage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		pol := auth.DefaultSessionPolicy
		seen := map[string]bool{}
		for i := 0; i < 3; i++ {
			raw, s, err := auth.CreateSession(ctx, d, f.staff.ID, f.hosp.ID, false, "192.0.2.7", strings.Repeat("UA", 300), pol, t0)
			must(t, err)
			if seen[raw] || seen[s.IDHash] || len(raw) < 40 {
				t.Fatalf("session %d reuses an id or is short: %q", i, raw)
			}
			seen[raw], seen[s.IDHash] = true, true
			if s.IDHash != auth.HashToken(raw) || s.CSRFToken == "" || s.CSRFToken == raw || len(s.UserAgent) != 400 {
				t.Fatalf("session %+v", s)
			}
			if n := count(t, d, `SELECT COUNT(*) FROM sessions WHERE id_hash = ? OR csrf_token = ?`, raw, raw); n != 0 {
				t.Fatal("the raw session id is stored")
			}
			got, err := auth.LookupSession(ctx, d, raw, pol, t0.Add(time.Second))
			must(t, err)
			if got.UserID != f.staff.ID || got.OrgID != f.hosp.ID || got.CSRFToken != s.CSRFToken || got.MFAPassed || got.IP != "192.0.2.7" {
				t.Fatalf("looked up %+v", got)
			}
		}
		if n, err := auth.CountUserSessions(ctx, d, f.staff.ID, t0); err != nil || n != 3 {
			t.Fatalf("CountUserSessions = %d, %v", n, err)
		}
		for _, raw := range []string{"", "x", strings.Repeat("a", 101), auth.HashToken("x")} {
			_, err := auth.LookupSession(ctx, d, raw, pol, t0)
			wantNotFound(t, err)
		}

		raw, s, err := auth.CreateSession(ctx, d, f.admin.ID, f.hosp.ID, false, "", "", pol, t0)
		must(t, err)
		must(t, auth.MarkMFAPassed(ctx, d, s.IDHash))
		must(t, auth.SwitchSessionOrg(ctx, d, s.IDHash, f.clinic.ID))
		got, err := auth.LookupSession(ctx, d, raw, pol, t0)
		must(t, err)
		if !got.MFAPassed || got.OrgID != f.clinic.ID {
			t.Fatalf("after MFA and switch: %+v", got)
		}
		// Not a member of the clinic: no principal.
		_, err = auth.PrincipalForSession(ctx, d, got)
		wantNotFound(t, err)
		must(t, auth.DeleteSession(ctx, d, s.IDHash))
		_, err = auth.LookupSession(ctx, d, raw, pol, t0)
		wantNotFound(t, err)
	})
}

func TestSessionTimeouts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		pol := auth.SessionPolicy{Idle: 30 * time.Minute, Absolute: 12 * time.Hour}
		if pol.TouchThreshold() != time.Minute || pol.FlushInterval() != 30*time.Second || pol.IdleGrace() != 2*time.Minute {
			t.Fatalf("threshold %v, interval %v, grace %v", pol.TouchThreshold(), pol.FlushInterval(), pol.IdleGrace())
		}
		touches := auth.NewTouches()
		tctx := auth.WithTouches(ctx, touches)
		lastSeen := func(raw string) time.Time {
			t.Helper()
			var at time.Time
			must(t, d.QueryRow(ctx, `SELECT last_seen_at FROM sessions WHERE id_hash = ?`, auth.HashToken(raw)).Scan(&at))
			return at
		}

		// Idle: each use moves the idle deadline; Idle plus the grace
		// without one ends it. A use in an active session is not written
		// until a flush.
		raw, _, err := auth.CreateSession(ctx, d, f.staff.ID, f.hosp.ID, false, "", "", pol, t0)
		must(t, err)
		s, err := auth.LookupSession(tctx, d, raw, pol, t0.Add(14*time.Minute))
		must(t, err)
		if !s.LastSeenAt.Equal(t0.Add(14 * time.Minute)) {
			t.Fatalf("last seen %v not refreshed", s.LastSeenAt)
		}
		if !lastSeen(raw).Equal(t0) {
			t.Fatal("a lookup wrote the last-seen time")
		}
		must(t, touches.Flush(ctx, d))
		if !lastSeen(raw).Equal(t0.Add(14 * time.Minute)) {
			t.Fatalf("flush wrote %v", lastSeen(raw))
		}
		// The first use after a long pause is written at once.
		late := t0.Add(14*time.Minute + pol.Idle + pol.IdleGrace() - time.Second)
		if _, err := auth.LookupSession(tctx, d, raw, pol, late); err != nil {
			t.Fatalf("just within the idle time-out: %v", err)
		}
		if !lastSeen(raw).Equal(late) {
			t.Fatalf("the use after a pause was not written: %v", lastSeen(raw))
		}
		_, err = auth.LookupSession(tctx, d, raw, pol, late.Add(pol.Idle+pol.IdleGrace()))
		wantNotFound(t, err)
		// An idle session is gone, even for a request dated earlier.
		_, err = auth.LookupSession(tctx, d, raw, pol, late.Add(time.Minute))
		wantNotFound(t, err)

		// Uses within the threshold are not even recorded.
		raw, _, err = auth.CreateSession(ctx, d, f.staff.ID, f.hosp.ID, false, "", "", pol, t0)
		must(t, err)
		s, err = auth.LookupSession(tctx, d, raw, pol, t0.Add(30*time.Second))
		must(t, err)
		if n, _ := touches.Pending(); !s.LastSeenAt.Equal(t0) || n != 0 {
			t.Fatalf("last seen %v, %d pending, within the threshold", s.LastSeenAt, n)
		}

		// Two nodes. Node 1 sees the session again after a long pause (20
		// minutes): that use is written at once, so node 2 knows it.
		raw, _, err = auth.CreateSession(ctx, d, f.staff.ID, f.hosp.ID, false, "", "", pol, t0)
		must(t, err)
		node1, node2 := auth.NewTouches(), auth.NewTouches()
		ctx1, ctx2 := auth.WithTouches(ctx, node1), auth.WithTouches(ctx, node2)
		_, err = auth.LookupSession(ctx1, d, raw, pol, t0.Add(20*time.Minute))
		must(t, err)
		if !lastSeen(raw).Equal(t0.Add(20 * time.Minute)) {
			t.Fatalf("the use after a pause was not written: %v", lastSeen(raw))
		}
		// Later uses on node 1 wait for its flush; node 2 still keeps the
		// session, right after such a use and until just before the idle
		// time-out counted from it.
		_, err = auth.LookupSession(ctx1, d, raw, pol, t0.Add(34*time.Minute))
		must(t, err)
		if !lastSeen(raw).Equal(t0.Add(20 * time.Minute)) {
			t.Fatal("a use in an active session was written at once")
		}
		if _, err := auth.LookupSession(ctx2, d, raw, pol, t0.Add(34*time.Minute+pol.FlushInterval())); err != nil {
			t.Fatalf("node 2 ended a session node 1 used %v ago: %v", pol.FlushInterval(), err)
		}
		_, err = auth.PruneSessions(ctx, d, pol, t0.Add(34*time.Minute+pol.FlushInterval()))
		must(t, err)
		if count(t, d, `SELECT COUNT(*) FROM sessions WHERE id_hash = ?`, auth.HashToken(raw)) != 1 {
			t.Fatal("pruning removed a session in use on another node")
		}
		must(t, node1.Flush(ctx, d))
		if _, err := auth.LookupSession(auth.WithTouches(ctx, auth.NewTouches()), d, raw, pol, t0.Add(34*time.Minute+pol.Idle-time.Second)); err != nil {
			t.Fatalf("a third node ended the session within the idle time-out: %v", err)
		}
		// Idle expiry still holds on every node, counted from the last use
		// anywhere (the third node's, written at once after the pause).
		last := t0.Add(34*time.Minute + pol.Idle - time.Second)
		if !lastSeen(raw).Equal(last) {
			t.Fatalf("last seen %v, want %v", lastSeen(raw), last)
		}
		_, err = auth.LookupSession(ctx2, d, raw, pol, last.Add(pol.Idle+pol.IdleGrace()))
		wantNotFound(t, err)

		// Absolute: a session in constant use still ends after 12 hours.
		raw, _, err = auth.CreateSession(ctx, d, f.staff.ID, f.hosp.ID, false, "", "", pol, t0)
		must(t, err)
		for now := t0.Add(20 * time.Minute); now.Before(t0.Add(12 * time.Hour)); now = now.Add(20 * time.Minute) {
			if _, err := auth.LookupSession(tctx, d, raw, pol, now); err != nil {
				t.Fatalf("in use at %v: %v", now.Sub(t0), err)
			}
			must(t, touches.Flush(ctx, d))
		}
		_, err = auth.LookupSession(tctx, d, raw, pol, t0.Add(12*time.Hour))
		wantNotFound(t, err)

		// PruneSessions removes expired and idle sessions only.
		must(t, touches.Flush(ctx, d))
		_, err = d.Exec(ctx, `DELETE FROM sessions`)
		must(t, err)
		live, _, err := auth.CreateSession(ctx, d, f.admin.ID, f.hosp.ID, false, "", "", pol, t0.Add(time.Hour))
		must(t, err)
		_, _, err = auth.CreateSession(ctx, d, f.admin.ID, f.hosp.ID, false, "", "", pol, t0)
		must(t, err)
		n, err := auth.PruneSessions(ctx, d, pol, t0.Add(80*time.Minute))
		must(t, err)
		if n != 1 {
			t.Fatalf("PruneSessions removed %d", n)
		}
		if _, err := auth.LookupSession(ctx, d, live, pol, t0.Add(80*time.Minute)); err != nil {
			t.Fatalf("live session pruned: %v", err)
		}
		if left := count(t, d, `SELECT COUNT(*) FROM sessions`); left != 1 {
			t.Fatalf("%d sessions left after pruning, want 1", left)
		}
	})
}

// TestTouchesFlush: many sessions and tokens written in batches; a flush
// never moves a stored time backwards, and a failed flush keeps the times.
func TestTouchesFlush(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		pol := auth.DefaultSessionPolicy
		touches := auth.NewTouches()
		tctx := auth.WithTouches(ctx, touches)
		var raws []string
		for range 1200 {
			raw, _, err := auth.CreateSession(ctx, d, f.staff.ID, f.hosp.ID, true, "", "", pol, t0)
			must(t, err)
			raws = append(raws, raw)
		}
		for _, raw := range raws {
			_, err := auth.LookupSession(tctx, d, raw, pol, t0.Add(5*time.Minute))
			must(t, err)
		}
		if n, _ := touches.Pending(); n != 1200 {
			t.Fatalf("%d pending", n)
		}
		// Another node already wrote a later time for one session.
		_, err := d.Exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?`, t0.Add(6*time.Minute), auth.HashToken(raws[0]))
		must(t, err)
		// A closed database: the flush fails and keeps everything.
		closed, err := db.Open(ctx, d.Source)
		if d.Dialect() == db.Postgres {
			closed, err = db.Open(ctx, dbtest.PostgresURL(t))
		}
		must(t, err)
		closed.Close()
		if err := touches.Flush(ctx, closed); err == nil {
			t.Fatal("flush on a closed database succeeded")
		}
		if n, _ := touches.Pending(); n != 1200 {
			t.Fatalf("%d pending after a failed flush", n)
		}
		must(t, touches.Flush(ctx, d))
		if n, _ := touches.Pending(); n != 0 {
			t.Fatalf("%d pending after the flush", n)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM sessions WHERE last_seen_at = ?`, t0.Add(5*time.Minute)); n != 1199 {
			t.Fatalf("%d sessions written", n)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM sessions WHERE last_seen_at = ?`, t0.Add(6*time.Minute)); n != 1 {
			t.Fatal("a flush moved a later last-seen time back")
		}
	})
}

func TestDeleteUserSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		pol := auth.DefaultSessionPolicy
		var raws []string
		var current *auth.Session
		for i := 0; i < 4; i++ {
			raw, s, err := auth.CreateSession(ctx, d, f.staff.ID, f.hosp.ID, false, "", fmt.Sprint("browser ", i), pol, t0)
			must(t, err)
			raws = append(raws, raw)
			current = s
		}
		otherRaw, _, err := auth.CreateSession(ctx, d, f.admin.ID, f.hosp.ID, false, "", "", pol, t0)
		must(t, err)

		n, err := auth.DeleteUserSessions(ctx, d, f.staff.ID, current.IDHash)
		must(t, err)
		if n != 3 {
			t.Fatalf("ended %d sessions, want 3", n)
		}
		for i, raw := range raws {
			_, err := auth.LookupSession(ctx, d, raw, pol, t0)
			if i == len(raws)-1 {
				must(t, err)
			} else {
				wantNotFound(t, err)
			}
		}
		if _, err := auth.LookupSession(ctx, d, otherRaw, pol, t0); err != nil {
			t.Fatalf("another person's session ended: %v", err)
		}
		n, err = auth.DeleteUserSessions(ctx, d, f.staff.ID, "")
		must(t, err)
		if n != 1 {
			t.Fatalf("ended %d, want the last 1", n)
		}
	})
}

func BenchmarkLookupSession(b *testing.B) {
	testkit.BenchEach(b, func(b *testing.B, d *db.DB) {
		u, err := auth.CreateUser(ctx, d, auth.NewUser{Email: "bench@example.jp"}, t0)
		if err != nil {
			b.Fatal(err)
		}
		var raw string
		for i := 0; i < 1000; i++ {
			if raw, _, err = auth.CreateSession(ctx, d, u.ID, "", false, "", "", auth.DefaultSessionPolicy, t0); err != nil {
				b.Fatal(err)
			}
		}
		now := t0.Add(30 * time.Second)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := auth.LookupSession(ctx, d, raw, auth.DefaultSessionPolicy, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
