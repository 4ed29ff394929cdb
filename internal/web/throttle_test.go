package web

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

var errorBox = regexp.MustCompile(`(?s)role="alert"[^>]*><p>(.*?)</p>`)

// errorText is the error message a sign-in page shows.
func errorText(t *testing.T, r resp) string {
	t.Helper()
	m := errorBox.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no error shown (status %d)", r.status)
	}
	return strings.TrimSpace(m[1])
}

// postFrom posts a form as if relayed by a proxy for client addr.
func (c *client) postFrom(addr, path string, form url.Values) resp {
	c.e.t.Helper()
	form.Set("csrf", c.csrf)
	req, err := http.NewRequest(http.MethodPost, c.e.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", addr)
	return c.do(req)
}

// TestSignInGivesNothingAway: a registered and an unregistered address get
// the same status and message at every step, locked or not.
func TestSignInGivesNothingAway(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		known, unknown := e.client(), e.client()
		known.get("/signin")
		unknown.get("/signin")
		for i := 1; i <= auth.AccountThrottle.Free+2; i++ {
			k := known.post("/signin", url.Values{"email": {e.staff.Email}, "password": {fmt.Sprint("wrong-", i)}})
			u := unknown.post("/signin", url.Values{"email": {"nobody@kitamachi-hp.jp"}, "password": {fmt.Sprint("wrong-", i)}})
			if k.status != u.status || errorText(t, k) != errorText(t, u) {
				t.Fatalf("attempt %d: known %d %q, unknown %d %q", i, k.status, errorText(t, k), u.status, errorText(t, u))
			}
			want := http.StatusUnauthorized
			if i >= auth.AccountThrottle.Free {
				want = http.StatusTooManyRequests
			}
			wantStatus(t, k, want)
		}
		k := known.post("/signin", url.Values{"email": {e.staff.Email}, "password": {goodPassword}})
		wantStatus(t, k, http.StatusTooManyRequests)
	})
}

// TestSignInBehindHospitalAddress: everyone shares one address. An attacker's
// failures lock out browsers that never signed in, not the staff's own
// browsers, which carry a device cookie.
func TestSignInBehindHospitalAddress(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		// Yesterday the staff member signed in on this browser.
		own := e.client()
		own.get("/signin")
		wantStatus(t, own.post("/signin", url.Values{"email": {e.staff.Email}, "password": {goodPassword}}), http.StatusSeeOther)
		own.get("/")
		wantStatus(t, own.post("/signout", nil), http.StatusSeeOther)

		attacker := e.client()
		attacker.get("/signin")
		var r resp
		for i := 1; i <= auth.SourceThrottle.Free; i++ {
			r = attacker.post("/signin", url.Values{"email": {fmt.Sprintf("user%d@kitamachi-hp.jp", i)}, "password": {"wrong-password-1!"}})
		}
		wantStatus(t, r, http.StatusTooManyRequests)
		// The same account guessed at too.
		for range auth.AccountThrottle.Free {
			r = attacker.post("/signin", url.Values{"email": {e.staff.Email}, "password": {"wrong-password-1!"}})
		}
		wantStatus(t, r, http.StatusTooManyRequests)

		// A colleague on a new computer waits, like the attacker ...
		fresh := e.client()
		fresh.get("/signin")
		wantStatus(t, fresh.post("/signin", url.Values{"email": {e.admin.Email}, "password": {goodPassword}}), http.StatusTooManyRequests)
		// ... the staff member's own browser signs in.
		own.get("/signin")
		wantStatus(t, own.post("/signin", url.Values{"email": {e.staff.Email}, "password": {goodPassword}}), http.StatusSeeOther)
		// A stolen device cookie for another account is worth nothing.
		own.get("/")
		wantStatus(t, own.post("/signout", nil), http.StatusSeeOther)
		own.get("/signin")
		wantStatus(t, own.post("/signin", url.Values{"email": {e.admin.Email}, "password": {goodPassword}}), http.StatusTooManyRequests)
	})
}

// TestTrustedProxies: behind a trusted proxy, limits and the audit log use
// the forwarded client address; from any other peer the header is ignored.
func TestTrustedProxies(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		attacker, user := e.client(), e.client()
		attacker.get("/signin")
		user.get("/signin")

		// Not trusted: X-Forwarded-For changes nothing, everything is 127.0.0.1.
		for i := 1; i <= auth.SourceThrottle.Free; i++ {
			attacker.postFrom(fmt.Sprintf("198.51.100.%d", i), "/signin", url.Values{"email": {fmt.Sprintf("u%d@example.jp", i)}, "password": {"wrong"}})
		}
		r := user.postFrom("203.0.113.7", "/signin", url.Values{"email": {e.staff.Email}, "password": {goodPassword}})
		wantStatus(t, r, http.StatusTooManyRequests)
		if _, err := d.Exec(bg, `DELETE FROM login_throttle`); err != nil {
			t.Fatal(err)
		}

		// Trusted: each client has its own address.
		p, err := auth.ParseProxies("127.0.0.1, ::1")
		if err != nil {
			t.Fatal(err)
		}
		e.srv.Proxies = p
		for i := 1; i <= auth.SourceThrottle.Free; i++ {
			r = attacker.postFrom("10.1.1.1, 198.51.100.66", "/signin", url.Values{"email": {fmt.Sprintf("u%d@example.jp", i)}, "password": {"wrong"}})
		}
		wantStatus(t, r, http.StatusTooManyRequests)
		// A spoofed left-hand entry does not get the attacker a fresh address.
		r = attacker.postFrom("203.0.113.7, 198.51.100.66", "/signin", url.Values{"email": {"u99@example.jp"}, "password": {"wrong"}})
		wantStatus(t, r, http.StatusTooManyRequests)
		r = user.postFrom("203.0.113.7", "/signin", url.Values{"email": {e.staff.Email}, "password": {goodPassword}})
		wantStatus(t, r, http.StatusSeeOther)
		es, err := e.audit.List(bg, e.hosp.ID, audit.Filter{ActionPrefix: "auth.signin", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 || es[0].IP != "203.0.113.7" {
			t.Fatalf("audit entries %+v, want the forwarded address", es)
		}
		var ip string
		if err := d.QueryRow(bg, `SELECT ip FROM sessions WHERE user_id = ?`, e.staff.ID).Scan(&ip); err != nil || ip != "203.0.113.7" {
			t.Fatalf("session address %q %v", ip, err)
		}
	})
}
