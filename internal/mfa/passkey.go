package mfa

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// MaxPasskeyNameLen is the longest passkey name, in characters.
const MaxPasskeyNameLen = 60

// maxCeremonyBody bounds the JSON a browser sends to finish a ceremony.
const maxCeremonyBody = 64 << 10

// Passkey is one of a user's registered passkeys as shown in their
// settings. Synced reports that the passkey is backed up to a cloud account
// (for example iCloud Keychain or Google Password Manager); CloneWarning
// that its signature counter went backwards, so it is refused at sign-in
// and should be deleted.
type Passkey struct {
	ID           string
	Name         string
	CreatedAt    time.Time
	LastUsedAt   *time.Time
	Synced       bool
	CloneWarning bool
}

type passkeyUser struct {
	id          string
	name        string
	displayName string
	creds       []webauthn.Credential
}

func (u *passkeyUser) WebAuthnID() []byte                         { return []byte(u.id) }
func (u *passkeyUser) WebAuthnName() string                       { return u.name }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.displayName }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

type storedCredential struct {
	rowID string
	cred  webauthn.Credential
}

func loadCredentials(ctx context.Context, q db.Querier, userID string) ([]storedCredential, error) {
	return db.QueryAll(ctx, q, func(r db.Scanner) (storedCredential, error) {
		var sc storedCredential
		var data string
		if err := r.Scan(&sc.rowID, &data); err != nil {
			return sc, err
		}
		cred, err := decodeCredential(sc.rowID, data)
		sc.cred = cred
		return sc, err
	}, `SELECT id, data FROM webauthn_credentials WHERE user_id = ? ORDER BY created_at, id`, userID)
}

// decodeCredential reads the stored JSON of the passkey row id.
func decodeCredential(id, data string) (webauthn.Credential, error) {
	var cred webauthn.Credential
	if err := json.Unmarshal([]byte(data), &cred); err != nil {
		return cred, errors.New("mfa: stored passkey " + id + " is not valid JSON: " + err.Error())
	}
	return cred, nil
}

func (s *Service) passkeyUser(ctx context.Context, q db.Querier, userID, name, displayName string) (*passkeyUser, []storedCredential, error) {
	if err := userExists(ctx, q, userID); err != nil {
		return nil, nil, err
	}
	stored, err := loadCredentials(ctx, q, userID)
	if err != nil {
		return nil, nil, err
	}
	u := &passkeyUser{id: userID, name: name, displayName: displayName}
	for _, sc := range stored {
		u.creds = append(u.creds, sc.cred)
	}
	return u, stored, nil
}

// ceremonyFailed reports a refused passkey answer; the library's debug
// detail stays in the cause for the log.
func ceremonyFailed(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		err = fmt.Errorf("%w (%s)", err, pe.DevInfo)
	}
	return apperr.Wrap(err, apperr.Invalid, "mfa.passkey_failed")
}

// BeginPasskeyRegistration starts adding a passkey for the user. email and
// displayName are shown by the browser and the authenticator. It returns
// the options for navigator.credentials.create as JSON ({"publicKey":
// {...}}, binary fields base64url-encoded) and the id of the challenge to
// pass to FinishPasskeyRegistration within five minutes. Passkeys the user
// already has are excluded, so the same authenticator is not added twice.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, userID, email, displayName string) (json.RawMessage, string, error) {
	if displayName == "" {
		displayName = email
	}
	u, _, err := s.passkeyUser(ctx, s.db, userID, email, displayName)
	if err != nil {
		return nil, "", err
	}
	creation, session, err := s.wa.BeginRegistration(u,
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()))
	if err != nil {
		return nil, "", err
	}
	return s.saveCeremony(ctx, userID, kindPasskeyRegister, creation, session)
}

