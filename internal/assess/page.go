package assess

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// Paging of the API's lists: pages are cut in the database by the list's
// own order (keyset), so a page costs the same however long the list is.

// DefaultPageSize and MaxPageSize bound one page of a list.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
)

// Page asks for one page: Cursor is the NextCursor of the previous page
// ("" for the first), Limit the page size (DefaultPageSize when 0, at
// most MaxPageSize).
type Page struct {
	Cursor string
	Limit  int
}

func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageSize
	case p.Limit > MaxPageSize:
		return MaxPageSize
	}
	return p.Limit
}

// sheetKey and vendorKey are the positions a cursor holds: the sort key
// of the last row of a page.
type sheetKey struct {
	FY     int    `json:"y"`
	Family string `json:"f"`
	ID     string `json:"i"`
}

type vendorKey struct {
	FY   int    `json:"y"`
	Name string `json:"n"`
	ID   string `json:"i"`
}

func encodeCursor(k any) string {
	b, _ := json.Marshal(k)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, k any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		err = dec.Decode(k)
	}
	if err != nil {
		return apperr.Field("cursor", "assess.api.bad_cursor")
	}
	return nil
}

// SheetPage is one page of an organisation's sheets, with their answers.
type SheetPage struct {
	Sheets     []*Sheet
	NextCursor string
}

// ListSheetsPage is ListSheets one page at a time, newest year first,
// each sheet with its answers (read together, not sheet by sheet).
func ListSheetsPage(ctx context.Context, q db.Querier, orgID string, f SheetFilter, p Page) (*SheetPage, error) {
	where, args := f.where(orgID)
	if p.Cursor != "" {
		var k sheetKey
		if err := decodeCursor(p.Cursor, &k); err != nil {
			return nil, err
		}
		if k.ID == "" {
			return nil, apperr.Field("cursor", "assess.api.bad_cursor")
		}
		where += ` AND (fiscal_year < ? OR (fiscal_year = ? AND (family > ? OR (family = ? AND id > ?))))`
		args = append(args, k.FY, k.FY, k.Family, k.Family, k.ID)
	}
	limit := p.limit()
	rows, err := q.Query(ctx, `SELECT `+sheetCols+` FROM assess_sheets WHERE `+where+` ORDER BY fiscal_year DESC, family, id LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, err
	}
	out := &SheetPage{}
	for rows.Next() {
		s, err := scanSheet(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out.Sheets = append(out.Sheets, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out.Sheets) > limit {
		out.Sheets = out.Sheets[:limit]
		last := out.Sheets[limit-1]
		out.NextCursor = encodeCursor(sheetKey{last.FiscalYear, last.Family, last.ID})
	}
	if err := loadAnswersOf(ctx, q, orgID, out.Sheets); err != nil {
		return nil, err
	}
	return out, nil
}

// loadAnswersOf reads the answers of sheets of orgID in one query.
func loadAnswersOf(ctx context.Context, q db.Querier, orgID string, sheets []*Sheet) error {
	if len(sheets) == 0 {
		return nil
	}
	byID := make(map[string]*Sheet, len(sheets))
	args := []any{orgID}
	marks := make([]string, 0, len(sheets))
	for _, s := range sheets {
		s.Answers = map[Key]Answer{}
		byID[s.ID] = s
		args = append(args, s.ID)
		marks = append(marks, "?")
	}
	rows, err := q.Query(ctx, `SELECT sheet_id, item_id, cell, answer1, date1, target, answer2, date2, value, comment
		FROM assess_answers WHERE org_id = ? AND sheet_id IN (`+strings.Join(marks, ", ")+`)`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var a Answer
		if err := rows.Scan(&id, &a.ItemID, &a.Cell, &a.Answer1, &a.Date1, &a.Target, &a.Answer2, &a.Date2, &a.Value, &a.Comment); err != nil {
			return err
		}
		if s := byID[id]; s != nil {
			s.Answers[a.key()] = a
		}
	}
	return rows.Err()
}

// VendorRequestPage is one page of an organisation's vendor requests.
type VendorRequestPage struct {
	Requests   []*VendorRequest
	NextCursor string
}

// ListVendorRequestsPage is ListVendorRequests one page at a time.
func ListVendorRequestsPage(ctx context.Context, q db.Querier, orgID string, fy int, p Page) (*VendorRequestPage, error) {
	where, args := `r.org_id = ?`, []any{orgID}
	if fy != 0 {
		where += ` AND r.fiscal_year = ?`
		args = append(args, fy)
	}
	if p.Cursor != "" {
		var k vendorKey
		if err := decodeCursor(p.Cursor, &k); err != nil {
			return nil, err
		}
		if k.ID == "" {
			return nil, apperr.Field("cursor", "assess.api.bad_cursor")
		}
		where += ` AND (r.fiscal_year < ? OR (r.fiscal_year = ? AND (r.vendor_name > ? OR (r.vendor_name = ? AND r.id > ?))))`
		args = append(args, k.FY, k.FY, k.Name, k.Name, k.ID)
	}
	limit := p.limit()
	rs, err := listVendorRequests(ctx, q, `SELECT `+vendorCols+`, '' FROM assess_vendor_requests r WHERE `+where+` ORDER BY r.fiscal_year DESC, r.vendor_name, r.id LIMIT ?`,
		append(args, limit+1)...)
	if err != nil {
		return nil, err
	}
	out := &VendorRequestPage{Requests: rs}
	if len(rs) > limit {
		out.Requests = rs[:limit]
		last := rs[limit-1]
		out.NextCursor = encodeCursor(vendorKey{last.FiscalYear, last.VendorName, last.ID})
	}
	return out, nil
}
