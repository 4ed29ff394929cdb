package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/auth"
)

type groupOverviewView struct {
	assessHelpers
	Group    *auth.Group
	Overview *assess.Overview
	Families []string
	Years    []int
}

// groupOverview is /assess/overview?group=ID: the checklist progress of a
// hospital group's accepted members for the people of the group's owner.
// Members that did not share their sheet are counted, never named; another
// organisation's group is a 404 like a missing one.
func (s *Server) groupOverview(w http.ResponseWriter, r *http.Request, groupID string) {
	ctx := r.Context()
	p := state(r).p
	g, err := auth.GetGroup(ctx, s.DB, p, groupID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	q := r.URL.Query()
	fy := assess.FiscalYearOf(s.Now())
	if n, err := strconv.Atoi(q.Get("year")); err == nil && n > 2000 && n < 2100 {
		fy = n
	}
	families := []string{"mhlw-institution", "mhlw-pharmacy", "mhlw-urgent"}
	family := families[0]
	for _, f := range families {
		if q.Get("family") == f {
			family = f
		}
	}
	ov, err := assess.GroupProgressOverview(ctx, s.DB, s.assessRegistry(), p.OrgID, g.ID, family, fy)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	pg := s.newPage(w, r, "group.web.overview_title")
	pg.Title = pg.T("group.web.overview_of", g.Name)
	pg.Data = groupOverviewView{Group: g, Overview: ov, Families: families, Years: []int{fy + 1, fy, fy - 1, fy - 2}}
	pg.Form = url.Values{"group": {g.ID}, "family": {family}, "year": {strconv.Itoa(fy)}}
	s.render(w, r, http.StatusOK, "group_overview", pg)
}
