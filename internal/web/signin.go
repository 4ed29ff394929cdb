package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
)

func (s *Server) signinForm(w http.ResponseWriter, r *http.Request) error {
	if state(r).p != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	p := s.newPage(w, r, "signin.title")
	p.Form = r.URL.Query()
	s.render(w, r, http.StatusOK, "signin", p)
	return nil
}

func (s *Server) signin(w http.ResponseWriter, r *http.Request) error {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	now := s.Now()
	device := s.deviceID(r, email, now)
	to, userID, err := s.signinAs(w, r, email, device, now)
	if err != nil {
		s.signinFailed(w, r, email, userID, device != "", err)
		return nil
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// signinAs checks the password sent for email, opens the session and
// returns where to go next: the second factor, its enrolment or the page
// asked for. userID is the account's id once the password has been checked.
func (s *Server) signinAs(w http.ResponseWriter, r *http.Request, email, device string, now time.Time) (to, userID string, err error) {
	ctx := r.Context()
	next := safeNext(r.PostForm.Get("next"))
	u, err := auth.SignIn(ctx, s.DB, auth.Attempt{Email: email, Password: r.PostForm.Get("password"), IP: clientIP(r), Device: device}, now)
	if u != nil {
		userID = u.ID
	}
	if err != nil {
		return "", userID, err
	}
	s.setDeviceCookie(w, email, now)
	ms, err := auth.MembershipsOf(ctx, s.DB, u.ID)
	if err != nil {
		return "", userID, err
	}
	if len(ms) == 0 {
		return "", userID, apperr.New(apperr.Forbidden, "signin.no_org")
	}
	m := ms[0]
	for _, x := range ms {
		if x.OrgID == r.PostForm.Get("org") {
			m = x
		}
	}
	has, err := s.MFA.HasSecondFactor(ctx, u.ID)
	if err != nil {
		return "", userID, err
	}
	raw, _, err := s.Orgs.OpenSession(ctx, visitor(r), u, m.OrgID, !has && !s.mfaNeeded(ctx, m), s.Sessions)
	if err != nil {
		return "", userID, err
	}
	s.setSessionCookie(w, raw)
	if has {
		return "/mfa?next=" + urlQueryEscape(next), userID, nil
	}
	if s.mfaNeeded(ctx, m) {
		return "/mfa/setup?next=" + urlQueryEscape(next), userID, nil
	}
	return next, userID, nil
}

// signinFailed records a failed sign-in and shows the form again with
// what was typed, less the password.
func (s *Server) signinFailed(w http.ResponseWriter, r *http.Request, email, userID string, knownDevice bool, err error) {
	if aerr := s.Orgs.SignInFailed(r.Context(), visitor(r), email, userID, err, knownDevice); aerr != nil {
		s.Logger.Error("audit", "err", aerr)
	}
	p := s.newPage(w, r, "signin.title")
	p.Form = r.PostForm
	p.Form.Del("password")
	p.Error = apperr.From(err)
	status := apperr.Status(p.Error.Code)
	if p.Error.Code == apperr.Internal {
		s.Logger.Error("signin", "err", err)
	}
	s.render(w, r, status, "signin", p)
}

// deviceID returns the id of the request's valid device cookie for email,
// or "" (see auth.Devices).
func (s *Server) deviceID(r *http.Request, email string, now time.Time) string {
	if s.Devices == nil {
		return ""
	}
	c, err := r.Cookie(s.Devices.CookieName(email))
	if err != nil {
		return ""
	}
	id, _ := s.Devices.Check(email, c.Value, now)
	return id
}

// setDeviceCookie gives the browser a new device cookie for the account
// whose password it just proved. It is only ever sent to /signin.
func (s *Server) setDeviceCookie(w http.ResponseWriter, email string, now time.Time) {
	if s.Devices == nil {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.Devices.CookieName(email), Value: s.Devices.Issue(email, now), Path: "/signin",
		MaxAge: int(auth.DeviceTTL / time.Second), HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteStrictMode})
}

// mfaNeeded applies the organisation's MFA policy to a membership.
func (s *Server) mfaNeeded(ctx context.Context, m auth.Membership) bool {
	o, err := auth.GetOrg(ctx, s.DB, &auth.Principal{OrgID: m.OrgID}, m.OrgID)
	if err != nil {
		return true
	}
	return auth.NeedsMFA(m.Role, o.MFAPolicy)
}

func (s *Server) signout(w http.ResponseWriter, r *http.Request) error {
	st := state(r)
	if st.sess != nil {
		if err := s.Orgs.SignOut(r.Context(), visitor(r), st.sess.IDHash, st.sess.UserID, st.sess.OrgID); err != nil {
			return err
		}
	}
	s.clearSessionCookie(w)
	s.flash(w, r, "/signin", "flash.signed_out")
	return nil
}

func (s *Server) signoutEverywhere(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := s.Orgs.SignOutEverywhere(r.Context(), m.P); err != nil {
		return err
	}
	s.clearSessionCookie(w)
	s.flash(w, r, "/signin", "flash.signed_out_everywhere")
	return nil
}

// partial returns the session and principal of a visitor who passed the
// password but not yet the second factor.
func (s *Server) partial(w http.ResponseWriter, r *http.Request) (*auth.Session, *auth.Principal, bool) {
	st := state(r)
	if st.sess == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil, nil, false
	}
	if st.p != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil, nil, false
	}
	p, err := auth.PrincipalForSession(r.Context(), s.DB, st.sess)
	if err != nil {
		s.clearSessionCookie(w)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil, nil, false
	}
	return st.sess, p, true
}

