package assess

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/notify"
)

const surveyCols = `s.id, s.owner_org_id, s.edition_id, s.title, s.status, s.due_on, s.filter, s.created_at,
	(SELECT COUNT(*) FROM assess_survey_targets t WHERE t.survey_id = s.id),
	(SELECT COUNT(t.responded_at) FROM assess_survey_targets t WHERE t.survey_id = s.id)`

func scanSurvey(row db.Scanner) (*Survey, error) {
	var s Survey
	var fj string
	if err := row.Scan(&s.ID, &s.OwnerOrgID, &s.EditionID, &s.Title, &s.Status, &s.DueOn, &fj, &s.CreatedAt, &s.Targets, &s.Responded); err != nil {
		return nil, db.ScanErr(err)
	}
	_ = json.Unmarshal([]byte(fj), &s.Filter)
	return &s, nil
}

// OwnedSurveys lists the surveys ownerOrg sent, newest first, with target
// and response counts.
func OwnedSurveys(ctx context.Context, q db.Querier, ownerOrg string) ([]*Survey, error) {
	ss, _, err := OwnedSurveysPage(ctx, q, ownerOrg, auth.All)
	return ss, err
}

// OwnedSurvey returns one survey of ownerOrg.
func OwnedSurvey(ctx context.Context, q db.Querier, ownerOrg, id string) (*Survey, error) {
	return scanSurvey(q.QueryRow(ctx, `SELECT `+surveyCols+` FROM assess_surveys s WHERE s.id = ? AND s.owner_org_id = ?`, id, ownerOrg))
}

// Invitation is a survey an organisation was asked to answer. The counts
// of the embedded Survey are left zero.
type Invitation struct {
	Survey
	SheetID     string     `json:"sheet_id,omitempty"`
	RespondedAt *time.Time `json:"responded_at,omitempty"`
}

// Invitations lists the surveys orgID was invited to, newest first.
func Invitations(ctx context.Context, q db.Querier, orgID string) ([]*Invitation, error) {
	ins, _, err := InvitationsPage(ctx, q, orgID, auth.All)
	return ins, err
}

// CloseSurvey stops a survey of ownerOrg from taking responses.
func CloseSurvey(ctx context.Context, q db.Querier, ownerOrg, id string) error {
	res, err := q.Exec(ctx, `UPDATE assess_surveys SET status = 'closed' WHERE id = ? AND owner_org_id = ?`, id, ownerOrg)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return db.ErrNotFound
	}
	return nil
}

// RemindSurvey mails the administrators of every invited organisation
// that has not responded to an open survey of ownerOrg, at most once a
// day per organisation, in tx; it returns how many organisations were
// reminded. The mail names the survey and links to it.
func RemindSurvey(ctx context.Context, q db.Querier, m VendorMail, ownerOrg, ownerName, id string, now time.Time) (int, error) {
	s, err := OwnedSurvey(ctx, q, ownerOrg, id)
	if err != nil {
		return 0, err
	}
	if s.Status != "open" {
		return 0, nil
	}
	type rcpt struct{ org, email string }
	rs, err := db.QueryAll(ctx, q, func(r db.Scanner) (rcpt, error) {
		var x rcpt
		err := r.Scan(&x.org, &x.email)
		return x, err
	}, `SELECT t.org_id, u.email FROM assess_survey_targets t
		JOIN memberships mb ON mb.org_id = t.org_id AND mb.role = 'admin'
		JOIN users u ON u.id = mb.user_id
		WHERE t.survey_id = ? AND t.responded_at IS NULL AND (t.reminded_at IS NULL OR t.reminded_at < ?)
		ORDER BY t.org_id, u.email`, id, now.Add(-24*time.Hour))
	if err != nil {
		return 0, err
	}
	orgs := map[string]bool{}
	link := strings.TrimRight(m.BaseURL, "/") + "/assess/surveys/" + id
	due := s.DueOn
	if due == "" {
		due = m.Catalog.T("ja", "assess.mail.no_due")
	}
	for _, r := range rs {
		if m.Mailer != nil {
			if _, err := m.Mailer.Send(ctx, q, notify.Message{OrgID: r.org, To: r.email,
				Subject: m.Catalog.T("ja", "assess.mail.survey_subject", ownerName, s.Title),
				Body:    m.Catalog.T("ja", "assess.mail.survey_body", ownerName, s.Title, due, link)}); err != nil {
				return 0, err
			}
		}
		orgs[r.org] = true
	}
	for org := range orgs {
		if _, err := q.Exec(ctx, `UPDATE assess_survey_targets SET reminded_at = ? WHERE survey_id = ? AND org_id = ?`, now, id, org); err != nil {
			return 0, err
		}
	}
	return len(orgs), nil
}

