package mfa

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// TOTP parameters: the ones every authenticator app supports.
const (
	TOTPDigits = 6
	TOTPPeriod = 30 * time.Second
	// TOTPSkew is how many 30-second steps before and after now are accepted.
	TOTPSkew = 1

	totpSecretBytes = 20
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Enrolment is a TOTP enrolment waiting for its first code. Secret is the
// base32 key for manual entry, URI the otpauth:// URI, QRPNG the URI as a
// QR code image (PNG) to scan with an authenticator app.
type Enrolment struct {
	ChallengeID string
	Secret      string
	URI         string
	QRPNG       []byte
	ExpiresAt   time.Time
}

// hotp is RFC 4226 HOTP (HMAC-SHA-1, dynamic truncation) with the given
// number of digits.
func hotp(key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// totpStep is the RFC 6238 time step counter for t.
func totpStep(t time.Time) int64 {
	return t.Unix() / int64(TOTPPeriod/time.Second)
}

// matchStep returns the newest step within the window around now whose
// code equals code, and whether there was one.
func matchStep(key []byte, code string, now time.Time) (int64, bool) {
	cur := totpStep(now)
	for step := cur + TOTPSkew; step >= cur-TOTPSkew; step-- {
		if step < 0 {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(hotp(key, uint64(step), TOTPDigits)), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// OTPAuthURI returns the otpauth:// URI that authenticator apps read from a
// QR code, for a base32 secret.
func OTPAuthURI(issuer, account, secret string) string {
	q := url.Values{}
	q.Set("secret", secret)
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", fmt.Sprint(TOTPDigits))
	q.Set("period", fmt.Sprint(int(TOTPPeriod/time.Second)))
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// BeginTOTP starts enrolling an authenticator app for the user: a new
// random 160-bit secret is kept in a pending enrolment for ten minutes (the
// user's current TOTP setting is untouched until ConfirmTOTP). accountName
// is shown in the app next to the issuer, usually the e-mail address.
func (s *Service) BeginTOTP(ctx context.Context, userID, accountName string) (Enrolment, error) {
	if err := userExists(ctx, s.db, userID); err != nil {
		return Enrolment{}, err
	}
	secret := make([]byte, totpSecretBytes)
	if _, err := rand.Read(secret); err != nil {
		return Enrolment{}, err
	}
	sealed, err := s.seal(userID, secret)
	if err != nil {
		return Enrolment{}, err
	}
	id, err := s.putChallenge(ctx, s.db, userID, kindTOTPEnrol, sealed, totpEnrolTTL)
	if err != nil {
		return Enrolment{}, err
	}
	enc := b32.EncodeToString(secret)
	uri := OTPAuthURI(s.issuer, accountName, enc)
	png, err := qrcode.Encode(uri, qrcode.Medium, 320)
	if err != nil {
		return Enrolment{}, fmt.Errorf("mfa: QR code: %w", err)
	}
	return Enrolment{ChallengeID: id, Secret: enc, URI: uri, QRPNG: png, ExpiresAt: s.now().Add(totpEnrolTTL)}, nil
}

// ConfirmTOTP finishes an enrolment begun by BeginTOTP: when code is right
// for the pending secret, the secret becomes the user's (replacing any
// earlier one), ten new recovery codes replace the old ones and the
// enrolment is used up. It returns the recovery codes, to be shown once. A
// wrong code leaves the enrolment open for another try; an expired or
// already used enrolment is an Invalid error with key
// mfa.challenge_expired. The steps in more run in the same transaction.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, challengeID, code string, more ...Also) ([]string, error) {
	norm, ok := ParseTOTPCode(code)
	if !ok {
		return nil, apperr.Field("code", "mfa.totp_format")
	}
	data, err := s.peekChallenge(ctx, userID, challengeID, kindTOTPEnrol)
	if err != nil {
		return nil, err
	}
	secret, err := s.unseal(userID, data)
	if err != nil {
		return nil, err
	}
	step, ok := matchStep(secret, norm, s.now())
	if !ok {
		return nil, apperr.Field("code", "mfa.totp_wrong")
	}
	stored, err := s.seal(userID, secret)
	if err != nil {
		return nil, err
	}
	codes, hashes, err := newRecoveryCodes(userID)
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := s.takeChallenge(ctx, tx, userID, challengeID, kindTOTPEnrol); err != nil {
			return err
		}
		if err := one(tx.Exec(ctx, `UPDATE users SET totp_secret = ?, totp_enabled = TRUE, totp_last_step = ?, updated_at = ?
			WHERE id = ?`, stored, step, s.now(), userID)); err != nil {
			return err
		}
		return replaceCodesAnd(ctx, tx, userID, hashes, more)
	})
	return codesOr(codes, err)
}

// VerifyTOTP checks a code from the user's authenticator app at sign-in.
// Each code is accepted once only, on any node: a code for a time step at
// or before the last accepted one is refused (key mfa.totp_used). A wrong
// code is an Invalid error with key mfa.totp_wrong; a user without TOTP is
// an Invalid error with key mfa.totp_not_enabled.
func (s *Service) VerifyTOTP(ctx context.Context, userID, code string) error {
	norm, ok := ParseTOTPCode(code)
	if !ok {
		return apperr.Field("code", "mfa.totp_format")
	}
	var stored string
	var enabled bool
	var last int64
	err := db.ScanErr(s.db.QueryRow(ctx, `SELECT totp_secret, totp_enabled, totp_last_step FROM users WHERE id = ?`,
		userID).Scan(&stored, &enabled, &last))
	if err != nil {
		return err
	}
	if !enabled || stored == "" {
		return apperr.New(apperr.Invalid, "mfa.totp_not_enabled")
	}
	secret, err := s.unseal(userID, stored)
	if err != nil {
		return err
	}
	step, ok := matchStep(secret, norm, s.now())
	if !ok {
		return apperr.Field("code", "mfa.totp_wrong")
	}
	if step <= last {
		return apperr.Field("code", "mfa.totp_used")
	}
	err = one(s.db.Exec(ctx, `UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_enabled = TRUE AND totp_last_step < ?`,
		step, userID, step))
	if errors.Is(err, db.ErrNotFound) {
		return apperr.Field("code", "mfa.totp_used")
	}
	return err
}

// DisableTOTP removes the user's authenticator app. When the user has no
// passkey left either, their recovery codes are deleted too. Disabling a
// user without TOTP is not an error; an unknown user is db.ErrNotFound.
// The steps in more run in the same transaction.
func (s *Service) DisableTOTP(ctx context.Context, userID string, more ...Also) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := one(tx.Exec(ctx, `UPDATE users SET totp_secret = '', totp_enabled = FALSE, totp_last_step = 0, updated_at = ?
			WHERE id = ?`, s.now(), userID)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM auth_challenges WHERE user_id = ? AND kind = ?`, userID, kindTOTPEnrol); err != nil {
			return err
		}
		if err := dropOrphanRecoveryCodes(ctx, tx, userID); err != nil {
			return err
		}
		return also(ctx, tx, more)
	})
}

// TOTPEnabled reports whether the user has an authenticator app. An unknown
// user is db.ErrNotFound.
func (s *Service) TOTPEnabled(ctx context.Context, userID string) (bool, error) {
	var enabled bool
	err := db.ScanErr(s.db.QueryRow(ctx, `SELECT totp_enabled FROM users WHERE id = ?`, userID).Scan(&enabled))
	return enabled, err
}

func userExists(ctx context.Context, q db.Querier, userID string) error {
	var one int
	return db.ScanErr(q.QueryRow(ctx, `SELECT 1 FROM users WHERE id = ?`, userID).Scan(&one))
}

// dropOrphanRecoveryCodes deletes the user's recovery codes when no second
// factor is left for them to stand in for.
func dropOrphanRecoveryCodes(ctx context.Context, q db.Querier, userID string) error {
	_, err := q.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = ?
		AND NOT EXISTS (SELECT 1 FROM users WHERE id = ? AND totp_enabled = TRUE)
		AND NOT EXISTS (SELECT 1 FROM webauthn_credentials WHERE user_id = ?)`, userID, userID, userID)
	return err
}