func (s *Server) mfaForm(w http.ResponseWriter, r *http.Request, _ *auth.Session, p *auth.Principal) error {
	has, err := s.MFA.HasSecondFactor(r.Context(), p.UserID)
	if err != nil {
		return err
	}
	if !has {
		http.Redirect(w, r, "/mfa/setup", http.StatusSeeOther)
		return nil
	}
	pg := s.newPage(w, r, "mfa.title")
	pg.Form = r.URL.Query()
	pg.Data = s.mfaMethods(r.Context(), p.UserID)
	s.render(w, r, http.StatusOK, "mfa", pg)
	return nil
}

type mfaMethods struct {
	TOTP     bool
	Passkeys int
}

func (s *Server) mfaMethods(ctx context.Context, userID string) mfaMethods {
	var m mfaMethods
	m.TOTP, _ = s.MFA.TOTPEnabled(ctx, userID)
	if pk, err := s.MFA.ListPasskeys(ctx, userID); err == nil {
		m.Passkeys = len(pk)
	}
	return m
}

// passMFA replaces the partial session with a full one (a new id, so the
// pre-MFA id is worth nothing) and records the sign-in's completion.
func (s *Server) passMFA(w http.ResponseWriter, r *http.Request, sess *auth.Session, p *auth.Principal, method string) error {
	p.IP, p.UserAgent, p.Via = clientIP(r), r.UserAgent(), audit.ViaWeb
	raw, err := s.Orgs.PassMFA(r.Context(), p, sess.IDHash, method, s.Sessions)
	if err != nil {
		return err
	}
	s.setSessionCookie(w, raw)
	return nil
}

func (s *Server) mfaVerify(w http.ResponseWriter, r *http.Request, sess *auth.Session, p *auth.Principal) error {
	ctx := r.Context()
	ipKey := "mfa:" + p.UserID
	if until, err := auth.LockedUntil(ctx, s.DB, ipKey, s.Now()); err == nil && !until.IsZero() {
		s.mfaFail(w, r, p, auth.LockedError(until, s.Now()))
		return nil
	}
	code := strings.TrimSpace(r.PostForm.Get("code"))
	method := "totp"
	var err error
	if r.PostForm.Get("method") == "recovery" {
		method = "recovery"
		err = s.MFA.UseRecoveryCode(ctx, p.UserID, code)
	} else {
		err = s.MFA.VerifyTOTP(ctx, p.UserID, code)
	}
	if err != nil {
		if until, lerr := auth.RecordFailure(ctx, s.DB, ipKey, auth.AccountThrottle, s.Now()); lerr == nil && !until.IsZero() {
			err = auth.LockedError(until, s.Now())
		}
		s.mfaFail(w, r, p, err)
		return nil
	}
	_ = auth.ClearFailures(ctx, s.DB, ipKey)
	if err := s.passMFA(w, r, sess, p, method); err != nil {
		return err
	}
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
	return nil
}

func (s *Server) mfaFail(w http.ResponseWriter, r *http.Request, p *auth.Principal, err error) {
	p.IP, p.UserAgent, p.Via = clientIP(r), r.UserAgent(), audit.ViaWeb
	if aerr := s.Orgs.MFAFailed(r.Context(), p, map[string]any{"reason": apperr.From(err).Key}); aerr != nil {
		s.Logger.Error("audit", "err", aerr)
	}
	pg := s.newPage(w, r, "mfa.title")
	pg.Form = r.PostForm
	pg.Form.Del("code")
	pg.Error = apperr.From(err)
	pg.Data = s.mfaMethods(r.Context(), p.UserID)
	s.render(w, r, apperr.Status(pg.Error.Code), "mfa", pg)
}