// OverviewRow is one institution in an ISAC's progress overview. Only
// institutions that shared the sheet are named; the others are counted.
type OverviewRow struct {
	OrgName  string   `json:"org_name"`
	Kind     string   `json:"kind"`
	Progress Progress `json:"progress"`
	Signed   bool     `json:"signed"`
}

// Overview is the progress of member institutions on one family's sheet
// of a fiscal year.
type Overview struct {
	Family     string `json:"family"`
	FiscalYear int    `json:"fiscal_year"`
	// Members counts the member institutions (every organisation that is
	// not an ISAC or a vendor; for a hospital group, its accepted members).
	Members int `json:"members"`
	// Started, Complete and Signed count every member's sheet, shared or
	// not.
	Started  int `json:"started"`
	Complete int `json:"complete"`
	Signed   int `json:"signed"`
	// Shared lists the institutions that shared their sheet, by name.
	Shared []OverviewRow `json:"shared"`
}

// ProgressOverview computes the overview for an ISAC operator. Unshared
// sheets contribute to the counts only; their answers and names never
// leave this function.
func ProgressOverview(ctx context.Context, q db.Querier, reg *Registry, family string, fy int) (*Overview, error) {
	return progressOverview(ctx, q, reg, family, fy, `o.kind NOT IN ('isac', 'vendor', 'device_maker')`)
}

// GroupProgressOverview computes the overview of the hospital group
// groupID owned by ownerOrgID, over the organisations that accepted its
// invitation only; a group of another owner counts nothing. The caller
// checks that the reader may see the group. As in ProgressOverview,
// unshared sheets contribute to the counts only.
func GroupProgressOverview(ctx context.Context, q db.Querier, reg *Registry, ownerOrgID, groupID, family string, fy int) (*Overview, error) {
	return progressOverview(ctx, q, reg, family, fy, `o.id IN (SELECT m.org_id FROM org_group_members m JOIN org_groups g ON g.id = m.group_id
		WHERE g.id = ? AND g.owner_org_id = ? AND m.status = 'active')`, groupID, ownerOrgID)
}

// progressOverview counts the sheets of the organisations o that scope
// (a condition on o with its args) selects.
func progressOverview(ctx context.Context, q db.Querier, reg *Registry, family string, fy int, scope string, scopeArgs ...any) (*Overview, error) {
	ov := &Overview{Family: family, FiscalYear: fy}
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM organizations o WHERE `+scope, scopeArgs...).Scan(&ov.Members); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT `+prefixCols("s.", sheetCols)+`, o.name, o.kind FROM assess_sheets s JOIN organizations o ON o.id = s.org_id
		WHERE s.family = ? AND s.fiscal_year = ? AND s.subject = '' AND `+scope+` ORDER BY o.name, s.id`, append([]any{family, fy}, scopeArgs...)...)
	if err != nil {
		return nil, err
	}
	type item struct {
		sh         *Sheet
		name, kind string
	}
	var items []item
	for rows.Next() {
		var it item
		sh, err := scanSheetAnd(rows, &it.name, &it.kind)
		if err != nil {
			rows.Close()
			return nil, err
		}
		it.sh = sh
		items = append(items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, it := range items {
		e, err := reg.Get(ctx, q, "", it.sh.EditionID)
		if err != nil {
			continue
		}
		if it.sh.Answers, err = loadAnswers(ctx, q, it.sh.OrgID, it.sh.ID); err != nil {
			return nil, err
		}
		p := it.sh.Progress(e)
		ov.Started++
		if p.Complete() {
			ov.Complete++
		}
		if it.sh.Signed() {
			ov.Signed++
		}
		if it.sh.Shared {
			ov.Shared = append(ov.Shared, OverviewRow{OrgName: it.name, Kind: it.kind, Progress: p, Signed: it.sh.Signed()})
		}
	}
	return ov, nil
}

func prefixCols(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
