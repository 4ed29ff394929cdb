package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// resetPerEmail is how many reset mails one address gets per hour.
const resetPerEmail = auth.ResetPerEmail

func (s *Server) resetRequestForm(w http.ResponseWriter, r *http.Request) {
	pg := s.newPage(w, r, "reset.title")
	pg.Data = struct{ Sent bool }{}
	s.render(w, r, http.StatusOK, "reset_request", pg)
}

// resetRequest answers every well-formed request with the same page, so
// that nobody can learn from it whether an address is registered.
func (s *Server) resetRequest(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	err := s.Orgs.RequestReset(ctx, visitor(r), r.PostForm.Get("email"), func(ctx context.Context, q db.Querier, u *auth.User, raw string) error {
		return s.sendMail(ctx, q, "", u.Email, u.Lang, "reset.mail.subject", "reset.mail.body",
			s.BaseURL+"/reset/"+raw, int(auth.ResetTTL/time.Minute))
	})
	switch {
	case err == nil:
	case apperr.Is(err, apperr.Invalid):
		pg := s.newPage(w, r, "reset.title")
		pg.Form = withForm(nil, r.PostForm)
		pg.Error = apperr.From(err)
		pg.Data = struct{ Sent bool }{}
		s.render(w, r, formStatus(err), "reset_request", pg)
		return
	case apperr.Is(err, apperr.RateLimited):
		s.renderError(w, r, err)
		return
	default:
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
	s.renderForm(w, r, "reset", pg, prevErr)
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
	err = s.Orgs.ResetPassword(ctx, visitor(r), raw, r.PostForm.Get("password"), r.PostForm.Get("password_confirm"))
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
