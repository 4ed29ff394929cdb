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

// resetRequestPage shows the form asking for a reset mail, or with sent
// the page saying one is on its way.
func (s *Server) resetRequestPage(w http.ResponseWriter, r *http.Request, sent bool) error {
	return s.view(w, r, "reset.title", "reset_request", struct{ Sent bool }{sent})
}

func (s *Server) resetRequestForm(w http.ResponseWriter, r *http.Request) error {
	return s.resetRequestPage(w, r, false)
}

// resetRequest answers every well-formed request with the same page, so
// that nobody can learn from it whether an address is registered.
func (s *Server) resetRequest(w http.ResponseWriter, r *http.Request) error {
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
		pg.Data = struct{ Sent bool }{}
		return s.renderForm(w, r, "reset_request", pg, err)
	case apperr.Is(err, apperr.RateLimited):
		return err
	default:
		s.Logger.Error("password reset request", "err", err)
	}
	return s.resetRequestPage(w, r, true)
}

type resetView struct {
	Token, Email    string
	MinLen, LongLen int
}

// resetLink reads the reset link of the request's path.
func (s *Server) resetLink(r *http.Request) (resetView, error) {
	raw := r.PathValue("token")
	l, err := auth.PeekLink(r.Context(), s.DB, auth.LinkReset, raw, s.Now())
	if err != nil {
		return resetView{}, err
	}
	return resetView{Token: raw, Email: l.Email, MinLen: auth.MinPasswordLength, LongLen: auth.LongPasswordLength}, nil
}

func (s *Server) resetForm(w http.ResponseWriter, r *http.Request) error {
	v, err := s.resetLink(r)
	if err != nil {
		return s.linkError(w, r, auth.LinkReset, err)
	}
	return s.renderReset(w, r, v, nil)
}

func (s *Server) renderReset(w http.ResponseWriter, r *http.Request, v resetView, prevErr error) error {
	pg := s.newPage(w, r, "reset.new_title")
	pg.Data = v
	return s.renderForm(w, r, "reset", pg, prevErr)
}

// resetApply sets the new password, uses up the link and ends every
// session of the person, all in one transaction: a password the policy
// refuses leaves the link usable for another try.
func (s *Server) resetApply(w http.ResponseWriter, r *http.Request) error {
	v, err := s.resetLink(r)
	if err != nil {
		return s.linkError(w, r, auth.LinkReset, err)
	}
	err = s.Orgs.ResetPassword(r.Context(), visitor(r), v.Token, r.PostForm.Get("password"), r.PostForm.Get("password_confirm"))
	if err != nil {
		if ae := apperr.From(err); strings.HasPrefix(ae.Key, "auth.link.") {
			return s.linkError(w, r, auth.LinkReset, err)
		}
		return s.renderReset(w, r, v, err)
	}
	s.clearSessionCookie(w)
	s.flash(w, r, "/signin", "flash.password_reset")
	return nil
}
