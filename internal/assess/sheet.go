package assess

import (
	"context"
	"database/sql"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
)

// Sheet is one organisation's questionnaire for one fiscal year. Subject
// is "" for the organisation's own sheet, "vendor:<request id>" for a
// vendor sheet answered for a customer, "survey:<id>" for a survey
// response.
type Sheet struct {
	ID         string     `json:"id"`
	OrgID      string     `json:"org_id"`
	EditionID  string     `json:"edition_id"`
	Family     string     `json:"family"`
	FiscalYear int        `json:"fiscal_year"`
	Subject    string     `json:"subject,omitempty"`
	Shared     bool       `json:"shared"`
	SignedBy   string     `json:"signed_by,omitempty"`
	SignedName string     `json:"signed_name,omitempty"`
	SignedAt   *time.Time `json:"signed_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`

	Answers map[Key]Answer `json:"-"`
}

// Signed reports whether the manager signed the sheet off.
func (s *Sheet) Signed() bool { return s.SignedAt != nil }

const sheetCols = `id, org_id, edition_id, family, fiscal_year, subject, shared, signed_by, signed_name, signed_at, created_at, updated_at`

func scanSheet(row db.Scanner) (*Sheet, error) { return scanSheetAnd(row) }

// scanSheetAnd reads a sheet's columns followed by those of extra.
func scanSheetAnd(row db.Scanner, extra ...any) (*Sheet, error) {
	var s Sheet
	var signed sql.NullTime
	if err := row.Scan(append([]any{&s.ID, &s.OrgID, &s.EditionID, &s.Family, &s.FiscalYear, &s.Subject, &s.Shared, &s.SignedBy, &s.SignedName, &signed, &s.CreatedAt, &s.UpdatedAt}, extra...)...); err != nil {
		return nil, db.ScanErr(err)
	}
	if signed.Valid {
		t := signed.Time
		s.SignedAt = &t
	}
	return &s, nil
}

