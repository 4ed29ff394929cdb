package vuln

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/vuln/feed"
)

// ImportResult says what one imported file held.
type ImportResult struct {
	Name   string      `json:"name"`
	Format feed.Format `json:"format"`
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
	dr, err := feed.Decompress(r)
	if err != nil {
		return res, w.logImport(ctx, res, err)
	}
	br := bufio.NewReaderSize(dr, 64<<10)
	head, _ := br.Peek(8 << 10)
	res.Format = feed.DetectFormat(name, head)
	switch res.Format {
	case feed.FormatNVD:
		err = w.importNVD(ctx, br, &res)
	case feed.FormatKEV:
		err = w.importKEV(ctx, br, &res)
	case feed.FormatEPSS:
		err = w.importEPSS(ctx, br, &res)
	case feed.FormatJVNRSS, feed.FormatJVNVULDEF:
		err = w.importJVN(ctx, br, &res)
	case feed.FormatCSAF:
		err = w.importCSAF(ctx, br, &res)
	case feed.FormatFortinet:
		err = w.importFortinet(ctx, br, &res)
	case feed.FormatCSAFMeta, feed.FormatMyJVNProds, feed.FormatJVNChecksum:
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
		if res.Format == feed.FormatEPSS {
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
func (w *Watch) matchInterrupted(ctx context.Context, id string, format feed.Format, since time.Time) error {
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
	type pending struct {
		id, format string
		at         time.Time
	}
	todo, err := db.QueryAll(ctx, w.DB, func(r db.Scanner) (pending, error) {
		var p pending
		err := r.Scan(&p.id, &p.format, &p.at)
		return p, err
	}, `SELECT id, format, at FROM vuln_imports WHERE state = ? AND NOT matched ORDER BY at`, ImportInterrupted)
	if err != nil {
		return 0, err
	}
	for _, p := range todo {
		if w.Queue != nil {
			if err := w.matchInterrupted(ctx, p.id, feed.Format(p.format), p.at); err != nil {
				return int(marked), err
			}
			continue
		}
		if feed.Format(p.format) == feed.FormatEPSS {
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

// logImport records an import attempt and returns err: it completes the
// record the import's first transaction wrote, or adds one for an attempt
// that wrote nothing.
func (w *Watch) logImport(ctx context.Context, res ImportResult, err error) error {
	key, detail := "", ""
	if err != nil {
		if k, d, ok := feed.FeedError(err); ok {
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
	if res.Format == feed.FormatEPSS {
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

func (w *Watch) countChanged(ctx context.Context, q db.Querier, res *ImportResult) error {
	return q.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT id FROM vuln_vulns WHERE updated_at = ? UNION SELECT vuln_id FROM vuln_rules WHERE updated_at = ?) c`,
		res.Since, res.Since).Scan(&res.Changed)
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// feedErr rejects a whole download or file with a feed error (see reject).
func feedErr(key, name string, cause error) error { return feed.Reject(key, name, cause) }
