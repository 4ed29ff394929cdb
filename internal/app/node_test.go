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
	"sync"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/testkit/seed"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// startNode starts a node on a free port with the given database and data
// folder and returns its base URL; it stops when the test ends.
func startNode(t *testing.T, dbURL, dataDir string, clock *testkit.Clock) (*Node, string) {
	t.Helper()
	n, base, _ := serveNode(t, dbURL, dataDir, clock, 1)
	return n, base
}

// serveNode starts a node as startNode does, with the given number of
// background workers, and also returns stop, which stops serving and
// returns what serving returned (the database stays open until the test
// ends).
func serveNode(t *testing.T, dbURL, dataDir string, clock *testkit.Clock, workers int) (*Node, string, func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Addr = ln.Addr().String()
	cfg.DataDir = dataDir
	cfg.DatabaseURL = dbURL
	cfg.Workers = workers
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
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.ServeListener(ctx, ln) }()
	var once sync.Once
	var served error
	stop := func() error {
		once.Do(func() {
			cancel()
			served = <-done
		})
		return served
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
		n.DB.Close()
	})
	return n, cfg.BaseURL, stop
}

// browserNode starts a node on SQLite in a fresh folder (clock nil: the
// real time) and a headless browser for the test.
func browserNode(t *testing.T, clock *testkit.Clock) (*Node, string, context.Context) {
	t.Helper()
	dir := t.TempDir()
	n, base := startNode(t, filepath.Join(dir, "medisac.db"), dir, clock)
	return n, base, testkit.Browser(t)
}

// browserPerson starts a node and a browser as browserNode does, with one
// person (email, name, role) in a new organisation org.
func browserPerson(t *testing.T, clock *testkit.Clock, org auth.OrgInput, email, name string, role auth.Role) (*Node, string, context.Context, seed.Person) {
	t.Helper()
	n, base, ctx := browserNode(t, clock)
	return n, base, ctx, seed.OrgWithMember(t, n.DB, org, email, name, role, n.now())
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
	return &client{t: t, http: browserHTTP()}
}

// browserHTTP is an HTTP client with a cookie jar that does not follow
// redirects (the test reads them).
func browserHTTP() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
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

// TestNodeFlushesLastSeenAtStop: a node's reads leave sessions and tokens
// untouched in the database; stopping the node writes their last use.
func TestNodeFlushesLastSeenAtStop(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		dir := t.TempDir()
		target := filepath.Join(dir, "medisac.db")
		if d.Dialect() == db.Postgres {
			target = dbtest.PostgresURL(t)
		}
		clock := testkit.NowClock()
		clock.Advance(clock.Now().Truncate(time.Second).Sub(clock.Now()))
		n, base, stop := serveNode(t, target, dir, clock, 0)

		bg := context.Background()
		now := clock.Now()
		p := seed.OrgWithMember(t, n.DB, auth.OrgInput{Kind: auth.KindClinic, Name: "停止テスト診療所"}, "stop@example.jp", "停止", auth.RoleStaff, now)
		raw, sess, err := auth.CreateSession(bg, n.DB, p.User.ID, p.Org.ID, true, "127.0.0.1", "t", auth.DefaultSessionPolicy, now)
		if err != nil {
			t.Fatal(err)
		}
		tok, rec := seed.Token(t, n.DB, p, "t", false, now)
		stored := func() (time.Time, *time.Time) {
			t.Helper()
			var seen time.Time
			var used *time.Time
			if err := n.DB.QueryRow(bg, `SELECT last_seen_at FROM sessions WHERE id_hash = ?`, sess.IDHash).Scan(&seen); err != nil {
				t.Fatal(err)
			}
			if err := n.DB.QueryRow(bg, `SELECT last_used_at FROM api_tokens WHERE id = ?`, rec.ID).Scan(&used); err != nil {
				t.Fatal(err)
			}
			return seen, used
		}

		clock.Advance(5 * time.Minute)
		for _, r := range []struct{ path, cookie, bearer string }{{"/account", raw, ""}, {"/api/v1/me", "", tok}} {
			req, _ := http.NewRequest(http.MethodGet, base+r.path, nil)
			if r.cookie != "" {
				req.AddCookie(&http.Cookie{Name: "medisac_session", Value: r.cookie})
			}
			if r.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+r.bearer)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", r.path, res.StatusCode)
			}
		}
		if seen, used := stored(); !seen.Equal(now) || used != nil {
			t.Fatalf("reads wrote: last seen %v, last used %v", seen, used)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if seen, used := stored(); !seen.Equal(clock.Now()) || used == nil || !used.Equal(clock.Now()) {
			t.Fatalf("after stopping: last seen %v, last used %v, want %v", seen, used, clock.Now())
		}
	})
}
