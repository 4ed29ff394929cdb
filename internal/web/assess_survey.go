package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/auth"
)

// assessPickable are the editions whose items an operator can pick for a
// survey.
var assessPickable = []string{"mhlw-r7-institution", "mhlw-2024-08-urgent"}

type assessSurveysView struct {
	assessHelpers
	Owned   []*assess.Survey
	Invited []*assess.Invitation
	Pick    []*assess.Edition
	FY      int
}

func (s *Server) renderAssessSurveys(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) error {
	ctx := r.Context()
	p := state(r).p
	v := assessSurveysView{FY: assess.FiscalYearOf(s.Now())}
	var err error
	if p.IsOperator() {
		if v.Owned, err = assess.OwnedSurveys(ctx, s.DB, p.OrgID); err != nil {
			return err
		}
		for _, id := range assessPickable {
			if e, err := s.assessRegistry().Get(ctx, s.DB, p.OrgID, id); err == nil {
				v.Pick = append(v.Pick, e)
			}
		}
	}
	if v.Invited, err = assess.Invitations(ctx, s.DB, p.OrgID); err != nil {
		return err
	}
	pg := s.newPage(w, r, "assess.surveys.title")
	pg.Data = v
	pg.Form = withForm(url.Values{}, submitted)
	return s.renderForm(w, r, "assess_surveys", pg, prevErr)
}

// surveyFilter reads the organisation attributes of a form or query.
func surveyFilter(f url.Values) (assess.OrgFilter, error) {
	var out assess.OrgFilter
	for _, k := range f["kind"] {
		if k = strings.TrimSpace(k); k != "" {
			out.Kinds = append(out.Kinds, k)
		}
	}
	for _, p := range f["prefecture"] {
		if p = strings.TrimSpace(p); p != "" {
			out.Prefectures = append(out.Prefectures, p)
		}
	}
	for _, b := range []struct {
		name string
		dst  **int
	}{{"min_beds", &out.MinBeds}, {"max_beds", &out.MaxBeds}} {
		if v := strings.TrimSpace(toHalfWidth(f.Get(b.name))); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return out, apperr.Field(b.name, "assess.api.beds")
			}
			*b.dst = &n
		}
	}
	return out, nil
}

func (s *Server) assessSurveyCreate(w http.ResponseWriter, r *http.Request, m *member) error {
	ctx := r.Context()
	f := r.PostForm
	filter, err := surveyFilter(f)
	src := []byte(strings.TrimSpace(f.Get("source")))
	if err == nil && len(src) == 0 {
		var picks []*assess.Item
		for _, k := range f["item"] {
			ed, item, _ := strings.Cut(k, "/")
			if e, err := s.assessRegistry().Get(ctx, s.DB, m.P.OrgID, ed); err == nil && e.Item(item) != nil {
				picks = append(picks, e.Item(item))
			}
		}
		src, err = assess.BuildSurvey(f.Get("title"), assess.FiscalYearOf(s.Now()), picks)
	}
	var sv *assess.Survey
	if err == nil {
		sv, err = s.Assess.CreateSurvey(ctx, m.P, m.P.OrgID, src, filter, f.Get("due_on"))
	} else if !m.P.IsOperator() {
		err = apperr.New(apperr.Forbidden, "assess.survey.operator_only")
	}
	if err != nil {
		if rf := assessRefusal(m, err); rf != nil {
			return rf
		}
		return s.renderAssessSurveys(w, r, err, f)
	}
	s.flash(w, r, "/assess/surveys/"+sv.ID, "flash.assess_survey_created")
	return nil
}

// assessBar is one bar of a server-drawn chart.
type assessBar struct {
	Label string
	Count int
	Pct   int
	Width int
	Y     int
	Own   bool
}

type assessChart struct {
	Item   *assess.Item
	N      int
	Hidden bool
	Bars   []assessBar
	Height int
	Own    string
}

type assessSurveyView struct {
	assessHelpers
	Survey    *assess.Survey
	Edition   *assess.Edition
	Owner     bool
	Invited   *assess.Invitation
	Charts    []assessChart
	Group     assess.OrgFilter
	GroupText string
	Problems  []string
	Kinds     []auth.OrgKind
	MinGroup  int
}

// Field names the form field of an item cell.
func (assessSurveyView) Field(kind, item, cell string) string { return kind + "." + item + "." + cell }

// Checked reports whether option o is among the chosen values.
func (assessSurveyView) Checked(value, o string) bool {
	for _, x := range strings.Split(value, ",") {
		if x == o {
			return true
		}
	}
	return false
}

