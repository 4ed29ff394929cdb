package vuln

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/notify"
	"github.com/medisac/medisac/internal/vuln/version"
)

// Watch is the vulnerability watch of one installation: it imports feeds
// into the database, keeps the product identities of every asset, matches
// them into findings per organisation and alerts the organisations. Set
// its fields before use; DB is required, the rest have defaults.
type Watch struct {
	DB      *db.DB
	Reg     *version.Registry
	Aliases *Aliases
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

// ImportResult says what one imported file held.
type ImportResult struct {
	Name   string `json:"name"`
	Format Format `json:"format"`
	// Records counts the records of the file (CVE records, KEV entries,
	// EPSS rows, JVN entries, CSAF vulnerabilities, advisory
	// vulnerabilities).
	Records int `json:"records"`
	// Changed counts the vulnerabilities whose data or rules changed.
	Changed int `json:"changed"`
	// Withdrawn counts rejected or withdrawn records.
	Withdrawn int `json:"withdrawn"`
	// Since is the import time: rows changed by the import carry it.
	Since time.Time `json:"since"`
}

// ImportPaths imports files and every file under directories, in name
// order, each on its own (a bad file is rejected, the others are still
// imported). fn is called after each file with its result or error.
func (w *Watch) ImportPaths(ctx context.Context, paths []string, fn func(ImportResult, error)) error {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	sort.Strings(files)
	for _, f := range files {
		res, err := w.ImportFile(ctx, f)
		fn(res, err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// ImportFile imports one file (see Import).
func (w *Watch) ImportFile(ctx context.Context, path string) (ImportResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return ImportResult{Name: path}, err
	}
	defer f.Close()
	return w.Import(ctx, filepath.Base(path), f)
}

// Import reads one feed file of any supported format (detected from its
// content, looking through gzip and xz) and stores it in two passes. The
// first reads, validates and compiles every record and writes nothing, so
// a file that fails to parse or validate is rejected as a whole with an
// *apperr.Error saying why, and the data held before stays as it was. The
// second writes the records in short transactions (see ChunkRecords and
// ChunkTime), so other writers never wait long for the database. NVD
// files are kept between the passes in their prepared form in a temporary
// file under TempDir (removed afterwards), so an HTTP body or a
// decompressed stream is read once and memory stays small; the other
// formats are small enough to hold. Records updated upstream replace the
// stored ones in place, and every row the import changes carries
// ImportResult.Since. The matching of what changed is enqueued with the
// last transaction (or run at once without a queue).
//
// What holds when an import does not finish: a file that fails to parse
// or validate changes nothing. Once writing has begun the import is not
// all or nothing: its first transaction records it in vuln_imports as
// running, and every transaction refreshes its heartbeat (at most every
// importHeartbeat). When the writing fails while the process lives
// (cancelled, database error), the import is marked interrupted at once
// and, with a queue, the matching of what it committed is enqueued at
// once. When the process dies (killed, power lost), RecoverImports, run
// by the queue every importRecoverEvery and at node start and by the
// command line before it imports, marks an import whose heartbeat is
// older than importLease as interrupted and matches what it committed.
// The committed records are complete records (a record and its rules are
// written in one transaction); importing the same file again completes
// the import. Every attempt is recorded in vuln_imports.
func (w *Watch) Import(ctx context.Context, name string, r io.Reader) (ImportResult, error) {
	w.init()
	res := ImportResult{Name: name, Since: w.now()}
	run := &importRun{id: db.NewID()}
	ctx = context.WithValue(ctx, importRunKey{}, run)
	dr, err := Decompress(r)
	if err != nil {
		return res, w.logImport(ctx, res, err)
	}
	br := bufio.NewReaderSize(dr, 64<<10)
	head, _ := br.Peek(8 << 10)
	res.Format = DetectFormat(name, head)
	switch res.Format {
	case FormatNVD:
		err = w.importNVD(ctx, br, &res)
	case FormatKEV:
		err = w.importKEV(ctx, br, &res)
	case FormatEPSS:
		err = w.importEPSS(ctx, br, &res)
	case FormatJVNRSS, FormatJVNVULDEF:
		err = w.importJVN(ctx, br, &res)
	case FormatCSAF:
		err = w.importCSAF(ctx, br, &res)
	case FormatFortinet:
		err = w.importFortinet(ctx, br, &res)
	case FormatCSAFMeta, FormatMyJVNProds, FormatJVNChecksum:
		err = apperr.New(apperr.Invalid, "vuln.import.not_data", name, string(res.Format))
	default:
		err = apperr.New(apperr.Invalid, "vuln.feed.unknown_format", name, "")
	}
	if err != nil {
		if run.committed && !run.done {
			return res, w.interrupted(ctx, res, run, err)
		}
		return res, w.logImport(ctx, res, err)
	}
	if err := w.logImport(ctx, res, nil); err != nil {
		return res, err
	}
	if w.Queue == nil {
		if res.Format == FormatEPSS {
			return res, w.Reprioritise(ctx, "")
		}
		_, err = w.MatchChanged(ctx, res.Since)
		return res, err
	}
	w.Queue.Notify()
	return res, nil
}

// importRun is what Import knows of its own record in vuln_imports: its
// id, whether a transaction of it has committed and when its heartbeat
// was last written. writeChunks finds it in the context (importRunKey).
type importRun struct {
	id        string
	committed bool // a transaction of it committed
	done      bool // its last transaction committed
	beat      time.Time
}

type importRunKey struct{}

// The import states of vuln_imports.state; "" is a finished attempt (ok
// says how it ended).
const (
	ImportRunning     = "running"
	ImportInterrupted = "interrupted"
)

// importLease is how old the heartbeat of a running import may be before
// RecoverImports takes its process for dead; importHeartbeat is how often
// an import refreshes it; importRecoverEvery is how often the queue runs
// RecoverImports.
const (
	importLease        = 90 * time.Second
	importHeartbeat    = 10 * time.Second
	importRecoverEvery = 30 * time.Second
)

// interrupted records that the writing of an import failed after some of
// it was committed: the record is marked interrupted with the reason,
// and with a queue the matching of what was committed is enqueued at
// once (without one, RecoverImports does it). It returns an
// *apperr.Error with key vuln.import.interrupted wrapping err.
func (w *Watch) interrupted(ctx context.Context, res ImportResult, run *importRun, err error) error {
	ctx = context.WithoutCancel(ctx)
	if _, lerr := w.DB.Exec(ctx, `UPDATE vuln_imports SET state = ?, ok = ?, error_key = ?, detail = ?, matched = ? WHERE id = ?`,
		ImportInterrupted, false, "vuln.import.interrupted", clipText(err.Error(), 1000), false, run.id); lerr != nil {
		w.Logger.Error("vuln import: marking an interrupted import", "import", run.id, "err", lerr)
	} else if w.Queue != nil {
		if merr := w.matchInterrupted(ctx, run.id, res.Format, res.Since); merr != nil {
			w.Logger.Error("vuln import: matching an interrupted import", "import", run.id, "err", merr)
		} else {
			w.Queue.Notify()
		}
	}
	return apperr.Wrap(err, apperr.Unavailable, "vuln.import.interrupted", res.Name)
}

// matchInterrupted enqueues the matching of what an interrupted import
// committed and records, in the same transaction, that it is enqueued.
func (w *Watch) matchInterrupted(ctx context.Context, id string, format Format, since time.Time) error {
	return w.DB.InTx(ctx, func(tx *db.Tx) error {
		r, err := tx.Exec(ctx, `UPDATE vuln_imports SET matched = ? WHERE id = ? AND NOT matched`, true, id)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = w.enqueueMatch(ctx, tx, ImportResult{Format: format, Since: since}, 0)
		return err
	})
}

// RecoverImports marks the running imports whose heartbeat is older than
// importLease as interrupted (their process died) and has what every
// interrupted import committed matched: enqueued with a queue, at once
// without one. It returns how many imports it marked.
func (w *Watch) RecoverImports(ctx context.Context) (int, error) {
	w.init()
	now := w.now()
	r, err := w.DB.Exec(ctx, `UPDATE vuln_imports SET state = ?, ok = ?, error_key = ?, detail = ? WHERE state = ? AND heartbeat < ?`,
		ImportInterrupted, false, "vuln.import.interrupted", "the importing process stopped (no heartbeat since the lease)", ImportRunning, now.Add(-importLease))
	if err != nil {
		return 0, err
	}
	marked, err := r.RowsAffected()
	if err != nil {
		return 0, err
	}
	rows, err := w.DB.Query(ctx, `SELECT id, format, at FROM vuln_imports WHERE state = ? AND NOT matched ORDER BY at`, ImportInterrupted)
	if err != nil {
		return 0, err
	}
	type pending struct {
		id, format string
		at         time.Time
	}
	var todo []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.id, &p.format, &p.at); err != nil {
			rows.Close()
			return 0, err
		}
		todo = append(todo, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, p := range todo {
		if w.Queue != nil {
			if err := w.matchInterrupted(ctx, p.id, Format(p.format), p.at); err != nil {
				return int(marked), err
			}
			continue
		}
		if Format(p.format) == FormatEPSS {
			err = w.Reprioritise(ctx, "")
		} else {
			_, err = w.MatchChanged(ctx, p.at)
		}
		if err != nil {
			return int(marked), err
		}
		if _, err := w.DB.Exec(ctx, `UPDATE vuln_imports SET matched = ? WHERE id = ?`, true, p.id); err != nil {
			return int(marked), err
		}
	}
	if w.Queue != nil && len(todo) > 0 {
		w.Queue.Notify()
	}
	w.removeStaleSpools()
	return int(marked), nil
}

// staleSpool is the age after which a spool file under TempDir is taken
// for one left by a killed import and removed: an import validates into
// its spool and then writes for at most a few minutes. (A spool still
// being read stays readable once removed.)
const staleSpool = time.Hour

// removeStaleSpools removes the spool files of imports whose process died.
func (w *Watch) removeStaleSpools() {
	if w.TempDir == "" {
		return
	}
	files, _ := filepath.Glob(filepath.Join(w.TempDir, "medisac-import-*.tmp"))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && time.Since(st.ModTime()) > staleSpool {
			if err := os.Remove(f); err == nil {
				w.Logger.Info("vuln import: removed the spool file of a stopped import", "file", f)
			}
		}
	}
}

// logImport records an import attempt and returns err: it completes the
// record the import's first transaction wrote, or adds one for an attempt
// that wrote nothing.
func (w *Watch) logImport(ctx context.Context, res ImportResult, err error) error {
	key, detail := "", ""
	if err != nil {
		if k, d, ok := FeedError(err); ok {
			key, detail = k, d
		} else {
			ae := apperr.From(err)
			key, detail = ae.Key, err.Error()
		}
	}
	ctx = context.WithoutCancel(ctx)
	if run, ok := ctx.Value(importRunKey{}).(*importRun); ok && run.committed {
		if _, lerr := w.DB.Exec(ctx, `UPDATE vuln_imports SET records = ?, ok = ?, state = '', error_key = ?, detail = ? WHERE id = ?`,
			res.Records, err == nil, key, clipText(detail, 1000), run.id); lerr != nil && err == nil {
			return lerr
		}
		return err
	}
	if _, lerr := w.DB.Exec(ctx, `INSERT INTO vuln_imports (id, at, name, format, records, ok, error_key, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		db.NewID(), res.Since, clipText(res.Name, 300), string(res.Format), res.Records, err == nil, key, clipText(detail, 1000)); lerr != nil && err == nil {
		return lerr
	}
	return err
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// enqueueMatch enqueues the matching (after EPSS: the re-prioritising) of
// what the import changed, due after delay.
func (w *Watch) enqueueMatch(ctx context.Context, q db.Querier, res ImportResult, delay time.Duration) (string, error) {
	var opts []jobs.Option
	if delay > 0 {
		opts = append(opts, jobs.RunAt(w.now().Add(delay)))
	}
	if res.Format == FormatEPSS {
		return w.Queue.Enqueue(ctx, q, JobReprioritise, struct{}{}, append(opts, jobs.UniqueKey(JobReprioritise))...)
	}
	return w.Queue.Enqueue(ctx, q, JobMatch, matchPayload{Since: res.Since}, opts...)
}

// afterImport enqueues the matching of what the import changed, due now.
func (w *Watch) afterImport(ctx context.Context, q db.Querier, res ImportResult) error {
	if w.Queue == nil {
		return nil
	}
	_, err := w.enqueueMatch(ctx, q, res, 0)
	return err
}

// writePlan says how an import writes the records it has validated.
type writePlan struct {
	// batches are bound to each transaction in turn and flushed before it
	// commits.
	batches []*batch
	// first runs at the start of the first transaction.
	first func(ctx context.Context, q db.Querier) error
	// next writes the next record through the batches and reports false
	// when none is left.
	next func(ctx context.Context) (bool, error)
	// commit runs at the end of every transaction, after the batches are
	// flushed.
	commit func(ctx context.Context, q db.Querier) error
	// last runs at the end of the last transaction.
	last func(ctx context.Context, q db.Querier) error
}

// txStat describes one committed transaction of an import: how many
// records it wrote and how long it held the database from its first
// statement to its commit.
type txStat struct {
	records int
	held    time.Duration
}

// writeChunks writes the records of p in transactions of at most
// ChunkRecords records, each closed once it has run ChunkTime. The first
// transaction records the import as running in vuln_imports, later ones
// refresh its heartbeat, the last marks it finished (see Import).
func (w *Watch) writeChunks(ctx context.Context, res *ImportResult, p writePlan) error {
	run, _ := ctx.Value(importRunKey{}).(*importRun)
	if run == nil {
		run = &importRun{id: db.NewID()}
	}
	for chunk := 0; ; chunk++ {
		var began time.Time
		n, done := 0, false
		err := w.DB.InTx(ctx, func(tx *db.Tx) error {
			began = time.Now()
			if tx.Dialect() == db.SQLite {
				// Feed files insert all over the tables' B-trees; SQLite's
				// default 2 MB page cache would reread pages for most rows.
				if _, err := tx.Exec(ctx, `PRAGMA cache_size = -262144`); err != nil {
					return err
				}
				defer tx.Exec(context.WithoutCancel(ctx), `PRAGMA cache_size = -2000`)
			}
			for _, b := range p.batches {
				b.q = tx
			}
			if err := w.beat(ctx, tx, res, run, chunk == 0); err != nil {
				return err
			}
			if chunk == 0 && p.first != nil {
				if err := p.first(ctx, tx); err != nil {
					return err
				}
			}
			for n < w.ChunkRecords && time.Since(began) < w.ChunkTime {
				more, err := p.next(ctx)
				if err != nil {
					return err
				}
				if !more {
					done = true
					break
				}
				n++
			}
			for _, b := range p.batches {
				if err := b.flush(ctx); err != nil {
					return err
				}
			}
			if p.commit != nil {
				if err := p.commit(ctx, tx); err != nil {
					return err
				}
			}
			if !done {
				return nil
			}
			if p.last != nil {
				if err := p.last(ctx, tx); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE vuln_imports SET state = '', ok = ?, matched = ? WHERE id = ?`, true, true, run.id); err != nil {
				return err
			}
			return w.afterImport(ctx, tx, *res)
		})
		if err != nil {
			return err
		}
		run.committed = true
		run.done = done
		if w.onTx != nil {
			w.onTx(txStat{records: n, held: time.Since(began)})
		}
		if done {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// beat writes the import's record as running in its first transaction
// and refreshes its heartbeat in a later one once importHeartbeat has
// passed.
func (w *Watch) beat(ctx context.Context, tx db.Querier, res *ImportResult, run *importRun, first bool) error {
	now := w.now()
	if first {
		run.beat = now
		_, err := tx.Exec(ctx, `INSERT INTO vuln_imports (id, at, name, format, records, ok, error_key, detail, state, heartbeat, matched)
			VALUES (?, ?, ?, ?, ?, ?, '', '', ?, ?, ?)`,
			run.id, res.Since, clipText(res.Name, 300), string(res.Format), res.Records, false, ImportRunning, now, false)
		return err
	}
	if now.Sub(run.beat) < importHeartbeat {
		return nil
	}
	run.beat = now
	_, err := tx.Exec(ctx, `UPDATE vuln_imports SET heartbeat = ?, state = ? WHERE id = ?`, now, ImportRunning, run.id)
	return err
}

// batch writes rows with multi-row INSERT statements; rows with the same
// key within one statement are merged (the last wins), as PostgreSQL
// refuses to update one row twice in a statement.
type batch struct {
	q     db.Querier
	head  string
	tail  string
	cols  int
	max   int
	keys  map[string]int
	args  []any
	cache map[int]string
}

func newBatch(q db.Querier, table string, cols []string, tail string, max int) *batch {
	return &batch{q: q, head: "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ",
		tail: " " + tail, cols: len(cols), max: max, keys: map[string]int{}, cache: map[int]string{}}
}

func (b *batch) add(ctx context.Context, key string, vals ...any) error {
	if len(vals) != b.cols {
		return fmt.Errorf("vuln: batch row has %d values, want %d", len(vals), b.cols)
	}
	if i, ok := b.keys[key]; ok {
		copy(b.args[i*b.cols:], vals)
		return nil
	}
	b.keys[key] = len(b.args) / b.cols
	b.args = append(b.args, vals...)
	if len(b.args)/b.cols >= b.max {
		return b.flush(ctx)
	}
	return nil
}

func (b *batch) flush(ctx context.Context) error {
	n := len(b.args) / b.cols
	if n == 0 {
		return nil
	}
	q, ok := b.cache[n]
	if !ok {
		row := "(" + db.In(b.cols) + ")"
		var sb strings.Builder
		sb.WriteString(b.head)
		for i := 0; i < n; i++ {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(row)
		}
		sb.WriteString(b.tail)
		q = sb.String()
		b.cache[n] = q
	}
	if _, err := b.q.Exec(ctx, q, b.args...); err != nil {
		return err
	}
	b.args = b.args[:0]
	clear(b.keys)
	return nil
}

// importer holds the batches one import writes.
type importer struct {
	vulns, rules, refs, keys *batch
	now                      time.Time
}

var vulnCols = []string{"id", "title", "title_ja", "description", "summary_ja", "nvd_status", "withdrawn", "published", "modified",
	"cvss_score", "cvss_version", "cvss_severity", "cvss_vector", "cwes", "updated_at"}

func (w *Watch) newImporter(tx db.Querier, now time.Time, vulnTail string) *importer {
	n := w.BatchSize
	return &importer{now: now,
		vulns: newBatch(tx, "vuln_vulns", vulnCols, vulnTail, n),
		rules: newBatch(tx, "vuln_rules", []string{"vuln_id", "source", "source_id", "rules", "pending", "wildcard", "rule_keys", "fixed", "updated_at"},
			`ON CONFLICT (vuln_id, source, source_id) DO UPDATE SET rules = excluded.rules, pending = excluded.pending,
			wildcard = excluded.wildcard, rule_keys = excluded.rule_keys, fixed = excluded.fixed, updated_at = excluded.updated_at
			WHERE vuln_rules.rules <> excluded.rules`, n),
		refs: newBatch(tx, "vuln_refs", []string{"vuln_id", "ref_id", "source", "url", "title"},
			`ON CONFLICT (vuln_id, ref_id) DO UPDATE SET url = excluded.url, title = excluded.title`, n),
		keys: newBatch(tx, "vuln_rule_keys", []string{"rkey", "vuln_id"}, `ON CONFLICT (rkey, vuln_id) DO NOTHING`, n*2),
	}
}

func (im *importer) batches() []*batch { return []*batch{im.vulns, im.rules, im.refs, im.keys} }

func (im *importer) flush(ctx context.Context) error {
	for _, b := range im.batches() {
		if err := b.flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) rule(ctx context.Context, vulnID, source, sourceID string, r *Rules) error {
	st, err := storeRules(r)
	if err != nil {
		return err
	}
	return im.ruleData(ctx, vulnID, source, sourceID, st)
}

// storeRules encodes compiled rules for storage.
func storeRules(r *Rules) (storedRules, error) {
	data, err := MarshalRules(r)
	if err != nil {
		return storedRules{}, err
	}
	keys, wild := r.Keys()
	return storedRules{data: data, keys: keys, wild: wild, fixed: r.FixedVersions(), pending: r.Pending}, nil
}

func (im *importer) ruleData(ctx context.Context, vulnID, source, sourceID string, r storedRules) error {
	if !r.pending {
		for _, k := range r.keys {
			if err := im.keys.add(ctx, k+"\x00"+vulnID, k, vulnID); err != nil {
				return err
			}
		}
		if r.wild {
			if err := im.keys.add(ctx, "*\x00"+vulnID, "*", vulnID); err != nil {
				return err
			}
		}
	}
	return im.rules.add(ctx, vulnID+"\x00"+source+"\x00"+sourceID, vulnID, source, sourceID, string(r.data), r.pending, r.wild,
		strings.Join(r.keys, " "), strings.Join(r.fixed, " "), im.now)
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// NVD owns description, status, dates, CVSS and CWEs; a row changes (and
// is matched again) only when NVD's lastModified or status moved.
const nvdVulnTail = `ON CONFLICT (id) DO UPDATE SET description = excluded.description, nvd_status = excluded.nvd_status,
	withdrawn = excluded.withdrawn, published = excluded.published, modified = excluded.modified, cvss_score = excluded.cvss_score,
	cvss_version = excluded.cvss_version, cvss_severity = excluded.cvss_severity, cvss_vector = excluded.cvss_vector,
	cwes = excluded.cwes, updated_at = excluded.updated_at
	WHERE vuln_vulns.modified IS NULL OR vuln_vulns.modified <> excluded.modified OR vuln_vulns.nvd_status <> excluded.nvd_status
	OR vuln_vulns.description = ''`

// nvdRow is an NVD record validated, compiled and encoded for storage:
// what the writing pass stores of it.
type nvdRow struct {
	id, desc, status              string
	withdrawn                     bool
	published, modified           time.Time
	score                         float64
	cvssVersion, severity, vector string
	cwes                          string
	rules                         storedRules
}

func newNVDRow(rec *NVDCVE, st storedRules) nvdRow {
	cv, _ := rec.BestCVSS()
	return nvdRow{id: rec.ID, desc: clipText(rec.Description("en"), 8000), status: rec.VulnStatus, withdrawn: rec.Rejected(),
		published: rec.Published.Time, modified: rec.LastModified.Time, score: cv.Score, cvssVersion: cv.Version,
		severity: strings.ToUpper(cv.Severity), vector: cv.Vector, cwes: strings.Join(rec.CWEs(), " "), rules: st}
}

// importNVD validates the whole file into a spool, then writes the
// spooled rows in chunks.
func (w *Watch) importNVD(ctx context.Context, r io.Reader, res *ImportResult) error {
	sp, err := w.newSpool()
	if err != nil {
		return err
	}
	defer sp.remove()
	if err := w.spoolNVD(ctx, r, res, sp); err != nil {
		return err
	}
	if err := sp.rewind(); err != nil {
		return err
	}
	im := w.newImporter(nil, res.Since, nvdVulnTail)
	var row nvdRow
	err = w.writeChunks(ctx, res, writePlan{
		batches: im.batches(),
		next: func(ctx context.Context) (bool, error) {
			if ok, err := sp.readNVD(&row); !ok || err != nil {
				return false, err
			}
			if err := im.vulns.add(ctx, row.id, row.id, "", "", row.desc, "", row.status, row.withdrawn, nullTime(row.published),
				nullTime(row.modified), row.score, row.cvssVersion, row.severity, row.vector, row.cwes, res.Since); err != nil {
				return false, err
			}
			return true, im.ruleData(ctx, row.id, "nvd", "", row.rules)
		},
	})
	if err != nil {
		return err
	}
	return w.countChanged(ctx, w.DB, res)
}

// spoolNVD is the validating pass of importNVD: records are decoded,
// validated, compiled and encoded on every CPU and appended to the spool
// in file order.
func (w *Watch) spoolNVD(ctx context.Context, r io.Reader, res *ImportResult, sp *spool) error {
	type prepared struct {
		row       []byte
		withdrawn bool
	}
	err := eachNVDParallel(r, runtime.GOMAXPROCS(0), func(rec *NVDCVE, st storedRules) (prepared, error) {
		row := newNVDRow(rec, st)
		return prepared{row: row.encode(nil), withdrawn: row.withdrawn}, nil
	}, func(p prepared) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.withdrawn {
			res.Withdrawn++
		}
		res.Records++
		return sp.write(p.row)
	})
	if err != nil {
		return err
	}
	if res.Records == 0 {
		return feedErr("vuln.feed.empty", res.Name, nil)
	}
	return nil
}

// spool keeps prepared rows in a temporary file between the validating
// and the writing pass of an import.
type spool struct {
	f   *os.File
	bw  *bufio.Writer
	br  *bufio.Reader
	buf []byte
}

func (w *Watch) newSpool() (*spool, error) {
	if w.TempDir != "" {
		if err := os.MkdirAll(w.TempDir, 0o700); err != nil {
			return nil, err
		}
	}
	f, err := os.CreateTemp(w.TempDir, "medisac-import-*.tmp")
	if err != nil {
		return nil, err
	}
	return &spool{f: f, bw: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (s *spool) remove() {
	s.f.Close()
	os.Remove(s.f.Name())
}

func (s *spool) rewind() error {
	if err := s.bw.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s.br = bufio.NewReaderSize(s.f, 1<<20)
	return nil
}

func (s *spool) writeNVD(r *nvdRow) error {
	s.buf = r.encode(s.buf[:0])
	return s.write(s.buf)
}

// write appends one encoded row.
func (s *spool) write(row []byte) error {
	var n [binary.MaxVarintLen64]byte
	if _, err := s.bw.Write(n[:binary.PutUvarint(n[:], uint64(len(row)))]); err != nil {
		return err
	}
	_, err := s.bw.Write(row)
	return err
}

// encode appends the row's encoding to b.
func (r *nvdRow) encode(b []byte) []byte {
	e := rowEnc{b: b}
	e.str(r.id)
	e.str(r.desc)
	e.str(r.status)
	e.bool(r.withdrawn)
	e.time(r.published)
	e.time(r.modified)
	e.float(r.score)
	e.str(r.cvssVersion)
	e.str(r.severity)
	e.str(r.vector)
	e.str(r.cwes)
	e.str(string(r.rules.data))
	e.strs(r.rules.keys)
	e.bool(r.rules.wild)
	e.strs(r.rules.fixed)
	e.bool(r.rules.pending)
	return e.b
}

// readNVD reads the next row into r and reports false at the end.
func (s *spool) readNVD(r *nvdRow) (bool, error) {
	n, err := binary.ReadUvarint(s.br)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if uint64(cap(s.buf)) < n {
		s.buf = make([]byte, n)
	}
	s.buf = s.buf[:n]
	if _, err := io.ReadFull(s.br, s.buf); err != nil {
		return false, err
	}
	d := rowDec{b: s.buf}
	r.id = d.str()
	r.desc = d.str()
	r.status = d.str()
	r.withdrawn = d.bool()
	r.published = d.time()
	r.modified = d.time()
	r.score = d.float()
	r.cvssVersion = d.str()
	r.severity = d.str()
	r.vector = d.str()
	r.cwes = d.str()
	r.rules.data = []byte(d.str())
	r.rules.keys = d.strs(r.rules.keys[:0])
	r.rules.wild = d.bool()
	r.rules.fixed = d.strs(r.rules.fixed[:0])
	r.rules.pending = d.bool()
	if d.bad || len(d.b) != 0 {
		return false, errors.New("vuln: import spool is corrupt")
	}
	return true, nil
}

// rowEnc appends values to a spooled row.
type rowEnc struct{ b []byte }

func (e *rowEnc) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }

func (e *rowEnc) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *rowEnc) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

func (e *rowEnc) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *rowEnc) float(v float64) { e.uint(math.Float64bits(v)) }

func (e *rowEnc) time(t time.Time) {
	if t.IsZero() {
		e.bool(false)
		return
	}
	e.bool(true)
	e.b = binary.AppendVarint(e.b, t.Unix())
	e.uint(uint64(t.Nanosecond()))
}

// rowDec reads the values of a spooled row; bad says it was cut short.
type rowDec struct {
	b   []byte
	bad bool
}

func (d *rowDec) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *rowDec) str() string {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *rowDec) strs(into []string) []string {
	for n := d.uint(); n > 0 && !d.bad; n-- {
		into = append(into, d.str())
	}
	return into
}

func (d *rowDec) bool() bool {
	if len(d.b) == 0 {
		d.bad = true
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *rowDec) float() float64 { return math.Float64frombits(d.uint()) }

func (d *rowDec) time() time.Time {
	if !d.bool() {
		return time.Time{}
	}
	sec, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return time.Time{}
	}
	d.b = d.b[n:]
	return time.Unix(sec, int64(d.uint())).UTC()
}

func (w *Watch) countChanged(ctx context.Context, q db.Querier, res *ImportResult) error {
	return q.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT id FROM vuln_vulns WHERE updated_at = ? UNION SELECT vuln_id FROM vuln_rules WHERE updated_at = ?) c`,
		res.Since, res.Since).Scan(&res.Changed)
}

// stubTail inserts a vulnerability a secondary source names before NVD
// does, filling only empty titles and dates of a known one.
const stubTail = `ON CONFLICT (id) DO UPDATE SET
	title = CASE WHEN vuln_vulns.title = '' THEN excluded.title ELSE vuln_vulns.title END,
	title_ja = CASE WHEN excluded.title_ja <> '' THEN excluded.title_ja ELSE vuln_vulns.title_ja END,
	summary_ja = CASE WHEN excluded.summary_ja <> '' THEN excluded.summary_ja ELSE vuln_vulns.summary_ja END,
	description = CASE WHEN vuln_vulns.description = '' THEN excluded.description ELSE vuln_vulns.description END,
	published = COALESCE(vuln_vulns.published, excluded.published),
	cvss_score = CASE WHEN vuln_vulns.cvss_score = 0 THEN excluded.cvss_score ELSE vuln_vulns.cvss_score END,
	cvss_version = CASE WHEN vuln_vulns.cvss_score = 0 THEN excluded.cvss_version ELSE vuln_vulns.cvss_version END,
	cvss_severity = CASE WHEN vuln_vulns.cvss_score = 0 THEN excluded.cvss_severity ELSE vuln_vulns.cvss_severity END,
	cvss_vector = CASE WHEN vuln_vulns.cvss_score = 0 THEN excluded.cvss_vector ELSE vuln_vulns.cvss_vector END,
	withdrawn = CASE WHEN vuln_vulns.nvd_status = '' THEN excluded.withdrawn ELSE vuln_vulns.withdrawn END`

func (w *Watch) importKEV(ctx context.Context, r io.Reader, res *ImportResult) error {
	cat, err := ParseKEV(r)
	if err != nil {
		return err
	}
	held := map[string]string{}
	rows, err := w.DB.Query(ctx, `SELECT cve, vendor || '|' || product || '|' || name || '|' || added || '|' || due || '|' || action || '|' || CASE WHEN ransomware THEN '1' ELSE '0' END FROM vuln_kev`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, sig string
		if err := rows.Scan(&id, &sig); err != nil {
			rows.Close()
			return err
		}
		held[id] = sig
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	type kevRow struct {
		e     *KEVEntry
		rules storedRules
	}
	var todo []kevRow
	for i := range cat.Vulnerabilities {
		e := &cat.Vulnerabilities[i]
		res.Records++
		rw := "0"
		if e.Ransomware() {
			rw = "1"
		}
		sig := strings.Join([]string{e.VendorProject, e.Product, e.VulnerabilityName, e.DateAdded, e.DueDate, e.RequiredAction, rw}, "|")
		if held[e.CVEID] == sig {
			continue
		}
		st, err := storeRules(KEVRules(e, w.Aliases))
		if err != nil {
			return err
		}
		todo = append(todo, kevRow{e, st})
	}
	im := w.newImporter(nil, res.Since, stubTail)
	kev := newBatch(nil, "vuln_kev", []string{"cve", "vendor", "product", "name", "added", "due", "action", "ransomware", "updated_at"},
		`ON CONFLICT (cve) DO UPDATE SET vendor = excluded.vendor, product = excluded.product, name = excluded.name, added = excluded.added,
		due = excluded.due, action = excluded.action, ransomware = excluded.ransomware, updated_at = excluded.updated_at`, w.BatchSize)
	var changed []string
	i := 0
	res.Changed = len(todo)
	return w.writeChunks(ctx, res, writePlan{
		batches: append(im.batches(), kev),
		next: func(ctx context.Context) (bool, error) {
			if i == len(todo) {
				return false, nil
			}
			e, st := todo[i].e, todo[i].rules
			i++
			changed = append(changed, e.CVEID)
			if err := kev.add(ctx, e.CVEID, e.CVEID, e.VendorProject, e.Product, e.VulnerabilityName, e.DateAdded, e.DueDate,
				e.RequiredAction, e.Ransomware(), res.Since); err != nil {
				return false, err
			}
			if err := im.vulns.add(ctx, e.CVEID, e.CVEID, e.VulnerabilityName, "", e.ShortDescription, "", "", false, nil, nil,
				0.0, "", "", "", strings.Join(e.CWEs, " "), res.Since); err != nil {
				return false, err
			}
			return true, im.ruleData(ctx, e.CVEID, "kev", "", st)
		},
		commit: func(ctx context.Context, q db.Querier) error {
			err := touch(ctx, q, changed, res.Since)
			changed = changed[:0]
			return err
		},
	})
}

// touch marks vulnerabilities as changed at t, so that their findings are
// matched and prioritised again.
func touch(ctx context.Context, q db.Querier, ids []string, t time.Time) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := []any{t}
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		if _, err := q.Exec(ctx, `UPDATE vuln_vulns SET updated_at = ? WHERE id IN (`+db.In(n)+`)`, args...); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func (w *Watch) importEPSS(ctx context.Context, r io.Reader, res *ImportResult) error {
	f, err := ParseEPSS(r)
	if err != nil {
		return err
	}
	day := ""
	if !f.ScoreDate.IsZero() {
		day = f.ScoreDate.Format(time.DateOnly)
	}
	b := newBatch(nil, "vuln_epss", []string{"cve", "score", "percentile", "score_date", "updated_at"},
		`ON CONFLICT (cve) DO UPDATE SET score = excluded.score, percentile = excluded.percentile, score_date = excluded.score_date,
		updated_at = excluded.updated_at`, max(w.BatchSize, 500))
	res.Records = len(f.Scores)
	res.Changed = res.Records
	i := 0
	return w.writeChunks(ctx, res, writePlan{
		batches: []*batch{b},
		next: func(ctx context.Context) (bool, error) {
			if i == len(f.Scores) {
				return false, nil
			}
			s := f.Scores[i]
			i++
			return true, b.add(ctx, s.CVE, s.CVE, s.EPSS, s.Percentile, day, res.Since)
		},
	})
}

func (w *Watch) importJVN(ctx context.Context, r io.Reader, res *ImportResult) error {
	var entries []JVNEntry
	var err error
	if res.Format == FormatJVNVULDEF {
		entries, err = ParseJVNDetail(r)
	} else {
		entries, err = ParseJVNRSS(r)
	}
	if err != nil {
		return err
	}
	rules := make([]storedRules, len(entries))
	for i := range entries {
		if rules[i], err = storeRules(entries[i].Rules(w.Reg)); err != nil {
			return err
		}
		res.Records++
		if entries[i].Withdrawn {
			res.Withdrawn++
		}
	}
	im := w.newImporter(nil, res.Since, stubTail)
	i := 0
	err = w.writeChunks(ctx, res, writePlan{
		batches: im.batches(),
		next: func(ctx context.Context) (bool, error) {
			if i == len(entries) {
				return false, nil
			}
			e, st := &entries[i], rules[i]
			i++
			ids := e.CVEs
			if len(ids) == 0 {
				ids = []string{e.ID}
			}
			var cv CVSS
			if len(e.CVSS) > 0 {
				cv = e.CVSS[0]
			}
			for _, id := range ids {
				withdrawn := e.Withdrawn && id == e.ID
				if err := im.vulns.add(ctx, id, id, "", clipText(e.Title, 1000), "", clipText(e.Summary, 8000), "", withdrawn,
					nullTime(e.Published), nullTime(e.Modified), cv.Score, cv.Version, strings.ToUpper(cv.Severity), cv.Vector,
					strings.Join(e.CWEs, " "), res.Since); err != nil {
					return false, err
				}
				if id != e.ID {
					if err := im.refs.add(ctx, id+"\x00"+e.ID, id, e.ID, "jvn", e.URL, clipText(e.Title, 1000)); err != nil {
						return false, err
					}
				}
				if err := im.ruleData(ctx, id, "jvn", e.ID, st); err != nil {
					return false, err
				}
			}
			return true, nil
		},
	})
	if err != nil {
		return err
	}
	return w.countChanged(ctx, w.DB, res)
}

func (w *Watch) importFortinet(ctx context.Context, r io.Reader, res *ImportResult) error {
	a, err := ParseFortinet(r)
	if err != nil {
		return err
	}
	rules := a.Rules(w.Reg)
	ids := make([]string, 0, len(rules))
	for id := range rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	stored := make([]storedRules, len(ids))
	for i, id := range ids {
		if stored[i], err = storeRules(rules[id]); err != nil {
			return err
		}
	}
	res.Records = len(ids)
	var score float64
	vector := ""
	for _, v := range a.Vulnerabilities {
		for _, d := range v.Definitions {
			if d.CVSSv3 != nil && d.CVSSv3.BaseScore > score {
				score, vector = d.CVSSv3.BaseScore, d.CVSSv3.Vector
			}
		}
	}
	ver, sev := "", ""
	if score > 0 {
		ver, sev = "3.1", severityOf(score)
	}
	im := w.newImporter(nil, res.Since, stubTail)
	i := 0
	err = w.writeChunks(ctx, res, writePlan{
		batches: im.batches(),
		next: func(ctx context.Context) (bool, error) {
			if i == len(ids) {
				return false, nil
			}
			id, st := ids[i], stored[i]
			i++
			if err := im.vulns.add(ctx, id, id, clipText(a.Title, 1000), "", clipText(a.Summary, 8000), "", "", false,
				nullTime(a.Published), nullTime(a.Updated), score, ver, sev, vector, "", res.Since); err != nil {
				return false, err
			}
			if id != a.ID {
				if err := im.refs.add(ctx, id+"\x00"+a.ID, id, a.ID, "fortinet", a.AdvisoryURL, clipText(a.Title, 1000)); err != nil {
					return false, err
				}
			}
			return true, im.ruleData(ctx, id, "fortinet", a.ID, st)
		},
	})
	if err != nil {
		return err
	}
	return w.countChanged(ctx, w.DB, res)
}

func severityOf(score float64) string {
	switch {
	case score >= 9:
		return "CRITICAL"
	case score >= 7:
		return "HIGH"
	case score >= 4:
		return "MEDIUM"
	case score > 0:
		return "LOW"
	}
	return ""
}

// maxCSAFBytes caps one CSAF document.
const maxCSAFBytes = 64 << 20

func (w *Watch) importCSAF(ctx context.Context, r io.Reader, res *ImportResult) error {
	body, err := io.ReadAll(io.LimitReader(r, maxCSAFBytes+1))
	if err != nil {
		return err
	}
	if len(body) > maxCSAFBytes {
		return feedErr("vuln.feed.too_large", res.Name, nil)
	}
	doc, err := ParseCSAF(bytes.NewReader(body))
	if err != nil {
		return err
	}
	tid := doc.Document.Tracking.ID
	var vendors []string
	for _, p := range doc.Products() {
		if k := w.Aliases.VendorKey(p.Vendor); k != "" && !slices.Contains(vendors, k) {
			vendors = append(vendors, k)
		}
	}
	res.Records = len(doc.Vulnerabilities)
	im := w.newImporter(nil, res.Since, stubTail)
	url := ""
	i := 0
	err = w.writeChunks(ctx, res, writePlan{
		batches: im.batches(),
		first: func(ctx context.Context, q db.Querier) error {
			_, err := q.Exec(ctx, `INSERT INTO vuln_docs (id, format, body, vendors, updated_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET body = excluded.body, vendors = excluded.vendors, updated_at = excluded.updated_at`,
				tid, string(FormatCSAF), string(body), strings.Join(vendors, " "), res.Since)
			return err
		},
		next: func(ctx context.Context) (bool, error) {
			if i == len(doc.Vulnerabilities) {
				return false, nil
			}
			v := doc.Vulnerabilities[i]
			i++
			id := v.CVE
			if id == "" {
				id = tid
				if len(doc.Vulnerabilities) > 1 {
					id = fmt.Sprintf("%s#%d", tid, i)
				}
			}
			var score float64
			var vec, ver string
			for _, s := range v.Scores {
				if s.CVSSv3 != nil && s.CVSSv3.BaseScore > score {
					score, vec, ver = s.CVSSv3.BaseScore, s.CVSSv3.VectorString, s.CVSSv3.Version
				}
			}
			title := v.Title
			if title == "" {
				title = doc.Document.Title
			}
			if err := im.vulns.add(ctx, id, id, clipText(title, 1000), "", "", "", "", false,
				nullTime(doc.Document.Tracking.InitialReleaseDate), nullTime(doc.Document.Tracking.CurrentReleaseDate),
				score, ver, severityOf(score), vec, "", res.Since); err != nil {
				return false, err
			}
			if id != tid {
				if err := im.refs.add(ctx, id+"\x00"+tid, id, tid, "csaf", url, clipText(doc.Document.Title, 1000)); err != nil {
					return false, err
				}
			}
			return true, im.rules.add(ctx, id+"\x00csaf\x00"+tid, id, "csaf", tid, strconv.Itoa(i-1), false, false, "", "", res.Since)
		},
		last: func(ctx context.Context, q db.Querier) error {
			_, err := q.Exec(ctx, `UPDATE vuln_rules SET updated_at = ? WHERE source = 'csaf' AND source_id = ?`, res.Since, tid)
			return err
		},
	})
	if err != nil {
		return err
	}
	return w.countChanged(ctx, w.DB, res)
}

// Vuln is one stored vulnerability with what every source says about it.
type Vuln struct {
	ID           string    `json:"id"`
	Title        string    `json:"title,omitempty"`
	TitleJA      string    `json:"title_ja,omitempty"`
	Description  string    `json:"description,omitempty"`
	SummaryJA    string    `json:"summary_ja,omitempty"`
	NVDStatus    string    `json:"nvd_status,omitempty"`
	Withdrawn    bool      `json:"withdrawn"`
	Published    time.Time `json:"published,omitzero"`
	Modified     time.Time `json:"modified,omitzero"`
	CVSS         float64   `json:"cvss"`
	CVSSVersion  string    `json:"cvss_version,omitempty"`
	Severity     string    `json:"severity,omitempty"`
	Vector       string    `json:"cvss_vector,omitempty"`
	CWEs         []string  `json:"cwes,omitempty"`
	KEV          bool      `json:"kev"`
	Ransomware   bool      `json:"ransomware"`
	KEVAdded     string    `json:"kev_added,omitempty"`
	KEVDue       string    `json:"kev_due,omitempty"`
	KEVAction    string    `json:"kev_action,omitempty"`
	EPSS         float64   `json:"epss"`
	EPSSPct      float64   `json:"epss_percentile"`
	Refs         []Ref     `json:"refs,omitempty"`
	Sources      []string  `json:"sources,omitempty"`
	FixedVersion []string  `json:"fixed_versions,omitempty"`
}

// Ref is another identifier of a vulnerability: a JVNDB id, a vendor
// advisory, a CSAF document.
type Ref struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	URL    string `json:"url,omitempty"`
	Title  string `json:"title,omitempty"`
}

// Label is the title to show: JVN's Japanese title, else the source's
// title, else the start of the description.
func (v Vuln) Label() string {
	switch {
	case v.TitleJA != "":
		return v.TitleJA
	case v.Title != "":
		return v.Title
	}
	return clipText(v.Description, 160)
}

const vulnSelect = `SELECT v.id, v.title, v.title_ja, v.description, v.summary_ja, v.nvd_status, v.withdrawn, v.published, v.modified,
	v.cvss_score, v.cvss_version, v.cvss_severity, v.cvss_vector, v.cwes, k.cve IS NOT NULL, COALESCE(k.ransomware, FALSE),
	COALESCE(k.added, ''), COALESCE(k.due, ''), COALESCE(k.action, ''), COALESCE(e.score, 0), COALESCE(e.percentile, -1)
	FROM vuln_vulns v LEFT JOIN vuln_kev k ON k.cve = v.id LEFT JOIN vuln_epss e ON e.cve = v.id`

type scanner interface{ Scan(...any) error }

func scanVuln(s scanner) (Vuln, error) {
	var v Vuln
	var pub, mod *time.Time
	var cwes string
	err := s.Scan(&v.ID, &v.Title, &v.TitleJA, &v.Description, &v.SummaryJA, &v.NVDStatus, &v.Withdrawn, &pub, &mod,
		&v.CVSS, &v.CVSSVersion, &v.Severity, &v.Vector, &cwes, &v.KEV, &v.Ransomware, &v.KEVAdded, &v.KEVDue, &v.KEVAction,
		&v.EPSS, &v.EPSSPct)
	if pub != nil {
		v.Published = *pub
	}
	if mod != nil {
		v.Modified = *mod
	}
	v.CWEs = strings.Fields(cwes)
	return v, err
}

// GetVuln returns a vulnerability with its cross-links, sources and fixed
// versions, by CVE id or by any id it is cross-linked with (a JVNDB id, an
// advisory id).
func GetVuln(ctx context.Context, q db.Querier, id string) (Vuln, error) {
	id = strings.TrimSpace(id)
	v, err := scanVuln(q.QueryRow(ctx, vulnSelect+` WHERE v.id = ?`, id))
	if errors.Is(db.ScanErr(err), db.ErrNotFound) {
		var alt string
		if err2 := q.QueryRow(ctx, `SELECT vuln_id FROM vuln_refs WHERE ref_id = ? ORDER BY vuln_id LIMIT 1`, id).Scan(&alt); err2 == nil {
			v, err = scanVuln(q.QueryRow(ctx, vulnSelect+` WHERE v.id = ?`, alt))
		}
	}
	if err := db.ScanErr(err); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return v, apperr.New(apperr.NotFound, "vuln.not_found", id)
		}
		return v, err
	}
	rows, err := q.Query(ctx, `SELECT ref_id, source, url, title FROM vuln_refs WHERE vuln_id = ? ORDER BY source, ref_id`, v.ID)
	if err != nil {
		return v, err
	}
	for rows.Next() {
		var r Ref
		if err := rows.Scan(&r.ID, &r.Source, &r.URL, &r.Title); err != nil {
			rows.Close()
			return v, err
		}
		v.Refs = append(v.Refs, r)
	}
	rows.Close()
	rows, err = q.Query(ctx, `SELECT source, fixed FROM vuln_rules WHERE vuln_id = ? AND NOT pending ORDER BY source`, v.ID)
	if err != nil {
		return v, err
	}
	defer rows.Close()
	for rows.Next() {
		var src, fixed string
		if err := rows.Scan(&src, &fixed); err != nil {
			return v, err
		}
		if !slices.Contains(v.Sources, src) {
			v.Sources = append(v.Sources, src)
		}
		for _, f := range strings.Fields(fixed) {
			if !slices.Contains(v.FixedVersion, f) {
				v.FixedVersion = append(v.FixedVersion, f)
			}
		}
	}
	return v, rows.Err()
}

// VulnFilter selects vulnerabilities for the search page.
type VulnFilter struct {
	// Query is a CVE/JVNDB/advisory id or words of the title/description.
	Query string
	// KEV keeps only vulnerabilities known to be exploited.
	KEV    bool
	Limit  int
	Offset int
}

// SearchVulns returns the first page of vulnerabilities matching f
// (after f.Offset rows), known-exploited and recently modified first; see
// PageVulns.
func SearchVulns(ctx context.Context, q db.Querier, f VulnFilter) ([]Vuln, error) {
	p, err := PageVulns(ctx, q, f, "")
	return p.Vulns, err
}

// ImportLog is one recorded import attempt.
type ImportLog struct {
	At       time.Time `json:"at"`
	Name     string    `json:"name"`
	Format   string    `json:"format"`
	Records  int       `json:"records"`
	OK       bool      `json:"ok"`
	ErrorKey string    `json:"error_key,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	// State is ImportRunning, ImportInterrupted or "" (finished).
	State string `json:"state,omitempty"`
	// Completed says, of an interrupted import, that a later import of
	// a file of the same name finished.
	Completed bool `json:"completed,omitempty"`
}

// Running reports whether the import is still being written.
func (l ImportLog) Running() bool { return l.State == ImportRunning }

// Interrupted reports whether the import stopped part-way.
func (l ImportLog) Interrupted() bool { return l.State == ImportInterrupted }

const importLogSelect = `SELECT i.at, i.name, i.format, i.records, i.ok, i.error_key, i.detail, i.state,
	i.state = 'interrupted' AND EXISTS (SELECT 1 FROM vuln_imports j WHERE j.name = i.name AND j.ok AND j.at > i.at)
	FROM vuln_imports i`

func scanImportLogs(rows *sql.Rows) ([]ImportLog, error) {
	defer rows.Close()
	var out []ImportLog
	for rows.Next() {
		var l ImportLog
		if err := rows.Scan(&l.At, &l.Name, &l.Format, &l.Records, &l.OK, &l.ErrorKey, &l.Detail, &l.State, &l.Completed); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// RecentImports returns the latest import attempts, newest first.
func RecentImports(ctx context.Context, q db.Querier, limit int) ([]ImportLog, error) {
	rows, err := q.Query(ctx, importLogSelect+` ORDER BY i.at DESC, i.id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	return scanImportLogs(rows)
}

// InterruptedImports returns the imports that stopped part-way and that
// no later import of a file of the same name has completed, oldest first.
func InterruptedImports(ctx context.Context, q db.Querier) ([]ImportLog, error) {
	rows, err := q.Query(ctx, importLogSelect+` WHERE i.state = 'interrupted'
		AND NOT EXISTS (SELECT 1 FROM vuln_imports j WHERE j.name = i.name AND j.ok AND j.at > i.at) ORDER BY i.at, i.id`)
	if err != nil {
		return nil, err
	}
	return scanImportLogs(rows)
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
