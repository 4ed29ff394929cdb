package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/medisac/medisac/internal/api"
	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/importgate"
	"github.com/medisac/medisac/internal/imports"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/mfa"
	"github.com/medisac/medisac/internal/notify"
	"github.com/medisac/medisac/internal/share"
	"github.com/medisac/medisac/internal/share/taxii"
	"github.com/medisac/medisac/internal/vuln"
	"github.com/medisac/medisac/internal/web"
)

// Node is one running medisac server with everything wired.
type Node struct {
	Cfg    *Config
	DB     *db.DB
	Audit  *audit.Log
	MFA    *mfa.Service
	Queue  *jobs.Queue
	Mailer *notify.Mailer
	// Share is the sharing hub's service.
	Share   *share.Hub
	Handler http.Handler
	// Touches holds the last-seen times of sessions and tokens until the
	// next flush (see ServeListener).
	Touches *auth.Touches
	// Assess is the checklists' service, shared by the web pages and the API.
	Assess *assess.Service
	// Inventory is the register capability (assets, imports, …).
	Inventory *inventory.Service
	// Imports runs the long imports as jobs of the node (API imports that
	// take long, command line imports handed over the local socket).
	Imports *imports.Service
	Logger  *slog.Logger
	now     func() time.Time
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// loadKeyFile returns the secret in path, creating 32 random bytes there
// (mode 0600) when missing. Every node of one installation must share it.
func loadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("%s holds fewer than 32 bytes", path)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return loadKeyFile(path)
		}
		return nil, err
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return nil, err
	}
	return b, nil
}

// webAuthnConfig derives the passkey relying party from the public address.
// An IP address cannot be a relying party, so 127.0.0.1 maps to localhost.
func webAuthnConfig(base string) mfa.WebAuthnConfig {
	u, _ := url.Parse(base)
	host := u.Hostname()
	origins := []string{base}
	if ip := net.ParseIP(host); ip != nil {
		host = "localhost"
		origins = append(origins, u.Scheme+"://"+net.JoinHostPort("localhost", u.Port()))
	}
	return mfa.WebAuthnConfig{RPID: host, RPDisplayName: "medisac", RPOrigins: origins}
}

