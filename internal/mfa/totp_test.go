package mfa

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
)

// TestHOTPVectors checks RFC 4226 Appendix D.
func TestHOTPVectors(t *testing.T) {
	key := []byte("12345678901234567890")
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := hotp(key, uint64(i), 6); got != w {
			t.Errorf("HOTP(%d) = %s, want %s", i, got, w)
		}
	}
}

// TestTOTPVectors checks the SHA-1 rows of RFC 6238 Appendix B.
func TestTOTPVectors(t *testing.T) {
	key := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		step := totpStep(time.Unix(tc.unix, 0))
		if got := hotp(key, uint64(step), 8); got != tc.want {
			t.Errorf("TOTP(%d) = %s, want %s", tc.unix, got, tc.want)
		}
		if got, want := hotp(key, uint64(step), 6), tc.want[2:]; got != want {
			t.Errorf("TOTP6(%d) = %s, want %s", tc.unix, got, want)
		}
	}
}

func TestMatchStepWindow(t *testing.T) {
	key := []byte("12345678901234567890")
	now := time.Unix(1_700_000_000, 0)
	cur := totpStep(now)
	for _, tc := range []struct {
		step int64
		ok   bool
	}{
		{cur - 2, false}, {cur - 1, true}, {cur, true}, {cur + 1, true}, {cur + 2, false},
	} {
		got, ok := matchStep(key, hotp(key, uint64(tc.step), 6), now)
		if ok != tc.ok || (ok && got != tc.step) {
			t.Errorf("step %+d: got (%d, %v), want ok=%v", tc.step-cur, got-cur, ok, tc.ok)
		}
	}
}

func TestOTPAuthURI(t *testing.T) {
	got := OTPAuthURI("medisac 病院", "a@example.jp", "JBSWY3DPEHPK3PXP")
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("bad URI %s", got)
	}
	if u.Path != "/medisac 病院:a@example.jp" {
		t.Errorf("label %q", u.Path)
	}
	q := u.Query()
	if q.Get("secret") != "JBSWY3DPEHPK3PXP" || q.Get("issuer") != "medisac 病院" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Errorf("query %v", q)
	}
}

// beginTOTP starts enrolling TOTP for the user under the account name and
// returns the enrolment and its raw secret (20 bytes).
func beginTOTP(t testing.TB, s *Service, userID, account string) (Enrolment, []byte) {
	t.Helper()
	e, err := s.BeginTOTP(context.Background(), userID, account)
	if err != nil {
		t.Fatal(err)
	}
	key, err := b32.DecodeString(e.Secret)
	if err != nil || len(key) != 20 {
		t.Fatalf("secret %q: %d bytes, %v", e.Secret, len(key), err)
	}
	return e, key
}

// enrol enrols TOTP for the user and returns the raw secret and the
// recovery codes.
func enrol(t testing.TB, s *Service, c *clock, userID string) ([]byte, []string) {
	t.Helper()
	e, key := beginTOTP(t, s, userID, "user@example.jp")
	codes, err := s.ConfirmTOTP(context.Background(), userID, e.ChallengeID, hotp(key, uint64(totpStep(c.Now())), 6))
	if err != nil {
		t.Fatal(err)
	}
	return key, codes
}