// StartSheet creates the organisation's sheet of an edition for a fiscal
// year, or returns the existing one.
func StartSheet(ctx context.Context, q db.Querier, e *Edition, orgID string, fy int, subject string, now time.Time) (*Sheet, error) {
	if fy < 2000 || fy > 2100 {
		return nil, apperr.Field("fiscal_year", "assess.sheet.fy_invalid")
	}
	if s, err := findSheet(ctx, q, orgID, e.ID, fy, subject); err == nil {
		return s, nil
	} else if !apperr.Is(err, apperr.NotFound) {
		return nil, err
	}
	id := db.NewID()
	_, err := q.Exec(ctx, `INSERT INTO assess_sheets (id, org_id, edition_id, family, fiscal_year, subject, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, orgID, e.ID, e.Family, fy, subject, now, now)
	if err != nil {
		return nil, err
	}
	return GetSheet(ctx, q, orgID, id)
}

func findSheet(ctx context.Context, q db.Querier, orgID, editionID string, fy int, subject string) (*Sheet, error) {
	return scanSheet(q.QueryRow(ctx, `SELECT `+sheetCols+` FROM assess_sheets WHERE org_id = ? AND edition_id = ? AND fiscal_year = ? AND subject = ?`,
		orgID, editionID, fy, subject))
}

// GetSheet returns a sheet of orgID with its answers.
func GetSheet(ctx context.Context, q db.Querier, orgID, id string) (*Sheet, error) {
	s, err := scanSheet(q.QueryRow(ctx, `SELECT `+sheetCols+` FROM assess_sheets WHERE id = ? AND org_id = ?`, id, orgID))
	if err != nil {
		return nil, err
	}
	if s.Answers, err = loadAnswers(ctx, q, orgID, id); err != nil {
		return nil, err
	}
	return s, nil
}

func loadAnswers(ctx context.Context, q db.Querier, orgID, sheetID string) (map[Key]Answer, error) {
	as, err := db.QueryAll(ctx, q, func(r db.Scanner) (Answer, error) {
		var a Answer
		err := r.Scan(&a.ItemID, &a.Cell, &a.Answer1, &a.Date1, &a.Target, &a.Answer2, &a.Date2, &a.Value, &a.Comment)
		return a, err
	}, `SELECT item_id, cell, answer1, date1, target, answer2, date2, value, comment
		FROM assess_answers WHERE sheet_id = ? AND org_id = ?`, sheetID, orgID)
	if err != nil {
		return nil, err
	}
	out := make(map[Key]Answer, len(as))
	for _, a := range as {
		out[a.key()] = a
	}
	return out, nil
}

// SheetFilter narrows ListSheets.
type SheetFilter struct {
	FiscalYear int
	Family     string
	// Subjects "" lists the organisation's own sheets only; "*" lists all.
	Subject string
}

// where is the condition (and its arguments) of the organisation's sheets
// that f keeps.
func (f SheetFilter) where(orgID string) (string, []any) {
	where := `org_id = ?`
	args := []any{orgID}
	if f.FiscalYear != 0 {
		where += ` AND fiscal_year = ?`
		args = append(args, f.FiscalYear)
	}
	if f.Family != "" {
		where += ` AND family = ?`
		args = append(args, f.Family)
	}
	if f.Subject != "*" {
		where += ` AND subject = ?`
		args = append(args, f.Subject)
	}
	return where, args
}

// ListSheets lists an organisation's sheets, newest year first.
func ListSheets(ctx context.Context, q db.Querier, orgID string, f SheetFilter) ([]*Sheet, error) {
	where, args := f.where(orgID)
	sheets, _, err := sheetOrder.Query(ctx, q, auth.All, scanSheet, `SELECT `+sheetCols+` FROM assess_sheets WHERE `+where, args...)
	return sheets, err
}

// SaveAnswers validates the submitted answers together with the sheet's
// others and stores them all, or nothing: on any problem it returns an
// Invalid error wrapping Problems. An answer with every field empty
// clears the cell. Signed sheets refuse changes until reopened. Run it in
// a transaction.
func SaveAnswers(ctx context.Context, q db.Querier, e *Edition, orgID, sheetID, actorID string, in []Answer, now time.Time) (*Sheet, error) {
	s, err := GetSheet(ctx, q, orgID, sheetID)
	if err != nil {
		return nil, err
	}
	if s.EditionID != e.ID {
		return nil, apperr.Errorf("edition %s given for sheet of %s", e.ID, s.EditionID)
	}
	if s.Signed() {
		return nil, apperr.New(apperr.Conflict, "assess.sheet.signed")
	}
	merged := make(map[Key]Answer, len(s.Answers)+len(in))
	for k, a := range s.Answers {
		merged[k] = a
	}
	changed := map[Key]bool{}
	for _, a := range in {
		a.normalize()
		merged[a.key()] = a
		changed[a.key()] = true
	}
	today := Today(now)
	if ps := e.Validate(s.FiscalYear, merged, today); len(ps) > 0 {
		var mine Problems
		for _, p := range ps {
			if changed[Key{p.ItemID, p.Cell}] || p.Field == "answer1" && p.Key == "assess.problem.gated" {
				mine = append(mine, p)
			}
		}
		if len(mine) == 0 {
			mine = ps
		}
		return nil, problemsError(mine)
	}
	for k := range changed {
		a := merged[k]
		if a.Empty() {
			if _, err := q.Exec(ctx, `DELETE FROM assess_answers WHERE sheet_id = ? AND org_id = ? AND item_id = ? AND cell = ?`, sheetID, orgID, k.Item, k.Cell); err != nil {
				return nil, err
			}
			continue
		}
		_, err := q.Exec(ctx, `INSERT INTO assess_answers (sheet_id, org_id, item_id, cell, answer1, date1, target, answer2, date2, value, comment, updated_by, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (sheet_id, item_id, cell) DO UPDATE SET answer1 = excluded.answer1, date1 = excluded.date1, target = excluded.target,
			answer2 = excluded.answer2, date2 = excluded.date2, value = excluded.value, comment = excluded.comment,
			updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			sheetID, orgID, k.Item, k.Cell, a.Answer1, a.Date1, a.Target, a.Answer2, a.Date2, a.Value, a.Comment, actorID, now)
		if err != nil {
			return nil, err
		}
	}
	if _, err := q.Exec(ctx, `UPDATE assess_sheets SET updated_at = ? WHERE id = ? AND org_id = ?`, now, sheetID, orgID); err != nil {
		return nil, err
	}
	return GetSheet(ctx, q, orgID, sheetID)
}

