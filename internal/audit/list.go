package audit

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/i18n"
)

// List limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Filter selects entries of one organisation's log. Zero fields do not
// filter.
type Filter struct {
	// ActionPrefix matches the action itself and the actions below it:
	// "auth.signin" matches "auth.signin" and "auth.signin.failed", "auth"
	// every "auth.…" action.
	ActionPrefix string
	// Actor matches a case-insensitive part of the actor label (e-mail).
	Actor   string
	ActorID string
	// Outcome is Success, Failure or Denied.
	Outcome    string
	ObjectType string
	ObjectID   string
	// From is inclusive, To exclusive.
	From, To time.Time
	// BeforeSeq returns only entries older than this seq (a cursor for the
	// next page: the Seq of the last entry shown).
	BeforeSeq int64
	// Limit is the page size for List (DefaultLimit when zero, at most
	// MaxLimit); WriteCSV ignores Limit and Offset and writes every match.
	Limit  int
	Offset int
}

// ParseFilter reads a Filter from the query of an audit log page or
// export: action, actor, outcome, object_type, object, from and to (dates
// 2006-01-02 or date-times 2006-01-02T15:04 in Japan time; a date in "to"
// includes that whole day), before, limit, offset. Errors are Invalid
// errors naming the field.
func ParseFilter(v url.Values) (Filter, error) {
	var f Filter
	f.ActionPrefix = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(v.Get("action"))), ".")
	if f.ActionPrefix != "" && !ValidAction(f.ActionPrefix) {
		return Filter{}, apperr.Field("action", "audit.error.filter_action")
	}
	f.Actor = clean(strings.TrimSpace(v.Get("actor")), maxActor)
	f.Outcome = strings.TrimSpace(v.Get("outcome"))
	if f.Outcome != "" && !ValidOutcome(f.Outcome) {
		return Filter{}, apperr.Field("outcome", "audit.error.filter_outcome")
	}
	f.ObjectType = clean(strings.TrimSpace(v.Get("object_type")), maxShort)
	f.ObjectID = clean(strings.TrimSpace(v.Get("object")), maxShort)
	var err error
	if f.From, err = parseFilterTime(v.Get("from"), false); err != nil {
		return Filter{}, apperr.Field("from", "audit.error.filter_date")
	}
	if f.To, err = parseFilterTime(v.Get("to"), true); err != nil {
		return Filter{}, apperr.Field("to", "audit.error.filter_date")
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return Filter{}, apperr.Field("to", "audit.error.filter_range")
	}
	for _, n := range []struct {
		name string
		max  int64
		dst  func(int64)
	}{
		{"before", 1 << 62, func(x int64) { f.BeforeSeq = x }},
		{"limit", MaxLimit, func(x int64) { f.Limit = int(x) }},
		{"offset", 1 << 30, func(x int64) { f.Offset = int(x) }},
	} {
		s := strings.TrimSpace(v.Get(n.name))
		if s == "" {
			continue
		}
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil || x < 0 || x > n.max {
			return Filter{}, apperr.Field(n.name, "audit.error.filter_number")
		}
		n.dst(x)
	}
	return f, nil
}

func parseFilterTime(s string, end bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if len(s) < 4 || s[:4] < "1970" || s[:4] > "9000" {
		return time.Time{}, fmt.Errorf("bad time %q", s)
	}
	if t, err := time.ParseInLocation("2006-01-02", s, i18n.Tokyo); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, i18n.Tokyo); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q", s)
}

// Values returns the filter as query parameters that ParseFilter reads
// back (times in Japan time), for links to the next page and to the export.
func (f Filter) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("action", f.ActionPrefix)
	set("actor", f.Actor)
	set("outcome", f.Outcome)
	set("object_type", f.ObjectType)
	set("object", f.ObjectID)
	if !f.From.IsZero() {
		v.Set("from", f.From.In(i18n.Tokyo).Format("2006-01-02T15:04:05"))
	}
	if !f.To.IsZero() {
		v.Set("to", f.To.In(i18n.Tokyo).Format("2006-01-02T15:04:05"))
	}
	if f.BeforeSeq > 0 {
		v.Set("before", strconv.FormatInt(f.BeforeSeq, 10))
	}
	if f.Limit > 0 {
		v.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Offset > 0 {
		v.Set("offset", strconv.Itoa(f.Offset))
	}
	return v
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// where builds the condition and arguments for orgID and f.
func (f Filter) where(orgID string) (string, []any, error) {
	if orgID == "" {
		return "", nil, apperr.New(apperr.Invalid, "audit.error.org_required")
	}
	conds := []string{"org_id = ?"}
	args := []any{orgID}
	if f.ActionPrefix != "" {
		p := strings.TrimSuffix(f.ActionPrefix, ".")
		conds = append(conds, `(action = ? OR action LIKE ? ESCAPE '\')`)
		args = append(args, p, likeEscape(p)+".%")
	}
	if f.Actor != "" {
		conds = append(conds, `LOWER(actor) LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscape(strings.ToLower(f.Actor))+"%")
	}
	eq := func(col, val string) {
		if val != "" {
			conds = append(conds, col+" = ?")
			args = append(args, val)
		}
	}
	eq("actor_id", f.ActorID)
	eq("outcome", f.Outcome)
	eq("object_type", f.ObjectType)
	eq("object_id", f.ObjectID)
	if !f.From.IsZero() {
		conds = append(conds, "at >= ?")
		args = append(args, f.From)
	}
	if !f.To.IsZero() {
		conds = append(conds, "at < ?")
		args = append(args, f.To)
	}
	if f.BeforeSeq > 0 {
		conds = append(conds, "seq < ?")
		args = append(args, f.BeforeSeq)
	}
	return strings.Join(conds, " AND "), args, nil
}

// List returns the entries of organisation orgID matching f, newest first,
// one page of at most f.Limit. Entries of other organisations (and of none)
// are never returned. An empty orgID is an Invalid error.
func (l *Log) List(ctx context.Context, orgID string, f Filter) ([]Entry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	if limit > MaxLimit {
		limit = MaxLimit
	}
	offset := max(f.Offset, 0)
	var out []Entry
	err := l.each(ctx, orgID, f, fmt.Sprintf(" LIMIT %d OFFSET %d", limit, offset), func(e Entry, details string) error {
		decodeDetails(&e, details)
		out = append(out, e)
		return nil
	})
	return out, err
}

// each streams the entries of orgID matching f, newest first, to fn.
func (l *Log) each(ctx context.Context, orgID string, f Filter, tail string, fn func(Entry, string) error) error {
	cond, args, err := f.where(orgID)
	if err != nil {
		return err
	}
	rows, err := l.db.Query(ctx, `SELECT `+entryColumns+` FROM audit_log WHERE `+cond+` ORDER BY seq DESC`+tail, args...)
	if err != nil {
		return fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, details, err := scanEntry(rows)
		if err != nil {
			return fmt.Errorf("audit: list: %w", err)
		}
		if err := fn(e, details); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: list: %w", err)
	}
	return nil
}
