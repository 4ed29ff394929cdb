package auth_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

func TestDeviceCookies(t *testing.T) {
	d := auth.NewDevices([]byte(strings.Repeat("k", 32)))
	v := d.Issue(" Staff@Kitamachi-HP.jp", t0)
	id, ok := d.Check("staff@kitamachi-hp.jp", v, t0.Add(time.Hour))
	if !ok || len(id) != 32 {
		t.Fatalf("valid cookie refused: %q %v", id, ok)
	}
	if id2, _ := d.Check("staff@kitamachi-hp.jp", d.Issue("staff@kitamachi-hp.jp", t0), t0); id2 == id {
		t.Fatal("two cookies share an id")
	}
	if d.CookieName("STAFF@kitamachi-hp.jp") != d.CookieName("staff@kitamachi-hp.jp") || d.CookieName("staff@kitamachi-hp.jp") == d.CookieName("admin@kitamachi-hp.jp") {
		t.Fatal("cookie names do not follow the normalised address")
	}
	if strings.Contains(d.CookieName("staff@kitamachi-hp.jp"), "staff") {
		t.Fatal("the cookie name shows the address")
	}
	other := auth.NewDevices([]byte(strings.Repeat("x", 32)))
	payload, sig, _ := strings.Cut(v, ".")
	for name, bad := range map[string]struct {
		email, value string
		at           time.Time
	}{
		"another account": {"admin@kitamachi-hp.jp", v, t0},
		"expired":         {"staff@kitamachi-hp.jp", v, t0.Add(auth.DeviceTTL)},
		"another key":     {"staff@kitamachi-hp.jp", other.Issue("staff@kitamachi-hp.jp", t0), t0},
		"payload changed": {"staff@kitamachi-hp.jp", "A" + payload[1:] + "." + sig, t0},
		"signature cut":   {"staff@kitamachi-hp.jp", payload + "." + sig[:10], t0},
		"no signature":    {"staff@kitamachi-hp.jp", payload, t0},
		"empty":           {"staff@kitamachi-hp.jp", "", t0},
		"not base64":      {"staff@kitamachi-hp.jp", "!!!.???", t0},
		"long":            {"staff@kitamachi-hp.jp", strings.Repeat("A", 300) + "." + sig, t0},
	} {
		if _, ok := d.Check(bad.email, bad.value, bad.at); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSignInSameForKnownAndUnknown walks a registered and an unregistered
// address through the same failures: at every step the two get the same
// error (code, message, minutes) and cost one password check each, locked
// or not.
func TestSignInSameForKnownAndUnknown(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		newFixture(t, d)
		now := t0
		for i := 1; i <= auth.AccountThrottle.Free+3; i++ {
			var errs [2]error
			for j, email := range []string{"staff@kitamachi-hp.jp", "nobody@kitamachi-hp.jp"} {
				before := auth.PasswordChecks()
				_, errs[j] = auth.CheckSignIn(ctx, d, email, fmt.Sprint("wrong-", i), fmt.Sprintf("198.51.100.%d", j+1), now)
				if n := auth.PasswordChecks() - before; n != 1 {
					t.Fatalf("attempt %d for %s: %d password checks, want 1", i, email, n)
				}
			}
			k, u := apperr.From(errs[0]), apperr.From(errs[1])
			if k.Code != u.Code || k.Key != u.Key || fmt.Sprint(k.Args) != fmt.Sprint(u.Args) || apperr.Status(k.Code) != apperr.Status(u.Code) {
				t.Fatalf("attempt %d: known %v %v, unknown %v %v", i, k, k.Args, u, u.Args)
			}
			want := apperr.Unauthenticated
			if i >= auth.AccountThrottle.Free {
				want = apperr.RateLimited
			}
			if k.Code != want {
				t.Fatalf("attempt %d: %s, want %s", i, k.Code, want)
			}
			now = now.Add(time.Second)
		}
		// The right password on a locked account: locked, and still one check.
		before := auth.PasswordChecks()
		_, err := auth.CheckSignIn(ctx, d, "staff@kitamachi-hp.jp", goodPassword, "198.51.100.1", now)
		wantAppErr(t, err, apperr.RateLimited, "auth.signin.locked", "")
		if n := auth.PasswordChecks() - before; n != 1 {
			t.Fatalf("locked answer made %d password checks, want 1", n)
		}
		// No key names an address.
		if n := count(t, d, `SELECT COUNT(*) FROM login_throttle WHERE key LIKE '%@%'`); n != 0 {
			t.Fatalf("%d throttle keys hold an e-mail address", n)
		}
	})
}

