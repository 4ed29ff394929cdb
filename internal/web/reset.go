package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// Password reset request limits: per source address and per e-mail
// address, each per hour.
const (
	resetPerIP    = 20
	resetPerEmail = 3
)

func (s *Server) resetRequestForm(w http.ResponseWriter, r *http.Request) {
	pg := s.newPage(w, r, "reset.title")
	pg.Data = struct{ Sent bool }{}
	s.render(w, r, http.StatusOK, "reset_request", pg)
}

// resetRequest answers every well-formed request with the same page, so
// that nobody can learn from it whether an address is registered.
func (s *Server) resetRequest(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := s.Now()
	email, err := auth.NormalizeEmail(r.PostForm.Get("email"))
	if err != nil {
		pg := s.newPage(w, r, "reset.title")
		pg.Form = withForm(nil, r.PostForm)
		pg.Error = apperr.From(err)
		pg.Data = struct{ Sent bool }{}
		s.render(w, r, formStatus(err), "reset_request", pg)
		return
	}
	ok, err := auth.Allow(ctx, s.DB, "reset-ip:"+clientIP(r), resetPerIP, time.Hour, now)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if !ok {
		s.renderError(w, r, apperr.New(apperr.RateLimited, "reset.rate_limited"))
		return
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		ok, err := auth.Allow(ctx, tx, "reset-email:"+email, resetPerEmail, time.Hour, now)
		if err != nil || !ok {
			return err
		}
		u, err := auth.GetUserByEmail(ctx, tx, email)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if u.Disabled {
			return nil
		}
		raw, err := auth.CreateLink(ctx, tx, auth.EmailLink{Kind: auth.LinkReset, Email: u.Email, UserID: u.ID}, auth.ResetTTL, now)
		if err != nil {
			return err
		}
		if err := s.sendMail(ctx, tx, "", u.Email, u.Lang, "reset.mail.subject", "reset.mail.body",
			s.BaseURL+"/reset/"+raw, int(auth.ResetTTL/time.Minute)); err != nil {
			return err
		}
		return s.auditEvent(r, tx, audit.Entry{ActorID: u.ID, Actor: u.Email, Action: "auth.password.reset.request", ObjectType: "user", ObjectID: u.ID})
	})
	if err != nil {
		s.Logger.Error("password reset request", "err", err)
	}
	pg := s.newPage(w, r, "reset.title")
	pg.Data = struct{ Sent bool }{true}
	s.render(w, r, http.StatusOK, "reset_request", pg)
}

type resetView struct {
	Token, Email    string
	MinLen, LongLen int
}

func (s *Server) resetForm(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("token")
	l, err := auth.PeekLink(r.Context(), s.DB, auth.LinkReset, raw, s.Now())
	if err != nil {
		s.linkError(w, r, auth.LinkReset, err)
		return
	}
	s.renderReset(w, r, resetView{Token: raw, Email: l.Email, MinLen: auth.MinPasswordLength, LongLen: auth.LongPasswordLength}, nil)
}

func (s *Server) renderReset(w http.ResponseWriter, r *http.Request, v resetView, prevErr error) {
	pg := s.newPage(w, r, "reset.new_title")
	pg.Data = v
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
	}
	s.render(w, r, status, "reset", pg)
}

// resetApply sets the new password, uses up the link and ends every
// session of the person, all in one transaction: a password the policy
// refuses leaves the link usable for another try.
func (s *Server) resetApply(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	raw := r.PathValue("token")
	now := s.Now()
	l, err := auth.PeekLink(ctx, s.DB, auth.LinkReset, raw, now)
	if err != nil {
		s.linkError(w, r, auth.LinkReset, err)
		return
	}
	v := resetView{Token: raw, Email: l.Email, MinLen: auth.MinPasswordLength, LongLen: auth.LongPasswordLength}
	pw := r.PostForm.Get("password")
	if pw != r.PostForm.Get("password_confirm") {
		s.renderReset(w, r, v, apperr.Field("password_confirm", "account.password.mismatch"))
		return
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		l, err := auth.UseLink(ctx, tx, auth.LinkReset, raw, now)
		if err != nil {
			return err
		}
		u, err := auth.GetUser(ctx, tx, l.UserID)
		if err != nil {
			return err
		}
		if !strings.EqualFold(u.Email, l.Email) {
			return apperr.New(apperr.Invalid, "auth.link.invalid")
		}
		if err := auth.SetPassword(ctx, tx, u, pw, now); err != nil {
			return err
		}
		n, err := auth.DeleteUserSessions(ctx, tx, u.ID, "")
		if err != nil {
			return err
		}
		if err := auth.ClearFailures(ctx, tx, "acct:"+u.Email); err != nil {
			return err
		}
		return s.auditEvent(r, tx, audit.Entry{ActorID: u.ID, Actor: u.Email, Action: audit.ActionPasswordReset, ObjectType: "user", ObjectID: u.ID,
			Details: map[string]any{"sessions_ended": n}})
	})
	if err != nil {
		if ae := apperr.From(err); strings.HasPrefix(ae.Key, "auth.link.") {
			s.linkError(w, r, auth.LinkReset, err)
			return
		}
		s.renderReset(w, r, v, err)
		return
	}
	s.clearSessionCookie(w)
	s.flash(w, r, "/signin", "flash.password_reset")
}
