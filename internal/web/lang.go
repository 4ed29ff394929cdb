package web

import (
	"net/http"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/i18n"
)

// setLang switches the display language: stored on the person when signed
// in, in a cookie otherwise.
func (s *Server) setLang(w http.ResponseWriter, r *http.Request) {
	lang := r.PostForm.Get("lang")
	if !i18n.Valid(lang) {
		s.renderError(w, r, apperr.Field("lang", "auth.user.lang_invalid"))
		return
	}
	next := langReturn(safeNext(r.PostForm.Get("next")))
	if p := state(r).p; p != nil {
		err := s.Orgs.UpdateProfile(r.Context(), p, p.DisplayName, lang)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: "medisac_lang", Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true,
		Secure: s.Secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// langReturn maps the path of a page shown in answer to a form (a POST
// address) to the page a GET can show again.
func langReturn(next string) string {
	switch {
	case next == "/account/totp":
		return next
	case strings.HasPrefix(next, "/account/"):
		return "/account"
	case strings.HasPrefix(next, "/org/"):
		return "/org"
	case strings.HasPrefix(next, "/admin/jobs/"):
		return "/admin/jobs"
	case strings.HasPrefix(next, "/admin/orgs/") && strings.Count(next, "/") > 3:
		return next[:strings.LastIndexByte(next, '/')]
	case strings.HasPrefix(next, "/mfa/passkey/"):
		return "/mfa"
	case next == "/signout":
		return "/signin"
	}
	return next
}