// NewNode opens the database, applies migrations and wires every part of a
// node. The caller closes n.DB.
func NewNode(ctx context.Context, cfg *Config, logOut io.Writer) (*Node, error) {
	logger := newLogger(logOut, cfg.LogLevel)
	now := cfg.clock
	if now == nil {
		now = time.Now
	}
	d, err := openDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{Cfg: cfg, DB: d, Logger: logger, now: now, Touches: auth.NewTouches()}
	fail := func(err error) (*Node, error) { d.Close(); return nil, err }
	if n.Audit, err = openAudit(cfg, d, now); err != nil {
		return fail(err)
	}
	key, err := loadKeyFile(filepath.Join(cfg.DataDir, "mfa-secret.key"))
	if err != nil {
		return fail(fmt.Errorf("mfa key: %w", err))
	}
	if n.MFA, err = mfa.New(d, "medisac", webAuthnConfig(cfg.BaseURL), now, mfa.WithSecretKey(key)); err != nil {
		return fail(err)
	}
	n.Queue = jobs.New(d, now, logger)
	var smtp *notify.SMTPConfig
	if cfg.SMTPHost != "" {
		smtp = &notify.SMTPConfig{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Security: cfg.SMTPSecurity,
			Username: cfg.SMTPUser, Password: cfg.SMTPPassword, From: cfg.SMTPFrom}
	}
	if n.Mailer, err = notify.NewMailer(d, n.Queue, smtp, now); err != nil {
		return fail(err)
	}
	// A broken edition file stops the program at start, naming file and line.
	reg, err := assess.NewRegistry()
	if err != nil {
		return fail(fmt.Errorf("checklist edition files: %w", err))
	}
	n.Assess = assess.NewService(d, n.Audit, reg, mustCatalog(), n.Mailer, cfg.BaseURL, now)
	n.Assess.Wake = n.Queue.Notify
	sessions := auth.SessionPolicy{Idle: cfg.SessionIdle, Absolute: cfg.SessionAbsolute}
	docs, err := inventory.NewDocuments(filepath.Join(cfg.DataDir, "documents"), 0)
	if err != nil {
		return fail(err)
	}
	n.Inventory = inventory.NewService(d, n.Audit, mustCatalog(), now)
	n.Inventory.Documents = docs
	// An import that a stopped process left half-applied is finished now;
	// one it left half-staged is discarded.
	if k, err := n.Inventory.Recover(ctx); err != nil {
		logger.Warn("inventory import recovery", "error", err.Error())
	} else if k > 0 {
		logger.Info("inventory imports recovered", "imports", k)
	}
	orgs := &auth.Orgs{DB: d, Audit: n.Audit, Queue: n.Queue, Now: now,
		Notices: &auth.Notices{Mail: n.Mailer, Catalog: mustCatalog(), BaseURL: cfg.BaseURL}}
	// One vulnerability watch for the node: imports spool to the data
	// folder, one matching runs at a time, one alias table is in memory.
	vw := newWatch(cfg, d, n.Audit, n.Queue)
	vw.Mailer, vw.Now, vw.Logger = n.Mailer, now, logger
	vw.DigestAt = cfg.vulnDigestAt()
	// The sharing hub's service, built once: the pages, the API and its
	// background work share it.
	n.Share = &share.Hub{DB: d, Queue: n.Queue, Mailer: n.Mailer, Catalog: mustCatalog(), BaseURL: cfg.BaseURL, Now: now,
		Audit: n.Audit, Affected: vuln.Checker{}}
	taxiiServer := taxii.New(d, now, logger)
	taxiiServer.Share = n.Share
	// One gate for the node's imports, for the pages and the API alike.
	gate := importgate.New()
	// The long imports run as jobs of the node, their files spooled to
	// the data folder. A job a stopped process left running is marked
	// interrupted (its staged rows were discarded above).
	n.Imports = imports.New(d, gate, filepath.Join(cfg.DataDir, "imports"), n.Inventory, n.Share, now, logger)
	if k, err := n.Imports.Recover(ctx); err != nil {
		logger.Warn("import jobs recovery", "error", err.Error())
	} else if k > 0 {
		logger.Info("import jobs interrupted by the last stop", "jobs", k)
	}
	apiHandler := api.New(api.Deps{DB: d, Catalog: mustCatalog(), Audit: n.Audit, Mailer: n.Mailer, Queue: n.Queue, Now: now, Logger: logger, BaseURL: cfg.BaseURL, Documents: docs,
		Proxies: cfg.proxies, Touches: n.Touches, Orgs: orgs, Vuln: vw, Assess: n.Assess, Share: n.Share, Inventory: n.Inventory, Imports: gate, ImportJobs: n.Imports, ImportWait: cfg.importWait})
	srv, err := web.New(web.Deps{
		DB: d, Catalog: mustCatalog(), Audit: n.Audit, MFA: n.MFA, Mailer: n.Mailer, Queue: n.Queue, Logger: logger, Share: n.Share,
		Now: now, BaseURL: cfg.BaseURL, Secure: cfg.SecureCookies(), Demo: cfg.Demo, Sessions: sessions,
		API: apiHandler, TAXII: taxiiServer, Documents: docs,
		Proxies: cfg.proxies, Devices: auth.NewDevices(key), Touches: n.Touches, MetricsToken: cfg.MetricsToken, Orgs: orgs, Vuln: vw, Assess: n.Assess, Inventory: n.Inventory, Imports: gate,
		Ready: func(r *http.Request) error {
			pctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
			defer cancel()
			if err := d.SQL().PingContext(pctx); err != nil {
				return fmt.Errorf("database unreachable: %v", err)
			}
			pending, err := d.Pending(r.Context())
			if err != nil {
				return err
			}
			if len(pending) > 0 {
				return fmt.Errorf("database schema is behind: %d migration(s) pending (run medisac migrate)", len(pending))
			}
			return nil
		},
		Metrics: func(w http.ResponseWriter, r *http.Request) {
			writeJobMetrics(w, r, n.Queue)
			writeTouchMetrics(w, n.Touches)
		},
	})
	if err != nil {
		return fail(err)
	}
	n.Handler = srv
	n.Share.Register()
	vw.Register()
	n.schedule(sessions)
	return n, nil
}

// DefaultMemoryLimit is the server's soft memory limit when GOMEMLIMIT is
// not set: the garbage collector works harder as the heap nears it. A
// 100,000-row register import keeps about 320 MiB live, but with the
// collector's default pacing (GOGC=100) the heap grew to twice that
// before a collection, and with the reads and a STIX import beside it
// the server passed 1 GiB (docs/benchmarks.md).
const DefaultMemoryLimit = 768 << 20

// setMemoryLimit sets DefaultMemoryLimit unless GOMEMLIMIT sets another.
func setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(DefaultMemoryLimit)
	}
}

func mustCatalog() *i18n.Catalog {
	c, err := catalog()
	if err != nil {
		panic(err)
	}
	return c
}

func writeJobMetrics(w http.ResponseWriter, r *http.Request, q *jobs.Queue) {
	counts, err := q.Counts(r.Context())
	if err != nil {
		return
	}
	fmt.Fprintln(w, "# HELP medisac_jobs Background jobs by state (whole installation).")
	fmt.Fprintln(w, "# TYPE medisac_jobs gauge")
	for _, st := range []jobs.State{jobs.Queued, jobs.Running, jobs.Done, jobs.Failed} {
		fmt.Fprintf(w, "medisac_jobs{state=%q} %d\n", string(st), counts[st])
	}
}

