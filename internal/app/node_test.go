package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/testkit/seed"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// testClock is the shared settable clock of a test's nodes.
type testClock = testkit.Clock

func newTestClock() *testClock { return testkit.NewClock(time.Now().UTC()) }

// startNode starts a node on a free port with the given database and data
// folder and returns its base URL; it stops when the test ends.
func startNode(t *testing.T, dbURL, dataDir string, clock *testClock) (*Node, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Addr = ln.Addr().String()
	cfg.DataDir = dataDir
	cfg.DatabaseURL = dbURL
	cfg.Workers = 1
	cfg.LogLevel = "error"
	if clock != nil {
		cfg.clock = clock.Now
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := NewNode(ctx, &cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := n.ServeListener(ctx, ln); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		n.DB.Close()
	})
	return n, cfg.BaseURL
}

// browserNode starts a node on SQLite in a fresh folder (clock nil: the
// real time) and a headless browser for the test.
func browserNode(t *testing.T, clock *testClock) (*Node, string, context.Context) {
	t.Helper()
	dir := t.TempDir()
	n, base := startNode(t, filepath.Join(dir, "medisac.db"), dir, clock)
	return n, base, testkit.Browser(t)
}

// staffOf is an organisation with one staff member, for seedStaff.
type staffOf struct {
	kind        auth.OrgKind
	org, email  string
	displayName string
}

// seedStaff makes each organisation (in Tokyo) with its staff member.
func seedStaff(t *testing.T, d *db.DB, now time.Time, orgs ...staffOf) {
	t.Helper()
	for _, x := range orgs {
		seed.OrgWithMember(t, d, auth.OrgInput{Kind: x.kind, Name: x.org, Prefecture: "東京都"}, x.email, x.displayName, auth.RoleStaff, now)
	}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// client is a browser-like HTTP client with a cookie jar shared across
// nodes (the cookie is host-only on 127.0.0.1, so every node sees it).
type client struct {
	t    *testing.T
	http *http.Client
}

func newClient(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) get(u string) (int, string, http.Header) {
	c.t.Helper()
	resp, err := c.http.Get(u)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (c *client) post(u string, form url.Values) (int, string, http.Header) {
	c.t.Helper()
	resp, err := c.http.PostForm(u, form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// csrfFrom loads a page and returns the CSRF token of its forms.
func (c *client) csrfFrom(u string) string {
	c.t.Helper()
	code, body, _ := c.get(u)
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no csrf token on %s (status %d)", u, code)
	}
	return m[1]
}
