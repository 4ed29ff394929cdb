package web

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/share"
)

func (s *Server) shareAdminRoutes(mux *http.ServeMux) {
	mux.Handle("GET /share/ops", s.requireOperator(s.shareOps))
	mux.Handle("GET /share/groups", s.requireUser(s.shareGroups))
	mux.Handle("POST /share/groups", s.requireUser(s.shareGroupCreate))
	mux.Handle("GET /share/groups/{id}", s.requireUser(s.shareGroup))
	mux.Handle("POST /share/groups/{id}/members", s.requireUser(s.shareGroupMember))
	mux.Handle("POST /share/groups/{id}/answer", s.requireUser(s.shareGroupAnswer))
	mux.Handle("GET /share/warnings", s.requireOperator(s.shareWarnings))
	mux.Handle("POST /share/warnings", s.requireOperator(s.shareWarningAdd))
	mux.Handle("POST /share/warnings/{id}/toggle", s.requireOperator(s.shareWarningToggle))
	mux.Handle("POST /share/warnings/{id}/delete", s.requireOperator(s.shareWarningDelete))
	mux.Handle("GET /share/settings", s.requireUser(s.shareSettings))
	mux.Handle("POST /share/settings", s.requireUser(s.shareSettingsSave))
	mux.Handle("POST /share/settings/webhook", s.requireAdmin(s.shareWebhookSave))
	mux.Handle("GET /share/feeds", s.requireOperator(s.shareFeeds))
	mux.Handle("POST /share/feeds", s.requireOperator(s.shareFeedAdd))
	mux.Handle("POST /share/feeds/{id}/delete", s.requireOperator(s.shareFeedDelete))
	mux.Handle("GET /share/interop", s.requireUser(s.shareInterop))
	mux.Handle("POST /share/import", s.requireUser(s.shareImport))
	mux.Handle("GET /share/export", s.requireUser(s.shareExport))
}

// ---- operator overview: response rates and anonymous reporters ----

type shareRateRow struct {
	Post *share.Post
	Rate *share.ResponseRate
}

type shareOpsView struct {
	shareHelpers
	Rates     []shareRateRow
	Anonymous []*share.Post
}

func (s *Server) shareOps(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := viewer(r)
	view := shareOpsView{shareHelpers: s.shareHelpers(r)}
	advisories, err := share.ListPosts(ctx, s.DB, v, share.Filter{Kind: share.KindAdvisory, Limit: 50})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	for _, p := range advisories {
		rate, err := share.ResponseRates(ctx, s.DB, v, p.ID)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		view.Rates = append(view.Rates, shareRateRow{Post: p, Rate: rate})
	}
	incidents, err := share.ListPosts(ctx, s.DB, v, share.Filter{Kind: share.KindIncident, Limit: 200})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	for _, p := range incidents {
		if p.Anonymous {
			view.Anonymous = append(view.Anonymous, p)
		}
	}
	pg := s.newPage(w, r, "share.web.ops.title")
	pg.Data = view
	s.render(w, r, http.StatusOK, "share_ops", pg)
}

// ---- sharing groups ----

type shareGroupsView struct {
	shareHelpers
	Groups   []share.Group
	Operator bool
	CanWrite bool
	Group    *share.Group
	Members  []share.OrgEntry
	Orgs     []share.OrgEntry
	// Invites are the groups the reader's organisation was invited into
	// or belongs to; IsAdmin says whether the reader may answer.
	Invites []share.GroupInvite
	IsAdmin bool
}

func (s *Server) inviteMail() share.InviteMail {
	return share.InviteMail{Mailer: s.Mailer, Catalog: s.Catalog, BaseURL: s.BaseURL}
}

// shareGroupAnswer accepts or declines (or, for a group joined, leaves) an
// invitation of the reader's organisation into a sharing group.
func (s *Server) shareGroupAnswer(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	id := r.PathValue("id")
	answer := r.PostForm.Get("answer")
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		if answer != "accept" && answer != "decline" {
			return apperr.Field("answer", "share.group.bad_answer")
		}
		if err := share.AnswerGroupInvite(r.Context(), tx, viewer(r), id, answer == "accept"); err != nil {
			return err
		}
		return s.shareAudit(r, tx, "share.group.accept", "share_group", id, map[string]any{"answer": answer})
	})
	if err != nil {
		if isNotFound(err) {
			s.renderError(w, r, err)
			return
		}
		s.renderShareGroups(w, r, err, nil)
		return
	}
	s.flash(w, r, "/share/groups", "flash.share_group_answered")
}

func (s *Server) shareGroups(w http.ResponseWriter, r *http.Request) {
	s.renderShareGroups(w, r, nil, nil)
}

