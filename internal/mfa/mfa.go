// Package mfa is medisac's second sign-in factor: time-based one-time codes
// from an authenticator app (TOTP, RFC 6238), single-use recovery codes and
// passkeys (WebAuthn) used as a second factor.
//
// Every ceremony that spans two requests (TOTP enrolment, passkey
// registration and passkey sign-in) keeps its state in the auth_challenges
// table, so a ceremony begun on one server node can finish on another.
// Every check that must succeed only once (a TOTP step, a recovery code, a
// WebAuthn challenge) is decided by a single conditional UPDATE or DELETE in
// the database, so two nodes cannot both accept the same value.
//
// TOTP secrets are stored in users.totp_secret. When the Service has a
// secret key (WithSecretKey) they are sealed with AES-256-GCM bound to the
// user's id; without one they are stored as plain base32 and anyone who can
// read the database can generate codes. Recovery codes are stored as SHA-256
// hashes. Passkey records hold only public keys and counters and are stored
// as JSON.
//
// This package does not throttle wrong codes: callers count failures (for
// example in login_throttle) and stop asking after a few.
package mfa

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// WebAuthnConfig names the relying party for passkeys: RPID is the site's
// domain ("isac.example.jp"), RPDisplayName the name shown by the browser,
// RPOrigins the full origins ("https://isac.example.jp") that pages asking
// for a passkey are served from.
type WebAuthnConfig struct {
	RPID          string
	RPDisplayName string
	RPOrigins     []string
}

// Service provides TOTP, recovery codes and passkeys on one database. It is
// safe for concurrent use, and several Services on several nodes may share
// one database.
type Service struct {
	db     *db.DB
	issuer string
	wa     *webauthn.WebAuthn
	now    func() time.Time
	aead   cipher.AEAD
}

// Option changes how New builds a Service.
type Option func(*Service) error

// WithSecretKey seals TOTP secrets at rest with a key derived from key
// (at least 16 bytes; typically 32 random bytes from configuration). A nil
// or empty key leaves secrets unsealed. Secrets stored unsealed before a key
// was configured are still read.
func WithSecretKey(key []byte) Option {
	return func(s *Service) error {
		if len(key) == 0 {
			return nil
		}
		if len(key) < 16 {
			return fmt.Errorf("mfa: secret key must be at least 16 bytes, got %d", len(key))
		}
		sum := sha256.Sum256(append([]byte("medisac mfa totp secret v1\x00"), key...))
		block, err := aes.NewCipher(sum[:])
		if err != nil {
			return err
		}
		s.aead, err = cipher.NewGCM(block)
		return err
	}
}

