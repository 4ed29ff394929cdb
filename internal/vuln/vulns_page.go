package vuln

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// MaxVulnOffset is the largest offset SearchVulns still serves (by
// walking the pages before it); deeper pages are reached with cursors.
const MaxVulnOffset = 1000

// The vulnerability list is ordered known-exploited first, then by last
// modification, newest first (undated ones last), then by id, newest
// first. It is read as four segments in that order, each served by an
// index in its own order: known-exploited dated, known-exploited
// undated, the others dated (vuln_vulns_list backwards), the others
// undated.
const vulnSegments = 4

// vulnKey is the position of a row in the list.
type vulnKey struct {
	seg      int
	modified time.Time // zero in the undated segments
	id       string
}

// vulnFingerprint identifies the filter a list cursor belongs to.
func (f VulnFilter) fingerprint() string {
	return checksum(strings.TrimSpace(f.Query) + "\x1f" + strconv.FormatBool(f.KEV))
}

func (k vulnKey) cursor(f VulnFilter) string {
	mod := ""
	if !k.modified.IsZero() {
		mod = k.modified.Format(time.RFC3339Nano)
	}
	return sealCursor("|", f.fingerprint(), strconv.Itoa(k.seg), mod, k.id)
}

// parseVulnCursor reads a cursor made by PageVulns for f: an Invalid error
// on the field "cursor" when it is not one (vulnpage.cursor.invalid) or
// was made for another filter (vulnpage.cursor.stale).
func parseVulnCursor(s string, f VulnFilter) (vulnKey, error) {
	bad := apperr.Field("cursor", "vulnpage.cursor.invalid")
	parts, ok := openCursor(s, "|", 4)
	if !ok || parts[3] == "" || !validCursorID(parts[3]) {
		return vulnKey{}, bad
	}
	k := vulnKey{id: parts[3]}
	var err error
	if k.seg, err = strconv.Atoi(parts[1]); err != nil || k.seg < 0 || k.seg >= vulnSegments {
		return vulnKey{}, bad
	}
	dated := k.seg%2 == 0
	if dated != (parts[2] != "") {
		return vulnKey{}, bad
	}
	if dated {
		if k.modified, err = time.Parse(time.RFC3339Nano, parts[2]); err != nil {
			return vulnKey{}, bad
		}
	}
	if parts[0] != f.fingerprint() {
		return vulnKey{}, apperr.Field("cursor", "vulnpage.cursor.stale")
	}
	return k, nil
}

// VulnPage is one page of the vulnerability list.
type VulnPage struct {
	Vulns []Vuln
	// Next is the cursor of the following page; empty on the last page.
	Next string
}

// PageVulns returns the page of vulnerabilities matching f that follows
// cursor (the first page when cursor is ""): at most f.Limit (default 50,
// at most 200) rows, in the list order (see vulnSegments), each page read
// with index range scans, so a page deep in the list costs what the first
// one does. f.Offset is served up to MaxVulnOffset by reading the rows
// before it; a larger offset is an Invalid error on the field "offset"
// (vuln.api.offset_too_large) pointing to cursors. No count is made.
//
// PageVulns reads everything from q; Watch.PageVulns serves the
// known-exploited order from the watch's memory.
func PageVulns(ctx context.Context, q db.Querier, f VulnFilter, cursor string) (VulnPage, error) {
	return pageVulns(ctx, q, nil, f, cursor)
}

// PageVulns is the package function PageVulns on the watch's database,
// with the order of the known-exploited segments kept in memory.
func (w *Watch) PageVulns(ctx context.Context, f VulnFilter, cursor string) (VulnPage, error) {
	return pageVulns(ctx, w.DB, &w.kev, f, cursor)
}

// SearchVulns is the package function SearchVulns on the watch's
// database (see Watch.PageVulns).
func (w *Watch) SearchVulns(ctx context.Context, f VulnFilter) ([]Vuln, error) {
	p, err := w.PageVulns(ctx, f, "")
	return p.Vulns, err
}

