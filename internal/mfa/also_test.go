package mfa

import (
	"context"
	"errors"
	"testing"

	"github.com/medisac/medisac/internal/db"
)

// TestAlsoInTheChangesTransaction checks that the steps given to a change
// of a person's second factors (their audit entry) run in the change's
// transaction: they see the change, and when one fails nothing is changed.
func TestAlsoInTheChangesTransaction(t *testing.T) {
	eachService(t, "also@example.jp", func(t *testing.T, d *db.DB, c *clock, s *Service, uid string) {
		ctx := context.Background()
		refuse := errors.New("audit log refused")
		failing := func(context.Context, db.Querier) error { return refuse }
		// seen counts, inside the transaction, what a step is to see.
		seen := func(query string, want int) Also {
			return func(ctx context.Context, tx db.Querier) error {
				var n int
				if err := tx.QueryRow(ctx, query, uid).Scan(&n); err != nil {
					return err
				}
				if n != want {
					t.Errorf("inside the transaction %q = %d, want %d", query, n, want)
				}
				return nil
			}
		}
		const totpOn = `SELECT COUNT(*) FROM users WHERE id = ? AND totp_enabled = TRUE`
		const passkeys = `SELECT COUNT(*) FROM webauthn_credentials WHERE user_id = ?`
		const codes = `SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?`
		count := func(query string) int {
			t.Helper()
			var n int
			if err := d.QueryRow(ctx, query, uid).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}

		// Enrolling an authenticator app.
		e, key := beginTOTP(t, s, uid, "also@example.jp")
		code := hotp(key, uint64(totpStep(c.Now())), 6)
		if _, err := s.ConfirmTOTP(ctx, uid, e.ChallengeID, code, failing); !errors.Is(err, refuse) {
			t.Fatalf("ConfirmTOTP with a failing step = %v", err)
		}
		if count(totpOn) != 0 || count(codes) != 0 {
			t.Fatal("the app was enrolled although its audit step failed")
		}
		if _, err := s.ConfirmTOTP(ctx, uid, e.ChallengeID, code, seen(totpOn, 1), seen(codes, 10)); err != nil {
			t.Fatalf("ConfirmTOTP: %v", err)
		}

		// New recovery codes.
		lowest := func() string {
			t.Helper()
			var h string
			if err := d.QueryRow(ctx, `SELECT MIN(code_hash) FROM recovery_codes WHERE user_id = ?`, uid).Scan(&h); err != nil {
				t.Fatal(err)
			}
			return h
		}
		before := lowest()
		if _, err := s.RegenerateRecoveryCodes(ctx, uid, failing); !errors.Is(err, refuse) {
			t.Fatalf("RegenerateRecoveryCodes with a failing step = %v", err)
		}
		if lowest() != before {
			t.Fatal("the recovery codes changed although the audit step failed")
		}
		if _, err := s.RegenerateRecoveryCodes(ctx, uid, seen(codes, 10)); err != nil || lowest() == before {
			t.Fatalf("RegenerateRecoveryCodes: %v", err)
		}

		// Registering a passkey.
		k := newSoftKey(t)
		for _, step := range []Also{failing, seen(passkeys, 1)} {
			opts, cid, err := s.BeginPasskeyRegistration(ctx, uid, "also@example.jp", "試験 太郎")
			if err != nil {
				t.Fatal(err)
			}
			err = s.FinishPasskeyRegistration(ctx, uid, cid, "鍵", k.create(t, opts, testOrigin), step)
			if want := count(passkeys); (err == nil) != (want == 1) {
				t.Fatalf("FinishPasskeyRegistration = %v with %d passkeys stored", err, want)
			}
		}
		list, err := s.ListPasskeys(ctx, uid)
		if err != nil || len(list) != 1 {
			t.Fatalf("passkeys %v, %v", list, err)
		}

		// Removing the passkey and the app.
		if err := s.DeletePasskey(ctx, uid, list[0].ID, failing); !errors.Is(err, refuse) || count(passkeys) != 1 {
			t.Fatalf("DeletePasskey with a failing step = %v, %d passkeys left", err, count(passkeys))
		}
		if err := s.DeletePasskey(ctx, uid, list[0].ID, seen(passkeys, 0)); err != nil {
			t.Fatal(err)
		}
		if err := s.DisableTOTP(ctx, uid, failing); !errors.Is(err, refuse) || count(totpOn) != 1 {
			t.Fatalf("DisableTOTP with a failing step = %v, app on: %d", err, count(totpOn))
		}
		if err := s.DisableTOTP(ctx, uid, seen(totpOn, 0), seen(codes, 0)); err != nil {
			t.Fatal(err)
		}
		if count(totpOn) != 0 || count(codes) != 0 {
			t.Fatal("the app or the recovery codes are still there")
		}
	})
}