func TestTOTPEnrolAndVerify(t *testing.T) {
	eachService(t, "a@example.jp", func(t *testing.T, d *db.DB, c *clock, s *Service, uid string) {
		ctx := context.Background()
		e, key := beginTOTP(t, s, uid, "a@example.jp")
		if strings.Contains(e.Secret, "=") || !strings.Contains(e.URI, "secret="+e.Secret) || !strings.HasPrefix(e.URI, "otpauth://totp/medisac:a@example.jp?") {
			t.Errorf("enrolment %+v", e)
		}
		img, err := png.Decode(bytes.NewReader(e.QRPNG))
		if err != nil || img.Bounds().Dx() < 200 {
			t.Fatalf("QR PNG: %v", err)
		}
		if on, _ := s.TOTPEnabled(ctx, uid); on {
			t.Fatal("TOTP enabled before confirmation")
		}
		if has, _ := s.HasSecondFactor(ctx, uid); has {
			t.Fatal("second factor before confirmation")
		}
		var stored string
		if err := d.QueryRow(ctx, `SELECT totp_secret FROM users WHERE id = ?`, uid).Scan(&stored); err != nil || stored != "" {
			t.Fatalf("secret on user before confirmation: %q %v", stored, err)
		}

		step := uint64(totpStep(c.Now()))
		wrong := hotp(key, step+5, 6)
		_, err = s.ConfirmTOTP(ctx, uid, e.ChallengeID, wrong)
		wantKey(t, err, "mfa.totp_wrong")
		_, err = s.ConfirmTOTP(ctx, uid, e.ChallengeID, "12345")
		wantKey(t, err, "mfa.totp_format")
		other := newUser(t, d, "b@example.jp")
		_, err = s.ConfirmTOTP(ctx, other, e.ChallengeID, hotp(key, step, 6))
		wantKey(t, err, "mfa.challenge_expired")

		codes, err := s.ConfirmTOTP(ctx, uid, e.ChallengeID, hotp(key, step, 6))
		if err != nil {
			t.Fatal(err)
		}
		if len(codes) != 10 {
			t.Fatalf("%d recovery codes", len(codes))
		}
		if on, _ := s.TOTPEnabled(ctx, uid); !on {
			t.Fatal("TOTP not enabled after confirmation")
		}
		if has, _ := s.HasSecondFactor(ctx, uid); !has {
			t.Fatal("no second factor after confirmation")
		}
		_, err = s.ConfirmTOTP(ctx, uid, e.ChallengeID, hotp(key, step, 6))
		wantKey(t, err, "mfa.challenge_expired")

		// The code used to confirm cannot be used again to sign in.
		wantKey(t, s.VerifyTOTP(ctx, uid, hotp(key, step, 6)), "mfa.totp_used")

		c.Advance(TOTPPeriod)
		code := hotp(key, step+1, 6)
		if err := s.VerifyTOTP(ctx, uid, " "+code[:3]+" "+code[3:]); err != nil {
			t.Fatalf("fresh code refused: %v", err)
		}
		wantKey(t, s.VerifyTOTP(ctx, uid, code), "mfa.totp_used")
		wantKey(t, s.VerifyTOTP(ctx, uid, hotp(key, step, 6)), "mfa.totp_used")
		wantKey(t, s.VerifyTOTP(ctx, uid, hotp(key, step+3, 6)), "mfa.totp_wrong")
		wantKey(t, s.VerifyTOTP(ctx, uid, "abcdef"), "mfa.totp_format")

		// Clock skew: the next step's code is accepted early, and then the
		// current one is refused because it is older.
		if err := s.VerifyTOTP(ctx, uid, hotp(key, step+2, 6)); err != nil {
			t.Fatalf("next-step code refused: %v", err)
		}
		c.Advance(TOTPPeriod)
		wantKey(t, s.VerifyTOTP(ctx, uid, hotp(key, step+2, 6)), "mfa.totp_used")

		wantKey(t, s.VerifyTOTP(ctx, other, "123456"), "mfa.totp_not_enabled")
		if err := s.VerifyTOTP(ctx, db.NewID(), "123456"); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}

		if err := s.DisableTOTP(ctx, uid); err != nil {
			t.Fatal(err)
		}
		if on, _ := s.TOTPEnabled(ctx, uid); on {
			t.Fatal("TOTP still enabled")
		}
		c.Advance(TOTPPeriod)
		wantKey(t, s.VerifyTOTP(ctx, uid, hotp(key, uint64(totpStep(c.Now())), 6)), "mfa.totp_not_enabled")
		if n, _ := s.RemainingRecoveryCodes(ctx, uid); n != 0 {
			t.Fatalf("%d recovery codes left after the last factor went", n)
		}
		if err := s.DisableTOTP(ctx, db.NewID()); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("disable unknown user: %v", err)
		}
	})
}

func TestTOTPEnrolmentExpires(t *testing.T) {
	eachService(t, "a@example.jp", func(t *testing.T, d *db.DB, c *clock, s *Service, uid string) {
		ctx := context.Background()
		e, key := beginTOTP(t, s, uid, "a@example.jp")
		c.Advance(10*time.Minute + time.Second)
		_, err := s.ConfirmTOTP(ctx, uid, e.ChallengeID, hotp(key, uint64(totpStep(c.Now())), 6))
		wantKey(t, err, "mfa.challenge_expired")
		_, err = s.ConfirmTOTP(ctx, uid, "not-an-id", "123456")
		wantKey(t, err, "mfa.challenge_expired")
		n, err := s.PurgeExpired(ctx)
		if err != nil || n != 1 {
			t.Fatalf("PurgeExpired = %d, %v", n, err)
		}
		if _, err := s.BeginTOTP(ctx, db.NewID(), "x"); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("BeginTOTP for unknown user: %v", err)
		}
	})
}

