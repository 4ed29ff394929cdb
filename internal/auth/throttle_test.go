package auth_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

func TestThrottleDoubling(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		pol := auth.AccountThrottle
		key := "acct:tanaka@example.jp"
		now := t0
		for i := 1; i < pol.Free; i++ {
			until, err := auth.RecordFailure(ctx, d, key, pol, now)
			must(t, err)
			if !until.IsZero() {
				t.Fatalf("failure %d locked until %v", i, until)
			}
			now = now.Add(time.Minute)
		}
		// The Free-th failure locks; each failure right after a lock ends doubles it, up to Max.
		for i, want := range []time.Duration{1, 2, 4, 8, 16, 32, 60, 60} {
			until, err := auth.RecordFailure(ctx, d, key, pol, now)
			must(t, err)
			if got := until.Sub(now); got != want*time.Minute {
				t.Fatalf("lock %d: %v, want %v", i, got, want*time.Minute)
			}
			locked, err := auth.LockedUntil(ctx, d, key, now.Add(until.Sub(now)-time.Second))
			must(t, err)
			if !locked.Equal(until) {
				t.Fatalf("LockedUntil = %v, want %v", locked, until)
			}
			if locked, _ := auth.LockedUntil(ctx, d, key, until); !locked.IsZero() {
				t.Fatalf("still locked at the end: %v", locked)
			}
			now = until.Add(time.Minute)
		}

		// A quiet window after the last lock starts the count again.
		now = now.Add(pol.Window)
		until, err := auth.RecordFailure(ctx, d, key, pol, now)
		must(t, err)
		if !until.IsZero() {
			t.Fatalf("first failure after a quiet window locked until %v", until)
		}

		// Failures spread wider than the window never lock.
		other := "acct:slow@example.jp"
		for i := 0; i < 3*pol.Free; i++ {
			until, err := auth.RecordFailure(ctx, d, other, pol, t0.Add(time.Duration(i)*pol.Window/2))
			must(t, err)
			if !until.IsZero() {
				t.Fatalf("failure %d locked", i)
			}
		}

		must(t, auth.ClearFailures(ctx, d, key))
		if n := count(t, d, `SELECT COUNT(*) FROM login_throttle WHERE key = ?`, key); n != 0 {
			t.Fatalf("ClearFailures left %d rows", n)
		}
		if locked, err := auth.LockedUntil(ctx, d, "acct:nobody@example.jp", t0); err != nil || !locked.IsZero() {
			t.Fatalf("unknown key: %v %v", locked, err)
		}
	})
}

func TestThrottleAcrossNodes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		a, b := twoNodes(t, d)
		key := auth.AccountKey("shared@example.jp")
		for i := 0; i < auth.AccountThrottle.Free-1; i++ {
			node := a
			if i%2 == 1 {
				node = b
			}
			until, err := auth.RecordFailure(ctx, node, key, auth.AccountThrottle, t0)
			must(t, err)
			if !until.IsZero() {
				t.Fatalf("failure %d locked", i+1)
			}
		}
		until, err := auth.RecordFailure(ctx, b, key, auth.AccountThrottle, t0)
		must(t, err)
		if until.IsZero() {
			t.Fatal("failures on two nodes did not add up to a lock")
		}
		seen, err := auth.LockedUntil(ctx, a, key, t0.Add(time.Second))
		must(t, err)
		if !seen.Equal(until) {
			t.Fatalf("node A sees lock until %v, node B set %v", seen, until)
		}

		// Sign-in on node A is refused because of failures counted on node B.
		_, err = auth.CreateUser(ctx, a, auth.NewUser{Email: "shared@example.jp", Password: goodPassword}, t0)
		must(t, err)
		_, err = auth.CheckSignIn(ctx, a, "shared@example.jp", goodPassword, "198.51.100.1", t0.Add(time.Second))
		wantAppErr(t, err, apperr.RateLimited, "auth.signin.locked", "")

		// Rate counters: one limit for both nodes, counted concurrently.
		const limit = 20
		var wg sync.WaitGroup
		var mu sync.Mutex
		allowed := 0
		for i := 0; i < 2*limit; i++ {
			node := a
			if i%2 == 1 {
				node = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := auth.Allow(ctx, node, "api:token-1", limit, time.Minute, t0.Add(10*time.Second))
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if allowed != limit {
			t.Fatalf("%d of %d requests allowed across two nodes, want %d", allowed, 2*limit, limit)
		}
		ok, err := auth.Allow(ctx, a, "api:token-1", limit, time.Minute, t0.Add(time.Minute))
		must(t, err)
		if !ok {
			t.Fatal("the next window is still limited")
		}
		ok, err = auth.Allow(ctx, b, "api:token-2", limit, time.Minute, t0.Add(10*time.Second))
		must(t, err)
		if !ok {
			t.Fatal("another key shares the limit")
		}
		must(t, auth.PruneRateCounters(ctx, a, t0.Add(time.Minute)))
		if n := count(t, b, `SELECT COUNT(*) FROM rate_counters`); n != 1 {
			t.Fatalf("%d rate counters after pruning, want the current window's 1", n)
		}
	})
}

