package share

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// How imports write. Parsing and grouping run before any transaction, in
// time and memory linear in the number of objects (the objects themselves
// wait in a temporary file, not in memory). Writing then runs in short
// transactions of at most importChunk rows, so that an import of any size
// never holds the database's write lock (SQLite has one for every
// organisation) for long. What they write is staged: posts and objects
// carry the import's id and are seen by nobody until the import's last
// transaction clears it, so readers see all of an import or none of it. A
// failed or cancelled import removes what it staged; an import whose
// process died is removed by CleanupImports once it stops touching its row
// in share_imports.

// importChunk is the most objects one transaction of an import writes;
// indicators, which take two statements and an index update each, go
// importIndicatorChunk at a time.
const (
	importChunk          = 250
	importIndicatorChunk = 100
)

// ImportStale is how long an import may go without touching its row in
// share_imports before CleanupImports takes it for dead.
const ImportStale = 15 * time.Minute

// stagedImport is one import in progress.
type stagedImport struct {
	d       *db.DB
	v       Viewer
	id      string
	now     time.Time
	opts    ImportOptions
	res     *ImportResult
	touched time.Time
	// longest is the longest transaction the import ran, longestAt the
	// function and line that ran it.
	longest   time.Duration
	longestAt string
}

// runImport checks that v may import, registers an import, runs write
// (which stages rows through s.tx), then publishes everything in one short
// transaction together with opts.Publish. Whatever goes wrong, including
// ctx being cancelled, the staged rows are removed and never shown.
func runImport(ctx context.Context, d *db.DB, v Viewer, opts ImportOptions, now time.Time, res *ImportResult, write func(s *stagedImport) error) error {
	if !v.Member() {
		return apperr.New(apperr.Unauthenticated, "share.signin_required")
	}
	if err := v.check("share.import", v.own(), "share.read_only"); err != nil {
		return err
	}
	if opts.Default == "" {
		opts.Default = TLPAmber
	}
	s := &stagedImport{d: d, v: v, id: db.NewID(), now: now.UTC().Truncate(time.Microsecond), opts: opts, res: res}
	if err := s.tx(ctx, func(tx *db.Tx) error {
		t := time.Now().UTC()
		_, err := tx.Exec(ctx, `INSERT INTO share_imports (id, org_id, user_id, started_at, touched_at) VALUES (?, ?, ?, ?, ?)`, s.id, v.OrgID, v.UserID, t, t)
		return err
	}); err != nil {
		return err
	}
	err := write(s)
	if err == nil {
		err = s.tx(ctx, func(tx *db.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE share_posts SET import_id = NULL WHERE import_id = ?`, s.id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE share_stix_objects SET import_id = NULL WHERE import_id = ?`, s.id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM share_imports WHERE id = ?`, s.id); err != nil {
				return err
			}
			if opts.Publish != nil {
				return opts.Publish(ctx, tx, res)
			}
			return nil
		})
	}
	res.longestTx, res.longestTxAt = s.longest, s.longestAt
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		if cerr := removeImport(cctx, d, s.id); cerr != nil {
			return fmt.Errorf("%w (and removing the staged import: %v)", err, cerr)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return nil
}

// Another process writing the same SQLite file (the command line beside a
// server, or the other way round) can hold the write lock longer than the
// busy timeout: the import's transactions then wait and try again, up to
// busyAttempts times with a growing pause, instead of failing the import.
// (A process's own writers queue and never see each other busy.)
const busyAttempts = 8

// busyPause is the first pause before trying a busy transaction again; it
// doubles up to busyPauseMax. Variables so that tests can shorten them.
var (
	busyPause    = 500 * time.Millisecond
	busyPauseMax = 8 * time.Second
)

// retryBusy runs fn, again while it fails with db.ErrBusy (at most
// busyAttempts times in all), pausing between tries; it stops when ctx is
// done. waited, when not nil, is told how long each retried try and its
// pause took.
func retryBusy(ctx context.Context, fn func() error, waited func(time.Duration)) error {
	pause := busyPause
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := fn()
		if !errors.Is(err, db.ErrBusy) || attempt == busyAttempts || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		if waited != nil {
			waited(time.Since(start))
		}
		pause = min(pause*2, busyPauseMax)
	}
}

// tx runs fn in one short transaction, keeping the import's row touched.
// A transaction that finds the database busy is tried again (retryBusy).
func (s *stagedImport) tx(ctx context.Context, fn func(tx *db.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.opts.beforeTx != nil {
		if err := s.opts.beforeTx(); err != nil {
			return err
		}
	}
	// The transaction holds the write lock from its first statement (on
	// SQLite, from BEGIN IMMEDIATE, which returns once it has the lock) to
	// its commit: that is what is measured, not the wait for the lock.
	var start time.Time
	err := retryBusy(ctx, func() error {
		start = time.Time{}
		return s.d.InTx(ctx, func(tx *db.Tx) error {
			start = time.Now()
			return s.txBody(ctx, tx, fn)
		})
	}, func(w time.Duration) {
		s.res.BusyWaits++
		s.res.BusyWaited += w
	})
	if start.IsZero() {
		return err
	}
	el := time.Since(start)
	if el > s.longest {
		s.longest = el
		if pc, _, line, ok := runtime.Caller(1); ok {
			s.longestAt = fmt.Sprintf("%s:%d", runtime.FuncForPC(pc).Name(), line)
		}
	}
	if err == nil && s.d.Dialect() == db.SQLite {
		// SQLite's waiting writers poll for the lock: a writer that takes
		// it again at once could keep another organisation's write
		// waiting for the whole import. Leave the lock free as long as it
		// was held (at most 100 ms) so that they get their turn.
		pause := min(el, 100*time.Millisecond)
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
	return err
}

// txBody is the body of one of the import's transactions.
func (s *stagedImport) txBody(ctx context.Context, tx *db.Tx, fn func(tx *db.Tx) error) error {
	if err := fn(tx); err != nil {
		return err
	}
	if t := time.Now(); t.Sub(s.touched) > 10*time.Second {
		if _, err := tx.Exec(ctx, `UPDATE share_imports SET touched_at = ? WHERE id = ?`, t.UTC(), s.id); err != nil {
			return err
		}
		s.touched = t
	}
	return nil
}

// stagePost writes a new post with its indicators, hidden under the
// import: the post in one transaction, its indicators in chunks.
func (s *stagedImport) stagePost(ctx context.Context, in PostInput) (*Post, error) {
	inds := in.Indicators
	in.Indicators = nil
	in.importID = s.id
	var p *Post
	if err := s.tx(ctx, func(tx *db.Tx) error {
		var err error
		p, err = createPost(ctx, tx, s.v, in, s.now, false)
		return err
	}); err != nil {
		return nil, err
	}
	// Values repeated across chunks would be counted twice: keep each once.
	seen := make(map[string]bool, len(inds))
	uniq := inds[:0:0]
	for _, x := range inds {
		if x.Type == "" {
			x.Type = DetectIOC(x.Value)
		}
		norm, err := NormalizeIOC(x.Type, x.Value)
		if err != nil {
			return nil, err
		}
		if k := string(x.Type) + "\x00" + norm; !seen[k] {
			seen[k] = true
			uniq = append(uniq, x)
		}
	}
	if len(uniq) > MaxIndicators {
		uniq = uniq[:MaxIndicators]
	}
	for i := 0; i < len(uniq); i += importIndicatorChunk {
		chunk := uniq[i:min(i+importIndicatorChunk, len(uniq))]
		var added []Indicator
		if err := s.tx(ctx, func(tx *db.Tx) error {
			var err error
			added, err = addIndicators(ctx, tx, p.ID, chunk, s.now)
			return err
		}); err != nil {
			return nil, err
		}
		p.Indicators = append(p.Indicators, added...)
	}
	return p, nil
}

// stixRow is a STIX object ready to be inserted.
type stixRow struct {
	id, typ, version, body string
}

// stageObjects stores objects of a post in chunks. hidden marks them with
// the import's id (objects added to a post that is already visible);
// objects of a staged post are hidden with it.
func (s *stagedImport) stageObjects(ctx context.Context, postID string, rows []stixRow, hidden bool) error {
	var imp any
	if hidden {
		imp = s.id
	}
	for i := 0; i < len(rows); i += importChunk {
		chunk := rows[i:min(i+importChunk, len(rows))]
		if err := s.tx(ctx, func(tx *db.Tx) error {
			for _, r := range chunk {
				if _, err := tx.Exec(ctx, `INSERT INTO share_stix_objects (post_id, stix_id, type, version, date_added, body, import_id) VALUES (?, ?, ?, ?, ?, ?, ?)`,
					postID, r.id, r.typ, r.version, s.now, r.body, imp); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// removeImport deletes everything an import staged, in short transactions
// (tried again when another process keeps the database busy).
func removeImport(ctx context.Context, d *db.DB, importID string) error {
	posts, err := db.QueryStrings(ctx, d, `SELECT id FROM share_posts WHERE import_id = ?`, importID)
	if err != nil {
		return err
	}
	deleteChunks := func(where string, arg string) error {
		for {
			var n int64
			err := retryBusy(ctx, func() error {
				return d.InTx(ctx, func(tx *db.Tx) error {
					res, err := tx.Exec(ctx, `DELETE FROM share_stix_objects WHERE seq IN (SELECT seq FROM share_stix_objects WHERE `+where+` LIMIT 1000)`, arg)
					if err != nil {
						return err
					}
					n, _ = res.RowsAffected()
					return nil
				})
			}, nil)
			if err != nil || n == 0 {
				return err
			}
		}
	}
	for _, id := range posts {
		if err := deleteChunks("post_id = ?", id); err != nil {
			return err
		}
		if err := retryBusy(ctx, func() error {
			return d.InTx(ctx, func(tx *db.Tx) error {
				if _, err := tx.Exec(ctx, `UPDATE share_ioc_values SET post_count = post_count - 1 WHERE id IN (SELECT value_id FROM share_indicators WHERE post_id = ?)`, id); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `DELETE FROM share_posts WHERE id = ? AND import_id = ?`, id, importID)
				return err
			})
		}, nil); err != nil {
			return err
		}
	}
	if err := deleteChunks("import_id = ?", importID); err != nil {
		return err
	}
	return retryBusy(ctx, func() error {
		_, err := d.Exec(ctx, `DELETE FROM share_imports WHERE id = ?`, importID)
		return err
	}, nil)
}

// CleanupImports removes the imports that have not touched their row since
// staleBefore (their process died) with everything they staged. It returns
// how many it removed. The hub runs it periodically, and so at start.
func CleanupImports(ctx context.Context, d *db.DB, staleBefore time.Time) (int, error) {
	rows, err := d.Query(ctx, `SELECT id FROM share_imports WHERE touched_at < ?`, staleBefore.UTC())
	if err != nil {
		return 0, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := removeImport(ctx, d, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// parsedBundle is a STIX bundle read by parseBundle: the compact index of
// its objects, the objects in a spool file and their ids and versions in
// another.
type parsedBundle struct {
	*objIndex
	fails  []ObjectFailure
	failed int // failures beyond those listed
	spool  *os.File
	w      *bufio.Writer
	pos    int64
	meta   *metaSpool
	// marks maps marking definitions of the bundle to the TLP label they
	// stand for.
	marks map[uint32]TLP
	// multi keeps the versions of the ids seen more than once.
	multi map[uint32]*versionSet
}

// versionSet is the versions of an id seen more than once: cur is the
// newest, seen all of them.
type versionSet struct {
	cur  string
	seen map[string]bool
}

func (b *parsedBundle) close() {
	if b.spool != nil {
		name := b.spool.Name()
		b.spool.Close()
		os.Remove(name)
	}
	b.meta.close()
}

// maxListed is the most failures (and posts) an import result lists; the
// counts go on beyond it (FailuresOmitted, PostsOmitted).
const maxListed = 10000

func (b *parsedBundle) fail(f ObjectFailure) {
	if len(b.fails) < maxListed {
		b.fails = append(b.fails, f)
	} else {
		b.failed++
	}
}

// tlpOf returns the label a marking reference stands for: a TLP 2.0 or 1.0
// marking of STIX, or a marking definition of the bundle.
func (b *parsedBundle) tlpOf(ref string) (TLP, bool) {
	if t, ok := TLPFromMarking(ref); ok {
		return t, true
	}
	n, ok := b.node(ref, false)
	if !ok {
		return "", false
	}
	t, ok := b.marks[n]
	return t, ok
}

// read returns the object as received.
func (b *parsedBundle) read(o *objRec) (map[string]any, error) {
	buf := make([]byte, o.size)
	if _, err := b.spool.ReadAt(buf, o.off); err != nil {
		return nil, err
	}
	var m map[string]any
	err := json.Unmarshal(buf, &m)
	return m, err
}

// parseBundle reads a STIX 2.1 bundle or TAXII envelope from r one object
// at a time (json.Decoder tokens over "objects"), keeping of each valid
// object what grouping needs and spooling the object to a temporary file.
// Invalid objects are listed as failures; only a body that is not such a
// JSON document at all is an error. It stops when ctx is done.
func parseBundle(ctx context.Context, r io.Reader) (*parsedBundle, error) {
	spool, err := os.CreateTemp("", "medisac-import-*.json")
	if err != nil {
		return nil, err
	}
	b := &parsedBundle{objIndex: newObjIndex(), spool: spool, w: bufio.NewWriterSize(spool, 1<<16),
		marks: map[uint32]TLP{}, multi: map[uint32]*versionSet{}}
	if b.meta, err = newMetaSpool(); err != nil {
		b.close()
		return nil, err
	}
	if err := b.decode(ctx, r); err != nil {
		b.close()
		return nil, err
	}
	if err := b.w.Flush(); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func notJSON(err error) error { return apperr.Wrap(err, apperr.Invalid, "share.import.not_json") }

func (b *parsedBundle) decode(ctx context.Context, r io.Reader) error {
	dec := json.NewDecoder(r)
	if tok, err := dec.Token(); err != nil {
		return notJSON(err)
	} else if d, ok := tok.(json.Delim); !ok || d != '{' {
		return notJSON(fmt.Errorf("not a JSON object"))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return notJSON(err)
		}
		key, _ := tok.(string)
		switch key {
		case "type":
			var t any
			if err := dec.Decode(&t); err != nil {
				return notJSON(err)
			}
			if s, _ := t.(string); s != "bundle" {
				return apperr.New(apperr.Invalid, "share.import.not_bundle")
			}
		case "objects":
			tok, err := dec.Token()
			if err != nil {
				return notJSON(err)
			}
			if tok == nil {
				continue
			}
			if d, ok := tok.(json.Delim); !ok || d != '[' {
				return notJSON(fmt.Errorf("objects is not a list"))
			}
			for i := 0; dec.More(); i++ {
				if i%256 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return notJSON(err)
				}
				if err := b.add(i, raw); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return notJSON(err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return notJSON(err)
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return notJSON(err)
	}
	return nil
}

// versionAt reads the version of a spooled object back (for an id seen a
// second time, which is rare).
func (b *parsedBundle) versionAt(o *objRec) (string, error) {
	if err := b.w.Flush(); err != nil {
		return "", err
	}
	m, err := b.read(o)
	if err != nil {
		return "", err
	}
	return versionOf(stixObject{m: m}), nil
}

func (b *parsedBundle) add(i int, raw json.RawMessage) error {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		b.fail(ObjectFailure{ID: fmt.Sprintf("objects[%d]", i), Message: "not a JSON object"})
		return nil
	}
	o, why := validateObject(m)
	if why != "" {
		id := o.id
		if id == "" {
			id = fmt.Sprintf("objects[%d]", i)
		}
		b.fail(ObjectFailure{ID: id, Version: o.str("modified"), Message: why})
		return nil
	}
	// The same version of an object twice is kept once. cur holds one
	// version per id; ids seen in several versions keep the others' in
	// b.multi.
	version := versionOf(o)
	node, _ := b.node(o.id, true)
	var vs *versionSet
	if prev, ok := b.present(node); ok {
		if vs = b.multi[node]; vs == nil {
			pv, err := b.versionAt(prev)
			if err != nil {
				return err
			}
			vs = &versionSet{cur: pv, seen: map[string]bool{pv: true}}
			b.multi[node] = vs
		}
		if vs.seen[version] {
			return nil
		}
		vs.seen[version] = true
	}
	refOff := uint32(len(b.refs))
	for _, r := range refsOf(o) {
		rn, _ := b.node(r, true)
		b.refs = append(b.refs, rn)
	}
	typ, _ := b.typeIndex(o.typ, true)
	if o.typ == "marking-definition" {
		if t, ok := markingTLP(m); ok {
			b.marks[node] = t
		}
	}
	if _, err := b.w.Write(raw); err != nil {
		return err
	}
	if err := b.meta.add(o.id, version); err != nil {
		return err
	}
	oi := b.addObj(objRec{off: b.pos, size: uint32(len(raw)), node: node, typ: typ, refOff: refOff})
	b.pos += int64(len(raw))
	switch {
	case b.cur[node] < 0:
		b.order = append(b.order, node)
		b.cur[node] = oi
	case version >= vs.cur:
		b.cur[node] = oi
		vs.cur = version
	}
	return nil
}

// markingTLP reads the TLP label a marking-definition object stands for:
// a predefined TLP 1.0/2.0 id, the TLP 1.0 form (definition_type "tlp"),
// the TLP 2.0 extension ("tlp_2_0") or a name like "TLP:RED".
func markingTLP(m map[string]any) (TLP, bool) {
	id, _ := m["id"].(string)
	if t, ok := TLPFromMarking(id); ok {
		return t, true
	}
	if dt, _ := m["definition_type"].(string); strings.EqualFold(dt, "tlp") {
		if def, ok := m["definition"].(map[string]any); ok {
			if s, _ := def["tlp"].(string); s != "" {
				if t, err := ParseTLP(s); err == nil {
					return t, true
				}
			}
		}
	}
	if ext, ok := m["extensions"].(map[string]any); ok {
		for _, e := range ext {
			if em, ok := e.(map[string]any); ok {
				if s, _ := em["tlp_2_0"].(string); s != "" {
					if t, err := ParseTLP(s); err == nil {
						return t, true
					}
				}
			}
		}
	}
	if n, _ := m["name"].(string); strings.HasPrefix(strings.ToUpper(strings.TrimSpace(n)), "TLP:") {
		if t, err := ParseTLP(n); err == nil {
			return t, true
		}
	}
	return "", false
}

// ImportSTIX reads a STIX 2.1 bundle (or TAXII envelope) from r into posts
// of v's organisation: one post per report with everything the report
// refers to (directly or through relationships, sightings and notes), and
// one more post for the objects no report refers to. Every object is kept
// as received, so exports give it back; indicators are extracted from
// patterns and correlated, vulnerabilities become CVE ids. A post's label
// is the narrowest TLP marking of its objects, granular markings (on a
// part of an object, such as its description) included: when one of those
// is narrower than the objects' markings the whole post takes it, and the
// post records the label it would have had (LabelRaisedFrom). Objects
// without any marking get opts.Default. Invalid objects are listed in the
// result and the valid ones still land. It writes in short transactions
// and publishes the posts at once at the end (see runImport); it stops,
// leaving nothing, when ctx is done. Its memory does not grow with the
// objects beyond a small fixed cost each (see stix_index.go).
func ImportSTIX(ctx context.Context, d *db.DB, v Viewer, r io.Reader, opts ImportOptions, now time.Time) (*ImportResult, error) {
	if !v.Member() {
		return nil, apperr.New(apperr.Unauthenticated, "share.signin_required")
	}
	if err := v.check("share.import", v.own(), "share.read_only"); err != nil {
		return nil, err
	}
	b, err := parseBundle(ctx, r)
	if err != nil {
		return nil, err
	}
	defer b.close()
	res := &ImportResult{Failures: b.fails, FailuresOmitted: b.failed}
	if opts.Source == "" {
		opts.Source = "stix"
	}
	// Objects already stored (same id and version) are not stored again.
	if err := markExisting(ctx, d, b, res, opts.ListSuccesses); err != nil {
		return nil, err
	}
	groups, err := b.group(ctx)
	if err != nil {
		return nil, err
	}
	err = runImport(ctx, d, v, opts, now, res, func(s *stagedImport) error {
		for i, g := range groups {
			if err := s.importGroup(ctx, b, g); err != nil {
				return err
			}
			groups[i] = nil
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// markExisting drops from b the objects stored already, in batches.
func markExisting(ctx context.Context, d *db.DB, b *parsedBundle, res *ImportResult, list bool) error {
	mr, err := b.meta.reader()
	if err != nil {
		return err
	}
	type entry struct {
		id, version string
		oi          int32
	}
	chunk := make([]entry, 0, importChunk)
	args := make([]any, 0, importChunk)
	flush := func() error {
		args = args[:0]
		for _, e := range chunk {
			args = append(args, e.id)
		}
		rows, err := d.Query(ctx, `SELECT stix_id, version FROM share_stix_objects WHERE import_id IS NULL AND stix_id IN (`+db.In(len(args))+`)`, args...)
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for rows.Next() {
			var id, ver string
			if err := rows.Scan(&id, &ver); err != nil {
				rows.Close()
				return err
			}
			have[id+"|"+ver] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, e := range chunk {
			if have[e.id+"|"+e.version] {
				res.Existing++
				if list {
					res.Successes = append(res.Successes, ObjectFailure{ID: e.id, Version: e.version})
				}
				if node := b.obj(e.oi).node; b.cur[node] == e.oi {
					b.cur[node] = -1
				}
			}
		}
		chunk = chunk[:0]
		return nil
	}
	for i := 0; i < b.nobj; i++ {
		if i%importChunk == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		id, ver, err := mr.next()
		if err != nil {
			return err
		}
		chunk = append(chunk, entry{id: id, version: ver, oi: int32(i)})
		if len(chunk) == importChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(chunk) > 0 {
		return flush()
	}
	return nil
}

// groupObject is an object of a group read back from the spool.
type groupObject struct {
	rec *objRec
	stixObject
}

// eachObject reads back, in order, the objects of a group that the bundle
// still has (marking definitions too when marks), calling fn with each.
func (b *parsedBundle) eachObject(ctx context.Context, nodes []uint32, marks bool, fn func(o groupObject) error) error {
	for k, n := range nodes {
		if k%importChunk == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, ok := b.present(n)
		if !ok || (!marks && b.isType(rec, "marking-definition")) {
			continue
		}
		m, err := b.read(rec)
		if err != nil {
			return err
		}
		o := groupObject{rec: rec, stixObject: stixObject{m: m, typ: b.typeNames[rec.typ]}}
		o.id = o.str("id")
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// importGroup makes (or, for a report imported before, adds to) the post
// of one group of objects. It reads the group's objects back twice: once
// for what the post is made of (label, indicators, CVEs, title), once to
// store them.
func (s *stagedImport) importGroup(ctx context.Context, b *parsedBundle, ids []uint32) error {
	opts := s.opts
	label, granular := TLP(""), TLP("")
	var in PostInput
	var root *stixObject
	var names []string
	var first string
	// Indicators and CVEs repeated in the group are kept once, and no more
	// than a post takes (the first ones, as stagePost would keep).
	seenInd := map[string]bool{}
	seenCVE := map[string]bool{}
	err := b.eachObject(ctx, ids, false, func(o groupObject) error {
		if first == "" {
			first = o.id
		}
		for _, mid := range o.strs("object_marking_refs") {
			if t, ok := b.tlpOf(mid); ok && (label == "" || label.Wider(t)) {
				label = t
			}
		}
		if gl, ok := o.m["granular_markings"].([]any); ok {
			for _, g := range gl {
				if gm, ok := g.(map[string]any); ok {
					if ref, _ := gm["marking_ref"].(string); ref != "" {
						if t, ok := b.tlpOf(ref); ok && (granular == "" || granular.Wider(t)) {
							granular = t
						}
					}
				}
			}
		}
		switch o.typ {
		case "report", "grouping":
			if root == nil {
				root = &stixObject{m: o.m, id: o.id, typ: o.typ}
			}
		case "indicator":
			for _, x := range PatternIndicators(o.str("pattern")) {
				norm, err := NormalizeIOC(x.Type, x.Value)
				if err != nil {
					continue
				}
				k := string(x.Type) + "\x00" + norm
				if seenInd[k] || len(seenInd) >= MaxIndicators {
					continue
				}
				seenInd[k] = true
				x.Comment = truncateRunes(o.str("name"), 500)
				x.StixID = o.id
				in.Indicators = append(in.Indicators, x)
			}
		case "vulnerability":
			if c := cveOf(o.stixObject); c != "" && !seenCVE[c] && len(seenCVE) < MaxCVEs {
				seenCVE[c] = true
				in.CVEs = append(in.CVEs, c)
			}
		}
		if o.typ != "identity" {
			if name := o.str("name"); name != "" && len(names) < 3 {
				names = append(names, name)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if label == "" {
		label = opts.Default
	}
	// A part of an object marked narrower than the whole makes the whole
	// post that narrow: nothing marked for fewer readers reaches more, and
	// nothing is dropped.
	if granular != "" && label.Wider(granular) {
		in.raisedFrom = label
		label = granular
	}
	if opts.Floor != "" && label.Wider(opts.Floor) {
		label = opts.Floor
	}
	if in.raisedFrom == label {
		in.raisedFrom = ""
	}
	in.TLP = label
	in.Source = opts.Source
	if label == TLPAmber || label == TLPAmberStrict {
		in.RecipientOrgs = opts.RecipientOrgs
		if label == TLPAmber {
			in.RecipientGroups = opts.RecipientGroups
		}
	}
	in.Kind = KindIndicatorSet
	if root != nil {
		rm := *root
		in.StixID = root.id
		in.Title = truncateRunes(rm.str("name"), MaxTitle)
		in.Body = rm.str("description")
		in.Kind = KindAdvisory
		if k := Kind(rm.str("x_medisac_kind")); k.Valid() {
			in.Kind = k
		} else {
			for _, t := range rm.strs("report_types") {
				switch t {
				case "vulnerability":
					in.Kind = KindVulnNote
				case "indicator":
					in.Kind = KindIndicatorSet
				}
			}
		}
		if l, ok := rm.m["external_references"].([]any); ok {
			for _, x := range l {
				if e, ok := x.(map[string]any); ok {
					if u, _ := e["url"].(string); u != "" {
						if _, err := checkRef(u); err == nil && len(in.References) < MaxRefs {
							in.References = append(in.References, u)
						}
					}
				}
			}
		}
	} else {
		if len(names) == 0 {
			names = append(names, first)
		}
		in.Title = truncateRunes("STIX: "+strings.Join(names[:min(3, len(names))], ", "), MaxTitle)
		if len(in.Indicators) == 0 {
			in.Kind = KindAdvisory
		}
	}
	root = nil
	if in.Title == "" {
		in.Title = "STIX"
	}
	if len(in.Body) > MaxBody {
		in.Body = in.Body[:MaxBody]
	}
	var existing, owner string
	var existingTLP TLP
	if in.StixID != "" {
		err := s.d.QueryRow(ctx, `SELECT id, author_org_id, tlp FROM share_posts WHERE stix_id = ? AND import_id IS NULL`, in.StixID).Scan(&existing, &owner, &existingTLP)
		if err := db.ScanErr(err); err != nil && !errors.Is(err, db.ErrNotFound) {
			return err
		}
	}
	var p *Post
	switch {
	case existing != "" && owner != s.v.OrgID:
		return b.eachObject(ctx, ids, true, func(o groupObject) error {
			s.res.fail(ObjectFailure{ID: o.id, Version: versionOf(o.stixObject), Message: "belongs to a report another organisation shared"})
			return nil
		})
	case existing != "":
		// A new version of a report this organisation imported before:
		// its objects are added, hidden until the import is published.
		p = &Post{ID: existing, TLP: existingTLP}
		if existingTLP.Wider(label) {
			// The new version is marked narrower: the post becomes so.
			if err := s.tx(ctx, func(tx *db.Tx) error {
				_, err := tx.Exec(ctx, `UPDATE share_posts SET tlp = ?, updated_at = ? WHERE id = ?`, label, s.now, existing)
				return err
			}); err != nil {
				return err
			}
			p.TLP = label
		}
		var n int
		if err := s.d.QueryRow(ctx, `SELECT COUNT(*) FROM share_indicators WHERE post_id = ?`, existing).Scan(&n); err != nil {
			return err
		}
		p.Title = in.Title
		p.Indicators = make([]Indicator, n)
	default:
		var err error
		if p, err = s.stagePost(ctx, in); err != nil {
			return err
		}
	}
	in = PostInput{}
	// Keep each object as received; objects without a TLP marking get the
	// post's, so nothing ever leaves unmarked.
	rows := make([]stixRow, 0, min(len(ids), importChunk))
	flush := func() error {
		err := s.stageObjects(ctx, p.ID, rows, existing != "")
		rows = rows[:0]
		return err
	}
	if err := b.eachObject(ctx, ids, true, func(o groupObject) error {
		if o.typ != "marking-definition" {
			o.m["object_marking_refs"] = relabel(o.m["object_marking_refs"], p.TLP)
		}
		body, err := json.Marshal(o.m)
		if err != nil {
			return err
		}
		version := versionOf(o.stixObject)
		rows = append(rows, stixRow{id: o.id, typ: o.typ, version: version, body: string(body)})
		s.res.Objects++
		if s.opts.ListSuccesses {
			s.res.Successes = append(s.res.Successes, ObjectFailure{ID: o.id, Version: version})
		}
		if len(rows) == importChunk {
			return flush()
		}
		return nil
	}); err != nil {
		return err
	}
	if len(rows) > 0 {
		if err := flush(); err != nil {
			return err
		}
	}
	s.res.addPost(ImportedPost{ID: p.ID, Title: p.Title, TLP: p.TLP, Indicators: len(p.Indicators)})
	return nil
}
