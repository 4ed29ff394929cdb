package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
)

// Cookie names. With a https base address the session cookie takes the
// __Host- prefix, which browsers only accept when Secure, host-only and
// Path=/.
const (
	sessionCookie    = "medisac_session"
	preCSRFCookie    = "medisac_csrf"
	flashCookie      = "medisac_flash"
	maxFormBody      = 1 << 20
	maxUploadBody    = 65 << 20
	contentSecPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

func (s *Server) sessionCookieName() string {
	if s.Secure {
		return "__Host-" + sessionCookie
	}
	return sessionCookie
}

type ctxKey int

const reqKey ctxKey = 1

// reqState is what middleware learns about a request.
type reqState struct {
	sess *auth.Session
	// p is set once the session is fully signed in (second factor passed
	// where required).
	p    *auth.Principal
	lang string
	// preCSRF is the double-submit token for forms shown before sign-in.
	preCSRF string
}

func state(r *http.Request) *reqState {
	if st, ok := r.Context().Value(reqKey).(*reqState); ok {
		return st
	}
	return &reqState{lang: i18n.Default}
}

// PrincipalFrom returns the signed-in principal of a request, or nil.
func PrincipalFrom(r *http.Request) *auth.Principal { return state(r).p }

func secureHeaders(secure bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logAndRecover logs every request once, counts it for /metrics and turns a
// panic into a plain 500 page (the stack goes to the log only).
func (s *Server) logAndRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.Error("panic", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if sw.status == 0 {
					s.renderError(sw, r, apperr.Errorf("panic: %v", v))
				}
			}
			d := s.Now().Sub(start)
			s.metrics.observe(r.Method, routeLabel(r), sw.status, d)
			if r.URL.Path != "/healthz" && r.URL.Path != "/metrics" {
				s.Logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "bytes", sw.bytes, "ms", d.Milliseconds(), "ip", clientIP(r))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

func routeLabel(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return "other"
}

// clientIP returns the client address of the request (auth.ClientAddr):
// the TCP peer, or X-Forwarded-For's answer when the peer is one of the
// trusted proxies (MEDISAC_TRUSTED_PROXIES).
func clientIP(r *http.Request) string { return auth.ClientAddr(r) }

// withNode puts the trusted proxies and the node's last-seen buffer into
// every request's context, so that the pages, the API, TAXII and the audit
// log agree on the address, and no authenticated read writes.
func (s *Server) withNode(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := auth.WithTouches(auth.WithProxies(r.Context(), s.Proxies), s.Touches)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// withSession resolves the session cookie, the principal and the language.
func (s *Server) withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{lang: i18n.Match(r.Header.Get("Accept-Language"))}
		if c, err := r.Cookie(s.sessionCookieName()); err == nil && c.Value != "" {
			sess, err := auth.LookupSession(r.Context(), s.DB, c.Value, s.Sessions, s.Now())
			switch {
			case err == nil:
				st.sess = sess
				p, err := auth.PrincipalForSession(r.Context(), s.DB, sess)
				if err == nil {
					p.IP, p.UserAgent, p.Via = clientIP(r), r.UserAgent(), audit.ViaWeb
					st.lang = p.Lang
					if sess.MFAPassed {
						st.p = p
					}
				} else if !errors.Is(err, db.ErrNotFound) {
					s.renderError(w, r.WithContext(context.WithValue(r.Context(), reqKey, st)), err)
					return
				}
			case errors.Is(err, db.ErrNotFound):
				s.clearSessionCookie(w)
			default:
				s.renderError(w, r.WithContext(context.WithValue(r.Context(), reqKey, st)), err)
				return
			}
		}
		if c, err := r.Cookie("medisac_lang"); err == nil && i18n.Valid(c.Value) && st.p == nil {
			st.lang = c.Value
		}
		if c, err := r.Cookie(preCSRFCookie); err == nil && len(c.Value) >= 32 {
			st.preCSRF = c.Value
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), reqKey, st)))
	})
}

func (s *Server) setSessionCookie(w http.ResponseWriter, raw string) {
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookieName(), Value: raw, Path: "/", HttpOnly: true, Secure: s.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(s.Sessions.Absolute / time.Second)})
}

func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookieName(), Value: "", Path: "/", HttpOnly: true, Secure: s.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// ensurePreCSRF gives a visitor without a session a double-submit token
// for the sign-in, reset and invitation forms.
func (s *Server) ensurePreCSRF(w http.ResponseWriter, r *http.Request) string {
	st := state(r)
	if st.preCSRF == "" {
		st.preCSRF = auth.RandomToken(32)
		http.SetCookie(w, &http.Cookie{Name: preCSRFCookie, Value: st.preCSRF, Path: "/", HttpOnly: true, Secure: s.Secure,
			SameSite: http.SameSiteStrictMode})
	}
	return st.preCSRF
}

// csrfToken is the token the page's forms must send back.
func csrfToken(r *http.Request) string {
	st := state(r)
	if st.sess != nil {
		return st.sess.CSRFToken
	}
	return st.preCSRF
}

