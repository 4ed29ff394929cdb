package mfa

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/medisac/medisac/internal/db"
)

var recoveryForm = regexp.MustCompile(`^[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}$`)

// TestParseCodes checks what the two code parsers accept and what they make
// of it.
func TestParseCodes(t *testing.T) {
	type tcase struct {
		in, want string
		ok       bool
	}
	for _, p := range []struct {
		name  string
		parse func(string) (string, bool)
		cases []tcase
	}{
		{"ParseRecoveryCode", ParseRecoveryCode, []tcase{
			{"abcd-efgh-jkmn", "abcdefghjkmn", true},
			{"ABCD-EFGH-JKMN", "abcdefghjkmn", true},
			{" abcd efgh jkmn ", "abcdefghjkmn", true},
			{"abcdefghjkmn", "abcdefghjkmn", true},
			{"ａｂｃｄ－ｅｆｇｈ－ｊｋｍｎ", "abcdefghjkmn", true},
			{"abcd\u3000efgh\u30fcjkmn", "abcdefghjkmn", true},
			{"abcd–efgh—jkmn", "abcdefghjkmn", true},
			{"abcd-efgh-jkm", "", false},
			{"abcd-efgh-jkmnp", "", false},
			{"abcd-efgh-jklm", "", false}, // l is not in the alphabet
			{"0bcd-efgh-jkmn", "", false},
			{"abcd-efgh-jkmé", "", false},
			{"", "", false},
		}},
		{"ParseTOTPCode", ParseTOTPCode, []tcase{
			{"123456", "123456", true},
			{" 123 456 ", "123456", true},
			{"123-456", "123456", true},
			{"１２３４５６", "123456", true},
			{"12345", "", false},
			{"1234567", "", false},
			{"12345a", "", false},
			{"١٢٣٤٥٦", "", false},
		}},
	} {
		for _, tc := range p.cases {
			got, ok := p.parse(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("%s(%q) = %q, %v; want %q, %v", p.name, tc.in, got, ok, tc.want, tc.ok)
			}
		}
	}
}

func FuzzParseRecoveryCode(f *testing.F) {
	for _, s := range []string{"abcd-efgh-jkmn", "ABCD EFGH JKMN", "ａｂｃｄ－ｅｆｇｈ－ｊｋｍｎ", "", "----", "abcd-efgh-jklm", "\xff\xfe", strings.Repeat("a", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := ParseRecoveryCode(s)
		if !ok {
			if c != "" {
				t.Fatalf("rejected %q but returned %q", s, c)
			}
			return
		}
		if !recoveryForm.MatchString(FormatRecoveryCode(c)) {
			t.Fatalf("accepted %q as %q, which is not a recovery code", s, c)
		}
		again, ok := ParseRecoveryCode(FormatRecoveryCode(c))
		if !ok || again != c {
			t.Fatalf("formatted %q does not parse back: %q %v", c, again, ok)
		}
		upper, ok := ParseRecoveryCode(strings.ToUpper(s))
		if !ok || upper != c {
			t.Fatalf("upper case of %q parses as %q %v, want %q", s, upper, ok, c)
		}
	})
}

func FuzzParseTOTPCode(f *testing.F) {
	for _, s := range []string{"123456", " 123 456", "１２３４５６", "12345", "abcdef", "\x00", "123-456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := ParseTOTPCode(s)
		if !ok {
			return
		}
		if len(c) != 6 || strings.Trim(c, "0123456789") != "" {
			t.Fatalf("accepted %q as %q", s, c)
		}
		if again, ok := ParseTOTPCode(c); !ok || again != c {
			t.Fatalf("%q does not parse to itself", c)
		}
	})
}

func TestRecoveryCodes(t *testing.T) {
	eachService(t, "r@example.jp", func(t *testing.T, d *db.DB, c *clock, s *Service, uid string) {
		ctx := context.Background()
		other := newUser(t, d, "o@example.jp")

		_, err := s.RegenerateRecoveryCodes(ctx, uid)
		wantKey(t, err, "mfa.no_second_factor")

		_, codes := enrol(t, s, c, uid)
		seen := map[string]bool{}
		for _, code := range codes {
			if !recoveryForm.MatchString(code) {
				t.Fatalf("code %q has the wrong form", code)
			}
			if seen[code] {
				t.Fatalf("code %q twice", code)
			}
			seen[code] = true
		}
		var hash string
		if err := d.QueryRow(ctx, `SELECT code_hash FROM recovery_codes WHERE user_id = ? LIMIT 1`, uid).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		if len(hash) != 64 || seen[hash] || strings.Contains(hash, strings.ReplaceAll(codes[0], "-", "")) {
			t.Fatalf("stored %q is not a hash", hash)
		}
		if n, _ := s.RemainingRecoveryCodes(ctx, uid); n != 10 {
			t.Fatalf("remaining %d", n)
		}

		wantKey(t, s.UseRecoveryCode(ctx, other, codes[0]), "mfa.recovery_wrong")
		if err := s.UseRecoveryCode(ctx, uid, strings.ToUpper(strings.ReplaceAll(codes[0], "-", " "))); err != nil {
			t.Fatalf("typed code refused: %v", err)
		}
		wantKey(t, s.UseRecoveryCode(ctx, uid, codes[0]), "mfa.recovery_wrong")
		wantKey(t, s.UseRecoveryCode(ctx, uid, "abcd-efgh-jkmn"), "mfa.recovery_wrong")
		wantKey(t, s.UseRecoveryCode(ctx, uid, "hello"), "mfa.recovery_format")
		if n, _ := s.RemainingRecoveryCodes(ctx, uid); n != 9 {
			t.Fatalf("remaining %d after one use", n)
		}

		// Many sign-ins racing with one code: one wins.
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if s.UseRecoveryCode(ctx, uid, codes[1]) == nil {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("code accepted %d times", wins.Load())
		}

		fresh, err := s.RegenerateRecoveryCodes(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := s.RemainingRecoveryCodes(ctx, uid); n != 10 || len(fresh) != 10 {
			t.Fatalf("remaining %d after regenerate", n)
		}
		wantKey(t, s.UseRecoveryCode(ctx, uid, codes[2]), "mfa.recovery_wrong")
		if err := s.UseRecoveryCode(ctx, uid, fresh[9]); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.RemainingRecoveryCodes(ctx, other); n != 0 {
			t.Fatalf("other user has %d codes", n)
		}
	})
}
