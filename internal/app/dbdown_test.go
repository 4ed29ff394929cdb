package app

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/medisac/medisac/internal/db/dbtest"
)

// tcpRelay forwards connections to target until stopped, like a database
// server that can be switched off.
type tcpRelay struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newTCPRelay(t *testing.T, target string) *tcpRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &tcpRelay{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, c, up)
			r.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(r.stop)
	return r
}

// stop refuses new connections and cuts the open ones.
func (r *tcpRelay) stop() {
	r.ln.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// TestDatabaseDown: with PostgreSQL gone, /readyz says the database is
// unreachable (not that migrations are pending) and pages and the API
// answer 503 "try again shortly" in the visitor's language, not 500.
func TestDatabaseDown(t *testing.T) {
	pg, err := url.Parse(dbtest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	relay := newTCPRelay(t, pg.Host)
	pg.Host = relay.ln.Addr().String()
	dir := t.TempDir()
	_, base := startNode(t, pg.String(), dir, nil)
	c := newClient(t)
	if code, body, _ := c.get(base + "/readyz"); code != http.StatusOK {
		t.Fatalf("readyz with the database up: %d %q", code, body)
	}
	if code, _, _ := c.get(base + "/signin"); code != http.StatusOK {
		t.Fatalf("sign-in page with the database up: %d", code)
	}

	relay.stop()

	code, body, _ := c.get(base + "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "database unreachable") || strings.Contains(body, "migrat") {
		t.Fatalf("readyz with the database down: %d %q", code, body)
	}
	// A page that needs the database (the session cookie is looked up).
	jar, _ := url.Parse(base)
	c.http.Jar.SetCookies(jar, []*http.Cookie{{Name: "medisac_session", Value: strings.Repeat("x", 43), Path: "/"}})
	for _, lang := range []struct{ accept, want string }{{"ja", "しばらくしてから"}, {"en", "try again shortly"}} {
		req, _ := http.NewRequest(http.MethodGet, base+"/account", nil)
		req.Header.Set("Accept-Language", lang.accept)
		res, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), lang.want) || res.Header.Get("Retry-After") == "" {
			t.Fatalf("page (%s) with the database down: %d, Retry-After %q\n%s", lang.accept, res.StatusCode, res.Header.Get("Retry-After"), b)
		}
	}
	// The API, JSON.
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer msac_"+strings.Repeat("a", 43))
	req.Header.Set("Accept-Language", "en")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusServiceUnavailable || e.Error.Code != "unavailable" || !strings.Contains(e.Error.Message, "try again shortly") {
		t.Fatalf("API with the database down: %d %+v", res.StatusCode, e)
	}
}
