package assess

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// MinGroup is the smallest number of organisations an aggregate may
// describe; smaller groups are hidden.
const MinGroup = 5

// OrgFilter chooses organisations by their attributes, for survey targets
// and for aggregate groups. Zero fields do not filter.
type OrgFilter struct {
	Kinds       []string `json:"kinds,omitempty"`
	Prefectures []string `json:"prefectures,omitempty"`
	MinBeds     *int     `json:"min_beds,omitempty"`
	MaxBeds     *int     `json:"max_beds,omitempty"`
}

func (f OrgFilter) where(alias string) (string, []any) {
	var conds []string
	var args []any
	if len(f.Kinds) > 0 {
		conds = append(conds, alias+".kind IN ("+db.In(len(f.Kinds))+")")
		for _, k := range f.Kinds {
			args = append(args, k)
		}
	}
	if len(f.Prefectures) > 0 {
		conds = append(conds, alias+".prefecture IN ("+db.In(len(f.Prefectures))+")")
		for _, p := range f.Prefectures {
			args = append(args, p)
		}
	}
	if f.MinBeds != nil {
		conds = append(conds, alias+".beds >= ?")
		args = append(args, *f.MinBeds)
	}
	if f.MaxBeds != nil {
		conds = append(conds, alias+".beds <= ?")
		args = append(args, *f.MaxBeds)
	}
	if len(conds) == 0 {
		return "1 = 1", nil
	}
	return strings.Join(conds, " AND "), args
}

// Survey is a questionnaire an ISAC operator sends to member organisations.
type Survey struct {
	ID         string    `json:"id"`
	OwnerOrgID string    `json:"owner_org_id"`
	EditionID  string    `json:"edition_id"`
	Title      string    `json:"title"`
	Status     string    `json:"status"`
	DueOn      string    `json:"due_on"`
	Filter     OrgFilter `json:"filter"`
	CreatedAt  time.Time `json:"created_at"`
	Targets    int       `json:"targets"`
	Responded  int       `json:"responded"`
}

// CreateSurvey stores the questionnaire (an edition file of kind survey,
// visible to the owner and its targets), chooses the member organisations
// that match filter and invites them. It returns the survey with its
// target count.
func CreateSurvey(ctx context.Context, q db.Querier, reg *Registry, ownerOrg, actorID string, editionFile []byte, filter OrgFilter, dueOn string, now time.Time) (*Survey, error) {
	e, err := reg.SaveEdition(ctx, q, ownerOrg, actorID, "survey.yaml", editionFile, false, now)
	if err != nil {
		return nil, err
	}
	if e.Kind != KindSurvey {
		return nil, apperr.Field("file", "assess.survey.kind")
	}
	if dueOn != "" {
		if _, ok := ParseDate(dueOn); !ok {
			return nil, apperr.Field("due_on", "assess.problem.date_invalid", "", dueOn)
		}
	}
	fj, _ := json.Marshal(filter)
	s := &Survey{ID: db.NewID(), OwnerOrgID: ownerOrg, EditionID: e.ID, Title: e.Title, Status: "open", DueOn: dueOn, Filter: filter, CreatedAt: now}
	if _, err := q.Exec(ctx, `INSERT INTO assess_surveys (id, owner_org_id, edition_id, title, status, due_on, filter, created_by, created_at)
		VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?)`, s.ID, ownerOrg, e.ID, s.Title, dueOn, string(fj), actorID, now); err != nil {
		return nil, err
	}
	w, args := filter.where("o")
	res, err := q.Exec(ctx, `INSERT INTO assess_survey_targets (survey_id, org_id, invited_at)
		SELECT ?, o.id, ? FROM organizations o WHERE o.kind NOT IN ('isac', 'vendor', 'device_maker') AND o.id <> ? AND `+w,
		append([]any{s.ID, now, ownerOrg}, args...)...)
	if err != nil {
		return nil, err
	}
	n, _ := res.RowsAffected()
	s.Targets = int(n)
	return s, nil
}

// SurveyFor returns a survey and its edition to an invited organisation.
func SurveyFor(ctx context.Context, q db.Querier, reg *Registry, orgID, surveyID string) (*Survey, *Edition, error) {
	var s Survey
	var fj string
	err := db.ScanErr(q.QueryRow(ctx, `SELECT s.id, s.owner_org_id, s.edition_id, s.title, s.status, s.due_on, s.filter, s.created_at
		FROM assess_surveys s JOIN assess_survey_targets t ON t.survey_id = s.id WHERE s.id = ? AND t.org_id = ?`, surveyID, orgID).
		Scan(&s.ID, &s.OwnerOrgID, &s.EditionID, &s.Title, &s.Status, &s.DueOn, &fj, &s.CreatedAt))
	if err != nil {
		return nil, nil, err
	}
	_ = json.Unmarshal([]byte(fj), &s.Filter)
	e, err := reg.Get(ctx, q, s.OwnerOrgID, s.EditionID)
	if err != nil {
		return nil, nil, err
	}
	return &s, e, nil
}