// problemsError wraps problems in an Invalid error whose message is the
// first problem's.
func problemsError(ps Problems) error {
	p := ps[0]
	e := apperr.Field(p.FieldName(), p.Key, p.Args...)
	e.Err = ps
	return e
}

// Progress counts a sheet's answer cells.
type Progress struct {
	Cells    int `json:"cells"`
	Answered int `json:"answered"`
	Skipped  int `json:"skipped"`
	No       int `json:"no"`
	Second   int `json:"second"`
}

// Percent is the share of answered cells among those that need one.
func (p Progress) Percent() int {
	if p.Cells == 0 {
		return 100
	}
	return p.Answered * 100 / p.Cells
}

// Complete reports whether every cell that needs an answer has one.
func (p Progress) Complete() bool { return p.Answered >= p.Cells }

// Progress computes a sheet's progress against its edition.
func (s *Sheet) Progress(e *Edition) Progress {
	var p Progress
	skipped := e.Skipped(s.Answers)
	for _, it := range e.Items() {
		for _, c := range it.CellIDs() {
			if skipped[it.ID] {
				p.Skipped++
				continue
			}
			p.Cells++
			a := s.Answers[Key{it.ID, c}]
			if a.Done(it.Type) {
				p.Answered++
			}
			if a.Answer1 == AnsNo && a.Answer2 != AnsYes && !e.IsGate(it.ID) {
				p.No++
			}
			if a.Answer2 != "" {
				p.Second++
			}
		}
	}
	return p
}

// ItemStatus is "done", "partial", "todo" or "skipped".
func (s *Sheet) ItemStatus(e *Edition, it *Item) string {
	if e.Skipped(s.Answers)[it.ID] {
		return "skipped"
	}
	n := 0
	for _, c := range it.CellIDs() {
		if s.Answers[Key{it.ID, c}].Done(it.Type) {
			n++
		}
	}
	switch {
	case n == len(it.CellIDs()):
		return "done"
	case n > 0:
		return "partial"
	}
	return "todo"
}

// Sign records the manager's sign-off by p. Only those the permission
// table allows (an organisation admin: the 管理者 of the institution or
// their delegate) may sign, and only a complete sheet.
func Sign(ctx context.Context, q db.Querier, e *Edition, p *auth.Principal, orgID, sheetID, name string, now time.Time) (*Sheet, error) {
	if err := authorizeSign(p, "assess.sheet.sign", orgID); err != nil {
		return nil, err
	}
	userID := p.UserID
	s, err := GetSheet(ctx, q, orgID, sheetID)
	if err != nil {
		return nil, err
	}
	if s.Signed() {
		return nil, apperr.New(apperr.Conflict, "assess.sheet.signed")
	}
	if p := s.Progress(e); !p.Complete() {
		return nil, apperr.New(apperr.Invalid, "assess.sign.incomplete", p.Cells-p.Answered)
	}
	_, err = q.Exec(ctx, `UPDATE assess_sheets SET signed_by = ?, signed_name = ?, signed_at = ?, updated_at = ? WHERE id = ? AND org_id = ?`,
		userID, name, now, now, sheetID, orgID)
	if err != nil {
		return nil, err
	}
	return GetSheet(ctx, q, orgID, sheetID)
}

// Reopen removes the sign-off so that answers can change again (for the
// second check). Only those the permission table allows (admins). A
// vendor's answers copied for a request cannot be reopened by the
// institution (not found).
func Reopen(ctx context.Context, q db.Querier, p *auth.Principal, orgID, sheetID string, now time.Time) error {
	if err := authorizeSign(p, "assess.sheet.reopen", orgID); err != nil {
		return err
	}
	res, err := q.Exec(ctx, `UPDATE assess_sheets SET signed_by = '', signed_name = '', signed_at = NULL, updated_at = ? WHERE id = ? AND org_id = ? AND subject NOT LIKE 'vendor:%'`,
		now, sheetID, orgID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return db.ErrNotFound
	}
	return nil
}