func writeTouchMetrics(w io.Writer, t *auth.Touches) {
	s, k := t.Pending()
	fmt.Fprintln(w, "# HELP medisac_last_seen_pending Session and token uses on this node not yet written to the database (written every flush interval and at stop).")
	fmt.Fprintln(w, "# TYPE medisac_last_seen_pending gauge")
	fmt.Fprintf(w, "medisac_last_seen_pending{kind=\"session\"} %d\n", s)
	fmt.Fprintf(w, "medisac_last_seen_pending{kind=\"token\"} %d\n", k)
}

// schedule registers the periodic upkeep; each runs on one node at a time.
func (n *Node) schedule(sessions auth.SessionPolicy) {
	n.Queue.Every("audit.checkpoint", 10*time.Minute, func(ctx context.Context) error {
		_, err := n.Audit.Checkpoint(ctx)
		return err
	})
	n.Queue.Every("auth.prune", 15*time.Minute, func(ctx context.Context) error {
		now := n.now()
		if _, err := auth.PruneSessions(ctx, n.DB, sessions, now); err != nil {
			return err
		}
		if _, err := n.MFA.PurgeExpired(ctx); err != nil {
			return err
		}
		return auth.PruneRateCounters(ctx, n.DB, now.Add(-24*time.Hour))
	})
	n.Queue.Every("assess.vendor_reminders", time.Hour, n.assessReminders)
	n.Queue.Every("jobs.prune", time.Hour, func(ctx context.Context) error {
		_, err := n.Queue.Prune(ctx, 30*24*time.Hour)
		return err
	})
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, demo bool) error {
	cfg, err := loadConfig(args, nil)
	if err != nil {
		return err
	}
	cfg.Demo = demo
	setMemoryLimit()
	n, err := NewNode(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer n.DB.Close()
	if demo {
		logins, err := SeedDemo(ctx, n)
		if err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		printDemo(stdout, cfg, logins)
	}
	return n.Serve(ctx)
}

// Serve listens on the configured address until ctx ends, then stops
// gracefully: new connections are refused, requests in flight and running
// jobs get up to 20 seconds to finish.
func (n *Node) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", n.Cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", n.Cfg.Addr, err)
	}
	return n.ServeListener(ctx, ln)
}

// ServeListener is Serve on an existing listener (tests use port 0).
func (n *Node) ServeListener(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: n.Handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 120 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	jobCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	jobsDone := make(chan struct{})
	go func() {
		defer close(jobsDone)
		if err := n.Queue.Run(jobCtx, n.Cfg.Workers); err != nil && !errors.Is(err, context.Canceled) {
			n.Logger.Error("job workers stopped", "err", err)
		}
	}()
	// Last-seen times of sessions and tokens: written every flush interval
	// (far below the idle time-out, see auth.SessionPolicy.IdleGrace) and
	// once more after the last request.
	sessions := auth.SessionPolicy{Idle: n.Cfg.SessionIdle, Absolute: n.Cfg.SessionAbsolute}
	flushCtx, stopFlush := context.WithCancel(context.WithoutCancel(ctx))
	flushDone := make(chan struct{})
	go func() {
		defer close(flushDone)
		n.Touches.Run(flushCtx, n.DB, sessions.FlushInterval(), func(err error) { n.Logger.Warn("last-seen flush", "err", err) })
	}()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	// The local socket, for command line imports beside this node.
	var ls *http.Server
	if lln, err := n.listenLocal(); err != nil {
		n.Logger.Warn("local socket", "err", err.Error())
	} else if lln != nil {
		ls = &http.Server{Handler: n.localHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ls.Serve(lln) }()
	}
	n.Logger.Info("listening", "addr", ln.Addr().String(), "database", n.DB.Dialect(), "base_url", n.Cfg.BaseURL)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	if ls != nil {
		_ = ls.Shutdown(sctx)
	}
	// Imports still running end as interrupted.
	n.Imports.Close(sctx)
	stopFlush()
	<-flushDone
	if err := n.Touches.Flush(sctx, n.DB); err != nil {
		n.Logger.Error("last-seen flush at stop", "err", err)
	}
	stopJobs()
	select {
	case <-jobsDone:
	case <-sctx.Done():
	}
	n.Logger.Info("stopped")
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

func printDemo(w io.Writer, cfg *Config, logins []DemoLogin) {
	fmt.Fprintln(w, "medisac デモ / demo")
	fmt.Fprintf(w, "  URL: %s  (パスキーを試すときは / for passkeys use http://localhost:%s)\n", cfg.BaseURL, portOf(cfg.Addr))
	fmt.Fprintf(w, "  データ / data: %s\n", cfg.DatabaseURL)
	fmt.Fprintln(w, "  ログイン / logins:")
	for _, l := range logins {
		fmt.Fprintf(w, "    %-28s %-40s %s\n", l.Org, l.Email+" ("+l.Role+")", l.Password)
	}
	fmt.Fprintln(w, "  管理者は初回ログイン時に認証アプリ（TOTP）の登録が必要です。/ Admins set up an authenticator app (TOTP) at first sign-in.")
	fmt.Fprintln(w, "  送信メールは画面の「送信メール」に表示されます。/ Mail appears on the Outbox page.")
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
