package web

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/db"
)

func TestSameOrigin(t *testing.T) {
	s := &Server{Deps: Deps{BaseURL: "http://127.0.0.1:8080"}}
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/signin", nil)
	for _, o := range []string{"http://127.0.0.1:8080", "HTTP://127.0.0.1:8080", "http://127.0.0.1:8080/"} {
		if !s.sameOrigin(o, req) {
			t.Errorf("%q refused", o)
		}
	}
	for _, o := range []string{"http://127", "http://127.0.0.1", "http://127.0.0.1:80", "http://127.0.0.1:808", "http://127.0.0.1:80801",
		"https://127.0.0.1:8080", "http://127.0.0.1:8080.evil.example", "http://127.0.0.1:8080@evil.example", "http://evil.example",
		"http://127.0.0.1:8080/x", "http://127.0.0.1:", "ftp://127.0.0.1:8080", "127.0.0.1:8080", "http://", "%", "http://127.0.0.1:8080?x"} {
		if s.sameOrigin(o, req) {
			t.Errorf("%q accepted as the origin of %s", o, s.BaseURL)
		}
	}
	// Default ports: https://example.jp is https://example.jp:443.
	s.BaseURL = "https://medisac.example.jp"
	req = httptest.NewRequest(http.MethodPost, "https://medisac.example.jp/signin", nil)
	req.TLS = &tls.ConnectionState{}
	for _, o := range []string{"https://medisac.example.jp", "https://medisac.example.jp:443"} {
		if !s.sameOrigin(o, req) {
			t.Errorf("%q refused", o)
		}
	}
	for _, o := range []string{"http://medisac.example.jp", "https://medisac.example", "https://medisac.example.jp:8443", "https://medisac.example.jp.evil.example"} {
		if s.sameOrigin(o, req) {
			t.Errorf("%q accepted", o)
		}
	}
}

// TestOriginCheck posts with a prefix of the site's origin and with the
// origin itself, on both databases.
func TestOriginCheck(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		c := e.client()
		c.get("/signin")
		post := func(origin string) resp {
			form := url.Values{"csrf": {c.csrf}, "email": {e.staff.Email}, "password": {goodPassword}}
			req, err := http.NewRequest(http.MethodPost, e.ts.URL+"/signin", strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", origin)
			return c.do(req)
		}
		u, _ := url.Parse(e.ts.URL)
		for _, o := range []string{"http://127", "http://" + u.Hostname(), e.ts.URL + "1", "https://" + u.Host} {
			wantStatus(t, post(o), http.StatusForbidden)
		}
		wantStatus(t, post(e.ts.URL), http.StatusSeeOther)
	})
}