// RatePct is the response rate in percent.
func (v assessSurveyView) RatePct() int {
	if v.Survey == nil || v.Survey.Targets == 0 {
		return 0
	}
	return v.Survey.Responded * 100 / v.Survey.Targets
}

// charts turns aggregates into bars (width of the longest 240).
func charts(e *assess.Edition, res []assess.QuestionResult, own map[assess.Key]assess.Answer) []assessChart {
	var out []assessChart
	byItem := map[string]assess.QuestionResult{}
	for _, r := range res {
		byItem[r.ItemID+"/"+r.Cell] = r
	}
	for _, it := range e.Items() {
		for _, c := range it.CellIDs() {
			r := byItem[it.ID+"/"+c]
			ch := assessChart{Item: it, N: r.N, Hidden: r.Hidden || r.N < assess.MinGroup, Own: own[assess.Key{Item: it.ID, Cell: c}].Final()}
			if !ch.Hidden {
				for i, b := range r.Buckets {
					bar := assessBar{Label: valueLabel(it, b.Value), Count: b.Count, Pct: b.Count * 100 / r.N, Width: 4 + b.Count*236/r.N, Y: i * 22, Own: b.Value == ch.Own}
					ch.Bars = append(ch.Bars, bar)
				}
				ch.Height = len(ch.Bars) * 22
			}
			out = append(out, ch)
		}
	}
	return out
}

func valueLabel(it *assess.Item, v string) string {
	for _, o := range it.Options {
		if o.ID == v {
			return o.Label
		}
	}
	return assess.AnswerLabel(v)
}

// comparableGroup is the default group an invitee is compared with: the
// same kind and, for hospitals, the same bed band (100–199 and so on).
func comparableGroup(o *auth.Org) assess.OrgFilter {
	g := assess.OrgFilter{Kinds: []string{string(o.Kind)}}
	if o.Beds != nil {
		lo := *o.Beds / 100 * 100
		hi := lo + 99
		if *o.Beds < 20 {
			lo, hi = 0, 19
		} else if *o.Beds < 100 {
			lo, hi = 20, 99
		}
		g.MinBeds, g.MaxBeds = &lo, &hi
	}
	return g
}

func (s *Server) renderAssessSurvey(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) error {
	ctx := r.Context()
	p := state(r).p
	id := r.PathValue("id")
	v := assessSurveyView{Kinds: auth.OrgKinds, MinGroup: assess.MinGroup}
	reg := s.assessRegistry()
	q := r.URL.Query()
	sv, err := assess.OwnedSurvey(ctx, s.DB, p.OrgID, id)
	switch {
	case err == nil:
		v.Owner, v.Survey = true, sv
		if v.Edition, err = reg.Get(ctx, s.DB, p.OrgID, sv.EditionID); err != nil {
			return err
		}
		if v.Group, err = surveyFilter(q); err != nil {
			return err
		}
		res, err := assess.Aggregate(ctx, s.DB, p.OrgID, id, v.Group)
		if err != nil {
			return err
		}
		v.Charts = charts(v.Edition, res, nil)
	case apperr.Is(err, apperr.NotFound):
		sv, e, err := assess.SurveyFor(ctx, s.DB, reg, p.OrgID, id)
		if err != nil {
			return err
		}
		v.Survey, v.Edition = sv, e
		invs, err := assess.Invitations(ctx, s.DB, p.OrgID)
		if err != nil {
			return err
		}
		for _, in := range invs {
			if in.ID == id {
				v.Invited = in
			}
		}
		own := map[assess.Key]assess.Answer{}
		if v.Invited != nil && v.Invited.SheetID != "" {
			sh, err := assess.GetSheet(ctx, s.DB, p.OrgID, v.Invited.SheetID)
			if err != nil {
				return err
			}
			own = sh.Answers
		}
		if len(q) > 0 {
			if v.Group, err = surveyFilter(q); err != nil {
				return err
			}
		} else if o, err := auth.GetOrg(ctx, s.DB, p, p.OrgID); err == nil {
			v.Group = comparableGroup(o)
		}
		if v.Invited != nil && v.Invited.RespondedAt != nil {
			res, err := assess.Comparable(ctx, s.DB, p.OrgID, id, v.Group)
			if err != nil {
				return err
			}
			v.Charts = charts(e, res, own)
		}
		form := url.Values{}
		for k, a := range own {
			form.Set("value."+k.Item+"."+k.Cell, a.Value)
		}
		submitted = withForm(form, submitted)
	default:
		return err
	}
	v.GroupText = s.groupText(state(r).lang, v.Group)
	pg := s.newPage(w, r, "assess.surveys.title")
	pg.Title = v.Survey.Title
	v.Problems = append(v.Problems, s.problemTexts(state(r).lang, prevErr)...)
	pg.Data = v
	pg.Form = submitted
	return s.renderForm(w, r, "assess_survey", pg, prevErr)
}

