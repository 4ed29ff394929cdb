package assess

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// Paging of the API's lists: pages are cut in the database by the list's
// own order (keyset, auth.Keyset), so a page costs the same however long
// the list is.

// DefaultPageSize and MaxPageSize bound one page of a list.
const (
	DefaultPageSize = auth.DefaultPageSize
	MaxPageSize     = auth.MaxPageSize
)

// Page asks for one page: Cursor is the NextCursor of the previous page
// ("" for the first), Limit the page size (DefaultPageSize when 0, at
// most MaxPageSize).
type Page = auth.Page

// sheetKey, vendorKey and createdKey are the positions a cursor holds:
// the sort key of the last row of a page.
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

type createdKey struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

func createdValues(k createdKey) []any { return []any{k.At, k.ID} }

var (
	sheetOrder = auth.Keyset[*Sheet, sheetKey]{
		Order:  []auth.SortKey{{Expr: "fiscal_year", Desc: true}, {Expr: "family"}, {Expr: "id"}},
		Key:    func(s *Sheet) sheetKey { return sheetKey{s.FiscalYear, s.Family, s.ID} },
		Values: func(k sheetKey) []any { return []any{k.FY, k.Family, k.ID} },
	}
	vendorOrder = auth.Keyset[*VendorRequest, vendorKey]{
		Order:  []auth.SortKey{{Expr: "r.fiscal_year", Desc: true}, {Expr: "r.vendor_name"}, {Expr: "r.id"}},
		Key:    func(r *VendorRequest) vendorKey { return vendorKey{r.FiscalYear, r.VendorName, r.ID} },
		Values: func(k vendorKey) []any { return []any{k.FY, k.Name, k.ID} },
	}
	inboxOrder = auth.Keyset[*VendorRequest, createdKey]{
		Order:  []auth.SortKey{{Expr: "r.created_at", Desc: true}, {Expr: "r.id"}},
		Key:    func(r *VendorRequest) createdKey { return createdKey{r.CreatedAt, r.ID} },
		Values: createdValues,
	}
	surveyOrder = auth.Keyset[*Survey, createdKey]{
		Order:  []auth.SortKey{{Expr: "s.created_at", Desc: true}, {Expr: "s.id"}},
		Key:    func(s *Survey) createdKey { return createdKey{s.CreatedAt, s.ID} },
		Values: createdValues,
	}
	invitationOrder = auth.Keyset[*Invitation, createdKey]{
		Order:  surveyOrder.Order,
		Key:    func(in *Invitation) createdKey { return createdKey{in.CreatedAt, in.ID} },
		Values: createdValues,
	}
)

// SheetPage is one page of an organisation's sheets, with their answers.
type SheetPage struct {
	Sheets     []*Sheet
	NextCursor string
}

// ListSheetsPage is ListSheets one page at a time, newest year first,
// each sheet with its answers (read together, not sheet by sheet).
func ListSheetsPage(ctx context.Context, q db.Querier, orgID string, f SheetFilter, p Page) (*SheetPage, error) {
	where, args := f.where(orgID)
	sheets, next, err := sheetOrder.Query(ctx, q, p, scanSheet, `SELECT `+sheetCols+` FROM assess_sheets WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	if err := loadAnswersOf(ctx, q, orgID, sheets); err != nil {
		return nil, err
	}
	return &SheetPage{Sheets: sheets, NextCursor: next}, nil
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

// scanCustomerRequest scans a vendor request followed by its customer's
// name.
func scanCustomerRequest(row db.Scanner) (*VendorRequest, error) {
	var customer string
	r, err := scanVendorRequest(row, &customer)
	if err != nil {
		return nil, err
	}
	r.CustomerName = customer
	return r, nil
}

// ListVendorRequestsPage is ListVendorRequests one page at a time.
func ListVendorRequestsPage(ctx context.Context, q db.Querier, orgID string, fy int, p Page) (*VendorRequestPage, error) {
	where, args := `r.org_id = ?`, []any{orgID}
	if fy != 0 {
		where += ` AND r.fiscal_year = ?`
		args = append(args, fy)
	}
	rs, next, err := vendorOrder.Query(ctx, q, p, scanCustomerRequest, `SELECT `+vendorCols+`, '' FROM assess_vendor_requests r WHERE `+where, args...)
	return &VendorRequestPage{Requests: rs, NextCursor: next}, err
}

// VendorInboxPage is one page of VendorInbox, and the cursor of the next.
func VendorInboxPage(ctx context.Context, q db.Querier, vendorOrgID string, p Page) ([]*VendorRequest, string, error) {
	return inboxOrder.Query(ctx, q, p, scanCustomerRequest, `SELECT `+vendorCols+`, o.name FROM assess_vendor_requests r JOIN organizations o ON o.id = r.org_id
		WHERE r.vendor_org_id = ?`, vendorOrgID)
}

// OwnedSurveysPage is one page of OwnedSurveys, and the cursor of the
// next.
func OwnedSurveysPage(ctx context.Context, q db.Querier, ownerOrg string, p Page) ([]*Survey, string, error) {
	return surveyOrder.Query(ctx, q, p, scanSurvey, `SELECT `+surveyCols+` FROM assess_surveys s WHERE s.owner_org_id = ?`, ownerOrg)
}

func scanInvitation(row db.Scanner) (*Invitation, error) {
	var in Invitation
	var fj string
	var resp sql.NullTime
	if err := row.Scan(&in.ID, &in.OwnerOrgID, &in.EditionID, &in.Title, &in.Status, &in.DueOn, &fj, &in.CreatedAt, &in.SheetID, &resp); err != nil {
		return nil, err
	}
	_ = json.Unmarshal([]byte(fj), &in.Filter)
	if resp.Valid {
		t := resp.Time
		in.RespondedAt = &t
	}
	return &in, nil
}

// InvitationsPage is one page of Invitations, and the cursor of the next.
func InvitationsPage(ctx context.Context, q db.Querier, orgID string, p Page) ([]*Invitation, string, error) {
	return invitationOrder.Query(ctx, q, p, scanInvitation, `SELECT s.id, s.owner_org_id, s.edition_id, s.title, s.status, s.due_on, s.filter, s.created_at, t.sheet_id, t.responded_at
		FROM assess_survey_targets t JOIN assess_surveys s ON s.id = t.survey_id WHERE t.org_id = ?`, orgID)
}