func (s *Server) renderShareGroups(w http.ResponseWriter, r *http.Request, prevErr error, form url.Values) {
	v := viewer(r)
	gs, err := share.ListGroups(r.Context(), s.DB, v)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	invites, err := share.ListGroupInvites(r.Context(), s.DB, v)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	pg := s.newPage(w, r, "share.web.groups.title")
	pg.Data = shareGroupsView{shareHelpers: s.shareHelpers(r), Groups: gs, Operator: v.Operator, CanWrite: v.Write,
		Invites: invites, IsAdmin: v.Admin && v.Write}
	pg.Form = form
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
	}
	s.render(w, r, status, "share_groups", pg)
}

func (s *Server) shareGroupCreate(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	var g *share.Group
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		var err error
		if g, err = share.CreateGroup(r.Context(), tx, viewer(r), r.PostForm.Get("name"), share.GroupKind(r.PostForm.Get("kind")), s.Now()); err != nil {
			return err
		}
		return s.shareAudit(r, tx, "share.group.create", "share_group", g.ID, map[string]any{"name": g.Name, "kind": string(g.Kind)})
	})
	if err != nil {
		s.renderShareGroups(w, r, err, r.PostForm)
		return
	}
	s.flash(w, r, "/share/groups/"+g.ID, "flash.share_group_created")
}

func (s *Server) shareGroup(w http.ResponseWriter, r *http.Request) { s.renderShareGroup(w, r, nil) }

func (s *Server) renderShareGroup(w http.ResponseWriter, r *http.Request, prevErr error) {
	ctx := r.Context()
	v := viewer(r)
	g, ms, err := share.GroupMembers(ctx, s.DB, v, r.PathValue("id"))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	view := shareGroupsView{shareHelpers: s.shareHelpers(r), Group: g, Members: ms, Operator: v.Operator,
		CanWrite: v.Write && g.OwnerOrgID == v.OrgID}
	if view.CanWrite {
		if view.Orgs, err = share.Directory(ctx, s.DB, v, 0); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	pg := s.newPage(w, r, "share.web.group.title")
	pg.Title = g.Name
	pg.Data = view
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
	}
	s.render(w, r, status, "share_group", pg)
}

func (s *Server) shareGroupMember(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	id := r.PathValue("id")
	org := r.PostForm.Get("org_id")
	remove := r.PostForm.Get("remove") == "1"
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		if org == "" {
			return apperr.Field("org_id", "share.web.group.choose_org")
		}
		invited, err := share.SetGroupMember(r.Context(), tx, viewer(r), id, org, remove, s.Now())
		if err != nil {
			return err
		}
		if invited {
			if err := s.inviteMail().MailGroupInvite(r.Context(), tx, id, org); err != nil {
				return err
			}
		}
		return s.shareAudit(r, tx, "share.group.member", "share_group", id, map[string]any{"org": org, "remove": remove, "invited": invited})
	})
	if err != nil {
		if isNotFound(err) {
			s.renderError(w, r, err)
			return
		}
		s.renderShareGroup(w, r, err)
		return
	}
	s.flash(w, r, "/share/groups/"+id, "flash.share_group_saved")
}

// ---- warning lists ----

type shareWarningsView struct {
	shareHelpers
	Lists []shareWarningList
	Types []string
}

type shareWarningList struct {
	Name    string
	Entries []share.Warning
}

func (s *Server) shareWarnings(w http.ResponseWriter, r *http.Request) {
	s.renderShareWarnings(w, r, nil, nil)
}

func (s *Server) renderShareWarnings(w http.ResponseWriter, r *http.Request, prevErr error, form url.Values) {
	ws, err := share.ListWarnings(r.Context(), s.DB)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	view := shareWarningsView{shareHelpers: s.shareHelpers(r), Types: []string{"cidr"}}
	for _, t := range share.IOCTypes {
		view.Types = append(view.Types, string(t))
	}
	for _, x := range ws {
		if n := len(view.Lists); n == 0 || view.Lists[n-1].Name != x.List {
			view.Lists = append(view.Lists, shareWarningList{Name: x.List})
		}
		l := &view.Lists[len(view.Lists)-1]
		l.Entries = append(l.Entries, x)
	}
	pg := s.newPage(w, r, "share.web.warnings.title")
	pg.Data = view
	pg.Form = form
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
	}
	s.render(w, r, status, "share_warnings", pg)
}

