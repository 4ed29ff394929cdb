// Package api is medisac's JSON surface under /api/v1: token
// authentication, one error shape, the route table and the OpenAPI document
// that is tested against it.
//
// Every request is authenticated with "Authorization: Bearer <token>"
// (personal API tokens made by auth.CreateToken). Errors always have the
// shape {"error":{"code":"…","message":"…","field":"…"}}, with the message
// in the token owner's language (Accept-Language before authentication);
// internal details go to the log only. Another organisation's object
// answers exactly like a missing one.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/medisac/medisac/internal/importgate"
	"github.com/medisac/medisac/internal/imports"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/notify"
	"github.com/medisac/medisac/internal/share"
	"github.com/medisac/medisac/internal/vuln"
)

// Defaults for the limit on failed authentications per source address.
const (
	DefaultAuthFailLimit  = 30
	DefaultAuthFailWindow = time.Minute
)

// MaxBody is the largest request body the API reads (1 MiB).
const MaxBody = 1 << 20

// Deps are what the API needs from the rest of medisac.
type Deps struct {
	DB      *db.DB
	Catalog *i18n.Catalog
	Audit   *audit.Log
	Mailer  *notify.Mailer
	// Queue runs slow follow-up work (notification fan-out) after the
	// request; without it that work runs inside the request.
	Queue  *jobs.Queue
	Now    func() time.Time
	Logger *slog.Logger
	// BaseURL is the public address of the web UI, without a trailing
	// slash; invitation links point below it.
	BaseURL string
	// AuthFailLimit is how many requests without a valid token one source
	// address may make per AuthFailWindow before getting 429
	// (DefaultAuthFailLimit, DefaultAuthFailWindow when zero).
	AuthFailLimit  int
	AuthFailWindow time.Duration
	// Documents keeps inventory documents; nil turns their routes off.
	Documents *inventory.Documents
	// Proxies are the reverse proxies whose X-Forwarded-For is believed;
	// the zero value trusts none.
	Proxies auth.Proxies
	// Touches collects the last-used times of tokens for a periodic write;
	// nil records none.
	Touches *auth.Touches
	// Orgs is the service of organisations, people, invitations and
	// tokens; New builds one from the fields above when nil.
	Orgs *auth.Orgs
	// Vuln is the node's vulnerability watch (one per process: its spool
	// folder and matching lock); New builds one when nil.
	Vuln *vuln.Watch
	// Assess is the checklists' service (sheets, surveys, vendor requests).
	Assess *assess.Service
	// Share is the sharing hub's service; New builds one from the fields
	// above when it is nil.
	Share *share.Hub
	// Inventory is the register capability.
	Inventory *inventory.Service
	// Imports limits the node's concurrent imports (one per organisation,
	// two in all); the node hands the same gate to its pages and its API.
	// New builds one when nil.
	Imports *importgate.Gate
	// ImportJobs runs the long imports (register and share imports) as
	// jobs of the node; New builds one spooling to a temporary folder
	// when nil (a node hands its own, spooling to its data folder).
	ImportJobs *imports.Service
	// ImportWait is how long an import request waits for its import
	// before answering 202 with the job (DefaultImportWait when zero).
	ImportWait time.Duration
}

// API is the http.Handler of /api/. It is safe for concurrent use.
type API struct {
	Deps
	mux *http.ServeMux
}

