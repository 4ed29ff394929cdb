package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
)

// visitor is where r came from, for the use cases of people not (yet)
// signed in.
func visitor(r *http.Request) auth.Visitor {
	return auth.Visitor{IP: clientIP(r), UserAgent: r.UserAgent(), Via: audit.ViaWeb}
}

type inviteView struct {
	Token, Path, Email, OrgName string
	Role                        auth.Role
	ExpiresAt                   time.Time
	Existing                    bool
	SignedInAs                  string
	SameUser                    bool
	MinLen, LongLen             int
}

// linkError shows the page for an unknown, used or expired link: 410 for
// a link that once worked, 404 for one that never did.
func (s *Server) linkError(w http.ResponseWriter, r *http.Request, kind string, err error) error {
	ae := apperr.From(err)
	if ae.Code == apperr.Internal {
		return err
	}
	pg := s.newPage(w, r, "link_error.title")
	pg.Error = ae
	pg.Data = struct{ Kind string }{kind}
	status := http.StatusGone
	if ae.Key == "auth.link.invalid" {
		status = http.StatusNotFound
	}
	s.render(w, r, status, "link_error", pg)
	return nil
}

// inviteLink reads an invitation link and what the page needs to show it.
func (s *Server) inviteLink(ctx context.Context, r *http.Request, raw string) (*auth.EmailLink, inviteView, error) {
	l, err := auth.PeekLink(ctx, s.DB, auth.LinkInvite, raw, s.Now())
	if err != nil {
		return nil, inviteView{}, err
	}
	o, err := auth.GetOrg(ctx, s.DB, &auth.Principal{OrgID: l.OrgID}, l.OrgID)
	if err != nil {
		if isNotFound(err) {
			return nil, inviteView{}, apperr.New(apperr.NotFound, "auth.link.invalid")
		}
		return nil, inviteView{}, err
	}
	v := inviteView{Token: raw, Path: "/invite/" + raw, Email: l.Email, OrgName: o.Name, Role: l.Role, ExpiresAt: l.ExpiresAt,
		MinLen: auth.MinPasswordLength, LongLen: auth.LongPasswordLength}
	if _, err := auth.GetUserByEmail(ctx, s.DB, l.Email); err == nil {
		v.Existing = true
	} else if !isNotFound(err) {
		return nil, inviteView{}, err
	}
	if p := state(r).p; p != nil {
		v.SignedInAs = p.Email
		v.SameUser = p.Email == l.Email
	}
	return l, v, nil
}

func (s *Server) inviteForm(w http.ResponseWriter, r *http.Request) error {
	_, v, err := s.inviteLink(r.Context(), r, r.PathValue("token"))
	if err != nil {
		return s.linkError(w, r, auth.LinkInvite, err)
	}
	return s.renderInvite(w, r, v, nil)
}

// inviteFailed shows why accepting the invitation failed: a link used or
// expired on its own page, anything else on the invitation page.
func (s *Server) inviteFailed(w http.ResponseWriter, r *http.Request, v inviteView, err error) error {
	if ae := apperr.From(err); ae.Key == "auth.link.used" || ae.Key == "auth.link.expired" {
		return s.linkError(w, r, auth.LinkInvite, err)
	}
	return s.renderInvite(w, r, v, err)
}

func (s *Server) renderInvite(w http.ResponseWriter, r *http.Request, v inviteView, prevErr error) error {
	pg := s.newPage(w, r, "invite.title")
	pg.Data = v
	if prevErr != nil {
		pg.Form = withForm(nil, r.PostForm, "password", "password_confirm")
	}
	return s.renderForm(w, r, "invite", pg, prevErr)
}

func (s *Server) inviteAccept(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	raw := r.PathValue("token")
	_, v, err := s.inviteLink(ctx, r, raw)
	if err != nil {
		return s.linkError(w, r, auth.LinkInvite, err)
	}
	if v.Existing {
		return s.inviteJoin(w, r, raw, v)
	}
	if r.PostForm.Get("password") != r.PostForm.Get("password_confirm") && strings.TrimSpace(r.PostForm.Get("display_name")) != "" {
		return s.renderInvite(w, r, v, apperr.Field("password_confirm", "account.password.mismatch"))
	}
	sessRaw, mfaPending, err := s.Orgs.AcceptInvite(ctx, visitor(r), raw,
		auth.NewMember{DisplayName: r.PostForm.Get("display_name"), Lang: state(r).lang, Password: r.PostForm.Get("password")}, s.Sessions)
	if err != nil {
		return s.inviteFailed(w, r, v, err)
	}
	s.setSessionCookie(w, sessRaw)
	if mfaPending {
		http.Redirect(w, r, "/mfa/setup", http.StatusSeeOther)
		return nil
	}
	s.flash(w, r, "/", "flash.invite_welcome")
	return nil
}

// inviteJoin adds an invitation's organisation to the account of the
// signed-in person it was sent to.
func (s *Server) inviteJoin(w http.ResponseWriter, r *http.Request, raw string, v inviteView) error {
	ctx := r.Context()
	st := state(r)
	if st.p == nil {
		http.Redirect(w, r, "/signin?next="+url.QueryEscape("/invite/"+raw), http.StatusSeeOther)
		return nil
	}
	if !v.SameUser {
		return s.renderInvite(w, r, v, apperr.New(apperr.Forbidden, "invite.wrong_account"))
	}
	has, err := s.MFA.HasSecondFactor(ctx, st.p.UserID)
	if err != nil {
		return err
	}
	switched, err := s.Orgs.JoinInvite(ctx, st.p, st.sess.IDHash, raw, has)
	if err != nil {
		return s.inviteFailed(w, r, v, err)
	}
	if switched {
		s.flash(w, r, "/", "flash.invite_joined")
		return nil
	}
	s.flash(w, r, "/account/totp", "flash.invite_joined_mfa")
	return nil
}