func (s *Server) shareWarningAdd(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	f := r.PostForm
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		x, err := share.AddWarning(r.Context(), tx, viewer(r), f.Get("list"), f.Get("type"), f.Get("value"), s.Now())
		if err != nil {
			return err
		}
		return s.shareAudit(r, tx, "share.warning.add", "share_warning", x.ID, map[string]any{"list": x.List, "type": x.Type, "value": x.Value})
	})
	if err != nil {
		s.renderShareWarnings(w, r, err, f)
		return
	}
	s.flash(w, r, "/share/warnings", "flash.share_warning_saved")
}

func (s *Server) shareWarningToggle(w http.ResponseWriter, r *http.Request) {
	s.shareWarningChange(w, r, func(tx *db.Tx, id string) error {
		off := r.PostForm.Get("disabled") == "1"
		if err := share.SetWarningDisabled(r.Context(), tx, viewer(r), id, off); err != nil {
			return err
		}
		return s.shareAudit(r, tx, "share.warning.toggle", "share_warning", id, map[string]any{"disabled": off})
	})
}

func (s *Server) shareWarningDelete(w http.ResponseWriter, r *http.Request) {
	s.shareWarningChange(w, r, func(tx *db.Tx, id string) error {
		if err := share.DeleteWarning(r.Context(), tx, viewer(r), id); err != nil {
			return err
		}
		return s.shareAudit(r, tx, "share.warning.delete", "share_warning", id, nil)
	})
}

func (s *Server) shareWarningChange(w http.ResponseWriter, r *http.Request, fn func(tx *db.Tx, id string) error) {
	if s.refuseReadOnly(w, r) {
		return
	}
	if err := s.DB.InTx(r.Context(), func(tx *db.Tx) error { return fn(tx, r.PathValue("id")) }); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.flash(w, r, "/share/warnings", "flash.share_warning_saved")
}

// ---- notification settings ----

type shareSettingsView struct {
	shareHelpers
	Sub     share.Subscription
	TLPSet  map[share.TLP]bool
	KindSet map[share.Kind]bool
	Admin   bool
	Webhook string
}

func (s *Server) shareSettings(w http.ResponseWriter, r *http.Request) {
	s.renderShareSettings(w, r, nil, nil)
}

func (s *Server) renderShareSettings(w http.ResponseWriter, r *http.Request, prevErr error, form url.Values) {
	ctx := r.Context()
	v := viewer(r)
	sub, err := share.GetSubscription(ctx, s.DB, v)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	view := shareSettingsView{shareHelpers: s.shareHelpers(r), Sub: sub, TLPSet: map[share.TLP]bool{}, KindSet: map[share.Kind]bool{}, Admin: v.Admin}
	for _, t := range sub.ImmediateTLP {
		view.TLPSet[t] = true
	}
	for _, k := range sub.ImmediateKinds {
		view.KindSet[k] = true
	}
	if v.Admin {
		if view.Webhook, err = share.GetWebhook(ctx, s.DB, v); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	pg := s.newPage(w, r, "share.web.settings.title")
	pg.Data = view
	pg.Form = form
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
	}
	s.render(w, r, status, "share_settings", pg)
}

// parseSubscription reads the notification settings form.
func parseSubscription(f url.Values) share.Subscription {
	sub := share.Subscription{Digest: f.Get("digest") == "1", ImmediateDevices: f.Get("immediate_devices") == "1"}
	for _, t := range f["immediate_tlp"] {
		sub.ImmediateTLP = append(sub.ImmediateTLP, share.TLP(t))
	}
	for _, k := range f["immediate_kinds"] {
		sub.ImmediateKinds = append(sub.ImmediateKinds, share.Kind(k))
	}
	return sub
}

func (s *Server) shareSettingsSave(w http.ResponseWriter, r *http.Request) {
	sub := parseSubscription(r.PostForm)
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		if err := share.SetSubscription(r.Context(), tx, viewer(r), sub, s.Now()); err != nil {
			return err
		}
		return s.shareAudit(r, tx, "share.subscription", "user", state(r).p.UserID, map[string]any{"immediate_tlp": sub.ImmediateTLP,
			"immediate_kinds": sub.ImmediateKinds, "immediate_devices": sub.ImmediateDevices, "digest": sub.Digest})
	})
	if err != nil {
		s.renderShareSettings(w, r, err, r.PostForm)
		return
	}
	s.flash(w, r, "/share/settings", "flash.share_settings_saved")
}