func TestCheckSignIn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ip := "203.0.113.5"

		u, err := auth.CheckSignIn(ctx, d, " STAFF@Kitamachi-HP.jp ", goodPassword, ip, t0)
		must(t, err)
		if u.ID != f.staff.ID {
			t.Fatalf("signed in as %s", u.Email)
		}

		// Unknown e-mail and wrong password: the same error, not saying which.
		_, errUnknown := auth.CheckSignIn(ctx, d, "nobody@kitamachi-hp.jp", goodPassword, ip, t0)
		_, errWrong := auth.CheckSignIn(ctx, d, "staff@kitamachi-hp.jp", "Kx7#mQ2v-rive", ip, t0)
		_, errEmpty := auth.CheckSignIn(ctx, d, "staff@kitamachi-hp.jp", "", ip, t0)
		_, errInvalid := auth.CheckSignIn(ctx, d, "not an address", goodPassword, ip, t0)
		for _, err := range []error{errUnknown, errWrong, errEmpty, errInvalid} {
			if !errors.Is(err, auth.ErrBadCredentials) {
				t.Fatalf("got %v, want ErrBadCredentials", err)
			}
			wantAppErr(t, err, apperr.Unauthenticated, "auth.signin.failed", "")
		}
		if errUnknown.Error() != errWrong.Error() {
			t.Fatalf("messages differ: %q vs %q", errUnknown, errWrong)
		}

		// A disabled person cannot sign in, and is told nothing more.
		_, err = d.Exec(ctx, `UPDATE users SET disabled = TRUE WHERE id = ?`, f.auditor.ID)
		must(t, err)
		_, err = auth.CheckSignIn(ctx, d, f.auditor.Email, goodPassword, ip, t0)
		if !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("disabled: %v", err)
		}

		// Success clears the account's earlier failures (two so far).
		_, err = auth.CheckSignIn(ctx, d, "staff@kitamachi-hp.jp", goodPassword, ip, t0)
		must(t, err)
		if n := count(t, d, `SELECT COUNT(*) FROM login_throttle WHERE key = ?`, auth.AccountKey("staff@kitamachi-hp.jp")); n != 0 {
			t.Fatalf("success left the account counter (%d rows)", n)
		}

		// Five failures lock the account: even the right password is refused.
		now := t0.Add(time.Minute)
		for i := 1; i <= auth.AccountThrottle.Free; i++ {
			_, err := auth.CheckSignIn(ctx, d, "admin@kitamachi-hp.jp", fmt.Sprint("wrong-", i), ip, now)
			if i < auth.AccountThrottle.Free {
				wantAppErr(t, err, apperr.Unauthenticated, "auth.signin.failed", "")
			} else {
				wantAppErr(t, err, apperr.RateLimited, "auth.signin.locked", "")
			}
		}
		_, err = auth.CheckSignIn(ctx, d, "Admin@kitamachi-hp.jp", goodPassword, ip, now.Add(30*time.Second))
		wantAppErr(t, err, apperr.RateLimited, "auth.signin.locked", "")
		if mins := apperr.From(err).Args[0]; mins != 1 {
			t.Fatalf("locked for %v minutes, want 1", mins)
		}
		// Another person at the same address is not affected.
		if _, err := auth.CheckSignIn(ctx, d, "staff@kitamachi-hp.jp", goodPassword, ip, now); err != nil {
			t.Fatalf("a colleague at the same address: %v", err)
		}
		// After the lock, the right password works and clears the count.
		u, err = auth.CheckSignIn(ctx, d, "admin@kitamachi-hp.jp", goodPassword, ip, now.Add(time.Minute))
		must(t, err)
		if u.ID != f.admin.ID {
			t.Fatalf("signed in as %s", u.Email)
		}
		_, err = auth.CheckSignIn(ctx, d, "admin@kitamachi-hp.jp", "wrong", ip, now.Add(2*time.Minute))
		wantAppErr(t, err, apperr.Unauthenticated, "auth.signin.failed", "")

		// Unknown addresses lock the same way, so locking reveals nothing.
		for i := 1; i <= auth.AccountThrottle.Free; i++ {
			_, err = auth.CheckSignIn(ctx, d, "ghost@kitamachi-hp.jp", "wrong", "198.51.100.9", now)
		}
		wantAppErr(t, err, apperr.RateLimited, "auth.signin.locked", "")

		// One source address trying many accounts is locked too.
		src := "192.0.2.200"
		for i := 1; i <= auth.SourceThrottle.Free; i++ {
			_, err = auth.CheckSignIn(ctx, d, fmt.Sprintf("user%d@example.jp", i), "wrong", src, now)
		}
		wantAppErr(t, err, apperr.RateLimited, "auth.signin.locked", "")
		_, err = auth.CheckSignIn(ctx, d, "other@kitamachi-hp.jp", goodPassword, src, now)
		wantAppErr(t, err, apperr.RateLimited, "auth.signin.locked", "")
	})
}

