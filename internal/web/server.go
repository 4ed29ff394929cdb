// Package web is medisac's HTML surface: routes, middleware, templates,
// static files and the handlers of the server-rendered UI. Handlers parse
// and validate input, call a capability package and render; they hold no
// SQL.
package web

import (
	"embed"
	"github.com/medisac/medisac/internal/importgate"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/mfa"
	"github.com/medisac/medisac/internal/notify"
	"github.com/medisac/medisac/internal/share"
	"github.com/medisac/medisac/internal/vuln"
)

//go:embed templates
var templatesFS embed.FS

//go:embed static
var staticFS embed.FS

// Deps are what the web surface needs from the rest of medisac.
type Deps struct {
	DB       *db.DB
	Catalog  *i18n.Catalog
	Audit    *audit.Log
	MFA      *mfa.Service
	Mailer   *notify.Mailer
	Queue    *jobs.Queue
	Logger   *slog.Logger
	Now      func() time.Time
	BaseURL  string
	Secure   bool
	Demo     bool
	Sessions auth.SessionPolicy
	// API is mounted under /api/ when not nil.
	API http.Handler
	// TAXII is the TAXII 2.1 server, mounted under /taxii2/ when not nil.
	TAXII http.Handler
	// Ready reports whether the node can serve (schema current, database
	// reachable); /readyz answers 503 with its error.
	Ready func(r *http.Request) error
	// Metrics writes extra Prometheus lines (job counts and the like).
	Metrics func(w http.ResponseWriter, r *http.Request)
	// Documents keeps uploaded inventory files (MDS/SDS documents and
	// import files between preview and apply); nil turns uploads off.
	Documents *inventory.Documents
	// Proxies are the reverse proxies whose X-Forwarded-For is believed
	// (MEDISAC_TRUSTED_PROXIES); the zero value trusts none.
	Proxies auth.Proxies
	// Devices signs the device cookies of the sign-in throttle; nil issues
	// none, so every browser counts as new.
	Devices *auth.Devices
	// Touches collects the last-seen times of sessions and API tokens for
	// a periodic write; nil records none.
	Touches *auth.Touches
	// MetricsToken lets a scraper read /metrics from any address with
	// "Authorization: Bearer <token>"; without it only loopback clients may.
	MetricsToken string
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
}

// Server is the HTML surface.
type Server struct {
	Deps
	tmpl    map[string]*template.Template
	static  http.Handler
	handler http.Handler
	metrics *metrics
}

// New parses the templates (failing at start, not at first use) and builds
// the route table.
func New(d Deps) (*Server, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Inventory == nil {
		d.Inventory = inventory.NewService(d.DB, d.Audit, d.Catalog, d.Now)
		d.Inventory.Documents = d.Documents
	}
	if d.Sessions.Idle == 0 {
		d.Sessions = auth.DefaultSessionPolicy
	}
	if d.Orgs == nil {
		d.Orgs = &auth.Orgs{DB: d.DB, Audit: d.Audit, Queue: d.Queue, Now: d.Now}
		if d.Mailer != nil {
			d.Orgs.Notices = &auth.Notices{Mail: d.Mailer, Catalog: d.Catalog, BaseURL: d.BaseURL}
		}
	}
	if d.Imports == nil {
		d.Imports = importgate.New()
	}
	if d.Vuln == nil {
		d.Vuln = &vuln.Watch{DB: d.DB, Queue: d.Queue, Mailer: d.Mailer, Audit: d.Audit, Catalog: d.Catalog, BaseURL: d.BaseURL, Now: d.Now, Logger: d.Logger}
	}
	if d.Share == nil {
		d.Share = &share.Hub{DB: d.DB, Queue: d.Queue, Mailer: d.Mailer, Catalog: d.Catalog, BaseURL: d.BaseURL, Now: d.Now, Audit: d.Audit}
	}
	s := &Server{Deps: d, metrics: newMetrics()}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	s.static = http.StripPrefix("/static/", staticHandler(http.FileServerFS(sub)))
	s.handler = s.routes()
	return s, nil
}

// ServeHTTP serves every request of the node: pages, static files, the API
// and the operational endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func staticHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}
