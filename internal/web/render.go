package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/i18n"
)

// page is the data every template gets. Templates call {{.T "key"}} for
// text, so every visible string comes from the catalogs.
type page struct {
	s       *Server
	Lang    string
	Title   string
	P       *auth.Principal
	CSRF    string
	Flash   string
	Error   *apperr.Error
	Path    string
	Data    any
	Form    url.Values
	NavMain []navItem
	// tmpl is the page's template set while it renders (see Table).
	tmpl *template.Template
}

type navItem struct {
	Href, Key string
	Current   bool
}

// T translates key with args in the page's language.
func (p *page) T(key string, args ...any) string { return p.s.Catalog.T(p.Lang, key, args...) }

// ErrText is the translated message of the page's error, or "".
func (p *page) ErrText() string {
	if p.Error == nil {
		return ""
	}
	return p.T(p.Error.Key, p.Error.Args...)
}

// FieldErr returns the translated error when it concerns field.
func (p *page) FieldErr(field string) string {
	if p.Error == nil || p.Error.Field != field {
		return ""
	}
	return p.ErrText()
}

// Val returns the submitted value of a form field (to refill a form).
func (p *page) Val(field string) string {
	if p.Form == nil {
		return ""
	}
	return p.Form.Get(field)
}

func (p *page) Date(t any) string     { return i18n.Date(p.Lang, toTime(t)) }
func (p *page) DateTime(t any) string { return i18n.DateTime(p.Lang, toTime(t)) }

// FY names the fiscal year of now (令和N年度).
func (p *page) FY() string { return i18n.FiscalYearLabel(p.Lang, i18n.FiscalYear(p.s.Now())) }

func toTime(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t
	case *time.Time:
		if t != nil {
			return *t
		}
	}
	return time.Time{}
}

// Num formats an integer with separators.
func (p *page) Num(n any) string {
	switch v := n.(type) {
	case int:
		return i18n.Number(int64(v))
	case int64:
		return i18n.Number(v)
	}
	return fmt.Sprint(n)
}

// OtherLang is the language the switch offers.
func (p *page) OtherLang() string {
	if p.Lang == "ja" {
		return "en"
	}
	return "ja"
}

func (s *Server) parseTemplates() error {
	s.tmpl = map[string]*template.Template{}
	layout, err := fs.ReadFile(templatesFS, "templates/layout.html")
	if err != nil {
		return err
	}
	entries, err := fs.Glob(templatesFS, "templates/*.html")
	if err != nil {
		return err
	}
	// Files named partial_*.html define pieces that every page may use.
	var partials [][]byte
	for _, name := range entries {
		if strings.HasPrefix(path.Base(name), "partial_") {
			b, err := fs.ReadFile(templatesFS, name)
			if err != nil {
				return err
			}
			partials = append(partials, b)
		}
	}
	for _, name := range entries {
		base := path.Base(name)
		if base == "layout.html" || strings.HasPrefix(base, "partial_") {
			continue
		}
		b, err := fs.ReadFile(templatesFS, name)
		if err != nil {
			return err
		}
		t, err := template.New("layout").Parse(string(layout))
		if err != nil {
			return fmt.Errorf("template layout.html: %w", err)
		}
		for i, pb := range partials {
			if _, err := t.New(fmt.Sprintf("partial%d", i)).Parse(string(pb)); err != nil {
				return fmt.Errorf("template partial: %w", err)
			}
		}
		if _, err := t.New(base).Parse(string(b)); err != nil {
			return fmt.Errorf("template %s: %w", base, err)
		}
		s.tmpl[strings.TrimSuffix(base, ".html")] = t
	}
	return nil
}

func (s *Server) newPage(w http.ResponseWriter, r *http.Request, titleKey string) *page {
	st := state(r)
	p := &page{s: s, Lang: st.lang, P: st.p, Path: r.URL.Path}
	if st.sess == nil {
		s.ensurePreCSRF(w, r)
	}
	p.CSRF = csrfToken(r)
	p.Title = p.T(titleKey)
	if c, err := r.Cookie(flashCookie); err == nil && c.Value != "" {
		if k, err := url.QueryUnescape(c.Value); err == nil && strings.HasPrefix(k, "flash.") {
			p.Flash = p.T(k)
		}
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.Secure})
	}
	if st.p != nil {
		p.NavMain = s.nav(st.p, r.URL.Path)
	}
	return p
}

