package auth_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
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

		// Idle: each use moves the idle deadline, 30 minutes without one ends it.
		raw, _, err := auth.CreateSession(ctx, d, f.staff.ID, f.hosp.ID, false, "", "", pol, t0)
		must(t, err)
		s, err := auth.LookupSession(ctx, d, raw, pol, t0.Add(29*time.Minute))
		must(t, err)
		if !s.LastSeenAt.Equal(t0.Add(29 * time.Minute)) {
			t.Fatalf("last seen %v not refreshed", s.LastSeenAt)
		}
		if _, err := auth.LookupSession(ctx, d, raw, pol, t0.Add(58*time.Minute)); err != nil {
			t.Fatalf("29 idle minutes after the last use: %v", err)
		}
		_, err = auth.LookupSession(ctx, d, raw, pol, t0.Add(88*time.Minute))
		wantNotFound(t, err)
		// An idle session is gone, even for a request dated earlier.
		_, err = auth.LookupSession(ctx, d, raw, pol, t0.Add(60*time.Minute))
		wantNotFound(t, err)

		// Uses within a minute do not write; the idle deadline still counts from the last write.
		raw, _, err = auth.CreateSession(ctx, d, f.staff.ID, f.hosp.ID, false, "", "", pol, t0)
		must(t, err)
		s, err = auth.LookupSession(ctx, d, raw, pol, t0.Add(30*time.Second))
		must(t, err)
		if !s.LastSeenAt.Equal(t0) {
			t.Fatalf("last seen rewritten within a minute: %v", s.LastSeenAt)
		}

		// Absolute: a session in constant use still ends after 12 hours.
		raw, _, err = auth.CreateSession(ctx, d, f.staff.ID, f.hosp.ID, false, "", "", pol, t0)
		must(t, err)
		for now := t0.Add(20 * time.Minute); now.Before(t0.Add(12 * time.Hour)); now = now.Add(20 * time.Minute) {
			if _, err := auth.LookupSession(ctx, d, raw, pol, now); err != nil {
				t.Fatalf("in use at %v: %v", now.Sub(t0), err)
			}
		}
		_, err = auth.LookupSession(ctx, d, raw, pol, t0.Add(12*time.Hour))
		wantNotFound(t, err)

		// PruneSessions removes expired and idle sessions only.
		live, _, err := auth.CreateSession(ctx, d, f.admin.ID, f.hosp.ID, false, "", "", pol, t0.Add(time.Hour))
		must(t, err)
		_, _, err = auth.CreateSession(ctx, d, f.admin.ID, f.hosp.ID, false, "", "", pol, t0)
		must(t, err)
		n, err := auth.PruneSessions(ctx, d, pol, t0.Add(80*time.Minute))
		must(t, err)
		if n < 1 {
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
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			var d *db.DB
			if dialect == "sqlite" {
				d = dbtest.SQLite(b)
			} else {
				d = dbtest.Postgres(b)
			}
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
}
