package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/mfa"
)

// Token expiry limits: at most a year ahead, 90 days proposed.
const (
	tokenMaxDays     = 366
	tokenDefaultDays = 90
)

type accountView struct {
	User            *auth.User
	TOTP            bool
	RecoveryLeft    int
	Passkeys        []mfa.Passkey
	Tokens          []tokenRow
	NewToken        string
	Langs           []string
	MinLen, LongLen int
	MFARequired     bool
	CanWrite        bool
	Sessions        int
}

type tokenRow struct {
	auth.APIToken
	OrgName string
	Expired bool
}

func (s *Server) account(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.renderAccount(w, r, m, nil, nil, "")
}

// renderAccount shows the account page; after a failed form, prevErr and
// the submitted values come back with it.
func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, m *member, prevErr error, submitted url.Values, newToken string) error {
	ctx := r.Context()
	p := m.P
	u, err := auth.GetUser(ctx, s.DB, p.UserID)
	if err != nil {
		return err
	}
	v := accountView{User: u, Langs: i18n.Languages, MinLen: auth.MinPasswordLength, LongLen: auth.LongPasswordLength,
		CanWrite: p.CanWrite(), NewToken: newToken, MFARequired: s.mfaNeeded(ctx, auth.Membership{OrgID: p.OrgID, Role: p.Role})}
	if v.TOTP, err = s.MFA.TOTPEnabled(ctx, p.UserID); err != nil {
		return err
	}
	if v.RecoveryLeft, err = s.MFA.RemainingRecoveryCodes(ctx, p.UserID); err != nil {
		return err
	}
	if v.Passkeys, err = s.MFA.ListPasskeys(ctx, p.UserID); err != nil {
		return err
	}
	tokens, err := auth.ListTokens(ctx, s.DB, p.UserID)
	if err != nil {
		return err
	}
	ms, err := auth.MembershipsOf(ctx, s.DB, p.UserID)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, m := range ms {
		names[m.OrgID] = m.OrgName
	}
	now := s.Now()
	for _, t := range tokens {
		v.Tokens = append(v.Tokens, tokenRow{APIToken: t, OrgName: names[t.OrgID], Expired: t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)})
	}
	if v.Sessions, err = auth.CountUserSessions(ctx, s.DB, p.UserID, now); err != nil {
		return err
	}
	base := url.Values{}
	base.Set("display_name", u.DisplayName)
	base.Set("lang", u.Lang)
	base.Set("expires_at", now.In(i18n.Tokyo).AddDate(0, 0, tokenDefaultDays).Format("2006-01-02"))
	pg := s.newPage(w, r, "account.title")
	pg.Form = withForm(base, submitted, "password", "current_password", "password_confirm")
	pg.Data = v
	return s.renderForm(w, r, "account", pg, prevErr)
}

// accountSaved ends a change made on the account page: err comes back in
// the page with what was sent, success goes back to it with flashKey.
func (s *Server) accountSaved(w http.ResponseWriter, r *http.Request, m *member, flashKey string, err error) error {
	if err != nil {
		return s.renderAccount(w, r, m, err, r.PostForm, "")
	}
	s.flash(w, r, "/account", flashKey)
	return nil
}

func (s *Server) accountProfile(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.accountSaved(w, r, m, "flash.profile_saved", s.Orgs.UpdateProfile(r.Context(), m.P, r.PostForm.Get("display_name"), r.PostForm.Get("lang")))
}

func (s *Server) accountPassword(w http.ResponseWriter, r *http.Request, m *member) error {
	f := r.PostForm
	return s.accountSaved(w, r, m, "flash.password_changed", s.Orgs.ChangePassword(r.Context(), m.P, f.Get("current_password"), f.Get("password"), f.Get("password_confirm")))
}

func (s *Server) totpForm(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.renderTOTPEnrol(w, r, m.P, "totp", nil)
}

func (s *Server) totpConfirm(w http.ResponseWriter, r *http.Request, m *member) error {
	codes, err := s.MFA.ConfirmTOTP(r.Context(), m.P.UserID, r.PostForm.Get("challenge"), r.PostForm.Get("code"),
		s.Orgs.SecondFactorEntry(m.P, true, "totp", "", ""))
	if err != nil {
		return s.renderTOTPEnrol(w, r, m.P, "totp", err)
	}
	return s.renderRecoveryCodes(w, r, codes, "/account")
}

// keepsSecondFactor refuses to remove a person's last second factor when
// their role or organisation requires one.
func (s *Server) keepsSecondFactor(r *http.Request, removingTOTP bool, removingPasskey string) error {
	ctx := r.Context()
	p := state(r).p
	if !s.mfaNeeded(ctx, auth.Membership{OrgID: p.OrgID, Role: p.Role}) {
		return nil
	}
	totp, err := s.MFA.TOTPEnabled(ctx, p.UserID)
	if err != nil {
		return err
	}
	keys, err := s.MFA.ListPasskeys(ctx, p.UserID)
	if err != nil {
		return err
	}
	left := 0
	if totp && !removingTOTP {
		left++
	}
	for _, k := range keys {
		if k.ID != removingPasskey {
			left++
		}
	}
	if left == 0 {
		return apperr.New(apperr.Conflict, "account.mfa.last_factor")
	}
	return nil
}

