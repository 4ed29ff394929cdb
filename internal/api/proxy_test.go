package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// TestAuthFailLimitPerClient: requests without a valid token are limited per
// client address; behind a trusted proxy that is the forwarded address, so
// one noisy client does not block the others, and a valid token is never
// limited.
func TestAuthFailLimitPerClient(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		proxies, err := auth.ParseProxies("10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		a := New(Deps{DB: d, Catalog: f.cat, Audit: f.log, Mailer: f.mailer, Now: f.clock.Now, Logger: f.quietLogger, Proxies: proxies, AuthFailLimit: 3})
		get := func(peer, xff, token string) int {
			r := httptest.NewRequest(http.MethodGet, "/api/v1/me", nil)
			r.RemoteAddr = peer
			if xff != "" {
				r.Header.Set("X-Forwarded-For", xff)
			}
			if token != "" {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			w := httptest.NewRecorder()
			a.ServeHTTP(w, r)
			return w.Code
		}
		for i := 0; i < 3; i++ {
			if c := get("10.0.0.1:4000", "198.51.100.1", "msac_wrong"); c != http.StatusUnauthorized {
				t.Fatalf("attempt %d: %d", i+1, c)
			}
		}
		if c := get("10.0.0.1:4000", "198.51.100.1", "msac_wrong"); c != http.StatusTooManyRequests {
			t.Fatalf("4th bad attempt: %d", c)
		}
		// Rewriting the client's own part of the header changes nothing.
		if c := get("10.0.0.1:4000", "203.0.113.5, 198.51.100.1", ""); c != http.StatusTooManyRequests {
			t.Fatalf("spoofed left entry: %d", c)
		}
		// Another client behind the same proxy, and a valid token from the
		// limited one, still get through.
		if c := get("10.0.0.1:4000", "198.51.100.2", "msac_wrong"); c != http.StatusUnauthorized {
			t.Fatalf("another client: %d", c)
		}
		if c := get("10.0.0.1:4000", "198.51.100.1", f.staffA.read); c != http.StatusOK {
			t.Fatalf("valid token from the limited client: %d", c)
		}
		// From an untrusted peer the header is ignored: all one address.
		for i := 0; i < 3; i++ {
			get("192.0.2.50:4000", "198.51.100.10", "msac_wrong")
		}
		if c := get("192.0.2.50:4000", "198.51.100.11", "msac_wrong"); c != http.StatusTooManyRequests {
			t.Fatalf("untrusted peer with a new forwarded address: %d", c)
		}
	})
}