// TestSignInBehindOneAddress: a whole hospital behind one address. Failures
// from it lock out browsers that never signed in, but not a person's own
// browser with a device cookie; a device has its own failure count.
func TestSignInBehindOneAddress(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		devs := auth.NewDevices([]byte(strings.Repeat("k", 32)))
		nat := "192.0.2.1"
		dev := func(email string) string {
			id, ok := devs.Check(email, devs.Issue(email, t0), t0)
			if !ok {
				t.Fatal("fresh device cookie refused")
			}
			return id
		}
		staffDev, adminDev := dev(f.staff.Email), dev(f.admin.Email)

		// An attacker behind the hospital's address tries many accounts.
		var err error
		for i := 1; i <= auth.SourceThrottle.Free; i++ {
			_, err = auth.CheckSignIn(ctx, d, fmt.Sprintf("user%d@example.jp", i), "wrong", nat, t0)
		}
		wantAppErr(t, err, apperr.RateLimited, "auth.signin.locked", "")
		// A browser new to the account is locked out with the address ...
		_, err = auth.CheckSignIn(ctx, d, f.staff.Email, goodPassword, nat, t0)
		wantAppErr(t, err, apperr.RateLimited, "auth.signin.locked", "")
		// ... the person's own browser is not.
		u, err := auth.SignIn(ctx, d, auth.Attempt{Email: f.staff.Email, Password: goodPassword, IP: nat, Device: staffDev}, t0)
		must(t, err)
		if u.ID != f.staff.ID {
			t.Fatalf("signed in as %s", u.Email)
		}

		// The attacker now guesses the admin's password: the account locks
		// for unknown browsers, the admin's own browser still signs in.
		other := "203.0.113.50"
		for i := 1; i <= auth.AccountThrottle.Free; i++ {
			_, err = auth.CheckSignIn(ctx, d, f.admin.Email, "wrong", other, t0)
		}
		wantAppErr(t, err, apperr.RateLimited, "auth.signin.locked", "")
		_, err = auth.SignIn(ctx, d, auth.Attempt{Email: f.admin.Email, Password: goodPassword, IP: nat, Device: adminDev}, t0)
		must(t, err)
		// The account lock still holds for everyone else, after that success.
		_, err = auth.CheckSignIn(ctx, d, f.admin.Email, goodPassword, "203.0.113.77", t0)
		wantAppErr(t, err, apperr.RateLimited, "auth.signin.locked", "")

		// A device has its own count: five wrong passwords lock that device
		// (one check each), and only it.
		for i := 1; i <= auth.AccountThrottle.Free; i++ {
			before := auth.PasswordChecks()
			_, err = auth.SignIn(ctx, d, auth.Attempt{Email: f.staff.Email, Password: "wrong", IP: nat, Device: staffDev}, t0)
			if auth.PasswordChecks()-before != 1 {
				t.Fatal("a device attempt skipped the password check")
			}
		}
		wantAppErr(t, err, apperr.RateLimited, "auth.signin.locked", "")
		_, err = auth.SignIn(ctx, d, auth.Attempt{Email: f.staff.Email, Password: goodPassword, IP: nat, Device: staffDev}, t0)
		wantAppErr(t, err, apperr.RateLimited, "auth.signin.locked", "")
		_, err = auth.SignIn(ctx, d, auth.Attempt{Email: f.staff.Email, Password: goodPassword, IP: nat, Device: dev(f.staff.Email)}, t0)
		must(t, err)
		// The device's failures did not count against the address or the account.
		if _, err := auth.CheckSignIn(ctx, d, f.staff.Email, goodPassword, "203.0.113.99", t0); err != nil {
			t.Fatalf("a new browser elsewhere: %v", err)
		}
	})
}

// TestSignInTiming measures what TestSignInSameForKnownAndUnknown counts:
// with the production Argon2 parameters, an unknown address and a locked
// account take at least about as long as a wrong password (before, a
// locked answer took about 1 ms against 30 ms). Timing does not depend on
// the database, so this runs on SQLite only, to spare the machine.
func TestSignInTiming(t *testing.T) {
	d := dbtest.SQLite(t)
	f := newFixture(t, d)
	hash, err := auth.HashPassword(goodPassword, auth.Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1})
	must(t, err)
	_, err = d.Exec(ctx, `UPDATE users SET password_hash = ? WHERE id IN (?, ?)`, hash, f.staff.ID, f.admin.ID)
	must(t, err)
	// Lock the admin's account.
	for i := 0; i < auth.AccountThrottle.Free; i++ {
		_, err = auth.RecordFailure(ctx, d, auth.AccountKey(f.admin.Email), auth.AccountThrottle, t0)
		must(t, err)
	}
	// Interleaved rounds, the fastest of each kind: the least disturbed by
	// other work on the machine.
	kinds := []struct{ email, ip string }{{f.staff.Email, "198.51.100.1"}, {"nobody@kitamachi-hp.jp", "198.51.100.2"}, {f.admin.Email, "198.51.100.3"}}
	fastest := make([]time.Duration, len(kinds))
	for round := 0; round < 6; round++ {
		// The first two kinds stay below the account's lock.
		must(t, auth.ClearFailures(ctx, d, auth.AccountKey(kinds[0].email)))
		must(t, auth.ClearFailures(ctx, d, auth.AccountKey(kinds[1].email)))
		for k, kind := range kinds {
			start := time.Now()
			_, _ = auth.CheckSignIn(ctx, d, kind.email, "wrong-password", kind.ip, t0.Add(time.Duration(round)*time.Second))
			if took := time.Since(start); round == 0 || took < fastest[k] {
				fastest[k] = took
			}
		}
	}
	wrong, unknown, locked := fastest[0], fastest[1], fastest[2]
	t.Logf("fastest: wrong password %v, unknown address %v, locked account %v", wrong, unknown, locked)
	if unknown < wrong/4 || locked < wrong/4 {
		t.Fatalf("answers are faster than a wrong password (%v): unknown %v, locked %v", wrong, unknown, locked)
	}
}
