package share

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

func newUUID() string { return uuid.NewString() }

// OverCorrelation is the number of posts carrying one value beyond which
// the value is shown as "very common" instead of listing every post (the
// guard MISP added after its correlation tables grew to hundreds of GB).
const OverCorrelation = 200

// Indicator is an indicator of a post. Warning names the warning list
// that matches it ("" when none); PostCount is how many posts carry the
// same normalised value.
type Indicator struct {
	ID        string  `json:"id"`
	PostID    string  `json:"post_id"`
	Type      IOCType `json:"type"`
	Value     string  `json:"value"`
	Norm      string  `json:"normalized"`
	Comment   string  `json:"comment,omitempty"`
	Warning   string  `json:"warning,omitempty"`
	StixID    string  `json:"stix_id"`
	PostCount int64   `json:"post_count"`
	Sightings int64   `json:"sightings"`
	// SeenByMe is true when the reader's organisation reported a sighting.
	SeenByMe  bool      `json:"seen_by_me"`
	CreatedAt time.Time `json:"created_at"`
}

// addIndicators normalises and stores indicators of a post: each value is
// upserted once into share_ioc_values (its post count incremented), which
// is the whole of correlation. Duplicate values within the post are kept
// once.
func addIndicators(ctx context.Context, q db.Querier, postID string, in []IndicatorInput, now time.Time) ([]Indicator, error) {
	if len(in) == 0 {
		return nil, nil
	}
	wl, err := loadWarnings(ctx, q)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []Indicator
	for _, x := range in {
		norm, err := NormalizeIOC(x.Type, x.Value)
		if err != nil {
			return nil, err
		}
		key := string(x.Type) + "\x00" + norm
		if seen[key] {
			continue
		}
		seen[key] = true
		var valueID string
		var count int64
		if err := q.QueryRow(ctx, `INSERT INTO share_ioc_values (id, type, value, post_count, first_seen) VALUES (?, ?, ?, 1, ?)
			ON CONFLICT (type, value) DO UPDATE SET post_count = share_ioc_values.post_count + 1
			RETURNING id, post_count`, db.NewID(), x.Type, norm, now).Scan(&valueID, &count); err != nil {
			return nil, err
		}
		if x.StixID == "" {
			x.StixID = "indicator--" + newUUID()
		}
		// The count over every post is never shown: readers get counts of
		// what they may see (listIndicators).
		_ = count
		ind := Indicator{ID: db.NewID(), PostID: postID, Type: x.Type, Value: strings.TrimSpace(x.Value), Norm: norm,
			Comment: strings.TrimSpace(x.Comment), Warning: wl.match(x.Type, norm), StixID: x.StixID, CreatedAt: now}
		if _, err := q.Exec(ctx, `INSERT INTO share_indicators (id, post_id, value_id, type, raw, norm, comment, warning, stix_id, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ind.ID, postID, valueID, ind.Type, ind.Value, ind.Norm, ind.Comment, ind.Warning, ind.StixID, now); err != nil {
			return nil, err
		}
		out = append(out, ind)
	}
	return out, nil
}

// listIndicators lists a post's indicators. PostCount counts only the
// posts the reader may see that carry the same value (up to
// OverCorrelation+1, "very common"): a count over every post would tell
// anyone who posts a value whether hidden posts carry it.
func listIndicators(ctx context.Context, q db.Querier, v Viewer, postID string) ([]Indicator, error) {
	counts, err := visibleCounts(ctx, q, v, postID)
	if err != nil {
		return nil, err
	}
	return db.QueryAll(ctx, q, func(r db.Scanner) (Indicator, error) {
		var x Indicator
		var valueID string
		err := r.Scan(&x.ID, &x.PostID, &valueID, &x.Type, &x.Value, &x.Norm, &x.Comment, &x.Warning, &x.StixID, &x.Sightings, &x.CreatedAt)
		x.PostCount = counts[valueID]
		return x, err
	}, `SELECT i.id, i.post_id, i.value_id, i.type, i.raw, i.norm, i.comment, i.warning, i.stix_id,
		(SELECT COUNT(*) FROM share_sightings s WHERE s.indicator_id = i.id), i.created_at
		FROM share_indicators i WHERE i.post_id = ? ORDER BY i.type, i.norm`, postID)
}

// visibleCounts returns, for each indicator value of a post, how many
// posts v may see carry it, counted up to OverCorrelation+1. Values that
// few posts carry at all are counted in one grouped query; the count of a
// common value stops at OverCorrelation+1 visible posts.
func visibleCounts(ctx context.Context, q db.Querier, v Viewer, postID string) (map[string]int64, error) {
	out := map[string]int64{}
	pred, args := visible(v)
	rows, err := q.Query(ctx, `SELECT o.value_id, COUNT(*) FROM share_indicators o JOIN share_posts p ON p.id = o.post_id
		WHERE o.value_id IN (SELECT i.value_id FROM share_indicators i JOIN share_ioc_values val ON val.id = i.value_id
			WHERE i.post_id = ? AND val.post_count <= `+strconv.Itoa(OverCorrelation)+`) AND `+pred+`
		GROUP BY o.value_id`, append([]any{postID}, args...)...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return nil, err
		}
		out[id] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = q.Query(ctx, `SELECT i.value_id FROM share_indicators i JOIN share_ioc_values val ON val.id = i.value_id
		WHERE i.post_id = ? AND val.post_count > `+strconv.Itoa(OverCorrelation), postID)
	if err != nil {
		return nil, err
	}
	var common []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		common = append(common, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, id := range common {
		var n int64
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM share_indicators o JOIN share_posts p ON p.id = o.post_id
			WHERE o.value_id = ? AND `+pred+` LIMIT `+strconv.Itoa(OverCorrelation+1)+`) x`, append([]any{id}, args...)...).Scan(&n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, nil
}

// Correlation is another post that carries the same indicator value.
type Correlation struct {
	PostID string  `json:"post_id"`
	Title  string  `json:"title"`
	TLP    TLP     `json:"tlp"`
	Type   IOCType `json:"type"`
	Value  string  `json:"value"`
}

// Correlations lists, for the indicators of a post v may see, the other
// posts v may see that carry the same normalised values. Values carried by
// more than OverCorrelation posts are left out (they are shown as very
// common instead).
func Correlations(ctx context.Context, q db.Querier, v Viewer, postID string, limit int) ([]Correlation, error) {
	if _, err := GetPost(ctx, q, v, postID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	// Values carried by more than OverCorrelation posts the reader may see
	// are left out; posts it may not see count for nothing, not even
	// towards that threshold.
	counts, err := visibleCounts(ctx, q, v, postID)
	if err != nil {
		return nil, err
	}
	var keep []any
	for id, n := range counts {
		if n >= 2 && n <= OverCorrelation {
			keep = append(keep, id)
		}
	}
	if len(keep) == 0 {
		return nil, nil
	}
	pred, args := visible(v)
	return db.QueryAll(ctx, q, scanCorrelation, `SELECT p.id, p.title, p.tlp, mine.type, mine.norm
		FROM share_indicators mine
		JOIN share_indicators other ON other.value_id = mine.value_id AND other.post_id <> mine.post_id
		JOIN share_posts p ON p.id = other.post_id
		WHERE mine.post_id = ? AND mine.value_id IN (`+db.In(len(keep))+`) AND `+pred+`
		ORDER BY p.created_at DESC, p.id LIMIT `+strconv.Itoa(limit), append(append([]any{postID}, keep...), args...)...)
}

func scanCorrelation(r db.Scanner) (Correlation, error) {
	var c Correlation
	err := r.Scan(&c.PostID, &c.Title, &c.TLP, &c.Type, &c.Value)
	return c, err
}

// LookupIOC returns the posts v may see that carry value (of type t, or
// of the guessed type when t is empty): one indexed lookup in
// share_ioc_values and share_indicators.
func LookupIOC(ctx context.Context, q db.Querier, v Viewer, t IOCType, value string, limit int) ([]Correlation, error) {
	if t == "" {
		t = DetectIOC(value)
	}
	norm, err := NormalizeIOC(t, value)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	pred, args := visible(v)
	return db.QueryAll(ctx, q, scanCorrelation, `SELECT p.id, p.title, p.tlp, val.type, val.value
		FROM share_ioc_values val JOIN share_indicators i ON i.value_id = val.id JOIN share_posts p ON p.id = i.post_id
		WHERE val.type = ? AND val.value = ? AND `+pred+` ORDER BY p.created_at DESC, p.id LIMIT `+strconv.Itoa(limit),
		append([]any{t, norm}, args...)...)
}

// Warning is an entry of a warning list: a value known to be harmless
// (public DNS resolvers, big cloud ranges, common domains, the empty
// file's hashes) that would otherwise cause false alarms.
type Warning struct {
	ID       string    `json:"id"`
	List     string    `json:"list"`
	Type     string    `json:"type"`
	Value    string    `json:"value"`
	Builtin  bool      `json:"builtin"`
	Disabled bool      `json:"disabled"`
	Created  time.Time `json:"created_at"`
}

type warnings struct {
	exact map[string]string // type\x00value → list
	cidrs []struct {
		p    netip.Prefix
		list string
	}
	domains map[string]string
}

func loadWarnings(ctx context.Context, q db.Querier) (*warnings, error) {
	rows, err := q.Query(ctx, `SELECT list, type, value FROM share_warnings WHERE NOT disabled`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	w := &warnings{exact: map[string]string{}, domains: map[string]string{}}
	for rows.Next() {
		var list, t, val string
		if err := rows.Scan(&list, &t, &val); err != nil {
			return nil, err
		}
		switch t {
		case "cidr":
			if p, err := netip.ParsePrefix(val); err == nil {
				w.cidrs = append(w.cidrs, struct {
					p    netip.Prefix
					list string
				}{p.Masked(), list})
			}
		case "domain":
			w.domains[val] = list
		default:
			w.exact[t+"\x00"+val] = list
		}
	}
	return w, rows.Err()
}

// match returns the list that flags (t, norm), or "".
func (w *warnings) match(t IOCType, norm string) string {
	if l, ok := w.exact[string(t)+"\x00"+norm]; ok {
		return l
	}
	host := ""
	switch t {
	case IOCIP:
		a, err := netip.ParseAddr(norm)
		if err != nil {
			return ""
		}
		for _, c := range w.cidrs {
			if c.p.Contains(a) {
				return c.list
			}
		}
		return ""
	case IOCDomain:
		host = norm
	case IOCEmail:
		host = norm[strings.LastIndexByte(norm, '@')+1:]
	case IOCURL:
		if i := strings.Index(norm, "://"); i >= 0 {
			host = norm[i+3:]
			if j := strings.IndexAny(host, "/?#"); j >= 0 {
				host = host[:j]
			}
			if j := strings.LastIndexByte(host, ':'); j >= 0 && !strings.HasSuffix(host, "]") {
				host = host[:j]
			}
			if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
				return w.match(IOCIP, a.String())
			}
		}
	}
	for host != "" {
		if l, ok := w.domains[host]; ok {
			return l
		}
		i := strings.IndexByte(host, '.')
		if i < 0 {
			break
		}
		host = host[i+1:]
	}
	return ""
}

// ListWarnings lists the warning-list entries.
func ListWarnings(ctx context.Context, q db.Querier) ([]Warning, error) {
	return db.QueryAll(ctx, q, func(r db.Scanner) (Warning, error) {
		var w Warning
		err := r.Scan(&w.ID, &w.List, &w.Type, &w.Value, &w.Builtin, &w.Disabled, &w.Created)
		return w, err
	}, `SELECT id, list, type, value, builtin, disabled, created_at FROM share_warnings ORDER BY list, type, value`)
}

// AddWarning adds an entry to a warning list (ISAC operators only). It
// flags matching indicators written from now on.
func AddWarning(ctx context.Context, q db.Querier, v Viewer, list, typ, value string, now time.Time) (*Warning, error) {
	if err := v.check("share.warning.add", auth.Target{}, "share.warning.operators_only"); err != nil {
		return nil, err
	}
	list = strings.TrimSpace(list)
	if list == "" || len(list) > 100 {
		return nil, apperr.Field("list", "share.warning.list_required")
	}
	var norm string
	switch typ {
	case "cidr":
		p, err := netip.ParsePrefix(strings.TrimSpace(value))
		if err != nil {
			return nil, apperr.Field("value", "share.warning.bad_cidr", value)
		}
		norm = p.Masked().String()
	default:
		t := IOCType(typ)
		if !t.Valid() {
			return nil, apperr.Field("type", "share.ioc.bad_type", typ)
		}
		var err error
		if norm, err = NormalizeIOC(t, value); err != nil {
			return nil, asField("value", err)
		}
	}
	w := &Warning{ID: db.NewID(), List: list, Type: typ, Value: norm, Created: now.UTC()}
	if _, err := q.Exec(ctx, `INSERT INTO share_warnings (id, list, type, value, builtin, disabled, created_at) VALUES (?, ?, ?, ?, FALSE, FALSE, ?)`,
		w.ID, w.List, w.Type, w.Value, w.Created); err != nil {
		if errors.Is(err, db.ErrConflict) {
			return nil, apperr.Field("value", "share.warning.duplicate")
		}
		return nil, err
	}
	return w, nil
}

// SetWarningDisabled switches an entry off or on (operators only); shipped
// entries are switched off rather than deleted.
func SetWarningDisabled(ctx context.Context, q db.Querier, v Viewer, id string, disabled bool) error {
	if err := v.check("share.warning.toggle", auth.Target{}, "share.warning.operators_only"); err != nil {
		return err
	}
	res, err := q.Exec(ctx, `UPDATE share_warnings SET disabled = ? WHERE id = ?`, disabled, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return db.ErrNotFound
	}
	return nil
}

// DeleteWarning removes an operator-added entry.
func DeleteWarning(ctx context.Context, q db.Querier, v Viewer, id string) error {
	if err := v.check("share.warning.delete", auth.Target{}, "share.warning.operators_only"); err != nil {
		return err
	}
	res, err := q.Exec(ctx, `DELETE FROM share_warnings WHERE id = ? AND NOT builtin`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return db.ErrNotFound
	}
	return nil
}