// pageVulns is PageVulns; kev, when not nil, keeps the order of the
// known-exploited segments of q (a *db.DB).
func pageVulns(ctx context.Context, q db.Querier, kev *kevCache, f VulnFilter, cursor string) (VulnPage, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	if f.Offset > MaxVulnOffset {
		return VulnPage{}, apperr.Field("offset", "vuln.api.offset_too_large", MaxVulnOffset)
	}
	var after *vulnKey
	if cursor != "" {
		k, err := parseVulnCursor(cursor, f)
		if err != nil {
			return VulnPage{}, err
		}
		after = &k
	}
	skip, want := f.Offset, f.Offset+f.Limit
	var keys []vulnKey
	start := 0
	if after != nil {
		start = after.seg
	}
	segs := vulnSegments
	if f.KEV {
		segs = 2
	}
	// One row more than the page tells whether another page follows.
	for seg := start; seg < segs && len(keys) <= want; seg++ {
		var from *vulnKey
		if after != nil && after.seg == seg {
			from = after
		}
		var ks []vulnKey
		var err error
		if d, ok := q.(*db.DB); ok && kev != nil && seg < 2 && strings.TrimSpace(f.Query) == "" {
			ks, err = kev.segment(ctx, d, seg, from, want+1-len(keys))
		} else {
			ks, err = vulnSegment(ctx, q, f, seg, from, want+1-len(keys))
		}
		if err != nil {
			return VulnPage{}, err
		}
		keys = append(keys, ks...)
	}
	var page VulnPage
	if len(keys) > want {
		page.Next = keys[want-1].cursor(f)
		keys = keys[:want]
	}
	if skip >= len(keys) {
		return page, nil
	}
	keys = keys[skip:]
	// The rows of the page, read by id.
	ids := make([]any, len(keys))
	for i, k := range keys {
		ids[i] = k.id
	}
	rows, err := q.Query(ctx, vulnSelect+` WHERE v.id IN (`+db.In(len(ids))+`)`, ids...)
	if err != nil {
		return VulnPage{}, err
	}
	defer rows.Close()
	byID := make(map[string]Vuln, len(ids))
	for rows.Next() {
		v, err := scanVuln(rows)
		if err != nil {
			return VulnPage{}, err
		}
		byID[v.ID] = v
	}
	if err := rows.Err(); err != nil {
		return VulnPage{}, err
	}
	for _, k := range keys {
		if v, ok := byID[k.id]; ok {
			page.Vulns = append(page.Vulns, v)
		}
	}
	return page, nil
}

// kevOrder is the order of the known-exploited segments, kept in memory
// by the watch (kevCache): the KEV catalogue is small (about 1,200
// entries) and changes only with imports, and sorting it for every page
// costs more than the rest of the page. version says which data it was
// read from.
type kevOrder struct {
	version string
	segs    [2][]vulnKey
}

// kevCache holds the last kevOrder read (a field of the Watch, whose
// database it is).
type kevCache struct {
	mu  sync.Mutex
	cur *kevOrder
}