func (s *Server) shareWebhookSave(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	u := strings.TrimSpace(r.PostForm.Get("url"))
	if r.PostForm.Get("remove") == "1" {
		u = ""
	}
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		if err := share.SetWebhook(r.Context(), tx, viewer(r), u, r.PostForm.Get("secret"), s.Now()); err != nil {
			return err
		}
		return s.shareAudit(r, tx, "share.webhook_change", "organization", state(r).p.OrgID, map[string]any{"url": u})
	})
	if err != nil {
		s.renderShareSettings(w, r, err, withForm(url.Values{}, r.PostForm, "secret"))
		return
	}
	s.flash(w, r, "/share/settings", "flash.share_settings_saved")
}

// ---- TAXII feeds ----

type shareFeedsView struct {
	shareHelpers
	Feeds []share.Feed
}

func (s *Server) shareFeeds(w http.ResponseWriter, r *http.Request) {
	s.renderShareFeeds(w, r, nil, nil)
}

func (s *Server) renderShareFeeds(w http.ResponseWriter, r *http.Request, prevErr error, form url.Values) {
	fs, err := share.ListFeeds(r.Context(), s.DB, viewer(r))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	pg := s.newPage(w, r, "share.web.feeds.title")
	pg.Data = shareFeedsView{shareHelpers: s.shareHelpers(r), Feeds: fs}
	if form == nil {
		form = url.Values{"tlp": {string(share.TLPAmber)}, "interval": {"60"}}
	}
	pg.Form = form
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
	}
	s.render(w, r, status, "share_feeds", pg)
}

func (s *Server) shareFeedAdd(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	f := r.PostForm
	interval, _ := strconv.Atoi(toHalfWidth(strings.TrimSpace(f.Get("interval"))))
	t, _ := share.ParseTLP(f.Get("tlp"))
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		feed, err := share.AddFeed(r.Context(), tx, viewer(r), f.Get("title"), strings.TrimSpace(f.Get("objects_url")), f.Get("username"), f.Get("secret"), t, interval, s.Now())
		if err != nil {
			return err
		}
		return s.shareAudit(r, tx, "share.feed.add", "share_feed", feed.ID, map[string]any{"url": feed.ObjectsURL, "tlp": string(feed.TLP)})
	})
	if err != nil {
		s.renderShareFeeds(w, r, err, withForm(url.Values{}, f, "secret"))
		return
	}
	s.flash(w, r, "/share/feeds", "flash.share_feed_saved")
}

func (s *Server) shareFeedDelete(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	id := r.PathValue("id")
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		if err := share.DeleteFeed(r.Context(), tx, viewer(r), id); err != nil {
			return err
		}
		return s.shareAudit(r, tx, "share.feed.delete", "share_feed", id, nil)
	})
	if err != nil {
		if isNotFound(err) {
			s.renderError(w, r, err)
			return
		}
		s.renderShareFeeds(w, r, err, nil)
		return
	}
	s.flash(w, r, "/share/feeds", "flash.share_feed_deleted")
}

// ---- STIX / MISP import and export ----

type shareInteropView struct {
	shareHelpers
	Result  *share.ImportResult
	Format  string
	Skipped int
}

func (s *Server) shareInterop(w http.ResponseWriter, r *http.Request) {
	s.renderShareInterop(w, r, nil, url.Values{"tlp": {string(share.TLPAmber)}}, shareInteropView{})
}

func (s *Server) renderShareInterop(w http.ResponseWriter, r *http.Request, prevErr error, form url.Values, view shareInteropView) {
	view.shareHelpers = s.shareHelpers(r)
	pg := s.newPage(w, r, "share.web.interop.title")
	pg.Data = view
	pg.Form = form
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
	}
	s.render(w, r, status, "share_interop", pg)
}

func (s *Server) shareImport(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	form := url.Values{"tlp": {r.FormValue("tlp")}}
	var data []byte
	if file, _, err := r.FormFile("file"); err == nil {
		data, err = io.ReadAll(io.LimitReader(file, share.MaxImport+1))
		file.Close()
		if err != nil {
			s.renderShareInterop(w, r, formError(err), form, shareInteropView{})
			return
		}
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		data = []byte(r.FormValue("data"))
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		s.renderShareInterop(w, r, apperr.Field("file", "share.web.import.empty"), form, shareInteropView{})
		return
	}
	if len(data) > share.MaxImport {
		s.renderShareInterop(w, r, apperr.Field("file", "share.import.too_large", share.MaxImport>>20), form, shareInteropView{})
		return
	}
	def, _ := share.ParseTLP(r.FormValue("tlp"))
	var view shareInteropView
	format := share.DetectFormat(data)
	opts := share.ImportOptions{Default: def, Publish: func(ctx context.Context, tx *db.Tx, res *share.ImportResult) error {
		return s.shareAudit(r, tx, "share.import", "organization", state(r).p.OrgID, map[string]any{"format": format,
			"posts": res.PostCount(), "objects": res.Objects, "failures": res.FailureCount()})
	}}
	var err error
	view.Format, view.Result, view.Skipped, err = share.ImportAny(r.Context(), s.DB, viewer(r), data, opts, s.Now())
	if err != nil {
		s.renderShareInterop(w, r, err, form, shareInteropView{})
		return
	}
	s.renderShareInterop(w, r, nil, form, view)
}

