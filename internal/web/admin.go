package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/jobs"
)

// adminPageSize is the number of organisations per page of the operator's
// list.
const adminPageSize = 50

// canManageOrgs reports whether p may register organisations (and so see
// the operator's forms): the permission table's "org.create".
func canManageOrgs(p *auth.Principal) bool {
	return auth.Allowed(p, "org.create", auth.Target{})
}

type adminOrgsView struct {
	Orgs                                 []*auth.Org
	Q, Kind, Prefecture                  string
	PrevURL, NextURL                     string
	CanManage, KindEditable, MFAEditable bool
}

func (s *Server) renderAdminOrgs(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) error {
	p := state(r).p
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("offset"))
	if offset < 0 || offset > 1<<30 {
		offset = 0
	}
	f := auth.OrgFilter{Kind: auth.OrgKind(q.Get("kind")), Prefecture: q.Get("prefecture"), Query: q.Get("q"), Limit: adminPageSize + 1, Offset: offset}
	if f.Kind != "" && !f.Kind.Valid() {
		f.Kind = ""
	}
	orgs, err := auth.ListOrgs(r.Context(), s.DB, p, f)
	if err != nil {
		return err
	}
	v := adminOrgsView{Q: f.Query, Kind: string(f.Kind), Prefecture: f.Prefecture, CanManage: canManageOrgs(p), KindEditable: true, MFAEditable: true}
	page := func(off int) string {
		u := url.Values{}
		for _, k := range []string{"q", "kind", "prefecture"} {
			if x := q.Get(k); x != "" {
				u.Set(k, x)
			}
		}
		if off > 0 {
			u.Set("offset", strconv.Itoa(off))
		}
		return "/admin/orgs?" + u.Encode()
	}
	if len(orgs) > adminPageSize {
		orgs = orgs[:adminPageSize]
		v.NextURL = page(offset + adminPageSize)
	}
	if offset > 0 {
		v.PrevURL = page(max(offset-adminPageSize, 0))
	}
	v.Orgs = orgs
	base := url.Values{}
	base.Set("mfa_policy", string(auth.MFAAdmins))
	pg := s.newPage(w, r, "admin.orgs.title")
	pg.Form = withForm(base, submitted)
	pg.Data = v
	return s.renderForm(w, r, "admin_orgs", pg, prevErr)
}

func (s *Server) adminOrgCreate(w http.ResponseWriter, r *http.Request, m *member) error {
	in, err := parseOrgForm(r.PostForm)
	var o *auth.Org
	if err == nil {
		var admin auth.InviteInput
		if r.PostForm.Get("email") != "" {
			admin = inviteInput(r.PostForm, auth.RoleAdmin)
		}
		o, _, err = s.Orgs.CreateOrg(r.Context(), m.P, in, admin)
	}
	if err != nil {
		if isNotFound(err) || apperr.Is(err, apperr.Forbidden) {
			return err
		}
		return s.renderAdminOrgs(w, r, err, r.PostForm)
	}
	s.flash(w, r, "/admin/orgs/"+o.ID, "flash.org_created")
	return nil
}

type adminOrgView struct {
	Org                                  *auth.Org
	Members, Admins                      int
	Pending                              int
	CanManage, KindEditable, MFAEditable bool
	// CanInvite: the operator may invite (or propose) into this
	// organisation; FirstAdmin: it has no active admin, so the invitation
	// goes out at once; otherwise its admins must accept.
	CanInvite, FirstAdmin bool
}

