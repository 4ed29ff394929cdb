package vuln

import (
	"context"
	"encoding/base64"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// Page sizes of the findings list.
const (
	DefaultFindingPage = 100
	MaxFindingPage     = 1000
	eachFindingPage    = 500
	maxCursorLen       = 512
)

// findingKey is a finding's place in the list order: active findings
// first, then priority, rank and id.
type findingKey struct {
	active         bool
	priority, rank int
	id             string
}

// findingCursor is a decoded page cursor: the key of the last row of a
// page (or, going back, of the first), and the filter it was made for.
type findingCursor struct {
	back   bool
	filter string
	key    findingKey
}

// fingerprint identifies the filter a cursor belongs to.
func (f FindingFilter) fingerprint() string {
	return checksum(strings.Join([]string{strconv.FormatBool(f.All), f.AssetID, f.VulnID, strconv.Itoa(f.Priority)}, "\x1f"))
}

func (c findingCursor) String() string {
	dir, act := "n", "0"
	if c.back {
		dir = "p"
	}
	if c.key.active {
		act = "1"
	}
	return sealCursor(".", dir, c.filter, act, strconv.Itoa(c.key.priority), strconv.Itoa(c.key.rank), c.key.id)
}

// checksum makes a cut or edited cursor detectable.
func checksum(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return strconv.FormatUint(uint64(h.Sum32()), 36)
}

// sealCursor writes the parts of a page cursor joined by sep, behind a
// version and a checksum, as URL-safe base64.
func sealCursor(sep string, parts ...string) string {
	body := strings.Join(parts, sep)
	return base64.RawURLEncoding.EncodeToString([]byte("v1" + sep + checksum(body) + sep + body))
}

// openCursor returns the n parts of a cursor sealCursor wrote with sep;
// false when s is not one (too long, cut, edited, or of another number of
// parts).
func openCursor(s, sep string, n int) ([]string, bool) {
	if len(s) > maxCursorLen {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	head := strings.SplitN(string(raw), sep, 3)
	if len(head) != 3 || head[0] != "v1" || head[1] != checksum(head[2]) {
		return nil, false
	}
	parts := strings.SplitN(head[2], sep, n)
	return parts, len(parts) == n
}

// parseFindingCursor reads a cursor made by PageFindings for f. A value
// that is not a cursor is an Invalid error on the field "cursor"
// (vulnpage.cursor.invalid); a cursor made for another filter, as after
// the filter was changed, one with vulnpage.cursor.stale.
func parseFindingCursor(s string, f FindingFilter) (findingCursor, error) {
	bad := apperr.Field("cursor", "vulnpage.cursor.invalid")
	parts, ok := openCursor(s, ".", 6)
	if !ok || (parts[0] != "n" && parts[0] != "p") || (parts[2] != "0" && parts[2] != "1") {
		return findingCursor{}, bad
	}
	c := findingCursor{back: parts[0] == "p", filter: parts[1], key: findingKey{active: parts[2] == "1", id: parts[5]}}
	var err error
	if c.key.priority, err = strconv.Atoi(parts[3]); err != nil {
		return findingCursor{}, bad
	}
	if c.key.rank, err = strconv.Atoi(parts[4]); err != nil {
		return findingCursor{}, bad
	}
	if c.key.id == "" || !validCursorID(c.key.id) {
		return findingCursor{}, bad
	}
	if c.filter != f.fingerprint() {
		return findingCursor{}, apperr.Field("cursor", "vulnpage.cursor.stale")
	}
	return c, nil
}

func validCursorID(id string) bool {
	for _, r := range id {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}

// where builds the filter's condition on vuln_findings f.
func (f FindingFilter) where(orgID string) (string, []any) {
	where := []string{"f.org_id = ?"}
	args := []any{orgID}
	if !f.All {
		where = append(where, "f.active AND f.state IN ('open','in_progress')")
	}
	if f.AssetID != "" {
		where = append(where, "f.asset_id = ?")
		args = append(args, f.AssetID)
	}
	if f.VulnID != "" {
		where = append(where, "f.vuln_id = ?")
		args = append(args, f.VulnID)
	}
	if f.Priority > 0 {
		where = append(where, "f.priority = ?")
		args = append(args, f.Priority)
	}
	return strings.Join(where, " AND "), args
}

// findingOrder is the list order. Pages read it one segment at a time
// (active findings, then closed ones), each an index range on
// (org_id, active, priority, rank, id): ordering on active as well would
// make the database sort every finding of the organisation for each page.
const findingOrder = ` ORDER BY f.active DESC, f.priority, f.rank, f.id`

func keyOf(f *Finding, rank int) findingKey {
	return findingKey{active: f.Active, priority: f.Priority, rank: rank, id: f.ID}
}

// fetchFindings reads up to limit findings that where selects, in list
// order after from (all from the start when nil) or, when back is set, in
// reverse order before from.
func fetchFindings(ctx context.Context, q db.Querier, where string, args []any, all bool, from *findingKey, back bool, limit int) ([]Finding, []int, error) {
	segments := []bool{true}
	if all {
		segments = append(segments, false)
	}
	order, cmp := ` ORDER BY f.priority, f.rank, f.id`, ">"
	if back {
		slices.Reverse(segments)
		order, cmp = ` ORDER BY f.priority DESC, f.rank DESC, f.id DESC`, "<"
	}
	var out []Finding
	var ranks []int
	started := from == nil
	for _, active := range segments {
		if len(out) >= limit {
			break
		}
		cond, cargs := where+" AND f.active = FALSE", args
		if active {
			cond = where + " AND f.active = TRUE"
		}
		if !started {
			if active != from.active {
				continue
			}
			cond += " AND (f.priority, f.rank, f.id) " + cmp + " (?, ?, ?)"
			cargs = slices.Concat(args, []any{from.priority, from.rank, from.id})
			started = true
		}
		fs, rs, err := queryFindings(ctx, q, cond, order, limit-len(out), cargs)
		if err != nil {
			return nil, nil, err
		}
		out, ranks = append(out, fs...), append(ranks, rs...)
	}
	return out, ranks, nil
}

// queryFindings runs findingSelect (plus the rank) with the condition and
// order, returning the findings and their ranks.
func queryFindings(ctx context.Context, q db.Querier, where, order string, limit int, args []any) ([]Finding, []int, error) {
	sel := strings.Replace(findingSelect, "SELECT ", "SELECT f.rank, ", 1)
	if limit > 0 {
		order += " LIMIT ?"
		args = slices.Concat(args, []any{limit})
	}
	rows, err := q.Query(ctx, sel+` WHERE `+where+order, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []Finding
	var ranks []int
	for rows.Next() {
		var rank int
		fd, err := scanFinding(rankScanner{rows, &rank})
		if err != nil {
			return nil, nil, err
		}
		out = append(out, fd)
		ranks = append(ranks, rank)
	}
	return out, ranks, rows.Err()
}

// rankScanner reads the leading rank column before the finding's.
type rankScanner struct {
	s    scanner
	rank *int
}

func (r rankScanner) Scan(dest ...any) error {
	return r.s.Scan(append([]any{r.rank}, dest...)...)
}

// FindingPage is one page of an organisation's findings.
type FindingPage struct {
	Findings []Finding `json:"findings"`
	// Total counts the findings the filter selects, on every page.
	Total int `json:"total"`
	// Start is the position (from 1) of the page's first finding in the
	// whole list, 0 when the page is empty.
	Start int `json:"-"`
	// Next and Prev are the cursors of the following and preceding pages,
	// "" when there is none.
	Next string `json:"next_cursor,omitempty"`
	Prev string `json:"prev_cursor,omitempty"`
}

// End is the position of the page's last finding (0 when empty).
func (p FindingPage) End() int {
	if len(p.Findings) == 0 {
		return 0
	}
	return p.Start + len(p.Findings) - 1
}

// PageFindings returns one page of the organisation's findings that f
// selects (f.Limit and f.Offset are ignored), in the order of
// ListFindings: the first page when cursor is "", else the page after (or,
// for a Prev cursor, before) the one the cursor came from. size is
// bounded to MaxFindingPage (DefaultFindingPage when 0 or less). The order
// is stable across pages: findings added or closed between two requests
// shift positions but never repeat or skip an unchanged finding. A cursor
// that cannot be read, or that was made for another filter, is an Invalid
// error on the field "cursor" and reads nothing.
func PageFindings(ctx context.Context, q db.Querier, orgID string, f FindingFilter, cursor string, size int) (FindingPage, error) {
	if size <= 0 {
		size = DefaultFindingPage
	}
	size = min(size, MaxFindingPage)
	var c *findingCursor
	if cursor != "" {
		pc, err := parseFindingCursor(cursor, f)
		if err != nil {
			return FindingPage{}, err
		}
		c = &pc
	}
	where, args := f.where(orgID)
	var page FindingPage
	var ranks []int
	var err error
	if c == nil || !c.back {
		var from *findingKey
		if c != nil {
			from = &c.key
		}
		page.Findings, ranks, err = fetchFindings(ctx, q, where, args, f.All, from, false, size+1)
		if err == nil && len(page.Findings) > size {
			page.Findings, ranks = page.Findings[:size], ranks[:size]
			page.Next = findingCursor{filter: f.fingerprint(), key: keyOf(&page.Findings[size-1], ranks[size-1])}.String()
		}
	} else {
		page.Findings, ranks, err = fetchFindings(ctx, q, where, args, f.All, &c.key, true, size)
		if err == nil && len(page.Findings) < size {
			return PageFindings(ctx, q, orgID, f, "", size)
		}
		slices.Reverse(page.Findings)
		slices.Reverse(ranks)
		if len(page.Findings) > 0 {
			page.Next = findingCursor{filter: f.fingerprint(), key: keyOf(&page.Findings[len(page.Findings)-1], ranks[len(ranks)-1])}.String()
		}
	}
	if err != nil {
		return FindingPage{}, err
	}
	first := findingKey{}
	switch {
	case len(page.Findings) > 0:
		first = keyOf(&page.Findings[0], ranks[0])
	case c != nil:
		first = c.key
	}
	var before int
	if c != nil && first.id != "" {
		before, err = findingsBefore(ctx, q, orgID, f, first)
	}
	if err == nil {
		page.Total, err = totalFindings(ctx, q, orgID, f)
	}
	if err != nil {
		return FindingPage{}, err
	}
	if before > 0 {
		page.Prev = findingCursor{back: true, filter: f.fingerprint(), key: first}.String()
	}
	if len(page.Findings) > 0 {
		page.Start = before + 1
	}
	if page.Findings == nil {
		page.Findings = []Finding{}
	}
	return page, nil
}

// EachFinding calls fn with every finding of the organisation that f
// selects (f.Limit and f.Offset are ignored), in the order of
// ListFindings, reading a page at a time so that memory stays flat however
// many findings there are. It stops at the first error of fn and returns
// it.
func EachFinding(ctx context.Context, q db.Querier, orgID string, f FindingFilter, fn func(Finding) error) error {
	where, args := f.where(orgID)
	var last *findingKey
	for {
		fs, ranks, err := fetchFindings(ctx, q, where, args, f.All, last, false, eachFindingPage)
		if err != nil {
			return err
		}
		for i := range fs {
			if err := fn(fs[i]); err != nil {
				return err
			}
		}
		if len(fs) < eachFindingPage {
			return nil
		}
		k := keyOf(&fs[len(fs)-1], ranks[len(ranks)-1])
		last = &k
	}
}