func (s *Server) totpDisable(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := s.keepsSecondFactor(r, true, ""); err != nil {
		return s.renderAccount(w, r, m, err, nil, "")
	}
	if err := s.MFA.DisableTOTP(r.Context(), m.P.UserID, s.Orgs.SecondFactorEntry(m.P, false, "totp", "", "")); err != nil {
		return s.renderAccount(w, r, m, err, nil, "")
	}
	s.flash(w, r, "/account", "flash.totp_disabled")
	return nil
}

func (s *Server) recoveryRegenerate(w http.ResponseWriter, r *http.Request, m *member) error {
	codes, err := s.MFA.RegenerateRecoveryCodes(r.Context(), m.P.UserID, s.Orgs.SecondFactorEntry(m.P, true, "recovery_codes", "", ""))
	if err != nil {
		return s.renderAccount(w, r, m, err, nil, "")
	}
	return s.renderRecoveryCodes(w, r, codes, "/account")
}

// ceremony is what static/passkey.js posts: the form's fields, and at the
// finish step the challenge id and the browser's credential.
type ceremony struct {
	Name        string          `json:"name"`
	Next        string          `json:"next"`
	ChallengeID string          `json:"challengeId"`
	Credential  json.RawMessage `json:"credential"`
}

// readCeremony decodes a passkey script's JSON body.
func readCeremony(w http.ResponseWriter, r *http.Request) (ceremony, error) {
	var c ceremony
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		return c, formError(err)
	}
	if len(body) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return c, apperr.Wrap(err, apperr.Invalid, "error.bad_json", "body")
	}
	return c, nil
}

func (s *Server) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request, m *member) error {
	opts, id, err := s.MFA.BeginPasskeyRegistration(r.Context(), m.P.UserID, m.P.Email, m.P.DisplayName)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"challengeId": id, "options": opts})
	return nil
}

func (s *Server) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request, m *member) error {
	c, err := readCeremony(w, r)
	if err != nil {
		return err
	}
	if err := s.MFA.FinishPasskeyRegistration(r.Context(), m.P.UserID, c.ChallengeID, c.Name, c.Credential,
		s.Orgs.SecondFactorEntry(m.P, true, "passkey", c.Name, "")); err != nil {
		return err
	}
	key := "flash.passkey_added"
	if n, err := s.MFA.RemainingRecoveryCodes(r.Context(), m.P.UserID); err == nil && n == 0 {
		key = "flash.passkey_added_codes"
	}
	setFlashCookie(w, s.Secure, key)
	writeJSON(w, http.StatusOK, map[string]any{"redirect": "/account"})
	return nil
}

func (s *Server) passkeyDelete(w http.ResponseWriter, r *http.Request, m *member) error {
	id := r.PathValue("id")
	if err := s.keepsSecondFactor(r, false, id); err != nil {
		return s.renderAccount(w, r, m, err, nil, "")
	}
	if err := s.MFA.DeletePasskey(r.Context(), m.P.UserID, id, s.Orgs.SecondFactorEntry(m.P, false, "passkey", "", id)); err != nil {
		return err
	}
	s.flash(w, r, "/account", "flash.passkey_deleted")
	return nil
}

// parseTokenExpiry reads the expiry date of a new token: the token works
// through the whole of that day, Japan time.
func parseTokenExpiry(v string, now time.Time) (*time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, apperr.Field("expires_at", "account.token.expiry_required")
	}
	d, err := time.ParseInLocation("2006-01-02", toHalfWidth(v), i18n.Tokyo)
	if err != nil {
		return nil, apperr.Field("expires_at", "account.token.expiry_format")
	}
	end := d.AddDate(0, 0, 1)
	if !end.After(now) {
		return nil, apperr.Field("expires_at", "auth.token.expiry_past")
	}
	if end.Sub(now) > tokenMaxDays*24*time.Hour {
		return nil, apperr.Field("expires_at", "account.token.expiry_too_far", tokenMaxDays)
	}
	return &end, nil
}

// tokenScope reads whether a new token may write; only someone who may
// write may give a token that right.
func tokenScope(p *auth.Principal, scope string) (bool, error) {
	switch scope {
	case "", "read":
		return false, nil
	case "write":
		if !p.CanWrite() {
			return false, apperr.Field("scope", "account.token.write_denied")
		}
		return true, nil
	}
	return false, apperr.Field("scope", "account.token.scope_invalid")
}

func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request, m *member) error {
	write, err := tokenScope(m.P, r.PostForm.Get("scope"))
	if err != nil {
		return s.renderAccount(w, r, m, err, r.PostForm, "")
	}
	expires, err := parseTokenExpiry(r.PostForm.Get("expires_at"), s.Now())
	if err != nil {
		return s.renderAccount(w, r, m, err, r.PostForm, "")
	}
	raw, _, err := s.Orgs.CreateToken(r.Context(), m.P, "", "", auth.TokenInput{Name: r.PostForm.Get("name"), Write: write, Expires: expires})
	if err != nil {
		return s.renderAccount(w, r, m, err, r.PostForm, "")
	}
	return s.renderAccount(w, r, m, nil, nil, raw)
}

func (s *Server) tokenDelete(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.saved(w, r, "/account", "flash.token_revoked", s.Orgs.RevokeToken(r.Context(), m.P, r.PathValue("id")))
}
