package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

func TestTrustedProxiesAndMetricsTokenConfig(t *testing.T) {
	env := func(m map[string]string) envFn { return func(k string) string { return m[k] } }
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "metrics-token")
	if err := os.WriteFile(tokFile, []byte("from-a-file-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	if err := cfg.loadEnv(env(map[string]string{"MEDISAC_DATA_DIR": dir, "MEDISAC_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1",
		"MEDISAC_METRICS_TOKEN_FILE": tokFile})); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.proxies.String() != "10.0.0.0/8,192.0.2.1/32" || cfg.MetricsToken != "from-a-file-0123456789" {
		t.Fatalf("proxies %q, token %q", cfg.proxies.String(), cfg.MetricsToken)
	}
	red := cfg.Redacted()
	if !strings.Contains(red, `"trusted_proxies": "10.0.0.0/8, 192.0.2.1"`) || !strings.Contains(red, `"metrics_token": "REDACTED"`) || strings.Contains(red, "from-a-file") {
		t.Fatalf("config shows:\n%s", red)
	}
	for _, bad := range []map[string]string{
		{"MEDISAC_TRUSTED_PROXIES": "10.0.0.0/33"},
		{"MEDISAC_TRUSTED_PROXIES": "proxy.example.jp"},
		{"MEDISAC_METRICS_TOKEN": "short"},
	} {
		cfg := DefaultConfig()
		if err := cfg.loadEnv(env(bad)); err != nil {
			t.Fatal(err)
		}
		err := cfg.Validate()
		var name string
		for k := range bad {
			name = k
		}
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: %v", bad, err)
		}
	}
	// The default trusts no proxy.
	cfg = DefaultConfig()
	if err := cfg.Validate(); err != nil || cfg.proxies.String() != "" {
		t.Fatalf("default proxies %q %v", cfg.proxies.String(), err)
	}
	// `medisac config` shows the setting.
	t.Setenv("MEDISAC_TRUSTED_PROXIES", "127.0.0.1")
	out, err := runCLI(t, dir, "config")
	if err != nil || !strings.Contains(out, `"trusted_proxies": "127.0.0.1"`) {
		t.Fatalf("config: %v\n%s", err, out)
	}
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
		clock := newTestClock()
		clock.Advance(clock.Now().Truncate(time.Second).Sub(clock.Now()))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.Addr, cfg.DataDir, cfg.DatabaseURL, cfg.Workers, cfg.LogLevel, cfg.clock = ln.Addr().String(), dir, target, 0, "error", clock.Now
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		n, err := NewNode(ctx, &cfg, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		defer n.DB.Close()
		done := make(chan error, 1)
		go func() { done <- n.ServeListener(ctx, ln) }()

		bg := context.Background()
		now := clock.Now()
		o, err := auth.CreateOrg(bg, n.DB, auth.OrgInput{Kind: auth.KindClinic, Name: "停止テスト診療所"}, now)
		if err != nil {
			t.Fatal(err)
		}
		u, err := auth.CreateUser(bg, n.DB, auth.NewUser{Email: "stop@example.jp", DisplayName: "停止", Password: "Teishi-Test-2026!"}, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := auth.AddMember(bg, n.DB, o.ID, u.ID, auth.RoleStaff, now); err != nil {
			t.Fatal(err)
		}
		raw, sess, err := auth.CreateSession(bg, n.DB, u.ID, o.ID, true, "127.0.0.1", "t", auth.DefaultSessionPolicy, now)
		if err != nil {
			t.Fatal(err)
		}
		tok, rec, err := auth.CreateToken(bg, n.DB, u.ID, o.ID, "t", false, nil, now)
		if err != nil {
			t.Fatal(err)
		}
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
		base := "http://" + ln.Addr().String()
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
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if seen, used := stored(); !seen.Equal(clock.Now()) || used == nil || !used.Equal(clock.Now()) {
			t.Fatalf("after stopping: last seen %v, last used %v, want %v", seen, used, clock.Now())
		}
	})
}
