package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/vuln"
	"github.com/medisac/medisac/internal/vuln/feed"
)

// Reads of findings and vulnerabilities are not audited (working data of
// every member, like the inventory); remediation changes and identity
// corrections are.

// VulnPriority names a priority (1 今すぐ対応 … 4 計画的に対応).
func (p *page) VulnPriority(n int) string { return p.T("vuln.priority." + strconv.Itoa(n)) }

// VulnTodo says in plain words what to do about a finding.
func (p *page) VulnTodo(f vuln.Finding) string {
	if len(f.Fixed) > 0 {
		return p.T("vuln.todo.update", strings.Join(f.Fixed, "、"))
	}
	return p.T("vuln.todo.vendor")
}

// VulnState names a remediation state.
func (p *page) VulnState(s vuln.State) string { return p.T("vuln.state." + string(s)) }

// VulnConfidence names a confidence (exact, or 要確認).
func (p *page) VulnConfidence(c string) string { return p.T("vuln.confidence." + c) }

// VulnReason explains why a finding is 要確認.
func (p *page) VulnReason(r string) string { return p.T("vuln.reason." + r) }

// VulnSource names a feed.
func (p *page) VulnSource(s string) string { return p.T("vuln.source." + s) }

// VulnPct formats an EPSS probability as a percentage.
func (p *page) VulnPct(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

type vulnDashView struct {
	Summary       vuln.Summary
	Findings      []vuln.Finding
	Page          vuln.FindingPage
	Priority      int
	NextURL       string
	PrevURL       string
	FirstURL      string
	Notifications []vuln.Notification
	Unread        int
	All           bool
	CanWrite      bool
	IsAdmin       bool
	Webhook       string
	Top           []vuln.ISACStats
	Operator      bool
}

func (s *Server) vulnDashboard(w http.ResponseWriter, r *http.Request, m *member) error {
	ctx := r.Context()
	p := m.P
	q := r.URL.Query()
	v := vulnDashView{CanWrite: p.CanWrite(), IsAdmin: p.IsAdmin(), All: q.Get("all") == "1", Operator: p.IsOperator()}
	if n, err := strconv.Atoi(q.Get("priority")); err == nil && n >= 1 && n <= 4 {
		v.Priority = n
	}
	var err error
	if p.IsOperator() {
		if v.Top, err = vuln.TopAffected(ctx, s.DB, 50); err != nil {
			return err
		}
		return s.view(w, r, "vuln.web.isac_title", "vuln_isac", v)
	}
	orgID, err := invOrg(p)
	if err != nil {
		return err
	}
	if v.Summary, err = vuln.Summarise(ctx, s.DB, orgID); err != nil {
		return err
	}
	filter := vuln.FindingFilter{All: v.All, Priority: v.Priority}
	status := http.StatusOK
	var cursorErr error
	v.Page, err = vuln.PageFindings(ctx, s.DB, orgID, filter, q.Get("cursor"), vuln.DefaultFindingPage)
	if err != nil && apperr.CodeOf(err) == apperr.Invalid {
		status, cursorErr = http.StatusBadRequest, err
		v.Page, err = vuln.PageFindings(ctx, s.DB, orgID, filter, "", vuln.DefaultFindingPage)
	}
	if err != nil {
		return err
	}
	v.Findings = v.Page.Findings
	if v.Page.Next != "" {
		v.NextURL = vulnDashURL(v.All, v.Priority, v.Page.Next)
	}
	if v.Page.Prev != "" {
		v.PrevURL = vulnDashURL(v.All, v.Priority, v.Page.Prev)
	}
	if v.Page.Start > 1 || cursorErr != nil {
		v.FirstURL = vulnDashURL(v.All, v.Priority, "")
	}
	if v.Notifications, err = vuln.ListNotifications(ctx, s.DB, orgID, 10); err != nil {
		return err
	}
	for _, n := range v.Notifications {
		if !n.Read {
			v.Unread++
		}
	}
	if v.IsAdmin {
		if v.Webhook, err = vuln.Webhook(ctx, s.DB, orgID); err != nil {
			return err
		}
	}
	pg := s.newPage(w, r, "vuln.web.title")
	pg.Data = v
	if cursorErr != nil {
		pg.Error = apperr.From(cursorErr)
	}
	s.render(w, r, status, "vuln_dashboard", pg)
	return nil
}

// vulnDashURL is the address of a page of the findings dashboard with its
// filter.
func vulnDashURL(all bool, priority int, cursor string) string {
	q := url.Values{}
	if all {
		q.Set("all", "1")
	}
	if priority > 0 {
		q.Set("priority", strconv.Itoa(priority))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if len(q) == 0 {
		return "/vuln"
	}
	return "/vuln?" + q.Encode()
}

// VulnShowAllURL is the dashboard with its priority filter and every
// finding (all) or only those that need work.
func (v vulnDashView) VulnShowAllURL(all bool) string { return vulnDashURL(all, v.Priority, "") }

// VulnPriorityURL is the first dashboard page of one priority (0: all).
func (v vulnDashView) VulnPriorityURL(priority int) string { return vulnDashURL(v.All, priority, "") }

// VulnRange says which findings of how many the page shows, in the page's
// language with digit grouping: 「全 1,234 件中 101〜200 件」.
func (p *page) VulnRange(pg vuln.FindingPage) string {
	if len(pg.Findings) == 0 {
		return p.T("vulnpage.total", i18n.Number(int64(pg.Total)))
	}
	return p.T("vulnpage.range", i18n.Number(int64(pg.Total)), i18n.Number(int64(pg.Start)), i18n.Number(int64(pg.End())))
}

type vulnFindingView struct {
	F        vuln.Finding
	Text     string
	Contact  string
	History  []audit.Entry
	States   []vuln.State
	CanWrite bool
}

func (s *Server) vulnFindingPage(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.renderFinding(w, r, m, http.StatusOK, nil)
}

func (s *Server) renderFinding(w http.ResponseWriter, r *http.Request, m *member, status int, formErr error) error {
	ctx := r.Context()
	orgID, err := invOrg(m.P)
	if err != nil {
		return err
	}
	f, err := vuln.GetFinding(ctx, s.DB, orgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := vulnFindingView{F: f, States: vuln.States, CanWrite: m.P.CanWrite()}
	if v.Contact, err = vuln.MaintainerContact(ctx, s.DB, orgID, f.Maintainer); err != nil {
		return err
	}
	if v.History, err = vuln.FindingHistory(ctx, s.Audit, orgID, f.ID); err != nil {
		return err
	}
	pg := s.newPage(w, r, "vuln.web.finding_title")
	pg.Title = f.AssetName + " — " + f.VulnID
	pg.Data = v
	if formErr != nil {
		pg.Error = apperr.From(formErr)
		pg.Form = r.PostForm
	}
	s.render(w, r, status, "vuln_finding", pg)
	return nil
}

func (s *Server) vulnSetState(w http.ResponseWriter, r *http.Request, m *member) error {
	orgID, err := m.orgMay("vuln.finding.state")
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	rem := vuln.Remediation{State: vuln.State(r.PostFormValue("state")), Reason: r.PostFormValue("reason"), ReviewOn: r.PostFormValue("review_on")}
	if _, err := s.Vuln.SetFindingState(r.Context(), m.P, orgID, id, rem); err != nil {
		if errors.Is(err, db.ErrNotFound) || apperr.CodeOf(err) == apperr.NotFound {
			return err
		}
		return s.renderFinding(w, r, m, http.StatusUnprocessableEntity, err)
	}
	s.flash(w, r, "/vuln/findings/"+id, "flash.vuln_saved")
	return nil
}

type vulnSearchView struct {
	Query   string
	KEV     bool
	Results []vuln.Vuln
	Imports []vuln.ImportLog
	Done    bool
}

func (s *Server) vulnSearch(w http.ResponseWriter, r *http.Request, _ *member) error {
	q := r.URL.Query()
	v := vulnSearchView{Query: strings.TrimSpace(q.Get("q")), KEV: q.Get("kev") == "1"}
	var err error
	if v.Query != "" || v.KEV {
		v.Done = true
		if v.Results, err = s.Vuln.SearchVulns(r.Context(), vuln.VulnFilter{Query: v.Query, KEV: v.KEV, Limit: 100}); err != nil {
			return err
		}
	}
	if v.Imports, err = vuln.RecentImports(r.Context(), s.DB, 5); err != nil {
		return err
	}
	return s.view(w, r, "vuln.web.search_title", "vuln_search", v)
}

type vulnDetailView struct {
	V        vuln.Vuln
	Findings []vuln.Finding
	Stats    *vuln.ISACStats
	Operator bool
}

func (s *Server) vulnDetail(w http.ResponseWriter, r *http.Request, m *member) error {
	ctx := r.Context()
	p := m.P
	v, err := vuln.GetVuln(ctx, s.DB, r.PathValue("id"))
	if err != nil {
		return err
	}
	view := vulnDetailView{V: v, Operator: p.IsOperator()}
	if p.IsOperator() {
		st, err := vuln.VulnStats(ctx, s.DB, v.ID)
		if err != nil {
			return err
		}
		view.Stats = &st
	} else if orgID, err := invOrg(p); err == nil {
		if view.Findings, err = vuln.ListFindings(ctx, s.DB, orgID, vuln.FindingFilter{VulnID: v.ID, All: true}); err != nil {
			return err
		}
	}
	pg := s.newPage(w, r, "vuln.web.detail_title")
	pg.Title = v.ID
	pg.Data = view
	s.render(w, r, http.StatusOK, "vuln_detail", pg)
	return nil
}

type vulnAssetView struct {
	Asset    inventory.Asset
	Identity vuln.AssetIdentity
	Findings []vuln.Finding
	Override string
	CanWrite bool
}

func (s *Server) vulnAssetPage(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.renderVulnAsset(w, r, m, http.StatusOK, nil)
}

func (s *Server) renderVulnAsset(w http.ResponseWriter, r *http.Request, m *member, status int, formErr error) error {
	ctx := r.Context()
	orgID, err := invOrg(m.P)
	if err != nil {
		return err
	}
	a, err := inventory.GetAsset(ctx, s.DB, orgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	idn, err := s.vulnIdentity(ctx, orgID, a.ID)
	if err != nil {
		return err
	}
	v := vulnAssetView{Asset: a, Identity: idn, CanWrite: m.P.CanWrite(), Override: strings.Join(idn.Override, "\n")}
	if v.Findings, err = vuln.ListFindings(ctx, s.DB, orgID, vuln.FindingFilter{AssetID: a.ID, All: true}); err != nil {
		return err
	}
	pg := s.newPage(w, r, "vuln.web.asset_title")
	pg.Title = a.Name
	pg.Data = v
	if formErr != nil {
		pg.Error = apperr.From(formErr)
		pg.Form = r.PostForm
		v.Override = r.PostFormValue("cpe")
		pg.Data = v
	}
	s.render(w, r, status, "vuln_asset", pg)
	return nil
}

// vulnIdentity returns an asset's identity, deriving it first when the
// periodic re-match has not seen the asset yet.
func (s *Server) vulnIdentity(ctx context.Context, orgID, assetID string) (vuln.AssetIdentity, error) {
	return s.Vuln.Identity(ctx, orgID, assetID)
}

// vulnSetIdentity saves a person's correction of a device's identity and
// matches the asset at once, so the next page already shows the result
// (the re-match job queued with it covers a node that stops first).
func (s *Server) vulnSetIdentity(w http.ResponseWriter, r *http.Request, m *member) error {
	orgID, err := m.orgMay("vuln.identity.set")
	if err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := s.vulnIdentity(ctx, orgID, id); err != nil {
		return err
	}
	var names []string
	if r.PostFormValue("reset") == "" {
		names = strings.Split(strings.ReplaceAll(r.PostFormValue("cpe"), "\r", ""), "\n")
		names = append(names, r.PostForm["confirm"]...)
	}
	if _, err := s.Vuln.SetAssetIdentity(ctx, m.P, orgID, id, names, true); err != nil {
		if apperr.CodeOf(err) == apperr.Invalid {
			return s.renderVulnAsset(w, r, m, http.StatusUnprocessableEntity, err)
		}
		return err
	}
	s.flash(w, r, "/vuln/assets/"+id, "flash.vuln_identity_saved")
	return nil
}

func (s *Server) vulnMarkRead(w http.ResponseWriter, r *http.Request, m *member) error {
	orgID, err := m.orgMay("vuln.notifications.read")
	if err != nil {
		return err
	}
	if err := s.Vuln.MarkNotificationsRead(r.Context(), m.P, orgID); err != nil {
		return err
	}
	http.Redirect(w, r, "/vuln", http.StatusSeeOther)
	return nil
}

func (s *Server) vulnSetWebhook(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.saved(w, r, "/vuln", "flash.vuln_saved", s.Vuln.SetOrgWebhook(r.Context(), m.P, m.P.OrgID, r.PostFormValue("url")))
}

// VulnStates lists the remediation states, for table headings.
func (p *page) VulnStates() []vuln.State { return vuln.States }

type vulnImportView struct {
	Result  *vuln.ImportResult
	Imports []vuln.ImportLog
}

// vulnImportForm lets ISAC operators import feed files through the page
// (closed networks without the command line).
func (s *Server) vulnImportForm(w http.ResponseWriter, r *http.Request, _ *member) error {
	return s.renderVulnImport(w, r, http.StatusOK, nil, nil)
}

func (s *Server) renderVulnImport(w http.ResponseWriter, r *http.Request, status int, res *vuln.ImportResult, formErr error) error {
	v := vulnImportView{Result: res}
	var err error
	if v.Imports, err = vuln.RecentImports(r.Context(), s.DB, 20); err != nil {
		return err
	}
	pg := s.newPage(w, r, "vuln.web.import_title")
	pg.Data = v
	if formErr != nil {
		pg.Error = apperr.From(formErr)
	}
	s.render(w, r, status, "vuln_import", pg)
	return nil
}

func (s *Server) vulnImport(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := vuln.AuthorizeImport(m.P); err != nil {
		return err
	}
	// Feed files belong to no organisation: one upload at a time.
	release, err := s.Imports.Acquire("vuln-feed")
	if err != nil {
		return s.renderVulnImport(w, r, http.StatusTooManyRequests, nil, err)
	}
	defer release()
	file, hdr, err := r.FormFile("file")
	if err != nil {
		return s.renderVulnImport(w, r, http.StatusBadRequest, nil, apperr.Field("file", "vuln.web.import_no_file"))
	}
	defer file.Close()
	name := filepath.Base(strings.ReplaceAll(hdr.Filename, "\\", "/"))
	res, ierr := s.Vuln.ImportFeed(r.Context(), m.P, name, file)
	if ierr != nil {
		if apperr.From(ierr).Key == "vuln.import.interrupted" {
			return s.renderVulnImport(w, r, http.StatusServiceUnavailable, nil, ierr)
		}
		if _, _, ok := feed.FeedError(ierr); ok || apperr.CodeOf(ierr) == apperr.Invalid {
			return s.renderVulnImport(w, r, http.StatusUnprocessableEntity, nil, ierr)
		}
		return ierr
	}
	return s.renderVulnImport(w, r, http.StatusOK, &res, nil)
}