// kevVersion changes whenever a KEV entry or a vulnerability is added,
// removed or rewritten (every write sets updated_at to the import time).
func kevVersion(ctx context.Context, d *db.DB) (string, error) {
	var n int64
	var kevAt, vulnAt any
	err := d.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM vuln_kev), (SELECT MAX(updated_at) FROM vuln_kev), (SELECT MAX(updated_at) FROM vuln_vulns)`).Scan(&n, &kevAt, &vulnAt)
	return fmt.Sprint(n, "|", kevAt, "|", vulnAt), err
}

// segment is vulnSegment for a known-exploited segment without a query,
// served from memory (read again when the version moved).
func (c *kevCache) segment(ctx context.Context, d *db.DB, seg int, from *vulnKey, n int) ([]vulnKey, error) {
	version, err := kevVersion(ctx, d)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	if cur == nil || cur.version != version {
		cur = &kevOrder{version: version}
		for s := 0; s < 2; s++ {
			if cur.segs[s], err = vulnSegment(ctx, d, VulnFilter{}, s, nil, 1<<30); err != nil {
				return nil, err
			}
		}
		c.mu.Lock()
		c.cur = cur
		c.mu.Unlock()
	}
	keys := cur.segs[seg]
	start := 0
	if from != nil {
		// Just after the cursor's row; a cursor whose row is no longer in
		// the segment is served by the database.
		start = slices.IndexFunc(keys, func(k vulnKey) bool { return k.id == from.id && k.modified.Equal(from.modified) }) + 1
		if start == 0 {
			return vulnSegment(ctx, d, VulnFilter{}, seg, from, n)
		}
	}
	end := min(len(keys), start+n)
	return keys[start:end:end], nil
}

// vulnSegment reads the keys of up to n rows of one segment of the list
// after from. The known-exploited segments read the few KEV entries,
// look up their vulnerabilities and sort them; the others walk
// vuln_vulns_list (or the primary key) backwards from the cursor.
func vulnSegment(ctx context.Context, q db.Querier, f VulnFilter, seg int, from *vulnKey, n int) ([]vulnKey, error) {
	var where []string
	var args []any
	dated := seg%2 == 0
	order := "modified DESC, id DESC"
	if dated {
		where = append(where, "v.modified IS NOT NULL")
		if from != nil {
			// The first condition is the index range, the second the tie.
			where = append(where, "v.modified <= ?", "(v.modified < ? OR v.id < ?)")
			args = append(args, from.modified, from.modified, from.id)
		}
	} else {
		where = append(where, "v.modified IS NULL")
		order = "id DESC"
		if from != nil {
			where = append(where, "v.id < ?")
			args = append(args, from.id)
		}
	}
	if s := strings.TrimSpace(f.Query); s != "" {
		up := strings.ToUpper(s)
		like := "%" + strings.ToLower(s) + "%"
		where = append(where, `(v.id = ? OR v.id IN (SELECT vuln_id FROM vuln_refs WHERE ref_id = ?) OR LOWER(v.title) LIKE ? OR v.title_ja LIKE ? OR LOWER(v.description) LIKE ?)`)
		args = append(args, up, up, like, "%"+s+"%", like)
	}
	var query string
	if seg < 2 {
		if q.Dialect() == db.Postgres {
			// A lateral lookup per KEV entry (OFFSET 0 keeps it one):
			// PostgreSQL otherwise walks vuln_vulns_list probing KEV.
			query = `SELECT s.id, s.modified FROM vuln_kev k CROSS JOIN LATERAL (SELECT v.id, v.modified FROM vuln_vulns v WHERE v.id = k.cve AND ` +
				strings.Join(where, " AND ") + ` OFFSET 0) s ORDER BY s.` + strings.ReplaceAll(order, ", ", ", s.") + ` LIMIT ?`
		} else {
			query = `SELECT v.id, v.modified FROM vuln_kev k JOIN vuln_vulns v ON v.id = k.cve WHERE ` +
				strings.Join(where, " AND ") + ` ORDER BY v.` + strings.ReplaceAll(order, ", ", ", v.") + ` LIMIT ?`
		}
	} else {
		query = `SELECT v.id, v.modified FROM vuln_vulns v LEFT JOIN vuln_kev k ON k.cve = v.id WHERE k.cve IS NULL AND ` +
			strings.Join(where, " AND ") + ` ORDER BY v.` + strings.ReplaceAll(order, ", ", ", v.") + ` LIMIT ?`
	}
	args = append(args, n)
	return db.QueryAll(ctx, q, func(r db.Scanner) (vulnKey, error) {
		k := vulnKey{seg: seg}
		var mod *time.Time
		err := r.Scan(&k.id, &mod)
		if dated && mod != nil {
			k.modified = *mod
		}
		return k, err
	}, query, args...)
}
