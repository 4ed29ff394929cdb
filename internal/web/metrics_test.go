package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

func TestMetricsAccess(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		get := func(remote, auth string, hdr ...string) *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			r.RemoteAddr = remote
			if auth != "" {
				r.Header.Set("Authorization", auth)
			}
			for i := 0; i+1 < len(hdr); i += 2 {
				r.Header.Set(hdr[i], hdr[i+1])
			}
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, r)
			return w
		}
		want := func(w *httptest.ResponseRecorder, code int) {
			t.Helper()
			if w.Code != code {
				t.Fatalf("status %d, want %d", w.Code, code)
			}
			if code == http.StatusOK && !strings.Contains(w.Body.String(), "medisac_http_requests_total") {
				t.Fatal("no metrics in the answer")
			}
			if code != http.StatusOK && strings.Contains(w.Body.String(), "medisac_") {
				t.Fatal("metrics leaked in a refusal")
			}
		}
		// From this machine: yes. From elsewhere: no such page.
		want(get("127.0.0.1:5000", ""), http.StatusOK)
		want(get("[::1]:5000", ""), http.StatusOK)
		want(get("192.0.2.10:5000", ""), http.StatusNotFound)
		want(get("192.0.2.10:5000", "Bearer anything"), http.StatusNotFound)
		// A proxy on this machine that is not trusted relays everyone.
		want(get("127.0.0.1:5000", "", "X-Forwarded-For", "198.51.100.1"), http.StatusNotFound)
		want(get("127.0.0.1:5000", "", "Forwarded", "for=198.51.100.1"), http.StatusNotFound)
		// A trusted proxy: the forwarded client decides; spoofing loopback
		// from outside does not work.
		p, err := auth.ParseProxies("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		e.srv.Proxies = p
		want(get("127.0.0.1:5000", "", "X-Forwarded-For", "198.51.100.1"), http.StatusNotFound)
		want(get("192.0.2.10:5000", "", "X-Forwarded-For", "127.0.0.1"), http.StatusNotFound)

		// With a token: anywhere with it, 401 with a wrong one.
		e.srv.MetricsToken = "metrics-token-0123456789"
		want(get("192.0.2.10:5000", "Bearer metrics-token-0123456789"), http.StatusOK)
		want(get("127.0.0.1:5000", "", "X-Forwarded-For", "198.51.100.1"), http.StatusNotFound)
		w := get("127.0.0.1:5000", "Bearer metrics-token-0123456789", "X-Forwarded-For", "198.51.100.1")
		want(w, http.StatusOK)
		want(get("192.0.2.10:5000", "Bearer metrics-token-012345678"), http.StatusUnauthorized)
		want(get("192.0.2.10:5000", "Basic bWV0cmljcw=="), http.StatusUnauthorized)
		want(get("192.0.2.10:5000", ""), http.StatusNotFound)
	})
}
