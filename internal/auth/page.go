package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// Paging of lists: a page is cut in the database by the list's own order
// (keyset), so a page costs the same however long the list is, and a row
// added or removed between two pages neither repeats nor skips another.

// DefaultPageSize and MaxPageSize bound one page of a list.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
)

// Page asks for one page of a list: Cursor is the NextCursor of the
// previous page ("" for the first), Limit the page size (DefaultPageSize
// when 0, at most MaxPageSize; All for the whole list).
type Page struct {
	Cursor string
	Limit  int
}

// All asks for a whole list, for the pages that show it at once.
var All = Page{Limit: -1}

// Size is the number of rows the page holds at most.
func (p Page) Size() int {
	switch {
	case p.Limit == 0:
		return DefaultPageSize
	case p.Limit > MaxPageSize:
		return MaxPageSize
	}
	return p.Limit
}

// errCursor is the refusal of a cursor that no page of the list gave.
func errCursor() error { return apperr.Field("cursor", "api.page.cursor") }

// SortKey is one column of a list's order.
type SortKey struct {
	Expr string
	Desc bool
}

// Keyset is the order of a list of T, its last column unique (the id),
// and the key K a cursor holds: the values of those columns on the last
// row of a page (Key), in order (Values).
type Keyset[T, K any] struct {
	Order  []SortKey
	Key    func(T) K
	Values func(K) []any
}

// OrderBy is the ORDER BY clause of the list.
func (ks Keyset[T, K]) OrderBy() string {
	parts := make([]string, len(ks.Order))
	for i, o := range ks.Order {
		parts[i] = o.Expr
		if o.Desc {
			parts[i] += " DESC"
		}
	}
	return " ORDER BY " + strings.Join(parts, ", ")
}

// After returns the condition that keeps the rows after the cursor of p
// (" AND (…)" to add to a WHERE clause, with its arguments), nothing for
// the first page, or an Invalid error on the field "cursor"
// (api.page.cursor) when the cursor was not made by this list.
func (ks Keyset[T, K]) After(p Page) (string, []any, error) {
	if p.Cursor == "" {
		return "", nil, nil
	}
	var k K
	if err := decodeCursor(p.Cursor, &k); err != nil {
		return "", nil, err
	}
	vals := ks.Values(k)
	if id, _ := vals[len(vals)-1].(string); id == "" {
		return "", nil, errCursor()
	}
	// (a > x) OR (a = x AND ((b > y) OR (b = y AND …))), "<" for a
	// descending column.
	cond, args := "", []any{}
	for i := len(ks.Order) - 1; i >= 0; i-- {
		o := ks.Order[i]
		op := " > ?"
		if o.Desc {
			op = " < ?"
		}
		if cond == "" {
			cond, args = o.Expr+op, []any{vals[i]}
			continue
		}
		cond = o.Expr + op + " OR (" + o.Expr + " = ? AND (" + cond + "))"
		args = append([]any{vals[i], vals[i]}, args...)
	}
	return " AND (" + cond + ")", args, nil
}

// Cut ends a page read with one row more than it holds: the rows of the
// page, and the cursor of the next one when there is more ("" at the
// end).
func (ks Keyset[T, K]) Cut(p Page, rows []T) ([]T, string) {
	if p.Limit < 0 || len(rows) <= p.Size() {
		return rows, ""
	}
	rows = rows[:p.Size()]
	return rows, encodeCursor(ks.Key(rows[len(rows)-1]))
}

// Query reads one page of the list: query is its SELECT up to and with
// its WHERE clause, to which the cursor's condition, the order and the
// limit are added.
func (ks Keyset[T, K]) Query(ctx context.Context, q db.Querier, p Page, scan func(db.Scanner) (T, error), query string, args ...any) ([]T, string, error) {
	after, more, err := ks.After(p)
	if err != nil {
		return nil, "", err
	}
	query += after + ks.OrderBy()
	args = append(args, more...)
	if p.Limit >= 0 {
		query += " LIMIT ?"
		args = append(args, p.Size()+1)
	}
	rows, err := db.QueryAll(ctx, q, scan, query, args...)
	if err != nil {
		return nil, "", err
	}
	rows, next := ks.Cut(p, rows)
	return rows, next, nil
}

func encodeCursor(k any) string {
	b, _ := json.Marshal(k)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, k any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err = dec.Decode(k)
	}
	if err != nil {
		return errCursor()
	}
	return nil
}

// PagePair pages a list made of two lists shown one after the other (the
// groups an organisation owns, then those it belongs to): first and
// second read one page of each from the Page given. The cursor says which
// list it continues.
func PagePair[A, B any](p Page, first func(Page) ([]A, string, error), second func(Page) ([]B, string, error)) ([]A, []B, string, error) {
	part, inner, ok := strings.Cut(p.Cursor, ".")
	switch {
	case p.Cursor == "":
		part = "1"
	case !ok || (part != "1" && part != "2"):
		return nil, nil, "", errCursor()
	}
	size := p.Size()
	var as []A
	if part == "1" {
		var next string
		var err error
		if as, next, err = first(Page{Cursor: inner, Limit: size}); err != nil || next != "" {
			return as, nil, mark("1.", next), err
		}
		inner = ""
	}
	left := size - len(as)
	if left == 0 {
		// Is there anything in the second list? Its first row waits for
		// the next page.
		bs, _, err := second(Page{Limit: 1})
		if err != nil || len(bs) == 0 {
			return as, nil, "", err
		}
		return as, nil, "2.", nil
	}
	bs, next, err := second(Page{Cursor: inner, Limit: left})
	return as, bs, mark("2.", next), err
}

func mark(part, next string) string {
	if next == "" {
		return ""
	}
	return part + next
}