// Respond records an invited organisation's answers to a survey (a sheet
// with subject "survey:<id>"), validated like any sheet, and marks it as
// responded.
func Respond(ctx context.Context, q db.Querier, reg *Registry, orgID, surveyID, actorID string, in []Answer, now time.Time) (*Sheet, error) {
	s, e, err := SurveyFor(ctx, q, reg, orgID, surveyID)
	if err != nil {
		return nil, err
	}
	if s.Status != "open" {
		return nil, apperr.New(apperr.Conflict, "assess.survey.closed")
	}
	sh, err := StartSheet(ctx, q, e, orgID, FiscalYearOf(now), "survey:"+surveyID, now)
	if err != nil {
		return nil, err
	}
	if sh, err = SaveAnswers(ctx, q, e, orgID, sh.ID, actorID, in, now); err != nil {
		return nil, err
	}
	_, err = q.Exec(ctx, `UPDATE assess_survey_targets SET sheet_id = ?, responded_at = ? WHERE survey_id = ? AND org_id = ?`, sh.ID, now, surveyID, orgID)
	return sh, err
}

// Bucket is the count of one answer value.
type Bucket struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// QuestionResult is the aggregate of one question (and cell). Hidden is
// set, and Buckets empty, when fewer than MinGroup organisations of the
// group answered it.
type QuestionResult struct {
	ItemID  string   `json:"item_id"`
	Cell    string   `json:"cell"`
	N       int      `json:"n"`
	Hidden  bool     `json:"hidden"`
	Buckets []Bucket `json:"buckets,omitempty"`
}

// Aggregate counts the answers of a survey owned by ownerOrg per question,
// among responding organisations that match group. Questions answered by
// fewer than MinGroup organisations of the group are hidden.
func Aggregate(ctx context.Context, q db.Querier, ownerOrg, surveyID string, group OrgFilter) ([]QuestionResult, error) {
	var one int
	if err := db.ScanErr(q.QueryRow(ctx, `SELECT 1 FROM assess_surveys WHERE id = ? AND owner_org_id = ?`, surveyID, ownerOrg).Scan(&one)); err != nil {
		return nil, err
	}
	return aggregate(ctx, q, surveyID, group)
}

func aggregate(ctx context.Context, q db.Querier, surveyID string, group OrgFilter) ([]QuestionResult, error) {
	w, args := group.where("o")
	rows, err := q.Query(ctx, `SELECT a.item_id, a.cell,
		CASE WHEN a.answer2 <> '' THEN a.answer2 WHEN a.answer1 <> '' THEN a.answer1 ELSE a.value END AS v, COUNT(*)
		FROM assess_survey_targets t
		JOIN organizations o ON o.id = t.org_id
		JOIN assess_answers a ON a.sheet_id = t.sheet_id AND a.org_id = t.org_id
		WHERE t.survey_id = ? AND t.responded_at IS NOT NULL AND `+w+`
		GROUP BY a.item_id, a.cell, v ORDER BY a.item_id, a.cell, v`, append([]any{surveyID}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []QuestionResult
	for rows.Next() {
		var item, cell, v string
		var n int
		if err := rows.Scan(&item, &cell, &v, &n); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].ItemID != item || out[len(out)-1].Cell != cell {
			out = append(out, QuestionResult{ItemID: item, Cell: cell})
		}
		r := &out[len(out)-1]
		r.N += n
		if v != "" {
			r.Buckets = append(r.Buckets, Bucket{Value: v, Count: n})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].N < MinGroup {
			out[i].Hidden, out[i].Buckets = true, nil
		}
	}
	return out, nil
}

// Comparable gives an invited organisation the distribution of answers of
// comparable institutions (group) next to its own; small groups are
// hidden exactly as in Aggregate.
func Comparable(ctx context.Context, q db.Querier, orgID, surveyID string, group OrgFilter) ([]QuestionResult, error) {
	var one int
	if err := db.ScanErr(q.QueryRow(ctx, `SELECT 1 FROM assess_survey_targets WHERE survey_id = ? AND org_id = ?`, surveyID, orgID).Scan(&one)); err != nil {
		return nil, err
	}
	return aggregate(ctx, q, surveyID, group)
}

// ResponseRate returns how many organisations were invited to a survey
// owned by ownerOrg and how many responded.
func ResponseRate(ctx context.Context, q db.Querier, ownerOrg, surveyID string) (invited, responded int, err error) {
	err = db.ScanErr(q.QueryRow(ctx, `SELECT COUNT(*), COUNT(t.responded_at) FROM assess_survey_targets t
		JOIN assess_surveys s ON s.id = t.survey_id WHERE s.id = ? AND s.owner_org_id = ?`, surveyID, ownerOrg).Scan(&invited, &responded))
	return invited, responded, err
}