// authorizeSign asks the permission table whether p may sign or reopen a
// sheet of orgID, keeping the checklist's own message for a refusal.
func authorizeSign(p *auth.Principal, action, orgID string) error {
	err := auth.AuthorizeMember(p, action, orgID)
	if err != nil && apperr.Is(err, apperr.Forbidden) {
		return apperr.New(apperr.Forbidden, "assess.sign.admin_only")
	}
	return err
}

// SetShared says whether the organisation shares the sheet's answers with
// its ISAC; unshared sheets appear in overviews as counts only.
func SetShared(ctx context.Context, q db.Querier, orgID, sheetID string, shared bool, now time.Time) error {
	res, err := q.Exec(ctx, `UPDATE assess_sheets SET shared = ?, updated_at = ? WHERE id = ? AND org_id = ?`, shared, now, sheetID, orgID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return db.ErrNotFound
	}
	return nil
}

// Previous returns the organisation's sheet of the same family and
// subject for the fiscal year before s, or nil.
func Previous(ctx context.Context, q db.Querier, s *Sheet) (*Sheet, error) {
	row := q.QueryRow(ctx, `SELECT `+sheetCols+` FROM assess_sheets WHERE org_id = ? AND family = ? AND subject = ? AND fiscal_year < ?
		ORDER BY fiscal_year DESC LIMIT 1`, s.OrgID, s.Family, s.Subject, s.FiscalYear)
	p, err := scanSheet(row)
	if apperr.Is(err, apperr.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if p.Answers, err = loadAnswers(ctx, q, s.OrgID, p.ID); err != nil {
		return nil, err
	}
	return p, nil
}

// StartFrom turns a previous year's answers into a starting point for
// sheet cur: answers of items that still exist, dated today, targets
// dropped (they belong to the old year). The result is offered in the
// form for a person to check and save; nothing is stored.
func StartFrom(e *Edition, prev *Sheet, today string) map[Key]Answer {
	out := map[Key]Answer{}
	if prev == nil {
		return out
	}
	for k, a := range prev.Answers {
		it := e.Item(k.Item)
		if it == nil {
			continue
		}
		ok := false
		for _, c := range it.CellIDs() {
			ok = ok || c == k.Cell
		}
		if !ok {
			continue
		}
		n := Answer{ItemID: k.Item, Cell: k.Cell, Comment: a.Comment}
		if it.Type == TypeCheck {
			if f := a.Final(); f != "" {
				n.Answer1, n.Date1 = f, today
			}
		} else {
			n.Value = a.Value
		}
		out[k] = n
	}
	return out
}

// CompareRow is one answer cell in a year-to-year comparison.
type CompareRow struct {
	Item    *Item
	Cell    string
	Before  string
	After   string
	Changed bool
}

// Compare lines up two sheets' final answers by stable item id (the items
// of cur's edition, then items only the older edition had).
func Compare(cur *Edition, curSheet *Sheet, prevEd *Edition, prevSheet *Sheet) []CompareRow {
	var out []CompareRow
	seen := map[Key]bool{}
	for _, it := range cur.Items() {
		for _, c := range it.CellIDs() {
			k := Key{it.ID, c}
			seen[k] = true
			r := CompareRow{Item: it, Cell: c, After: curSheet.Answers[k].Final()}
			if prevSheet != nil {
				r.Before = prevSheet.Answers[k].Final()
			}
			r.Changed = r.Before != r.After
			out = append(out, r)
		}
	}
	if prevEd != nil && prevSheet != nil {
		for _, it := range prevEd.Items() {
			for _, c := range it.CellIDs() {
				k := Key{it.ID, c}
				if seen[k] {
					continue
				}
				b := prevSheet.Answers[k].Final()
				out = append(out, CompareRow{Item: it, Cell: c, Before: b, Changed: b != ""})
			}
		}
	}
	return out
}

// FiscalYearOf is the Japanese fiscal year of t (April to March, Tokyo time).
func FiscalYearOf(t time.Time) int { return i18n.FiscalYear(t) }

// Today is the calendar date of t in Tokyo as "YYYY-MM-DD".
func Today(t time.Time) string { return t.In(i18n.Tokyo).Format("2006-01-02") }
