package mfa

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// RecoveryCodeCount is how many recovery codes a user gets at a time.
const RecoveryCodeCount = 10

// recoveryAlphabet leaves out 0, 1, i, l and o, which are easily misread.
const recoveryAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

const recoveryLen = 12

// newRecoveryCodes returns fresh codes in display form and their hashes.
func newRecoveryCodes(userID string) (codes, hashes []string, err error) {
	buf := make([]byte, 64)
	for len(codes) < RecoveryCodeCount {
		var raw []byte
		for len(raw) < recoveryLen {
			if _, err := rand.Read(buf); err != nil {
				return nil, nil, err
			}
			for _, b := range buf {
				// 248 = 8 × 31: rejecting the rest keeps every letter equally likely.
				if b < 248 && len(raw) < recoveryLen {
					raw = append(raw, recoveryAlphabet[int(b)%len(recoveryAlphabet)])
				}
			}
		}
		code := string(raw)
		h := recoveryHash(userID, code)
		dup := false
		for _, x := range hashes {
			dup = dup || x == h
		}
		if dup {
			continue
		}
		codes = append(codes, FormatRecoveryCode(code))
		hashes = append(hashes, h)
	}
	return codes, hashes, nil
}

// recoveryHash hashes a normalised code with the user's id, so equal codes
// of two users hash differently.
func recoveryHash(userID, code string) string {
	sum := sha256.Sum256([]byte("medisac recovery\x00" + userID + "\x00" + code))
	return hex.EncodeToString(sum[:])
}

// FormatRecoveryCode writes a normalised 12-character code as xxxx-xxxx-xxxx.
func FormatRecoveryCode(code string) string {
	if len(code) != recoveryLen {
		return code
	}
	return code[0:4] + "-" + code[4:8] + "-" + code[8:12]
}

// fold maps what people type into plain ASCII: full-width letters and
// digits (as entered with a Japanese input method) to ASCII, upper case to
// lower case, and every kind of space, hyphen, dash and long-vowel mark to
// nothing.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		case r == 0x3000:
			r = ' '
		}
		switch r {
		case ' ', '\t', '\r', '\n', '-', '_', '.', '\u00a0', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014',
			'\u2015', '\u2212', '\u30fc', '\uff70':
			continue
		}
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ParseRecoveryCode normalises a recovery code as typed (any case, spaces,
// dashes, full-width characters) and reports whether it has the form of a
// recovery code. The result is the 12 characters without dashes.
func ParseRecoveryCode(s string) (string, bool) {
	return parseCode(s, 200, recoveryLen, func(c byte) bool { return strings.IndexByte(recoveryAlphabet, c) >= 0 })
}

// parseCode folds s (at most limit bytes as typed) and reports whether the
// result is n characters that are all ok.
func parseCode(s string, limit, n int, ok func(c byte) bool) (string, bool) {
	if len(s) > limit {
		return "", false
	}
	c := fold(s)
	if len(c) != n {
		return "", false
	}
	for i := 0; i < len(c); i++ {
		if !ok(c[i]) {
			return "", false
		}
	}
	return c, true
}

// ParseTOTPCode normalises a six-digit code as typed (spaces, dashes,
// full-width digits) and reports whether it is six digits.
func ParseTOTPCode(s string) (string, bool) {
	return parseCode(s, 100, TOTPDigits, func(c byte) bool { return c >= '0' && c <= '9' })
}

func replaceRecoveryCodes(ctx context.Context, q *db.Tx, userID string, hashes []string) error {
	if err := q.Lock(ctx, "mfa-recovery:"+userID); err != nil {
		return err
	}
	if _, err := q.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := q.Exec(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)`, userID, h); err != nil {
			return err
		}
	}
	return nil
}

// UseRecoveryCode accepts one of the user's unused recovery codes in place
// of a second factor and marks it used, so it works once only, on any node.
// A malformed code is an Invalid error with key mfa.recovery_format; a
// wrong or already used one an Invalid error with key mfa.recovery_wrong.
func (s *Service) UseRecoveryCode(ctx context.Context, userID, code string) error {
	norm, ok := ParseRecoveryCode(code)
	if !ok {
		return apperr.Field("code", "mfa.recovery_format")
	}
	err := one(s.db.Exec(ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL`,
		s.now(), userID, recoveryHash(userID, norm)))
	if errors.Is(err, db.ErrNotFound) {
		return apperr.Field("code", "mfa.recovery_wrong")
	}
	return err
}

// RemainingRecoveryCodes returns how many of the user's recovery codes are
// still unused (0 for an unknown user).
func (s *Service) RemainingRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := db.ScanErr(s.db.QueryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`,
		userID).Scan(&n))
	return n, err
}

// RegenerateRecoveryCodes replaces all the user's recovery codes, used or
// not, with ten new ones and returns them, to be shown once. A user without
// any second factor is an Invalid error with key mfa.no_second_factor;
// an unknown user is db.ErrNotFound. The steps in more run in the same
// transaction.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, userID string, more ...Also) ([]string, error) {
	codes, hashes, err := newRecoveryCodes(userID)
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var enabled bool
		var passkeys int
		err := db.ScanErr(tx.QueryRow(ctx, `SELECT totp_enabled,
			(SELECT COUNT(*) FROM webauthn_credentials WHERE user_id = ?)
			FROM users WHERE id = ?`, userID, userID).Scan(&enabled, &passkeys))
		if err != nil {
			return err
		}
		if !enabled && passkeys == 0 {
			return apperr.New(apperr.Invalid, "mfa.no_second_factor")
		}
		return replaceCodesAnd(ctx, tx, userID, hashes, more)
	})
	return codesOr(codes, err)
}

// replaceCodesAnd replaces the user's recovery codes and runs the other
// steps of the change, in its transaction tx.
func replaceCodesAnd(ctx context.Context, tx *db.Tx, userID string, hashes []string, more []Also) error {
	if err := replaceRecoveryCodes(ctx, tx, userID, hashes); err != nil {
		return err
	}
	return also(ctx, tx, more)
}

// codesOr returns the new recovery codes of a change, or nothing when it
// failed with err.
func codesOr(codes []string, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	return codes, nil
}