// TestTOTPReplayAcrossNodes has two database handles ("nodes") on one
// database race to accept the same code: exactly one may win.
func TestTOTPReplayAcrossNodes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		open func(t *testing.T) (string, *db.DB)
	}{
		{"sqlite", func(t *testing.T) (string, *db.DB) { d := dbtest.SQLite(t); return d.Source, d }},
		{"postgres", func(t *testing.T) (string, *db.DB) {
			u := dbtest.PostgresURL(t)
			d, err := db.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			if _, err := d.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return u, d
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, d1 := tc.open(t)
			d2, err := db.Open(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			defer d2.Close()
			c := newClock()
			nodes := []*Service{newService(t, d1, c), newService(t, d2, c)}
			uid := newUser(t, d1, "race@example.jp")
			key, _ := enrol(t, nodes[0], c, uid)

			for round := range 3 {
				c.Advance(TOTPPeriod)
				code := hotp(key, uint64(totpStep(c.Now())), 6)
				var wins, used atomic.Int32
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range 16 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						err := nodes[i%2].VerifyTOTP(ctx, uid, code)
						switch {
						case err == nil:
							wins.Add(1)
						case apperr.From(err).Key == "mfa.totp_used":
							used.Add(1)
						default:
							t.Errorf("round %d: %v", round, err)
						}
					}()
				}
				close(start)
				wg.Wait()
				if wins.Load() != 1 || used.Load() != 15 {
					t.Fatalf("round %d: %d accepted, %d refused as used; want 1 and 15", round, wins.Load(), used.Load())
				}
			}
		})
	}
}

func TestTOTPSecretSealed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c := newClock()
		keyA := []byte("0123456789abcdef0123456789abcdef")
		sealed := newService(t, d, c, WithSecretKey(keyA))
		plain := newService(t, d, c)
		otherKey := newService(t, d, c, WithSecretKey([]byte("fedcba9876543210fedcba9876543210")))

		u1 := newUser(t, d, "sealed@example.jp")
		key1, _ := enrol(t, sealed, c, u1)
		var stored string
		if err := d.QueryRow(ctx, `SELECT totp_secret FROM users WHERE id = ?`, u1).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stored, "v1:") || strings.Contains(stored, b32.EncodeToString(key1)) {
			t.Fatalf("secret not sealed: %q", stored)
		}
		var pending string
		e, err := sealed.BeginTOTP(ctx, u1, "x")
		if err != nil {
			t.Fatal(err)
		}
		if err := d.QueryRow(ctx, `SELECT data FROM auth_challenges WHERE id = ?`, e.ChallengeID).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(pending, "v1:") {
			t.Fatalf("pending secret not sealed: %q", pending)
		}

		c.Advance(TOTPPeriod)
		code := hotp(key1, uint64(totpStep(c.Now())), 6)
		for name, s := range map[string]*Service{"no key": plain, "other key": otherKey} {
			if err := s.VerifyTOTP(ctx, u1, code); err == nil || apperr.CodeOf(err) != apperr.Internal {
				t.Fatalf("%s: sealed secret opened: %v", name, err)
			}
		}
		if err := sealed.VerifyTOTP(ctx, u1, code); err != nil {
			t.Fatal(err)
		}

		// A sealed secret copied onto another user's row does not open.
		u2 := newUser(t, d, "copy@example.jp")
		if _, err := d.Exec(ctx, `UPDATE users SET totp_secret = ?, totp_enabled = TRUE WHERE id = ?`, stored, u2); err != nil {
			t.Fatal(err)
		}
		if err := sealed.VerifyTOTP(ctx, u2, code); err == nil || apperr.CodeOf(err) != apperr.Internal {
			t.Fatalf("copied secret opened: %v", err)
		}

		// Secrets stored before a key was configured still work.
		u3 := newUser(t, d, "plain@example.jp")
		key3, _ := enrol(t, plain, c, u3)
		if err := d.QueryRow(ctx, `SELECT totp_secret FROM users WHERE id = ?`, u3).Scan(&stored); err != nil || stored != b32.EncodeToString(key3) {
			t.Fatalf("plain secret stored as %q", stored)
		}
		c.Advance(TOTPPeriod)
		if err := sealed.VerifyTOTP(ctx, u3, hotp(key3, uint64(totpStep(c.Now())), 6)); err != nil {
			t.Fatalf("plain secret with key configured: %v", err)
		}
	})
}

// BenchmarkVerifyTOTP measures accepting one fresh code (the lookup, the
// HMACs of the window and the conditional update).
func BenchmarkVerifyTOTP(b *testing.B) {
	testkit.BenchEach(b, func(b *testing.B, d *db.DB) {
		ctx := context.Background()
		c := newClock()
		s := newService(b, d, c)
		uid := newUser(b, d, "bench@example.jp")
		key, _ := enrol(b, s, c, uid)
		b.ResetTimer()
		for b.Loop() {
			c.Advance(TOTPPeriod)
			if err := s.VerifyTOTP(ctx, uid, hotp(key, uint64(totpStep(c.Now())), 6)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
