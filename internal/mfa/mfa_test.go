package mfa

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/testkit"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const (
	testRPID   = "isac.example.jp"
	testOrigin = "https://isac.example.jp"
)

// clock is a settable time source shared by the Services of one test.
type clock = testkit.Clock

func newClock() *clock { return testkit.NewClock(time.Date(2026, 4, 1, 9, 0, 10, 0, time.UTC)) }

func newService(t testing.TB, d *db.DB, c *clock, opts ...Option) *Service {
	t.Helper()
	s, err := New(d, "medisac", WebAuthnConfig{RPID: testRPID, RPDisplayName: "medisac", RPOrigins: []string{testOrigin}}, c.Now, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// eachService runs fn on both databases with a service on a test clock and
// one person (email).
func eachService(t *testing.T, email string, fn func(t *testing.T, d *db.DB, c *clock, s *Service, uid string)) {
	t.Helper()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := newClock()
		fn(t, d, c, newService(t, d, c), newUser(t, d, email))
	})
}

func newUser(t testing.TB, d *db.DB, email string) string {
	t.Helper()
	id := db.NewID()
	now := time.Now()
	if _, err := d.Exec(context.Background(), `INSERT INTO users (id, email, display_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		id, email, "試験 太郎", now, now); err != nil {
		t.Fatal(err)
	}
	return id
}

// wantKey fails unless err is an application error with the message key.
func wantKey(t *testing.T, err error, key string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", key)
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Key != key {
		t.Fatalf("got error %v, want key %s", err, key)
	}
}

func TestRequired(t *testing.T) {
	for _, tc := range []struct {
		policy, role string
		want         bool
	}{
		{"admins", "admin", true},
		{"admins", "staff", false},
		{"admins", "auditor", false},
		{"everyone", "staff", true},
		{"everyone", "admin", true},
		{"", "staff", true},
	} {
		if got := Required(tc.policy, tc.role); got != tc.want {
			t.Errorf("Required(%q, %q) = %v, want %v", tc.policy, tc.role, got, tc.want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	d := dbtest.SQLite(t)
	c := newClock()
	for name, rp := range map[string]WebAuthnConfig{
		"no origins":   {RPID: testRPID, RPDisplayName: "x"},
		"no name":      {RPID: testRPID, RPOrigins: []string{testOrigin}},
		"rpid not dns": {RPID: "https://isac.example.jp/", RPDisplayName: "x", RPOrigins: []string{testOrigin}},
	} {
		if _, err := New(d, "medisac", rp, c.Now); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := New(d, "medisac", WebAuthnConfig{RPID: testRPID, RPDisplayName: "x", RPOrigins: []string{testOrigin}}, c.Now,
		WithSecretKey([]byte("short"))); err == nil {
		t.Error("New accepted a 5-byte secret key")
	}
}

// TestCatalog checks that every message key this package uses exists in
// every language.
func TestCatalog(t *testing.T) {
	cat := i18n.MustLoad()
	re := regexp.MustCompile(`"(mfa\.[a-z_]+)"`)
	files := []string{"mfa.go", "totp.go", "recovery.go", "passkey.go"}
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			seen++
			for _, lang := range i18n.Languages {
				if !cat.Has(lang, m[1]) {
					t.Errorf("%s: key %s missing in %s catalog", f, m[1], lang)
				}
			}
		}
	}
	if seen < 10 {
		t.Fatalf("found only %d keys; the pattern is broken", seen)
	}
	for _, k := range cat.Keys("ja") {
		if strings.HasPrefix(k, "mfa.") && !cat.Has("en", k) {
			t.Errorf("key %s has no English text", k)
		}
	}
}
