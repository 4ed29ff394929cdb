package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/testkit"
)

func TestVulnDigestAtConfig(t *testing.T) {
	cases := []struct {
		env  string
		want time.Duration
		ok   bool
	}{
		{"", 7*time.Hour + 30*time.Minute, true},
		{" ", 0, false},
		{"06:05", 6*time.Hour + 5*time.Minute, true},
		{"7:00", 7 * time.Hour, true},
		{"23:59", 23*time.Hour + 59*time.Minute, true},
		{"00:00", 24 * time.Hour, true},
		{"24:00", 0, false},
		{"12:60", 0, false},
		{"7", 0, false},
		{"07:3", 0, false},
		{"+7:30", 0, false},
		{"-1:30", 0, false},
		{"07:30:00", 0, false},
		{"seven", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.env, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.DataDir = t.TempDir()
			env := map[string]string{"MEDISAC_VULN_DIGEST_AT": tc.env}
			if err := cfg.loadEnv(func(k string) string { return env[k] }); err != nil {
				t.Fatal(err)
			}
			err := cfg.Validate()
			if !tc.ok {
				if err == nil {
					t.Fatal("accepted")
				}
				testkit.ContainsAll(t, "error", err.Error(), "MEDISAC_VULN_DIGEST_AT", "時:分", "hours:minutes", tc.env)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.vulnDigestAt(); got != tc.want {
				t.Errorf("digest at %v, want %v", got, tc.want)
			}
		})
	}
}

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