// New returns a Service. issuer is the name shown in authenticator apps
// ("medisac"); rp configures passkeys; now is the clock (time.Now in
// production). It fails when rp is not a valid relying party (for example
// an RPID that is not a domain, or no origins).
func New(d *db.DB, issuer string, rp WebAuthnConfig, now func() time.Time, opts ...Option) (*Service, error) {
	if now == nil {
		now = time.Now
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  rp.RPID,
		RPDisplayName:         rp.RPDisplayName,
		RPOrigins:             rp.RPOrigins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: passkeyTTL, TimeoutUVD: passkeyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: passkeyTTL, TimeoutUVD: passkeyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("mfa: passkey settings: %w", err)
	}
	if rp.RPDisplayName == "" {
		return nil, errors.New("mfa: passkey settings: RPDisplayName is empty")
	}
	if issuer == "" {
		return nil, errors.New("mfa: issuer is empty")
	}
	s := &Service{db: d, issuer: issuer, wa: wa, now: now}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Required reports whether a member with role ("admin", "staff",
// "auditor") must use a second factor under an organisation's mfa_policy
// ("admins" or "everyone"). Unknown policies require it.
func Required(policy, role string) bool {
	switch policy {
	case "admins":
		return role == "admin"
	default:
		return true
	}
}

// HasSecondFactor reports whether the user has TOTP enabled or at least one
// passkey. An unknown user is db.ErrNotFound.
func (s *Service) HasSecondFactor(ctx context.Context, userID string) (bool, error) {
	var enabled bool
	var passkeys int
	err := db.ScanErr(s.db.QueryRow(ctx, `SELECT totp_enabled,
		(SELECT COUNT(*) FROM webauthn_credentials WHERE user_id = ?)
		FROM users WHERE id = ?`, userID, userID).Scan(&enabled, &passkeys))
	if err != nil {
		return false, err
	}
	return enabled || passkeys > 0, nil
}

// PurgeExpired deletes the expired ceremony state (TOTP enrolments and
// passkey challenges) of every user and returns how many rows went. Run it
// from a periodic job; correctness does not depend on it.
func (s *Service) PurgeExpired(ctx context.Context) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM auth_challenges WHERE expires_at < ? AND kind IN (?, ?, ?)`,
		s.now(), kindTOTPEnrol, kindPasskeyRegister, kindPasskeyLogin)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

const (
	kindTOTPEnrol       = "totp-enrol"
	kindPasskeyRegister = "webauthn-register"
	kindPasskeyLogin    = "webauthn-login"

	totpEnrolTTL = 10 * time.Minute
	passkeyTTL   = 5 * time.Minute
)

func (s *Service) putChallenge(ctx context.Context, q db.Querier, userID, kind, data string, ttl time.Duration) (string, error) {
	now := s.now()
	if _, err := q.Exec(ctx, `DELETE FROM auth_challenges WHERE user_id = ? AND kind = ? AND expires_at < ?`,
		userID, kind, now); err != nil {
		return "", err
	}
	id := db.NewID()
	if _, err := q.Exec(ctx, `INSERT INTO auth_challenges (id, user_id, kind, data, expires_at) VALUES (?, ?, ?, ?, ?)`,
		id, userID, kind, data, now.Add(ttl)); err != nil {
		return "", err
	}
	return id, nil
}

// takeChallenge deletes the challenge and returns its data, so that it can
// be used once only, by whichever node gets there first.
func (s *Service) takeChallenge(ctx context.Context, q db.Querier, userID, challengeID, kind string) (string, error) {
	return s.challengeData(challengeID, func() *sql.Row {
		return q.QueryRow(ctx, `DELETE FROM auth_challenges WHERE id = ? AND user_id = ? AND kind = ?
		RETURNING data, expires_at`, challengeID, userID, kind)
	})
}

// peekChallenge returns a live challenge's data without using it up.
func (s *Service) peekChallenge(ctx context.Context, userID, challengeID, kind string) (string, error) {
	return s.challengeData(challengeID, func() *sql.Row {
		return s.db.QueryRow(ctx, `SELECT data, expires_at FROM auth_challenges WHERE id = ? AND user_id = ? AND kind = ?`,
			challengeID, userID, kind)
	})
}

// challengeData reads the data and expiry of a challenge from the row
// that row returns: a malformed id, a missing challenge and an expired one
// are all refused as expired.
func (s *Service) challengeData(challengeID string, row func() *sql.Row) (string, error) {
	if !db.ValidID(challengeID) {
		return "", apperr.New(apperr.Invalid, "mfa.challenge_expired")
	}
	var data string
	var expires time.Time
	err := db.ScanErr(row().Scan(&data, &expires))
	if errors.Is(err, db.ErrNotFound) {
		return "", apperr.Wrap(err, apperr.Invalid, "mfa.challenge_expired")
	}
	if err != nil {
		return "", err
	}
	if !s.now().Before(expires) {
		return "", apperr.New(apperr.Invalid, "mfa.challenge_expired")
	}
	return data, nil
}

// Also is more work done in the transaction of a change to a person's
// second factors, such as the change's audit entry: when it fails, the
// change is not made either.
type Also func(ctx context.Context, tx db.Querier) error

// also runs the Also steps of a change in its transaction tx.
func also(ctx context.Context, tx db.Querier, steps []Also) error {
	for _, f := range steps {
		if err := f(ctx, tx); err != nil {
			return err
		}
	}
	return nil
}

// one returns the error of a statement that must change exactly one row:
// err, or db.ErrNotFound when it changed none (or several).
func one(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return db.ErrNotFound
	}
	return nil
}

const sealedPrefix = "v1:"

// seal protects a TOTP secret for storage, bound to the user's id.
func (s *Service) seal(userID string, secret []byte) (string, error) {
	if s.aead == nil {
		return b32.EncodeToString(secret), nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, secret, []byte(userID))
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// unseal reverses seal; plain base32 is accepted whether or not a key is set.
func (s *Service) unseal(userID, stored string) ([]byte, error) {
	if !strings.HasPrefix(stored, sealedPrefix) {
		return b32.DecodeString(stored)
	}
	if s.aead == nil {
		return nil, errors.New("mfa: TOTP secret is sealed but no secret key is configured")
	}
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(stored, sealedPrefix))
	if err != nil {
		return nil, fmt.Errorf("mfa: sealed TOTP secret: %w", err)
	}
	n := s.aead.NonceSize()
	if len(raw) < n {
		return nil, errors.New("mfa: sealed TOTP secret is too short")
	}
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(userID))
	if err != nil {
		return nil, fmt.Errorf("mfa: TOTP secret does not open with the configured key: %w", err)
	}
	return plain, nil
}