func (s *Server) renderAdminOrg(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) error {
	ctx := r.Context()
	p := state(r).p
	o, err := auth.GetOrg(ctx, s.DB, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	members, admins, err := auth.MemberCounts(ctx, s.DB, p, o.ID)
	if err != nil {
		return err
	}
	inv, err := auth.PendingInvites(ctx, s.DB, p, o.ID, s.Now())
	if err != nil {
		return err
	}
	active, err := auth.ActiveAdminCount(ctx, s.DB, p, o.ID)
	if err != nil {
		return err
	}
	t := auth.Target{OrgID: o.ID}
	v := adminOrgView{Org: o, Members: members, Admins: admins, Pending: len(inv),
		CanManage:    auth.Allowed(p, "org.update", t),
		KindEditable: auth.Allowed(p, "org.update.kind", t),
		MFAEditable:  auth.Allowed(p, "org.update.mfa_policy", t),
		FirstAdmin:   active == 0,
	}
	v.CanInvite = auth.Allowed(p, "org.invite", t) || active == 0 && auth.Allowed(p, "org.invite.first", t) || auth.Allowed(p, "org.proposal", t)
	pg := s.newPage(w, r, "admin.org.title")
	pg.Form = withForm(orgFormValues(o), submitted)
	pg.Data = v
	return s.renderForm(w, r, "admin_org", pg, prevErr)
}

func (s *Server) adminOrgUpdate(w http.ResponseWriter, r *http.Request, m *member) error {
	if !m.P.CanWrite() {
		return apperr.New(apperr.Forbidden, "error_page.read_only")
	}
	id := r.PathValue("id")
	in, err := parseOrgForm(r.PostForm)
	if err == nil {
		err = s.updateOrg(r, m.P, id, in)
	}
	if err != nil {
		if isNotFound(err) {
			return err
		}
		return s.renderAdminOrg(w, r, err, r.PostForm)
	}
	s.flash(w, r, "/admin/orgs/"+id, "flash.org_saved")
	return nil
}

// adminOrgInvite invites an admin into an organisation: at once when it
// has no active admin, otherwise as a proposal its admins accept or
// decline (auth.Invite decides).
func (s *Server) adminOrgInvite(w http.ResponseWriter, r *http.Request, m *member) error {
	if !m.P.CanWrite() {
		return apperr.New(apperr.Forbidden, "error_page.read_only")
	}
	o, err := auth.GetOrg(r.Context(), s.DB, m.P, r.PathValue("id"))
	if err != nil {
		return err
	}
	inv, err := s.Orgs.Invite(r.Context(), m.P, o.ID, inviteInput(r.PostForm, auth.RoleAdmin))
	if err != nil {
		return s.renderAdminOrg(w, r, err, r.PostForm)
	}
	if inv.Proposal != nil {
		s.flash(w, r, "/admin/orgs/"+o.ID, "flash.proposal_sent")
		return nil
	}
	s.flash(w, r, "/admin/orgs/"+o.ID, "flash.invite_sent")
	return nil
}

type jobGroup struct {
	State jobs.State
	Jobs  []jobs.Job
}

type jobCount struct {
	State jobs.State
	N     int64
}

// mayRunJobs reports whether p may see and retry background jobs: the
// permission table's "settings.job.retry" (admins of an ISAC operator).
func mayRunJobs(p *auth.Principal) bool { return auth.Allowed(p, "settings.job.retry", auth.Target{}) }

func (s *Server) adminJobs(w http.ResponseWriter, r *http.Request, _ *member) error {
	return s.renderAdminJobs(w, r, nil)
}

func (s *Server) renderAdminJobs(w http.ResponseWriter, r *http.Request, prevErr error) error {
	ctx := r.Context()
	if !mayRunJobs(state(r).p) || s.Queue == nil {
		return apperr.New(apperr.NotFound, "error.not_found")
	}
	var v struct {
		Counts []jobCount
		Groups []jobGroup
	}
	counts, err := s.Queue.Counts(ctx)
	if err != nil {
		return err
	}
	for _, st := range jobs.States {
		v.Counts = append(v.Counts, jobCount{st, counts[st]})
	}
	for _, st := range []jobs.State{jobs.Failed, jobs.Queued, jobs.Running} {
		js, err := s.Queue.List(ctx, jobs.Filter{State: st, Limit: 100})
		if err != nil {
			return err
		}
		v.Groups = append(v.Groups, jobGroup{st, js})
	}
	pg := s.newPage(w, r, "jobs.title")
	pg.Data = v
	return s.renderForm(w, r, "admin_jobs", pg, prevErr)
}

func (s *Server) adminJobRetry(w http.ResponseWriter, r *http.Request, m *member) error {
	if s.Queue == nil {
		return apperr.New(apperr.NotFound, "error.not_found")
	}
	// The jobs page is the operators' (requireOperator); of them, only
	// those the table lets retry may.
	if err := s.Orgs.RetryJob(r.Context(), m.P, r.PathValue("id")); err != nil {
		if isNotFound(err) || apperr.Is(err, apperr.Forbidden) || apperr.Is(err, apperr.Unauthenticated) {
			return err
		}
		return s.renderAdminJobs(w, r, err)
	}
	s.flash(w, r, "/admin/jobs", "flash.job_retried")
	return nil
}
