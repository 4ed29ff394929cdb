package web

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/i18n"
)

// FieldAttrs marks an input whose value the page's error concerns, so that
// screen readers announce the message with the field.
func (p *page) FieldAttrs(field string) template.HTMLAttr {
	if p.FieldErr(field) == "" {
		return ""
	}
	return template.HTMLAttr(`aria-invalid="true" aria-describedby="` + template.HTMLEscapeString(field) + `-err"`)
}

// DataURL lets an image given as a data: URI through the template's URL
// filter; anything other than an inline PNG or SVG is dropped.
func (p *page) DataURL(s string) template.URL {
	if strings.HasPrefix(s, "data:image/png;base64,") {
		return template.URL(s)
	}
	return ""
}

// NumPtr formats an optional number, "—" when it is not set.
func (p *page) NumPtr(n *int) string {
	if n == nil {
		return "—"
	}
	return i18n.Number(int64(*n))
}

// UsesPasskeys reports whether the page carries a passkey form.
func (p *page) UsesPasskeys() bool {
	return p.Path == "/mfa" || p.Path == "/account" || strings.HasPrefix(p.Path, "/account/")
}

// Memberships lists the organisations the signed-in person belongs to, for
// the organisation switcher.
func (p *page) Memberships() []auth.Membership {
	if p.P == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ms, err := auth.MembershipsOf(ctx, p.s.DB, p.P.UserID)
	if err != nil {
		p.s.Logger.Error("memberships", "err", err)
		return nil
	}
	return ms
}

// OrgKinds, Prefectures, Roles and Langs feed the select menus.
func (p *page) OrgKinds() []auth.OrgKind { return auth.OrgKinds }
func (p *page) Prefectures() []string    { return auth.Prefectures }
func (p *page) Roles() []auth.Role       { return auth.Roles }
func (p *page) Langs() []string          { return i18n.Languages }

// withForm returns base with the submitted values laid over it, so that a
// form shown again after an error keeps what the person typed.
func withForm(base url.Values, submitted url.Values, secret ...string) url.Values {
	out := url.Values{}
	for k, v := range base {
		out[k] = append([]string(nil), v...)
	}
	for k, v := range submitted {
		out[k] = append([]string(nil), v...)
	}
	for _, k := range secret {
		out.Del(k)
	}
	out.Del("csrf")
	return out
}

// formStatus is the status of a form shown again after err: 400 for bad
// input, 409 for a conflict, 422 for a well-formed request that cannot be
// done, and the error's own status otherwise.
func formStatus(err error) int {
	ae := apperr.From(err)
	return apperr.Status(ae.Code)
}

// parseOrgForm reads the organisation fields of a form.
func parseOrgForm(f url.Values) (auth.OrgInput, error) {
	in := auth.OrgInput{
		Kind:        auth.OrgKind(strings.TrimSpace(f.Get("kind"))),
		Name:        f.Get("name"),
		NameKana:    f.Get("name_kana"),
		Prefecture:  f.Get("prefecture"),
		MedicalCode: f.Get("medical_code"),
		MFAPolicy:   auth.MFAPolicy(f.Get("mfa_policy")),
	}
	if b := strings.TrimSpace(f.Get("beds")); b != "" {
		n, err := strconv.Atoi(toHalfWidth(b))
		if err != nil {
			return in, apperr.Field("beds", "auth.org.beds_invalid")
		}
		in.Beds = &n
	}
	in.MedicalCode = toHalfWidth(in.MedicalCode)
	return in, nil
}

// toHalfWidth turns full-width digits and hyphens, which Japanese input
// methods often produce, into ASCII.
func toHalfWidth(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '０' && r <= '９':
			return r - '０' + '0'
		case r == '－' || r == 'ー' || r == '‐':
			return '-'
		}
		return r
	}, s)
}

// orgFormValues fills a form with an organisation's attributes.
func orgFormValues(o *auth.Org) url.Values {
	v := url.Values{}
	v.Set("kind", string(o.Kind))
	v.Set("name", o.Name)
	v.Set("name_kana", o.NameKana)
	v.Set("prefecture", o.Prefecture)
	v.Set("medical_code", o.MedicalCode)
	if o.Beds != nil {
		v.Set("beds", strconv.Itoa(*o.Beds))
	}
	v.Set("mfa_policy", string(o.MFAPolicy))
	return v
}

// refuseReadOnly stops auditors (and anyone else who may not write) before
// any change.
func (s *Server) refuseReadOnly(w http.ResponseWriter, r *http.Request) bool {
	if !state(r).p.CanWrite() {
		s.renderError(w, r, apperr.New(apperr.Forbidden, "error_page.read_only"))
		return true
	}
	return false
}

// setFlashCookie sets a one-time message for the next page without
// redirecting (for the JSON answers of page scripts).
func setFlashCookie(w http.ResponseWriter, secure bool, key string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(key), Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, MaxAge: 60})
}