// New builds the API and its route table.
func New(deps Deps) *API {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Catalog == nil {
		deps.Catalog = i18n.MustLoad()
	}
	if deps.Inventory == nil {
		deps.Inventory = inventory.NewService(deps.DB, deps.Audit, deps.Catalog, deps.Now)
		deps.Inventory.Documents = deps.Documents
	}
	if deps.AuthFailLimit <= 0 {
		deps.AuthFailLimit = DefaultAuthFailLimit
	}
	if deps.AuthFailWindow <= 0 {
		deps.AuthFailWindow = DefaultAuthFailWindow
	}
	deps.BaseURL = strings.TrimRight(deps.BaseURL, "/")
	if deps.Orgs == nil {
		deps.Orgs = &auth.Orgs{DB: deps.DB, Audit: deps.Audit, Queue: deps.Queue, Now: deps.Now}
		if deps.Mailer != nil {
			deps.Orgs.Notices = &auth.Notices{Mail: deps.Mailer, Catalog: deps.Catalog, BaseURL: deps.BaseURL}
		}
	}
	if deps.Imports == nil {
		deps.Imports = importgate.New()
	}
	if deps.Vuln == nil {
		deps.Vuln = &vuln.Watch{DB: deps.DB, Queue: deps.Queue, Mailer: deps.Mailer, Audit: deps.Audit, Catalog: deps.Catalog, BaseURL: deps.BaseURL, Now: deps.Now, Logger: deps.Logger}
	}
	if deps.Share == nil {
		deps.Share = &share.Hub{DB: deps.DB, Queue: deps.Queue, Mailer: deps.Mailer, Catalog: deps.Catalog, BaseURL: deps.BaseURL,
			Now: deps.Now, Audit: deps.Audit}
	}
	if deps.ImportJobs == nil {
		deps.ImportJobs = imports.New(deps.DB, deps.Imports, filepath.Join(os.TempDir(), "medisac-imports"), deps.Inventory, deps.Share, deps.Now, deps.Logger)
	}
	a := &API{Deps: deps, mux: http.NewServeMux()}
	for _, rt := range a.routes() {
		a.mux.Handle(rt.Method+" "+rt.Pattern, a.handle(rt))
	}
	a.mux.HandleFunc("/", a.fallback)
	return a
}

// ServeHTTP answers one API request. A panic below it is logged and
// answered with a plain internal error.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.Logger.Error("api panic", "method", r.Method, "path", r.URL.Path, "panic", v)
			a.writeError(w, r, &call{lang: i18n.Match(r.Header.Get("Accept-Language"))}, apperr.New(apperr.Internal, "error.internal"))
		}
	}()
	r = r.WithContext(auth.WithTouches(auth.WithProxies(r.Context(), a.Proxies), a.Touches))
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	a.mux.ServeHTTP(w, r)
}

// call is the state of one request: who acts, in which language, from where.
type call struct {
	p    *auth.Principal
	lang string
	ip   string
	ua   string
	rt   *route
}

// handlerFunc is an API handler: it writes the success response itself and
// returns errors for the caller to render.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

func (a *API) handle(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{lang: i18n.Match(r.Header.Get("Accept-Language")), ip: clientIP(r), ua: r.UserAgent(), rt: &rt}
		if rt.Auth {
			if err := a.authenticate(r, c); err != nil {
				a.writeError(w, r, c, err)
				return
			}
		}
		if rt.Write && !c.p.CanWrite() {
			key := "api.token.read_only"
			if c.p.Role == auth.RoleAuditor {
				key = "api.role.auditor_read_only"
			}
			a.writeError(w, r, c, apperr.New(apperr.Forbidden, key))
			return
		}
		if r.Body != nil {
			limit := int64(MaxBody)
			if n, ok := largeBodies[rt.Method+" "+rt.Pattern]; ok {
				limit = n
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		if err := rt.Handle(w, r, c); err != nil {
			a.writeError(w, r, c, err)
		}
	})
}

// authenticate resolves the bearer token into c.p. Requests without a
// valid token count against the source address's limit.
func (a *API) authenticate(r *http.Request, c *call) error {
	ctx := r.Context()
	now := a.Now()
	raw, ok := bearer(r.Header.Get("Authorization"))
	if ok {
		p, err := auth.PrincipalForToken(ctx, a.DB, raw, now)
		if err == nil {
			p.IP, p.UserAgent, p.Via = c.ip, c.ua, audit.ViaAPI
			c.p = p
			if i18n.Valid(p.Lang) {
				c.lang = p.Lang
			}
			return nil
		}
		if !errors.Is(err, db.ErrNotFound) {
			return err
		}
	}
	allowed, err := auth.Allow(ctx, a.DB, "api:ip:"+c.ip, a.AuthFailLimit, a.AuthFailWindow, now)
	if err != nil {
		return err
	}
	if !allowed {
		end := now.UTC().Truncate(a.AuthFailWindow).Add(a.AuthFailWindow)
		secs := int((end.Sub(now) + time.Second - 1) / time.Second)
		return &retryAfter{secs: max(secs, 1)}
	}
	if !ok {
		return apperr.New(apperr.Unauthenticated, "api.token.missing")
	}
	return apperr.New(apperr.Unauthenticated, "api.token.invalid")
}

