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

func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	s.renderAccount(w, r, nil, nil, "")
}

// renderAccount shows the account page; after a failed form, prevErr and
// the submitted values come back with it.
func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values, newToken string) {
	ctx := r.Context()
	p := state(r).p
	u, err := auth.GetUser(ctx, s.DB, p.UserID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := accountView{User: u, Langs: i18n.Languages, MinLen: auth.MinPasswordLength, LongLen: auth.LongPasswordLength,
		CanWrite: p.CanWrite(), NewToken: newToken, MFARequired: s.mfaNeeded(ctx, auth.Membership{OrgID: p.OrgID, Role: p.Role})}
	if v.TOTP, err = s.MFA.TOTPEnabled(ctx, p.UserID); err != nil {
		s.renderError(w, r, err)
		return
	}
	if v.RecoveryLeft, err = s.MFA.RemainingRecoveryCodes(ctx, p.UserID); err != nil {
		s.renderError(w, r, err)
		return
	}
	if v.Passkeys, err = s.MFA.ListPasskeys(ctx, p.UserID); err != nil {
		s.renderError(w, r, err)
		return
	}
	tokens, err := auth.ListTokens(ctx, s.DB, p.UserID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	ms, err := auth.MembershipsOf(ctx, s.DB, p.UserID)
	if err != nil {
		s.renderError(w, r, err)
		return
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
		s.renderError(w, r, err)
		return
	}
	base := url.Values{}
	base.Set("display_name", u.DisplayName)
	base.Set("lang", u.Lang)
	base.Set("expires_at", now.In(i18n.Tokyo).AddDate(0, 0, tokenDefaultDays).Format("2006-01-02"))
	pg := s.newPage(w, r, "account.title")
	pg.Form = withForm(base, submitted, "password", "current_password", "password_confirm")
	pg.Data = v
	s.renderForm(w, r, "account", pg, prevErr)
}

func (s *Server) accountProfile(w http.ResponseWriter, r *http.Request) {
	if err := s.Orgs.UpdateProfile(r.Context(), state(r).p, r.PostForm.Get("display_name"), r.PostForm.Get("lang")); err != nil {
		s.renderAccount(w, r, err, r.PostForm, "")
		return
	}
	s.flash(w, r, "/account", "flash.profile_saved")
}

func (s *Server) accountPassword(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	if err := s.Orgs.ChangePassword(r.Context(), state(r).p, f.Get("current_password"), f.Get("password"), f.Get("password_confirm")); err != nil {
		s.renderAccount(w, r, err, r.PostForm, "")
		return
	}
	s.flash(w, r, "/account", "flash.password_changed")
}

func (s *Server) totpForm(w http.ResponseWriter, r *http.Request) {
	s.renderTOTPEnrol(w, r, state(r).p, "totp", nil)
}

func (s *Server) totpConfirm(w http.ResponseWriter, r *http.Request) {
	p := state(r).p
	codes, err := s.MFA.ConfirmTOTP(r.Context(), p.UserID, r.PostForm.Get("challenge"), r.PostForm.Get("code"),
		s.Orgs.SecondFactorEntry(p, true, "totp", "", ""))
	if err != nil {
		s.renderTOTPEnrol(w, r, p, "totp", err)
		return
	}
	s.renderRecoveryCodes(w, r, codes, "/account")
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

func (s *Server) totpDisable(w http.ResponseWriter, r *http.Request) {
	p := state(r).p
	if err := s.keepsSecondFactor(r, true, ""); err != nil {
		s.renderAccount(w, r, err, nil, "")
		return
	}
	if err := s.MFA.DisableTOTP(r.Context(), p.UserID, s.Orgs.SecondFactorEntry(p, false, "totp", "", "")); err != nil {
		s.renderAccount(w, r, err, nil, "")
		return
	}
	s.flash(w, r, "/account", "flash.totp_disabled")
}

func (s *Server) recoveryRegenerate(w http.ResponseWriter, r *http.Request) {
	p := state(r).p
	codes, err := s.MFA.RegenerateRecoveryCodes(r.Context(), p.UserID, s.Orgs.SecondFactorEntry(p, true, "recovery_codes", "", ""))
	if err != nil {
		s.renderAccount(w, r, err, nil, "")
		return
	}
	s.renderRecoveryCodes(w, r, codes, "/account")
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

func (s *Server) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request) {
	p := state(r).p
	opts, id, err := s.MFA.BeginPasskeyRegistration(r.Context(), p.UserID, p.Email, p.DisplayName)
	if err != nil {
		s.jsonError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"challengeId": id, "options": opts})
}

func (s *Server) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request) {
	p := state(r).p
	c, err := readCeremony(w, r)
	if err != nil {
		s.jsonError(w, r, err)
		return
	}
	if err := s.MFA.FinishPasskeyRegistration(r.Context(), p.UserID, c.ChallengeID, c.Name, c.Credential,
		s.Orgs.SecondFactorEntry(p, true, "passkey", c.Name, "")); err != nil {
		s.jsonError(w, r, err)
		return
	}
	key := "flash.passkey_added"
	if n, err := s.MFA.RemainingRecoveryCodes(r.Context(), p.UserID); err == nil && n == 0 {
		key = "flash.passkey_added_codes"
	}
	setFlashCookie(w, s.Secure, key)
	writeJSON(w, http.StatusOK, map[string]any{"redirect": "/account"})
}

func (s *Server) passkeyDelete(w http.ResponseWriter, r *http.Request) {
	p := state(r).p
	id := r.PathValue("id")
	if err := s.keepsSecondFactor(r, false, id); err != nil {
		s.renderAccount(w, r, err, nil, "")
		return
	}
	if err := s.MFA.DeletePasskey(r.Context(), p.UserID, id, s.Orgs.SecondFactorEntry(p, false, "passkey", "", id)); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.flash(w, r, "/account", "flash.passkey_deleted")
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

func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := state(r).p
	now := s.Now()
	fail := func(err error) { s.renderAccount(w, r, err, r.PostForm, "") }
	write := false
	switch r.PostForm.Get("scope") {
	case "", "read":
	case "write":
		if !p.CanWrite() {
			fail(apperr.Field("scope", "account.token.write_denied"))
			return
		}
		write = true
	default:
		fail(apperr.Field("scope", "account.token.scope_invalid"))
		return
	}
	expires, err := parseTokenExpiry(r.PostForm.Get("expires_at"), now)
	if err != nil {
		fail(err)
		return
	}
	raw, _, err := s.Orgs.CreateToken(ctx, p, "", "", auth.TokenInput{Name: r.PostForm.Get("name"), Write: write, Expires: expires})
	if err != nil {
		fail(err)
		return
	}
	s.renderAccount(w, r, nil, nil, raw)
}

func (s *Server) tokenDelete(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.saved(w, r, "/account", "flash.token_revoked", s.Orgs.RevokeToken(r.Context(), m.P, r.PathValue("id")))
}
