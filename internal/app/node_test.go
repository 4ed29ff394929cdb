package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"github.com/medisac/medisac/internal/testkit"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db/dbtest"
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

func totpCode(secret string, t time.Time) string {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.ReplaceAll(secret, " ", "")))
	if err != nil {
		panic(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(t.Unix()/30))
	h := hmac.New(sha1.New, key)
	h.Write(msg[:])
	sum := h.Sum(nil)
	o := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[o:o+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1000000)
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