// nav is the navigation shell. Later capabilities add their entries here.
func (s *Server) nav(p *auth.Principal, current string) []navItem {
	items := []navItem{{Href: "/", Key: "nav.home"}}
	if p.IsOperator() {
		items = append(items, navItem{Href: "/admin/orgs", Key: "nav.orgs"})
	}
	items = append(items, navItem{Href: "/org", Key: "nav.org"})
	items = append(items, navItem{Href: "/assess", Key: "nav.assess"})
	items = append(items, navItem{Href: "/share", Key: "share.web.nav"})
	items = append(items, navItem{Href: "/vuln", Key: "vuln.web.nav"})
	if !p.IsOperator() {
		items = append(items, navItem{Href: "/inventory", Key: "inventory.nav"})
	}
	if p.IsAdmin() || p.Role == auth.RoleAuditor {
		items = append(items, navItem{Href: "/audit", Key: "nav.audit"})
	}
	if p.IsOperator() && p.IsAdmin() {
		items = append(items, navItem{Href: "/admin/jobs", Key: "nav.jobs"})
	}
	if s.Demo {
		items = append(items, navItem{Href: "/outbox", Key: "nav.outbox"})
	}
	items = append(items, navItem{Href: "/account", Key: "nav.account"})
	for i := range items {
		items[i].Current = items[i].Href == current || (items[i].Href != "/" && strings.HasPrefix(current, items[i].Href+"/"))
	}
	return items
}

// render writes a template with status, buffering so that a template error
// never sends half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	t, ok := s.tmpl[name]
	if !ok {
		s.renderError(w, r, apperr.Errorf("no template %q", name))
		return
	}
	var buf bytes.Buffer
	p.tmpl = t
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		s.Logger.Error("template", "name", name, "err", err)
		if name != "error" {
			s.renderError(w, r, apperr.Errorf("template %s: %v", name, err))
		} else {
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// renderForm renders a page whose form may come back after err: the page
// shows err's message and answers with err's status (see formStatus), and
// with 200 when err is nil. The page is the answer: it returns nil, for a
// handler (see formPage) to end with.
func (s *Server) renderForm(w http.ResponseWriter, r *http.Request, name string, pg *page, err error) error {
	status := http.StatusOK
	if err != nil {
		pg.Error = apperr.From(err)
		status = formStatus(err)
	}
	s.render(w, r, status, name, pg)
	return nil
}

// renderError shows an error page in the reader's language. Internal
// details are logged, never shown.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	ae := apperr.From(err)
	switch ae.Code {
	case apperr.Internal:
		s.Logger.Error("internal error", "path", r.URL.Path, "err", err)
	case apperr.Unavailable:
		s.Logger.Warn("unavailable", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "30")
	}
	p := s.newPage(w, r, "error.title")
	p.Error = ae
	s.render(w, r, apperr.Status(ae.Code), "error", p)
}

// saved ends a change that needs no form shown again: err goes to the
// error page, success back to to with the one-time message flashKey.
func (s *Server) saved(w http.ResponseWriter, r *http.Request, to, flashKey string, err error) error {
	if err != nil {
		return err
	}
	s.flash(w, r, to, flashKey)
	return nil
}

// flash sets a one-time message (a catalog key under flash.) for the next
// page and redirects there.
func (s *Server) flash(w http.ResponseWriter, r *http.Request, to, key string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(key), Path: "/", HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode, MaxAge: 60})
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// view renders the page name, titled titleKey, showing data: a page with
// no form to come back. It returns nil, for a handler to end with.
func (s *Server) view(w http.ResponseWriter, r *http.Request, titleKey, name string, data any) error {
	pg := s.newPage(w, r, titleKey)
	pg.Data = data
	s.render(w, r, http.StatusOK, name, pg)
	return nil
}
