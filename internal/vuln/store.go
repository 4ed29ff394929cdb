package vuln

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
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

	once sync.Once
	idx  *assetIndex
}

func (w *Watch) init() {
	w.once.Do(func() {
		if w.Reg == nil {
			w.Reg = version.Default()
		}
		if w.Aliases == nil {
			w.Aliases = sharedAliases(w.DB, w.Reg)
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
// content, looking through gzip and xz) and stores it in one transaction:
// a file that fails to parse or validate is rejected as a whole with an
// *apperr.Error saying why, and the data held before stays as it was.
// Records updated upstream replace the stored ones in place. The matching
// of what changed is enqueued in the same transaction (or run at once
// without a queue). Every attempt is recorded in vuln_imports.
func (w *Watch) Import(ctx context.Context, name string, r io.Reader) (ImportResult, error) {
	w.init()
	res := ImportResult{Name: name, Since: w.now()}
	dr, err := Decompress(r)
	if err != nil {
		return res, w.logImport(ctx, res, err)
	}
	br := bufio.NewReaderSize(dr, 64<<10)
	head, _ := br.Peek(8 << 10)
	res.Format = DetectFormat(name, head)
	err = w.DB.InTx(ctx, func(tx *db.Tx) error {
		if tx.Dialect() == db.SQLite {
			// Feed files insert all over the tables' B-trees; SQLite's
			// default 2 MB page cache would reread pages for most rows.
			if _, err := tx.Exec(ctx, `PRAGMA cache_size = -262144`); err != nil {
				return err
			}
			defer tx.Exec(context.WithoutCancel(ctx), `PRAGMA cache_size = -2000`)
		}
		var err error
		switch res.Format {
		case FormatNVD:
			err = w.importNVD(ctx, tx, br, &res)
		case FormatKEV:
			err = w.importKEV(ctx, tx, br, &res)
		case FormatEPSS:
			err = w.importEPSS(ctx, tx, br, &res)
		case FormatJVNRSS, FormatJVNVULDEF:
			err = w.importJVN(ctx, tx, br, &res)
		case FormatCSAF:
			err = w.importCSAF(ctx, tx, br, &res)
		case FormatFortinet:
			err = w.importFortinet(ctx, tx, br, &res)
		case FormatCSAFMeta, FormatMyJVNProds, FormatJVNChecksum:
			return apperr.New(apperr.Invalid, "vuln.import.not_data", name, string(res.Format))
		default:
			return apperr.New(apperr.Invalid, "vuln.feed.unknown_format", name, "")
		}
		if err != nil {
			return err
		}
		return w.afterImport(ctx, tx, res)
	})
	if err != nil {
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

// logImport records an import attempt and returns err.
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

// afterImport enqueues the matching of what the import changed.
func (w *Watch) afterImport(ctx context.Context, tx *db.Tx, res ImportResult) error {
	if w.Queue == nil {
		return nil
	}
	if res.Format == FormatEPSS {
		_, err := w.Queue.Enqueue(ctx, tx, JobReprioritise, struct{}{}, jobs.UniqueKey(JobReprioritise))
		return err
	}
	_, err := w.Queue.Enqueue(ctx, tx, JobMatch, matchPayload{Since: res.Since})
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

func (im *importer) flush(ctx context.Context) error {
	for _, b := range []*batch{im.vulns, im.rules, im.refs, im.keys} {
		if err := b.flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) rule(ctx context.Context, vulnID, source, sourceID string, r *Rules) error {
	data, err := MarshalRules(r)
	if err != nil {
		return err
	}
	keys, wild := r.Keys()
	return im.ruleData(ctx, vulnID, source, sourceID, storedRules{data: data, keys: keys, wild: wild, fixed: r.FixedVersions(), pending: r.Pending})
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

// preparedNVD is an NVD record compiled and encoded for storage.
type preparedNVD struct {
	rec    *NVDCVE
	stored storedRules
	err    error
}

// importNVD streams the file through three stages that overlap on
// several cores: decoding and validating (EachNVD), compiling and encoding
// the rules, and writing batches in the transaction.
func (w *Watch) importNVD(ctx context.Context, tx *db.Tx, r io.Reader, res *ImportResult) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recs := make(chan *NVDCVE, 512)
	out := make(chan preparedNVD, 512)
	var parseErr error
	go func() {
		defer close(recs)
		parseErr = EachNVD(r, func(rec *NVDCVE) error {
			select {
			case recs <- rec:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	go func() {
		defer close(out)
		for rec := range recs {
			p := preparedNVD{rec: rec}
			p.stored, p.err = nvdStored(rec)
			select {
			case out <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	im := w.newImporter(tx, res.Since, nvdVulnTail)
	var werr error
	for p := range out {
		if werr != nil {
			continue
		}
		if p.err != nil {
			werr = p.err
			cancel()
			continue
		}
		rec := p.rec
		res.Records++
		cv, _ := rec.BestCVSS()
		if rec.Rejected() {
			res.Withdrawn++
		}
		if werr = im.vulns.add(ctx, rec.ID, rec.ID, "", "", clipText(rec.Description("en"), 8000), "", rec.VulnStatus, rec.Rejected(),
			nullTime(rec.Published.Time), nullTime(rec.LastModified.Time), cv.Score, cv.Version, strings.ToUpper(cv.Severity), cv.Vector,
			strings.Join(rec.CWEs(), " "), res.Since); werr == nil {
			werr = im.ruleData(ctx, rec.ID, "nvd", "", p.stored)
		}
		if werr != nil {
			cancel()
		}
	}
	for range recs {
	}
	if werr != nil {
		return werr
	}
	if parseErr != nil {
		return parseErr
	}
	if res.Records == 0 {
		return feedErr("vuln.feed.empty", res.Name, nil)
	}
	if err := im.flush(ctx); err != nil {
		return err
	}
	return w.countChanged(ctx, tx, res)
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

func (w *Watch) importKEV(ctx context.Context, tx *db.Tx, r io.Reader, res *ImportResult) error {
	cat, err := ParseKEV(r)
	if err != nil {
		return err
	}
	held := map[string]string{}
	rows, err := tx.Query(ctx, `SELECT cve, vendor || '|' || product || '|' || name || '|' || added || '|' || due || '|' || action || '|' || CASE WHEN ransomware THEN '1' ELSE '0' END FROM vuln_kev`)
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
	im := w.newImporter(tx, res.Since, stubTail)
	kev := newBatch(tx, "vuln_kev", []string{"cve", "vendor", "product", "name", "added", "due", "action", "ransomware", "updated_at"},
		`ON CONFLICT (cve) DO UPDATE SET vendor = excluded.vendor, product = excluded.product, name = excluded.name, added = excluded.added,
		due = excluded.due, action = excluded.action, ransomware = excluded.ransomware, updated_at = excluded.updated_at`, w.BatchSize)
	var changed []string
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
		changed = append(changed, e.CVEID)
		if err := kev.add(ctx, e.CVEID, e.CVEID, e.VendorProject, e.Product, e.VulnerabilityName, e.DateAdded, e.DueDate,
			e.RequiredAction, e.Ransomware(), res.Since); err != nil {
			return err
		}
		if err := im.vulns.add(ctx, e.CVEID, e.CVEID, e.VulnerabilityName, "", e.ShortDescription, "", "", false, nil, nil,
			0.0, "", "", "", strings.Join(e.CWEs, " "), res.Since); err != nil {
			return err
		}
		if err := im.rule(ctx, e.CVEID, "kev", "", KEVRules(e, w.Aliases)); err != nil {
			return err
		}
	}
	if err := kev.flush(ctx); err != nil {
		return err
	}
	if err := im.flush(ctx); err != nil {
		return err
	}
	if err := touch(ctx, tx, changed, res.Since); err != nil {
		return err
	}
	res.Changed = len(changed)
	return nil
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

func (w *Watch) importEPSS(ctx context.Context, tx *db.Tx, r io.Reader, res *ImportResult) error {
	f, err := ParseEPSS(r)
	if err != nil {
		return err
	}
	day := ""
	if !f.ScoreDate.IsZero() {
		day = f.ScoreDate.Format(time.DateOnly)
	}
	b := newBatch(tx, "vuln_epss", []string{"cve", "score", "percentile", "score_date", "updated_at"},
		`ON CONFLICT (cve) DO UPDATE SET score = excluded.score, percentile = excluded.percentile, score_date = excluded.score_date,
		updated_at = excluded.updated_at`, max(w.BatchSize, 500))
	for _, s := range f.Scores {
		res.Records++
		if err := b.add(ctx, s.CVE, s.CVE, s.EPSS, s.Percentile, day, res.Since); err != nil {
			return err
		}
	}
	res.Changed = res.Records
	return b.flush(ctx)
}

func (w *Watch) importJVN(ctx context.Context, tx *db.Tx, r io.Reader, res *ImportResult) error {
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
	im := w.newImporter(tx, res.Since, stubTail)
	for i := range entries {
		e := &entries[i]
		res.Records++
		if e.Withdrawn {
			res.Withdrawn++
		}
		ids := e.CVEs
		if len(ids) == 0 {
			ids = []string{e.ID}
		}
		rules := e.Rules(w.Reg)
		var cv CVSS
		if len(e.CVSS) > 0 {
			cv = e.CVSS[0]
		}
		for _, id := range ids {
			withdrawn := e.Withdrawn && id == e.ID
			if err := im.vulns.add(ctx, id, id, "", clipText(e.Title, 1000), "", clipText(e.Summary, 8000), "", withdrawn,
				nullTime(e.Published), nullTime(e.Modified), cv.Score, cv.Version, strings.ToUpper(cv.Severity), cv.Vector,
				strings.Join(e.CWEs, " "), res.Since); err != nil {
				return err
			}
			if id != e.ID {
				if err := im.refs.add(ctx, id+"\x00"+e.ID, id, e.ID, "jvn", e.URL, clipText(e.Title, 1000)); err != nil {
					return err
				}
			}
			if err := im.rule(ctx, id, "jvn", e.ID, rules); err != nil {
				return err
			}
		}
	}
	if err := im.flush(ctx); err != nil {
		return err
	}
	return w.countChanged(ctx, tx, res)
}

func (w *Watch) importFortinet(ctx context.Context, tx *db.Tx, r io.Reader, res *ImportResult) error {
	a, err := ParseFortinet(r)
	if err != nil {
		return err
	}
	im := w.newImporter(tx, res.Since, stubTail)
	rules := a.Rules(w.Reg)
	ids := make([]string, 0, len(rules))
	for id := range rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var score float64
	vector := ""
	for _, v := range a.Vulnerabilities {
		for _, d := range v.Definitions {
			if d.CVSSv3 != nil && d.CVSSv3.BaseScore > score {
				score, vector = d.CVSSv3.BaseScore, d.CVSSv3.Vector
			}
		}
	}
	for _, id := range ids {
		res.Records++
		ver, sev := "", ""
		if score > 0 {
			ver, sev = "3.1", severityOf(score)
		}
		if err := im.vulns.add(ctx, id, id, clipText(a.Title, 1000), "", clipText(a.Summary, 8000), "", "", false,
			nullTime(a.Published), nullTime(a.Updated), score, ver, sev, vector, "", res.Since); err != nil {
			return err
		}
		if id != a.ID {
			if err := im.refs.add(ctx, id+"\x00"+a.ID, id, a.ID, "fortinet", a.AdvisoryURL, clipText(a.Title, 1000)); err != nil {
				return err
			}
		}
		if err := im.rule(ctx, id, "fortinet", a.ID, rules[id]); err != nil {
			return err
		}
	}
	if err := im.flush(ctx); err != nil {
		return err
	}
	return w.countChanged(ctx, tx, res)
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

func (w *Watch) importCSAF(ctx context.Context, tx *db.Tx, r io.Reader, res *ImportResult) error {
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
	if _, err := tx.Exec(ctx, `INSERT INTO vuln_docs (id, format, body, vendors, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET body = excluded.body, vendors = excluded.vendors, updated_at = excluded.updated_at`,
		tid, string(FormatCSAF), string(body), strings.Join(vendors, " "), res.Since); err != nil {
		return err
	}
	im := w.newImporter(tx, res.Since, stubTail)
	url := ""
	for i, v := range doc.Vulnerabilities {
		res.Records++
		id := v.CVE
		if id == "" {
			id = tid
			if len(doc.Vulnerabilities) > 1 {
				id = fmt.Sprintf("%s#%d", tid, i+1)
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
			return err
		}
		if id != tid {
			if err := im.refs.add(ctx, id+"\x00"+tid, id, tid, "csaf", url, clipText(doc.Document.Title, 1000)); err != nil {
				return err
			}
		}
		if err := im.rules.add(ctx, id+"\x00csaf\x00"+tid, id, "csaf", tid, strconv.Itoa(i), false, false, "",
			"", res.Since); err != nil {
			return err
		}
	}
	if err := im.flush(ctx); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE vuln_rules SET updated_at = ? WHERE source = 'csaf' AND source_id = ?`, res.Since, tid); err != nil {
		return err
	}
	return w.countChanged(ctx, tx, res)
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

// SearchVulns returns vulnerabilities matching f, known-exploited and
// recently modified first.
func SearchVulns(ctx context.Context, q db.Querier, f VulnFilter) ([]Vuln, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	where := []string{"TRUE"}
	var args []any
	if s := strings.TrimSpace(f.Query); s != "" {
		up := strings.ToUpper(s)
		like := "%" + strings.ToLower(s) + "%"
		where = append(where, `(v.id = ? OR v.id IN (SELECT vuln_id FROM vuln_refs WHERE ref_id = ?) OR LOWER(v.title) LIKE ? OR v.title_ja LIKE ? OR LOWER(v.description) LIKE ?)`)
		args = append(args, up, up, like, "%"+s+"%", like)
	}
	if f.KEV {
		where = append(where, "k.cve IS NOT NULL")
	}
	args = append(args, f.Limit, f.Offset)
	rows, err := q.Query(ctx, vulnSelect+` WHERE `+strings.Join(where, " AND ")+`
		ORDER BY CASE WHEN k.cve IS NULL THEN 1 ELSE 0 END, v.modified DESC, v.id DESC LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Vuln
	for rows.Next() {
		v, err := scanVuln(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
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
}

// RecentImports returns the latest import attempts, newest first.
func RecentImports(ctx context.Context, q db.Querier, limit int) ([]ImportLog, error) {
	rows, err := q.Query(ctx, `SELECT at, name, format, records, ok, error_key, detail FROM vuln_imports ORDER BY at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ImportLog
	for rows.Next() {
		var l ImportLog
		if err := rows.Scan(&l.At, &l.Name, &l.Format, &l.Records, &l.OK, &l.ErrorKey, &l.Detail); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
