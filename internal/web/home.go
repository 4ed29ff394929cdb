package web

import (
	"net/http"

	"github.com/medisac/medisac/internal/auth"
)

// homeTile is an entry of the dashboard's capability area. Capabilities
// add theirs in homeTiles as they join the navigation shell.
type homeTile struct {
	Href, TitleKey, TextKey string
}

type homeView struct {
	Org         *auth.Org
	HasMFA      bool
	CanInvite   bool
	Members     int
	OrgComplete bool
	Tiles       []homeTile
}

// homeTiles lists the capability entries a principal sees on the dashboard.
func (s *Server) homeTiles(p *auth.Principal) []homeTile {
	var t []homeTile
	t = append(t, homeTile{Href: "/assess", TitleKey: "nav.assess", TextKey: "home.tile.assess"})
	t = append(t, homeTile{Href: "/share", TitleKey: "share.web.nav", TextKey: "share.web.tile"})
	t = append(t, homeTile{Href: "/vuln", TitleKey: "vuln.web.nav", TextKey: "vuln.web.tile"})
	if !p.IsOperator() {
		t = append(t, homeTile{Href: "/inventory", TitleKey: "inventory.nav", TextKey: "inventory.tile"}, homeTile{Href: "/inventory/measures", TitleKey: "inventory.measures.title", TextKey: "inventory.tile_measures"})
	}
	if p.IsAdmin() || p.Role == auth.RoleAuditor {
		t = append(t, homeTile{Href: "/audit", TitleKey: "nav.audit", TextKey: "home.tile.audit"})
	}
	if p.IsOperator() {
		t = append(t, homeTile{Href: "/admin/orgs", TitleKey: "nav.orgs", TextKey: "home.tile.orgs"})
	}
	return t
}

func (s *Server) home(w http.ResponseWriter, r *http.Request, m *member) error {
	ctx := r.Context()
	p := m.P
	o, err := auth.GetOrg(ctx, s.DB, p, p.OrgID)
	if err != nil {
		return err
	}
	v := homeView{Org: o, CanInvite: auth.Allowed(p, "org.invite", auth.Target{OrgID: p.OrgID}), Tiles: s.homeTiles(p)}
	if v.HasMFA, err = s.MFA.HasSecondFactor(ctx, p.UserID); err != nil {
		return err
	}
	if v.CanInvite {
		ms, err := auth.ListMembers(ctx, s.DB, p, p.OrgID)
		if err != nil {
			return err
		}
		v.Members = len(ms)
	}
	v.OrgComplete = o.Prefecture != "" && (o.MedicalCode != "" || o.Kind == auth.KindVendor || o.Kind == auth.KindDeviceMaker || o.Kind == auth.KindISAC)
	return s.view(w, r, "home.title", "home", v)
}