func (s *Service) saveCeremony(ctx context.Context, userID, kind string, options any, session *webauthn.SessionData) (json.RawMessage, string, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, "", err
	}
	state, err := json.Marshal(session)
	if err != nil {
		return nil, "", err
	}
	id, err := s.putChallenge(ctx, s.db, userID, kind, string(state), passkeyTTL)
	if err != nil {
		return nil, "", err
	}
	return opts, id, nil
}

func (s *Service) takeCeremony(ctx context.Context, userID, challengeID, kind string, body []byte) (webauthn.SessionData, error) {
	var session webauthn.SessionData
	if len(body) > maxCeremonyBody {
		return session, apperr.New(apperr.TooLarge, "error.too_large", "64 KB")
	}
	data, err := s.takeChallenge(ctx, s.db, userID, challengeID, kind)
	if err != nil {
		return session, err
	}
	if err := json.Unmarshal([]byte(data), &session); err != nil {
		return session, err
	}
	return session, nil
}

// FinishPasskeyRegistration checks the browser's answer (body: the JSON of
// the PublicKeyCredential from navigator.credentials.create, binary fields
// base64url-encoded) to the challenge begun by BeginPasskeyRegistration and
// stores the new passkey under name. The challenge is used up whatever the
// outcome. A failed check is an Invalid error with key mfa.passkey_failed,
// an expired or used challenge one with key mfa.challenge_expired, a
// passkey already registered a Conflict with key mfa.passkey_exists. It does
// not create recovery codes: after the user's first second factor, call
// RegenerateRecoveryCodes and show them. The steps in more run in the
// transaction that stores the passkey.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, userID, challengeID, name string, body []byte, more ...Also) error {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > MaxPasskeyNameLen {
		return apperr.Field("name", "mfa.passkey_name_long", MaxPasskeyNameLen)
	}
	session, err := s.takeCeremony(ctx, userID, challengeID, kindPasskeyRegister, body)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return ceremonyFailed(err)
	}
	u, _, err := s.passkeyUser(ctx, s.db, userID, "", "")
	if err != nil {
		return err
	}
	cred, err := s.wa.CreateCredential(u, session, parsed)
	if err != nil {
		return ceremonyFailed(err)
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO webauthn_credentials (id, user_id, credential_id, name, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, db.NewID(), userID, base64.RawURLEncoding.EncodeToString(cred.ID), name, string(data), s.now()); err != nil {
			return err
		}
		return also(ctx, tx, more)
	})
	if errors.Is(err, db.ErrConflict) {
		return apperr.Wrap(err, apperr.Conflict, "mfa.passkey_exists")
	}
	return err
}

// BeginPasskeyLogin starts a sign-in with one of the user's passkeys as the
// second factor. It returns the options for navigator.credentials.get as
// JSON ({"publicKey": {...}}) and the id of the challenge to pass to
// FinishPasskeyLogin within five minutes. A user without passkeys is an
// Invalid error with key mfa.passkey_none.
func (s *Service) BeginPasskeyLogin(ctx context.Context, userID string) (json.RawMessage, string, error) {
	u, _, err := s.passkeyUser(ctx, s.db, userID, "", "")
	if err != nil {
		return nil, "", err
	}
	if len(u.creds) == 0 {
		return nil, "", apperr.New(apperr.Invalid, "mfa.passkey_none")
	}
	assertion, session, err := s.wa.BeginLogin(u)
	if err != nil {
		return nil, "", err
	}
	return s.saveCeremony(ctx, userID, kindPasskeyLogin, assertion, session)
}