// checkCSRF guards every state-changing request of the HTML surface: the
// Origin (when sent) must be this site, and the form's token must match the
// session's (or, before sign-in, the double-submit cookie).
func (s *Server) checkCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if o := r.Header.Get("Origin"); o != "" && o != "null" && !s.sameOrigin(o, r) {
			s.renderError(w, r, apperr.New(apperr.Forbidden, "error.csrf"))
			return
		}
		limit := int64(maxFormBody)
		if (strings.HasPrefix(r.URL.Path, "/inventory/") || strings.HasPrefix(r.URL.Path, "/assess/") || r.URL.Path == "/share/import" || r.URL.Path == "/vuln/import") && strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			limit = maxUploadBody
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		want := csrfToken(r)
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
				if err := r.ParseMultipartForm(maxFormBody); err != nil {
					s.renderError(w, r, formError(err))
					return
				}
			}
			if err := r.ParseForm(); err != nil {
				s.renderError(w, r, formError(err))
				return
			}
			got = r.PostForm.Get("csrf")
		}
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			s.renderError(w, r, apperr.New(apperr.Forbidden, "error.csrf"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether an Origin header names this site: scheme, host
// and port equal to those of the base address, or host and port equal to the
// request's Host with the scheme the request came in on. Nothing is compared
// by prefix, so "http://127" is not "http://127.0.0.1:8080".
func (s *Server) sameOrigin(origin string, r *http.Request) bool {
	o, ok := originOf(origin)
	if !ok {
		return false
	}
	if base, ok := originOf(s.BaseURL); ok && o == base {
		return true
	}
	scheme := "http"
	if r.TLS != nil || strings.HasPrefix(s.BaseURL, "https://") {
		scheme = "https"
	}
	req, ok := originOf(scheme + "://" + r.Host)
	return ok && o == req
}

// originOf reduces a URL to "scheme://host:port" (lower case, default port
// filled in). It refuses anything with a user, a path other than "/", a
// query or a fragment, so that it only accepts what an Origin header holds.
func originOf(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.User != nil || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch scheme {
	case "http":
		if port == "" {
			port = "80"
		}
	case "https":
		if port == "" {
			port = "443"
		}
	default:
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.HasSuffix(u.Host, ":") {
		return "", false
	}
	return scheme + "://" + net.JoinHostPort(host, port), true
}

func formError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apperr.New(apperr.TooLarge, "error.too_large", strconv.FormatInt(mbe.Limit>>20, 10)+" MiB")
	}
	return apperr.Wrap(err, apperr.Invalid, "error.invalid")
}

// requireUser sends visitors without a full sign-in to the sign-in page
// (or to the second-factor step when the password was already accepted).
func (s *Server) requireUser(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := state(r)
		if st.p == nil {
			if st.sess != nil {
				http.Redirect(w, r, "/mfa", http.StatusSeeOther)
				return
			}
			next := r.URL.RequestURI()
			if r.Method != http.MethodGet {
				next = "/"
			}
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		h(w, r)
	})
}

// requireAdmin is requireUser for organisation admins only.
func (s *Server) requireAdmin(h http.HandlerFunc) http.Handler {
	return s.requireOnly((*auth.Principal).IsAdmin, apperr.Forbidden, "error.forbidden", h)
}

// requireOperator is requireUser for ISAC operators only; to anyone else
// the pages are not there.
func (s *Server) requireOperator(h http.HandlerFunc) http.Handler {
	return s.requireOnly((*auth.Principal).IsOperator, apperr.NotFound, "error.not_found", h)
}

// requireOnly is requireUser for the people who pass: anyone else gets the
// error page with code and key.
func (s *Server) requireOnly(pass func(*auth.Principal) bool, code apperr.Code, key string, h http.HandlerFunc) http.Handler {
	return s.requireUser(func(w http.ResponseWriter, r *http.Request) {
		if !pass(state(r).p) {
			s.renderError(w, r, apperr.New(code, key))
			return
		}
		h(w, r)
	})
}

// safeNext returns a local path to go to after sign-in, refusing anything
// that would leave the site. Only a local absolute path passes: printable
// ASCII starting with one "/" (not "//" or "/\"), with no backslash anywhere
// (browsers drop tabs and newlines and read "\" as "/", so "/\t/evil.example"
// would be "//evil.example"); once percent-escapes are decoded it must still
// start that way and hold no control character, whitespace or backslash; and
// it must parse as a URL without scheme or host. Anything else is "/".
func safeNext(next string) string {
	if len(next) > 2000 || !localPath(next) {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if next[i] <= ' ' || next[i] >= 0x7f {
			return "/"
		}
	}
	dec, err := url.PathUnescape(next)
	if err != nil || !localPath(dec) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	return next
}

// localPath reports whether p starts with exactly one "/" and holds no
// backslash, control, format or space character, nor a slash look-alike.
func localPath(p string) bool {
	if len(p) == 0 || p[0] != '/' || !utf8.ValidString(p) {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for _, r := range p {
		if r == '\\' || unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) ||
			r == '\u2215' || r == '\u2044' || r == '\uff0f' || r == '\ufe68' || r == '\uff3c' || r == '\u29f5' {
			return false
		}
	}
	return true
}
