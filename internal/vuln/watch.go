// Package vuln is the vulnerability service: it imports the feeds that
// vuln/feed parses into the database, keeps the asset identities and the
// in-memory index of vuln/match current, writes findings and their
// priority, raises alerts and digests, and syncs the feeds. The parsers
// live in vuln/feed, matching in vuln/match.
package vuln

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/notify"
	"github.com/medisac/medisac/internal/vuln/match"
	"github.com/medisac/medisac/internal/vuln/version"
)

// Watch is the vulnerability watch of one installation: it imports feeds
// into the database, keeps the product identities of every asset, matches
// them into findings per organisation and alerts the organisations. Set
// its fields before use; DB is required, the rest have defaults.
type Watch struct {
	DB      *db.DB
	Reg     *version.Registry
	Aliases *match.Aliases
	// Queue runs matching and alerts in the background; without one they
	// run inside the call that caused them.
	Queue  *jobs.Queue
	Mailer *notify.Mailer
	// Audit records findings closed by matching (remediation changes by
	// people are recorded by the web and API handlers).
	Audit   *audit.Log
	Catalog *i18n.Catalog
	BaseURL string
	Now     func() time.Time
	Logger  *slog.Logger
	// HTTP is the client of online synchronisation and webhooks.
	HTTP *http.Client
	// Sync says where the online feeds are; empty URLs are not synced.
	Sync SyncConfig
	// DigestAt is when the daily digest is written: the time after
	// midnight, Japan time. Zero means DefaultDigestAt; midnight itself is
	// 24*time.Hour.
	DigestAt time.Duration
	// BatchSize is the number of rows per INSERT statement (default 200).
	BatchSize int
	// ChunkRecords and ChunkTime bound one transaction of an import: it
	// ends after ChunkRecords records (default 5,000) or once it has run
	// ChunkTime (default 0.2 s), whichever comes first.
	ChunkRecords int
	ChunkTime    time.Duration
	// TempDir holds the temporary files of imports (default: the system's
	// temporary directory); it is created when missing.
	TempDir string

	once sync.Once
	idx  *assetIndex
	// kev keeps the order of the known-exploited vulnerabilities.
	kev kevCache
	// onTx, when set, is told about each committed import transaction.
	onTx func(txStat)
}

func (w *Watch) init() {
	w.once.Do(func() {
		if w.Reg == nil {
			w.Reg = version.Default()
		}
		if w.Aliases == nil {
			w.Aliases = loadAliases(w.DB, w.Reg)
		}
		if w.Now == nil {
			w.Now = time.Now
		}
		if w.Logger == nil {
			w.Logger = slog.Default()
		}
		if w.HTTP == nil {
			w.HTTP = &http.Client{Timeout: 2 * time.Minute}
		}
		if w.BatchSize <= 0 {
			w.BatchSize = 200
		}
		if w.ChunkRecords <= 0 {
			w.ChunkRecords = 5000
		}
		if w.ChunkTime <= 0 {
			w.ChunkTime = 200 * time.Millisecond
		}
		w.idx = &assetIndex{}
	})
}

func (w *Watch) now() time.Time { w.init(); return w.Now().UTC().Truncate(time.Microsecond) }