func TestLockedError(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		mins int
	}{{0, 1}, {time.Second, 1}, {time.Minute, 1}, {61 * time.Second, 2}, {time.Hour, 60}} {
		ae := apperr.From(auth.LockedError(t0.Add(c.d), t0))
		if ae.Code != apperr.RateLimited || len(ae.Args) != 1 || ae.Args[0] != c.mins {
			t.Errorf("LockedError(%v) = %v %v, want %d minutes", c.d, ae, ae.Args, c.mins)
		}
		checkRenders(t, ae.Key, ae.Args...)
	}
	if got := catalog.T("ja", "auth.signin.locked", 5); got != "ログインの失敗が続いたため、一時的にログインできなくなっています。5分ほど待ってからもう一度お試しください。" {
		t.Errorf("locked renders %q", got)
	}
}

func TestNeedsMFA(t *testing.T) {
	for _, c := range []struct {
		role   auth.Role
		policy auth.MFAPolicy
		want   bool
	}{
		{auth.RoleAdmin, auth.MFAAdmins, true},
		{auth.RoleStaff, auth.MFAAdmins, false},
		{auth.RoleAuditor, auth.MFAAdmins, false},
		{auth.RoleAdmin, auth.MFAEveryone, true},
		{auth.RoleStaff, auth.MFAEveryone, true},
		{auth.RoleAuditor, auth.MFAEveryone, true},
	} {
		if got := auth.NeedsMFA(c.role, c.policy); got != c.want {
			t.Errorf("NeedsMFA(%s, %s) = %v", c.role, c.policy, got)
		}
	}
}