// FinishPasskeyLogin checks the browser's answer (body: the JSON of the
// PublicKeyCredential from navigator.credentials.get) to the challenge begun
// by BeginPasskeyLogin. On success it records the passkey's new signature
// counter and last use. The challenge is used up whatever the outcome. A
// failed check is an Invalid error with key mfa.passkey_failed; a passkey
// whose counter went backwards (a sign that it was copied) is marked and
// refused with a Forbidden error, key mfa.passkey_cloned.
func (s *Service) FinishPasskeyLogin(ctx context.Context, userID, challengeID string, body []byte) error {
	session, err := s.takeCeremony(ctx, userID, challengeID, kindPasskeyLogin, body)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return ceremonyFailed(err)
	}
	var cloned string
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.Lock(ctx, "mfa-passkey:"+userID); err != nil {
			return err
		}
		u, stored, err := s.passkeyUser(ctx, tx, userID, "", "")
		if err != nil {
			return err
		}
		cred, err := s.wa.ValidateLogin(u, session, parsed)
		if err != nil {
			return ceremonyFailed(err)
		}
		rowID := ""
		for _, sc := range stored {
			if string(sc.cred.ID) == string(cred.ID) {
				rowID = sc.rowID
			}
		}
		if rowID == "" {
			return ceremonyFailed(errors.New("validated credential is not stored"))
		}
		data, err := json.Marshal(cred)
		if err != nil {
			return err
		}
		lastUsed := sql.NullTime{Time: s.now(), Valid: true}
		if cred.Authenticator.CloneWarning {
			cloned = rowID
			lastUsed.Valid = false
		}
		_, err = tx.Exec(ctx, `UPDATE webauthn_credentials SET data = ?, last_used_at = COALESCE(?, last_used_at)
			WHERE id = ? AND user_id = ?`, string(data), lastUsed, rowID, userID)
		return err
	})
	if err != nil {
		return err
	}
	if cloned != "" {
		slog.WarnContext(ctx, "passkey signature counter went backwards; sign-in refused",
			"user_id", userID, "passkey_id", cloned)
		return apperr.New(apperr.Forbidden, "mfa.passkey_cloned")
	}
	return nil
}

// ListPasskeys returns the user's passkeys, oldest first (none for an
// unknown user).
func (s *Service) ListPasskeys(ctx context.Context, userID string) ([]Passkey, error) {
	return db.QueryAll(ctx, s.db, func(r db.Scanner) (Passkey, error) {
		var p Passkey
		var data string
		var last sql.NullTime
		if err := r.Scan(&p.ID, &p.Name, &data, &p.CreatedAt, &last); err != nil {
			return p, err
		}
		cred, err := decodeCredential(p.ID, data)
		if err != nil {
			return p, err
		}
		p.CreatedAt = p.CreatedAt.UTC()
		if last.Valid {
			t := last.Time.UTC()
			p.LastUsedAt = &t
		}
		p.Synced = cred.Flags.BackupState
		p.CloneWarning = cred.Authenticator.CloneWarning
		return p, nil
	}, `SELECT id, name, data, created_at, last_used_at FROM webauthn_credentials
		WHERE user_id = ? ORDER BY created_at, id`, userID)
}

// RenamePasskey changes the name of one of the user's passkeys. Another
// user's passkey, or an unknown id, is db.ErrNotFound.
func (s *Service) RenamePasskey(ctx context.Context, userID, id, name string) error {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > MaxPasskeyNameLen {
		return apperr.Field("name", "mfa.passkey_name_long", MaxPasskeyNameLen)
	}
	if err := one(s.db.Exec(ctx, `UPDATE webauthn_credentials SET name = ? WHERE id = ? AND user_id = ?`, name, id, userID)); err != nil {
		return err
	}
	return nil
}

// DeletePasskey removes one of the user's passkeys. Another user's passkey,
// or an unknown id, is db.ErrNotFound. When the user has no second factor
// left, their recovery codes are deleted too. The steps in more run in the
// same transaction.
func (s *Service) DeletePasskey(ctx context.Context, userID, id string, more ...Also) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := one(tx.Exec(ctx, `DELETE FROM webauthn_credentials WHERE id = ? AND user_id = ?`, id, userID)); err != nil {
			return err
		}
		if err := dropOrphanRecoveryCodes(ctx, tx, userID); err != nil {
			return err
		}
		return also(ctx, tx, more)
	})
}
