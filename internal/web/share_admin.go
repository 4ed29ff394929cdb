package web

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/share"
)

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

func (s *Server) shareOps(w http.ResponseWriter, r *http.Request, _ *member) error {
	ctx := r.Context()
	v := viewer(r)
	view := shareOpsView{shareHelpers: s.shareHelpers(r)}
	advisories, err := share.ListPosts(ctx, s.DB, v, share.Filter{Kind: share.KindAdvisory, Limit: 50})
	if err != nil {
		return err
	}
	for _, p := range advisories {
		rate, err := share.ResponseRates(ctx, s.DB, v, p.ID)
		if err != nil {
			return err
		}
		view.Rates = append(view.Rates, shareRateRow{Post: p, Rate: rate})
	}
	incidents, err := share.ListPosts(ctx, s.DB, v, share.Filter{Kind: share.KindIncident, Limit: 200})
	if err != nil {
		return err
	}
	for _, p := range incidents {
		if p.Anonymous {
			view.Anonymous = append(view.Anonymous, p)
		}
	}
	return s.view(w, r, "share.web.ops.title", "share_ops", view)
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

// shareGroupAnswer accepts or declines (or, for a group joined, leaves) an
// invitation of the reader's organisation into a sharing group.
func (s *Server) shareGroupAnswer(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	id := r.PathValue("id")
	answer := r.PostForm.Get("answer")
	var err error
	if answer != "accept" && answer != "decline" {
		err = apperr.Field("answer", "share.group.bad_answer")
	} else {
		err = s.Share.AnswerGroupInvite(r.Context(), m.P, id, answer == "accept")
	}
	if err != nil {
		if isNotFound(err) {
			return err
		}
		return s.renderShareGroups(w, r, err, nil)
	}
	s.flash(w, r, "/share/groups", "flash.share_group_answered")
	return nil
}

func (s *Server) renderShareGroups(w http.ResponseWriter, r *http.Request, prevErr error, form url.Values) error {
	v := viewer(r)
	gs, err := share.ListGroups(r.Context(), s.DB, v)
	if err != nil {
		return err
	}
	invites, err := share.ListGroupInvites(r.Context(), s.DB, v)
	if err != nil {
		return err
	}
	pg := s.newPage(w, r, "share.web.groups.title")
	pg.Data = shareGroupsView{shareHelpers: s.shareHelpers(r), Groups: gs, Operator: v.Operator, CanWrite: v.Write,
		Invites: invites, IsAdmin: v.Admin && v.Write}
	pg.Form = form
	return s.renderForm(w, r, "share_groups", pg, prevErr)
}

func (s *Server) shareGroupCreate(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	g, err := s.Share.CreateGroup(r.Context(), m.P, r.PostForm.Get("name"), share.GroupKind(r.PostForm.Get("kind")))
	if err != nil {
		return s.renderShareGroups(w, r, err, r.PostForm)
	}
	s.flash(w, r, "/share/groups/"+g.ID, "flash.share_group_created")
	return nil
}

func (s *Server) shareGroup(w http.ResponseWriter, r *http.Request, _ *member) error {
	return s.renderShareGroup(w, r, nil)
}

func (s *Server) renderShareGroup(w http.ResponseWriter, r *http.Request, prevErr error) error {
	ctx := r.Context()
	v := viewer(r)
	g, ms, err := share.GroupMembers(ctx, s.DB, v, r.PathValue("id"))
	if err != nil {
		return err
	}
	view := shareGroupsView{shareHelpers: s.shareHelpers(r), Group: g, Members: ms, Operator: v.Operator,
		CanWrite: v.Write && g.OwnerOrgID == v.OrgID}
	if view.CanWrite {
		if view.Orgs, err = share.Directory(ctx, s.DB, v, 0); err != nil {
			return err
		}
	}
	pg := s.newPage(w, r, "share.web.group.title")
	pg.Title = g.Name
	pg.Data = view
	return s.renderForm(w, r, "share_group", pg, prevErr)
}

func (s *Server) shareGroupMember(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	id := r.PathValue("id")
	org := r.PostForm.Get("org_id")
	var err error
	if org == "" {
		err = apperr.Field("org_id", "share.web.group.choose_org")
	} else {
		err = s.Share.SetGroupMember(r.Context(), m.P, id, org, r.PostForm.Get("remove") == "1")
	}
	if err != nil {
		if isNotFound(err) {
			return err
		}
		return s.renderShareGroup(w, r, err)
	}
	s.flash(w, r, "/share/groups/"+id, "flash.share_group_saved")
	return nil
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

func (s *Server) renderShareWarnings(w http.ResponseWriter, r *http.Request, prevErr error, form url.Values) error {
	ws, err := share.ListWarnings(r.Context(), s.DB)
	if err != nil {
		return err
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
	return s.renderForm(w, r, "share_warnings", pg, prevErr)
}

func (s *Server) shareWarningAdd(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	f := r.PostForm
	if _, err := s.Share.AddWarning(r.Context(), m.P, f.Get("list"), f.Get("type"), f.Get("value")); err != nil {
		return s.renderShareWarnings(w, r, err, f)
	}
	s.flash(w, r, "/share/warnings", "flash.share_warning_saved")
	return nil
}

func (s *Server) shareWarningToggle(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	return s.saved(w, r, "/share/warnings", "flash.share_warning_saved", s.Share.SetWarningDisabled(r.Context(), m.P, r.PathValue("id"), r.PostForm.Get("disabled") == "1"))
}

func (s *Server) shareWarningDelete(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	return s.saved(w, r, "/share/warnings", "flash.share_warning_saved", s.Share.DeleteWarning(r.Context(), m.P, r.PathValue("id")))
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

func (s *Server) renderShareSettings(w http.ResponseWriter, r *http.Request, prevErr error, form url.Values) error {
	ctx := r.Context()
	v := viewer(r)
	sub, err := share.GetSubscription(ctx, s.DB, v)
	if err != nil {
		return err
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
			return err
		}
	}
	pg := s.newPage(w, r, "share.web.settings.title")
	pg.Data = view
	pg.Form = form
	return s.renderForm(w, r, "share_settings", pg, prevErr)
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

func (s *Server) shareSettingsSave(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := s.Share.SetSubscription(r.Context(), m.P, parseSubscription(r.PostForm)); err != nil {
		return s.renderShareSettings(w, r, err, r.PostForm)
	}
	s.flash(w, r, "/share/settings", "flash.share_settings_saved")
	return nil
}

func (s *Server) shareWebhookSave(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	u := strings.TrimSpace(r.PostForm.Get("url"))
	if r.PostForm.Get("remove") == "1" {
		u = ""
	}
	if err := s.Share.SetWebhook(r.Context(), m.P, u, r.PostForm.Get("secret")); err != nil {
		return s.renderShareSettings(w, r, err, withForm(url.Values{}, r.PostForm, "secret"))
	}
	s.flash(w, r, "/share/settings", "flash.share_settings_saved")
	return nil
}

// ---- TAXII feeds ----

type shareFeedsView struct {
	shareHelpers
	Feeds []share.Feed
}

func (s *Server) renderShareFeeds(w http.ResponseWriter, r *http.Request, prevErr error, form url.Values) error {
	fs, err := share.ListFeeds(r.Context(), s.DB, viewer(r))
	if err != nil {
		return err
	}
	pg := s.newPage(w, r, "share.web.feeds.title")
	pg.Data = shareFeedsView{shareHelpers: s.shareHelpers(r), Feeds: fs}
	if form == nil {
		form = url.Values{"tlp": {string(share.TLPAmber)}, "interval": {"60"}}
	}
	pg.Form = form
	return s.renderForm(w, r, "share_feeds", pg, prevErr)
}

func (s *Server) shareFeedAdd(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	f := r.PostForm
	interval, _ := strconv.Atoi(toHalfWidth(strings.TrimSpace(f.Get("interval"))))
	t, _ := share.ParseTLP(f.Get("tlp"))
	_, err := s.Share.AddFeed(r.Context(), m.P, share.FeedInput{Title: f.Get("title"), ObjectsURL: strings.TrimSpace(f.Get("objects_url")),
		Username: f.Get("username"), Secret: f.Get("secret"), TLP: t, Interval: interval})
	if err != nil {
		return s.renderShareFeeds(w, r, err, withForm(url.Values{}, f, "secret"))
	}
	s.flash(w, r, "/share/feeds", "flash.share_feed_saved")
	return nil
}

func (s *Server) shareFeedDelete(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	if err := s.Share.DeleteFeed(r.Context(), m.P, r.PathValue("id")); err != nil {
		if isNotFound(err) {
			return err
		}
		return s.renderShareFeeds(w, r, err, nil)
	}
	s.flash(w, r, "/share/feeds", "flash.share_feed_deleted")
	return nil
}

// ---- STIX / MISP import and export ----

type shareInteropView struct {
	shareHelpers
	Result  *share.ImportResult
	Format  string
	Skipped int
}

func (s *Server) shareInterop(w http.ResponseWriter, r *http.Request, _ *member) error {
	return s.renderShareInterop(w, r, nil, url.Values{"tlp": {string(share.TLPAmber)}}, shareInteropView{})
}

func (s *Server) renderShareInterop(w http.ResponseWriter, r *http.Request, prevErr error, form url.Values, view shareInteropView) error {
	view.shareHelpers = s.shareHelpers(r)
	pg := s.newPage(w, r, "share.web.interop.title")
	pg.Data = view
	pg.Form = form
	return s.renderForm(w, r, "share_interop", pg, prevErr)
}

func (s *Server) shareImport(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	form := url.Values{"tlp": {r.FormValue("tlp")}}
	var data []byte
	if file, _, err := r.FormFile("file"); err == nil {
		data, err = io.ReadAll(io.LimitReader(file, share.MaxImport+1))
		file.Close()
		if err != nil {
			return s.renderShareInterop(w, r, formError(err), form, shareInteropView{})
		}
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		data = []byte(r.FormValue("data"))
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return s.renderShareInterop(w, r, apperr.Field("file", "share.web.import.empty"), form, shareInteropView{})
	}
	if len(data) > share.MaxImport {
		return s.renderShareInterop(w, r, apperr.Field("file", "share.import.too_large", share.MaxImport>>20), form, shareInteropView{})
	}
	def, _ := share.ParseTLP(r.FormValue("tlp"))
	res, err := s.Share.Import(r.Context(), m.P, share.ImportRequest{Data: data, Default: def})
	if err != nil {
		return s.renderShareInterop(w, r, err, form, shareInteropView{})
	}
	return s.renderShareInterop(w, r, nil, form, shareInteropView{Format: res.Format, Result: res.Result, Skipped: res.Skipped})
}

func (s *Server) shareExport(w http.ResponseWriter, r *http.Request, m *member) error {
	qs := r.URL.Query()
	format := qs.Get("format")
	var since time.Time
	if d := strings.TrimSpace(qs.Get("since")); d != "" {
		t, err := time.ParseInLocation("2006-01-02", d, time.UTC)
		if err != nil {
			return s.renderShareInterop(w, r, apperr.Field("since", "share.web.export.bad_date"), qs, shareInteropView{})
		}
		since = t
	}
	if format != share.FormatSTIX && format != share.FormatMISP {
		return s.renderShareInterop(w, r, apperr.Field("format", "share.web.export.bad_format"), qs, shareInteropView{})
	}
	b, err := s.Share.Export(r.Context(), m.P, format, since)
	if err != nil {
		return err
	}
	return sendFile(w, "application/json; charset=utf-8", `attachment; filename="medisac-share.`+format+`.json"`, b)
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