// groupText describes a group ("病院・100〜199床") for the page.
func (s *Server) groupText(lang string, g assess.OrgFilter) string {
	var parts []string
	for _, k := range g.Kinds {
		parts = append(parts, s.Catalog.T(lang, "auth.kind."+k))
	}
	parts = append(parts, g.Prefectures...)
	switch {
	case g.MinBeds != nil && g.MaxBeds != nil:
		parts = append(parts, s.Catalog.T(lang, "assess.surveys.beds_range", *g.MinBeds, *g.MaxBeds))
	case g.MinBeds != nil:
		parts = append(parts, s.Catalog.T(lang, "assess.surveys.beds_min", *g.MinBeds))
	case g.MaxBeds != nil:
		parts = append(parts, s.Catalog.T(lang, "assess.surveys.beds_max", *g.MaxBeds))
	}
	if len(parts) == 0 {
		return s.Catalog.T(lang, "assess.surveys.all")
	}
	return strings.Join(parts, "・")
}

func (s *Server) assessSurveyRemind(w http.ResponseWriter, r *http.Request, m *member) error {
	id := r.PathValue("id")
	if _, err := s.Assess.RemindSurvey(r.Context(), m.P, m.P.OrgID, id); err != nil {
		return assessFail(m, err)
	}
	s.flash(w, r, "/assess/surveys/"+id, "flash.assess_survey_reminded")
	return nil
}

func (s *Server) assessSurveyClose(w http.ResponseWriter, r *http.Request, m *member) error {
	id := r.PathValue("id")
	if _, err := s.Assess.CloseSurvey(r.Context(), m.P, m.P.OrgID, id); err != nil {
		return assessFail(m, err)
	}
	s.flash(w, r, "/assess/surveys/"+id, "flash.assess_survey_closed")
	return nil
}

func (s *Server) assessSurveyRespond(w http.ResponseWriter, r *http.Request, m *member) error {
	id := r.PathValue("id")
	_, e, err := assess.SurveyFor(r.Context(), s.DB, s.assessRegistry(), m.P.OrgID, id)
	if err != nil {
		return err
	}
	f := r.PostForm
	var in []assess.Answer
	for _, it := range e.Items() {
		for _, c := range it.CellIDs() {
			k := "value." + it.ID + "." + c
			a := assess.Answer{ItemID: it.ID, Cell: c, Value: f.Get(k)}
			if it.Type == assess.TypeMulti {
				a.Value = it.NormalizeMulti(f[k])
			}
			in = append(in, a)
		}
	}
	_, _, err = s.Assess.Respond(r.Context(), m.P, m.P.OrgID, id, in)
	return s.assessDone(w, r, m, err, s.renderAssessSurvey, f, "/assess/surveys/"+id, "flash.assess_survey_answered")
}

type assessOverviewView struct {
	assessHelpers
	Overview *assess.Overview
	Families []string
	Years    []int
}

func (s *Server) assessOverview(w http.ResponseWriter, r *http.Request, m *member) error {
	if g := r.URL.Query().Get("group"); g != "" {
		s.groupOverview(w, r, g)
		return nil
	}
	p := m.P
	if !p.IsOperator() {
		return apperr.New(apperr.NotFound, "error.not_found")
	}
	q := r.URL.Query()
	fy := assess.FiscalYearOf(s.Now())
	if n, err := strconv.Atoi(q.Get("year")); err == nil && n > 2000 && n < 2100 {
		fy = n
	}
	family := q.Get("family")
	if family == "" {
		family = "mhlw-institution"
	}
	ov, err := assess.ProgressOverview(r.Context(), s.DB, s.assessRegistry(), family, fy)
	if err != nil {
		return err
	}
	pg := s.newPage(w, r, "assess.overview.title")
	pg.Data = assessOverviewView{Overview: ov, Families: []string{"mhlw-institution", "mhlw-pharmacy", "mhlw-urgent"}, Years: []int{fy + 1, fy, fy - 1, fy - 2}}
	pg.Form = url.Values{"family": {family}, "year": {strconv.Itoa(fy)}}
	s.render(w, r, http.StatusOK, "assess_overview", pg)
	return nil
}

func (s *Server) assessShare(w http.ResponseWriter, r *http.Request, m *member) error {
	id := r.PathValue("id")
	if err := s.Assess.Share(r.Context(), m.P, m.P.OrgID, id, r.PostForm.Get("shared") == "1"); err != nil {
		return assessFail(m, err)
	}
	s.flash(w, r, "/assess/sheets/"+id, "flash.assess_shared")
	return nil
}
