package app

import (
	"strings"
	"testing"
	"time"
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
				for _, s := range []string{"MEDISAC_VULN_DIGEST_AT", "時:分", "hours:minutes", tc.env} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
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