func (s *Server) shareExport(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	format := qs.Get("format")
	var since time.Time
	if d := strings.TrimSpace(qs.Get("since")); d != "" {
		t, err := time.ParseInLocation("2006-01-02", d, time.UTC)
		if err != nil {
			s.renderShareInterop(w, r, apperr.Field("since", "share.web.export.bad_date"), qs, shareInteropView{})
			return
		}
		since = t
	}
	if format != share.FormatSTIX && format != share.FormatMISP {
		s.renderShareInterop(w, r, apperr.Field("format", "share.web.export.bad_format"), qs, shareInteropView{})
		return
	}
	var b []byte
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		var err error
		if format == share.FormatSTIX {
			b, err = share.ExportSTIX(r.Context(), tx, viewer(r), since)
		} else {
			b, err = share.ExportMISP(r.Context(), tx, viewer(r), since)
		}
		if err != nil {
			return err
		}
		return s.shareAudit(r, tx, audit.ActionDataExport, "organization", state(r).p.OrgID, map[string]any{"what": "share", "format": format, "since": qs.Get("since")})
	})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="medisac-share.`+format+`.json"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// ---- Atom feed of TLP:CLEAR posts ----

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Lang    string      `xml:"xml:lang,attr,omitempty"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Author  atomAuthor  `xml:"author"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomAuthor struct {
	Name string `xml:"name"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomText struct {
	Type string `xml:"type,attr,omitempty"`
	Body string `xml:",chardata"`
}

type atomCategory struct {
	Term  string `xml:"term,attr"`
	Label string `xml:"label,attr,omitempty"`
}

type atomEntry struct {
	ID         string         `xml:"id"`
	Title      string         `xml:"title"`
	Updated    string         `xml:"updated"`
	Published  string         `xml:"published"`
	Author     *atomAuthor    `xml:"author,omitempty"`
	Links      []atomLink     `xml:"link"`
	Categories []atomCategory `xml:"category"`
	Summary    atomText       `xml:"summary"`
	Content    atomText       `xml:"content"`
}

// shareAtom serves the public Atom feed: the newest TLP:CLEAR posts, read
// as the public (no sign-in), so nothing narrower can ever appear.
func (s *Server) shareAtom(w http.ResponseWriter, r *http.Request) {
	posts, err := share.ListPosts(r.Context(), s.DB, share.Viewer{}, share.Filter{TLP: share.TLPClear, Limit: 50})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	lang := state(r).lang
	t := func(key string, args ...any) string { return s.Catalog.T(lang, key, args...) }
	base := strings.TrimRight(s.BaseURL, "/")
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	updated := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	feed := atomFeed{Lang: lang, ID: base + "/share/feed.atom", Title: t("share.web.atom.title"), Author: atomAuthor{Name: t("app.name")},
		Links: []atomLink{{Rel: "self", Type: "application/atom+xml", Href: base + "/share/feed.atom"}, {Rel: "alternate", Type: "text/html", Href: base + "/share"}}}
	for _, p := range posts {
		if p.UpdatedAt.After(updated) {
			updated = p.UpdatedAt
		}
		e := atomEntry{ID: "urn:uuid:" + p.ID, Title: p.Title, Updated: p.UpdatedAt.UTC().Format(time.RFC3339), Published: p.CreatedAt.UTC().Format(time.RFC3339),
			Links:      []atomLink{{Rel: "alternate", Type: "text/html", Href: base + "/share/posts/" + p.ID}},
			Categories: []atomCategory{{Term: p.TLP.Label()}, {Term: string(p.Kind), Label: t("share.kind." + string(p.Kind))}},
			Summary:    atomText{Type: "text", Body: p.TLP.Label() + " " + t(p.TLP.MeaningKey())},
			Content:    atomText{Type: "html", Body: p.BodyHTML}}
		if p.AuthorOrgName != "" {
			e.Author = &atomAuthor{Name: p.AuthorOrgName}
		}
		for _, ref := range p.References {
			e.Links = append(e.Links, atomLink{Rel: "related", Href: ref})
		}
		feed.Entries = append(feed.Entries, e)
	}
	feed.Updated = updated.UTC().Format(time.RFC3339)
	out, err := xml.MarshalIndent(feed, "", " ")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}