func (s *Server) mfaPasskeyBegin(w http.ResponseWriter, r *http.Request, _ *auth.Session, p *auth.Principal) error {
	opts, id, err := s.MFA.BeginPasskeyLogin(r.Context(), p.UserID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"challengeId": id, "options": opts})
	return nil
}

func (s *Server) mfaPasskeyFinish(w http.ResponseWriter, r *http.Request, sess *auth.Session, p *auth.Principal) error {
	c, err := readCeremony(w, r)
	if err != nil {
		return err
	}
	if err := s.MFA.FinishPasskeyLogin(r.Context(), p.UserID, c.ChallengeID, c.Credential); err != nil {
		p.IP, p.UserAgent, p.Via = clientIP(r), r.UserAgent(), audit.ViaWeb
		if aerr := s.Orgs.MFAFailed(r.Context(), p, map[string]any{"method": "passkey"}); aerr != nil {
			s.Logger.Error("audit", "err", aerr)
		}
		return err
	}
	if err := s.passMFA(w, r, sess, p, "passkey"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"redirect": safeNext(c.Next)})
	return nil
}

func (s *Server) partialJSON(w http.ResponseWriter, r *http.Request) (*auth.Session, *auth.Principal, bool) {
	st := state(r)
	if st.sess == nil {
		s.jsonError(w, r, apperr.New(apperr.Unauthenticated, "error.unauthenticated"))
		return nil, nil, false
	}
	p, err := auth.PrincipalForSession(r.Context(), s.DB, st.sess)
	if err != nil {
		s.jsonError(w, r, apperr.New(apperr.Unauthenticated, "error.unauthenticated"))
		return nil, nil, false
	}
	return st.sess, p, true
}

// mfaSetupForm is the enrolment a person must finish before their first
// full sign-in when their role or organisation requires a second factor.
func (s *Server) mfaSetupForm(w http.ResponseWriter, r *http.Request, _ *auth.Session, p *auth.Principal) error {
	return s.renderTOTPEnrol(w, r, p, "mfa_setup", nil)
}

func (s *Server) mfaSetupConfirm(w http.ResponseWriter, r *http.Request, sess *auth.Session, p *auth.Principal) error {
	p.IP, p.UserAgent, p.Via = clientIP(r), r.UserAgent(), audit.ViaWeb
	codes, err := s.MFA.ConfirmTOTP(r.Context(), p.UserID, r.PostForm.Get("challenge"), r.PostForm.Get("code"),
		s.Orgs.SecondFactorEntry(p, true, "totp", "", ""))
	if err != nil {
		return s.renderTOTPEnrol(w, r, p, "mfa_setup", err)
	}
	if err := s.passMFA(w, r, sess, p, "totp-enrol"); err != nil {
		return err
	}
	return s.renderRecoveryCodes(w, r, codes, safeNext(r.PostForm.Get("next")))
}

func (s *Server) renderRecoveryCodes(w http.ResponseWriter, r *http.Request, codes []string, next string) error {
	pg := s.newPage(w, r, "recovery.title")
	pg.Lang = s.langAfterSignin(r, pg.Lang)
	pg.Title = pg.T("recovery.title")
	pg.Data = struct {
		Codes []string
		Next  string
	}{codes, next}
	s.render(w, r, http.StatusOK, "recovery", pg)
	return nil
}

func (s *Server) langAfterSignin(r *http.Request, lang string) string {
	if p := state(r).p; p != nil && i18n.Valid(p.Lang) {
		return p.Lang
	}
	return lang
}

type totpEnrolView struct {
	ChallengeID string
	Secret      string
	QR          string
	Next        string
}

func (s *Server) renderTOTPEnrol(w http.ResponseWriter, r *http.Request, p *auth.Principal, tmpl string, prevErr error) error {
	e, err := s.MFA.BeginTOTP(r.Context(), p.UserID, p.Email)
	if err != nil {
		return err
	}
	pg := s.newPage(w, r, "totp.title")
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostForm.Get("next")
	}
	pg.Data = totpEnrolView{ChallengeID: e.ChallengeID, Secret: e.Secret, QR: dataURI("image/png", e.QRPNG), Next: safeNext(next)}
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = apperr.Status(pg.Error.Code)
	}
	s.render(w, r, status, tmpl, pg)
	return nil
}

func isNotFound(err error) bool {
	return errors.Is(err, db.ErrNotFound) || apperr.Is(err, apperr.NotFound)
}