// retryAfter is a rate-limit refusal; writeError adds the Retry-After
// header.
type retryAfter struct{ secs int }

func (e *retryAfter) Error() string { return "rate limited for " + strconv.Itoa(e.secs) + "s" }

func bearer(h string) (string, bool) {
	scheme, tok, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// clientIP returns the client address of the request (auth.ClientAddr):
// the TCP peer, or X-Forwarded-For's answer when the peer is a trusted
// proxy, so that a client cannot choose its own address for the rate limit
// and the audit log.
func clientIP(r *http.Request) string { return auth.ClientAddr(r) }

// fallback answers paths that match no route: 405 when another method
// would match, else 404, both in the API's error shape.
func (a *API) fallback(w http.ResponseWriter, r *http.Request) {
	c := &call{lang: i18n.Match(r.Header.Get("Accept-Language"))}
	var allow []string
	seen := map[string]bool{}
	for _, rt := range a.routes() {
		if seen[rt.Method] || rt.Method == r.Method {
			continue
		}
		seen[rt.Method] = true
		probe := r.Clone(r.Context())
		probe.Method = rt.Method
		if _, pat := a.mux.Handler(probe); pat != "/" && pat != "" {
			allow = append(allow, rt.Method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		a.writeError(w, r, c, &apperr.Error{Code: "method_not_allowed", Key: "error.method"})
		return
	}
	a.writeError(w, r, c, apperr.New(apperr.NotFound, "error.not_found"))
}

// errorBody is the one error shape of the API.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (a *API) writeError(w http.ResponseWriter, r *http.Request, c *call, err error) {
	var ra *retryAfter
	if errors.As(err, &ra) {
		w.Header().Set("Retry-After", strconv.Itoa(ra.secs))
		a.reply(w, http.StatusTooManyRequests, errorBody{errorDetail{
			Code: string(apperr.RateLimited), Message: a.Catalog.T(c.lang, "api.rate_limited", ra.secs)}})
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = apperr.New(apperr.TooLarge, "error.too_large", "1 MiB")
	}
	e := apperr.From(err)
	status := apperr.Status(e.Code)
	if e.Code == "method_not_allowed" {
		status = http.StatusMethodNotAllowed
	}
	if status >= 500 {
		a.Logger.Error("api error", "method", r.Method, "path", r.URL.Path, "code", e.Code, "err", err)
		if e.Code == apperr.Internal {
			e = apperr.New(apperr.Internal, "error.internal")
		}
	}
	if e.Code == apperr.Unauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="medisac"`)
	}
	if e.Code == apperr.Unavailable {
		w.Header().Set("Retry-After", "30")
	}
	if e.Code == apperr.Forbidden && c.p != nil {
		a.recordDenied(r, c)
	}
	a.reply(w, status, errorBody{errorDetail{Code: string(e.Code), Message: a.Catalog.T(c.lang, e.Key, e.Args...), Field: e.Field}})
}

// recordDenied writes an access.denied entry in the caller's organisation
// for a refused request. A failure to write it is logged, not shown.
func (a *API) recordDenied(r *http.Request, c *call) {
	details := map[string]any{"method": r.Method, "path": r.URL.Path}
	if c.rt != nil {
		details["route"] = c.rt.Method + " " + c.rt.Pattern
	}
	err := a.Orgs.Denied(context.WithoutCancel(r.Context()), c.p, "api", details)
	if err != nil {
		a.Logger.Error("api audit denied", "err", err)
	}
}

func (a *API) reply(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		a.Logger.Error("api encode", "err", err)
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// send ends a handler that reads or changes one thing: it replies v with
// status, or returns err when the call failed (v is then not sent).
func (a *API) send(w http.ResponseWriter, status int, v any, err error) error {
	if err != nil {
		return err
	}
	a.reply(w, status, v)
	return nil
}

// noContent ends a handler that changes something and shows nothing: it
// answers 204 No Content, or returns err when the change failed.
func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
