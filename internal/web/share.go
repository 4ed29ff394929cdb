package web

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/share"
)

// The sharing hub's pages. Reading a post is not written to the audit log
// (members read the hub daily, and TLP is enforced by the store, not by
// watching readers); every change and every export is.

// shareHelpers are the template helpers every hub page view embeds.
type shareHelpers struct {
	T    func(key string, args ...any) string
	op   bool
	path string
}

func (s *Server) shareHelpers(r *http.Request) shareHelpers {
	lang := state(r).lang
	return shareHelpers{T: func(key string, args ...any) string { return s.Catalog.T(lang, key, args...) },
		op: state(r).p.IsOperator(), path: r.URL.Path}
}

// Subnav is the hub's own navigation, operators' pages included for them.
func (h shareHelpers) Subnav() template.HTML {
	items := [][2]string{{"/share", "share.web.list.title"}, {"/share/lookup", "share.web.lookup.title"}, {"/share/groups", "share.web.groups.title"},
		{"/share/settings", "share.web.settings.title"}, {"/share/interop", "share.web.interop.title"}}
	if h.op {
		items = append(items, [2]string{"/share/ops", "share.web.ops.title"}, [2]string{"/share/warnings", "share.web.warnings.title"},
			[2]string{"/share/feeds", "share.web.feeds.title"})
	}
	var b strings.Builder
	b.WriteString(`<nav class="pager share-subnav no-print" aria-label="` + html.EscapeString(h.T("share.web.subnav")) + `">`)
	for _, it := range items {
		cur := ""
		if h.path == it[0] {
			cur = ` aria-current="page"`
		}
		b.WriteString(`<a href="` + it[0] + `"` + cur + `>` + html.EscapeString(h.T(it[1])) + `</a>`)
	}
	b.WriteString(`</nav>`)
	return template.HTML(b.String())
}

// Badge is a label's coloured badge, its meaning in the title.
func (h shareHelpers) Badge(t share.TLP) template.HTML {
	return template.HTML(`<span class="tlp-badge ` + t.CSSClass() + `" title="` + html.EscapeString(h.T(t.MeaningKey())) + `">` +
		html.EscapeString(t.Label()) + `</span>`)
}

// TLPLine is a label's badge followed by what it allows, in plain words.
func (h shareHelpers) TLPLine(t share.TLP) template.HTML {
	return template.HTML(`<p class="tlp-line ` + t.CSSClass() + `"><span class="tlp-badge ` + t.CSSClass() + `">` +
		html.EscapeString(t.Label()) + `</span> <span class="tlp-meaning">` + html.EscapeString(h.T(t.MeaningKey())) + `</span></p>`)
}

// BodyHTML marks a post's or comment's rendered body as safe: it was made by
// share.RenderMarkdown, which sanitises it.
func (shareHelpers) BodyHTML(s string) template.HTML { return template.HTML(s) }

// Kinds, TLPs and Statuses feed the forms.
func (shareHelpers) Kinds() []share.Kind              { return share.Kinds }
func (shareHelpers) TLPs() []share.TLP                { return share.TLPs }
func (shareHelpers) Statuses() []share.ResponseStatus { return share.ResponseStatuses }

// OrgOptions are the menu entries of organisations, those in selected
// selected.
func (shareHelpers) OrgOptions(orgs []share.OrgEntry, selected []string) []option {
	out := make([]option, 0, len(orgs))
	for _, o := range orgs {
		label := o.Name
		if o.Prefecture != "" {
			label += "（" + o.Prefecture + "）"
		}
		out = append(out, option{Value: o.ID, Label: label, Selected: contains(selected, o.ID)})
	}
	return out
}

// TLPOptions are the menu entries of the TLP levels.
func (shareHelpers) TLPOptions() []option {
	out := make([]option, 0, len(share.TLPs))
	for _, t := range share.TLPs {
		out = append(out, option{Value: string(t), Label: t.Label()})
	}
	return out
}
func (shareHelpers) GroupKinds() []share.GroupKind {
	return []share.GroupKind{share.GroupRegional, share.GroupCustomers, share.GroupOther}
}
func (shareHelpers) IOCTypes() []share.IOCType             { return share.IOCTypes }
func (shareHelpers) Has(list []string, s string) bool      { return contains(list, s) }
func (shareHelpers) Join(list []string, sep string) string { return strings.Join(list, sep) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func viewer(r *http.Request) share.Viewer { return share.ViewerOf(state(r).p) }

// ---- list ----

type shareListView struct {
	shareHelpers
	Posts    []*share.Post
	Kind     string
	TLP      string
	Q        string
	Mine     bool
	Next     string
	More     bool
	Operator bool
	CanWrite bool
}

const sharePage = 30

func (s *Server) shareList(w http.ResponseWriter, r *http.Request, _ *member) error {
	qs := r.URL.Query()
	v := viewer(r)
	f := share.Filter{Kind: share.Kind(qs.Get("kind")), Query: strings.TrimSpace(qs.Get("q")), Before: qs.Get("before"),
		Limit: sharePage + 1, Mine: qs.Get("mine") == "1"}
	if f.Kind != "" && !f.Kind.Valid() {
		f.Kind = ""
	}
	if t := qs.Get("tlp"); t != "" {
		if tl, err := share.ParseTLP(t); err == nil {
			f.TLP = tl
		}
	}
	posts, err := share.ListPosts(r.Context(), s.DB, v, f)
	if err != nil {
		return err
	}
	view := shareListView{shareHelpers: s.shareHelpers(r), Kind: string(f.Kind), TLP: string(f.TLP), Q: f.Query, Mine: f.Mine,
		Operator: v.Operator, CanWrite: v.Write}
	if len(posts) > sharePage {
		posts = posts[:sharePage]
		view.More = true
		next := url.Values{}
		for _, k := range []string{"kind", "tlp", "q", "mine"} {
			if qs.Get(k) != "" {
				next.Set(k, qs.Get(k))
			}
		}
		next.Set("before", posts[len(posts)-1].ID)
		view.Next = "/share?" + next.Encode()
	}
	view.Posts = posts
	return s.view(w, r, "share.web.list.title", "share_list", view)
}

// ---- post page ----

type shareIndicatorRow struct {
	share.Indicator
	Related []share.Correlation
	// Common is set when the value is carried by so many posts that they
	// are not listed.
	Common bool
}

type sharePostView struct {
	shareHelpers
	Post         *share.Post
	Indicators   []shareIndicatorRow
	Comments     []share.Comment
	MyResponse   share.ResponseStatus
	Rates        *share.ResponseRate
	Affected     share.AffectedResult
	CanWrite     bool
	CanLabel     bool
	CanAdd       bool
	CanAddGroups bool
	CanAddUsers  bool
	ClientsOnly  bool
	Orgs         []share.OrgEntry
	Groups       []share.Group
	Operator     bool
	IsQuestion   bool
}

func (s *Server) renderSharePost(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) error {
	ctx := r.Context()
	v := viewer(r)
	p, err := share.GetPost(ctx, s.DB, v, r.PathValue("id"))
	if err != nil {
		return err
	}
	view := sharePostView{shareHelpers: s.shareHelpers(r), Post: p, CanWrite: v.Write, Operator: v.Operator, IsQuestion: p.Kind == share.KindQuestion}
	corr, err := share.Correlations(ctx, s.DB, v, p.ID, 200)
	if err != nil {
		return err
	}
	seen, err := share.SightedByMe(ctx, s.DB, v, p.ID)
	if err != nil {
		return err
	}
	for _, ind := range p.Indicators {
		row := shareIndicatorRow{Indicator: ind, Common: ind.PostCount > share.OverCorrelation}
		row.SeenByMe = seen[ind.ID]
		for _, c := range corr {
			if c.Type == ind.Type && c.Value == ind.Norm {
				row.Related = append(row.Related, c)
			}
		}
		view.Indicators = append(view.Indicators, row)
	}
	if view.Comments, err = share.ListComments(ctx, s.DB, v, p.ID); err != nil {
		return err
	}
	if view.MyResponse, err = share.MyResponse(ctx, s.DB, v, p.ID); err != nil {
		return err
	}
	if v.Operator || p.Mine {
		if view.Rates, err = share.ResponseRates(ctx, s.DB, v, p.ID); err != nil {
			return err
		}
	}
	if view.Affected, err = s.Share.CheckAffected(ctx, s.DB, v, p); err != nil {
		s.Logger.Error("share: affected check", "post", p.ID, "err", err)
		view.Affected = share.AffectedResult{State: share.AffectedUnknown}
	}
	view.CanLabel = v.Write && (p.AuthorUserID == v.UserID && v.UserID != "" || p.Mine && v.Admin)
	switch {
	case p.Mine && v.Write:
		view.CanAdd = p.TLP == share.TLPAmber || p.TLP == share.TLPAmberStrict || p.TLP == share.TLPRed
		view.CanAddGroups = p.TLP == share.TLPAmber
		view.CanAddUsers = p.TLP == share.TLPRed
	case !p.Mine && v.Write && p.TLP == share.TLPAmber:
		view.CanAdd, view.ClientsOnly = true, true
	}
	if view.CanAdd && !view.CanAddUsers {
		if view.Orgs, err = share.Directory(ctx, s.DB, v, 0); err != nil {
			return err
		}
		if view.CanAddGroups {
			if view.Groups, err = share.ListGroups(ctx, s.DB, v); err != nil {
				return err
			}
		}
	}
	pg := s.newPage(w, r, "share.web.post.title")
	pg.Title = p.Title
	pg.Data = view
	pg.Form = submitted
	return s.renderForm(w, r, "share_post", pg, prevErr)
}

// canWrite refuses auditors and read-only members a change.
func canWrite(m *member) error {
	if !m.P.CanWrite() {
		return apperr.New(apperr.Forbidden, "error_page.read_only")
	}
	return nil
}

// postDone ends a change on the post id: back to the post with a message,
// or the post shown with the error (a post that is not there, or not for
// the reader, is the error page).
func (s *Server) postDone(w http.ResponseWriter, r *http.Request, id, flashKey, anchor string, err error) error {
	if err != nil {
		if isNotFound(err) {
			return err
		}
		return s.renderSharePost(w, r, err, r.PostForm)
	}
	s.flash(w, r, "/share/posts/"+id+anchor, flashKey)
	return nil
}

func (s *Server) shareRespond(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	id := r.PathValue("id")
	err := s.Share.Respond(r.Context(), m.P, id, share.ResponseStatus(r.PostForm.Get("status")))
	return s.postDone(w, r, id, "flash.share_responded", "#respond", err)
}

func (s *Server) shareComment(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	id := r.PathValue("id")
	_, err := s.Share.Comment(r.Context(), m.P, id, r.PostForm.Get("body"))
	return s.postDone(w, r, id, "flash.share_commented", "#comments", err)
}

func (s *Server) shareLabel(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	id := r.PathValue("id")
	t, err := share.ParseTLP(r.PostForm.Get("tlp"))
	if err == nil {
		// A post the reader may not see is not found, before the label is
		// looked at.
		_, err = share.GetPost(r.Context(), s.DB, viewer(r), id)
	}
	if err == nil {
		_, err = s.Share.ChangeLabel(r.Context(), m.P, id, t)
	}
	return s.postDone(w, r, id, "flash.share_label_changed", "", err)
}

func (s *Server) shareRecipients(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	f := r.PostForm
	id := r.PathValue("id")
	users, err := s.resolvePeople(r, s.DB, f.Get("recipient_emails"))
	orgs, groups := nonEmpty(f["recipient_orgs"]), nonEmpty(f["recipient_groups"])
	if err == nil && len(orgs)+len(groups)+len(users) == 0 {
		err = apperr.Field("recipients", "share.web.recipients.none")
	}
	if err == nil {
		_, err = s.Share.AddRecipients(r.Context(), m.P, id, orgs, groups, users)
	}
	return s.postDone(w, r, id, "flash.share_recipients_added", "", err)
}

func (s *Server) shareDelete(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	if err := s.Share.DeletePost(r.Context(), m.P, r.PathValue("id")); err != nil {
		if isNotFound(err) {
			return err
		}
		return s.renderSharePost(w, r, err, nil)
	}
	s.flash(w, r, "/share", "flash.share_deleted")
	return nil
}

func (s *Server) shareSighting(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	if err := s.Share.Sighting(r.Context(), m.P, r.PathValue("id")); err != nil {
		return err
	}
	to := "/share"
	if postID := r.PostForm.Get("post"); db.ValidID(postID) {
		to = "/share/posts/" + postID + "#indicators"
	}
	s.flash(w, r, to, "flash.share_sighted")
	return nil
}

func (s *Server) sharePostMISP(w http.ResponseWriter, r *http.Request, m *member) error {
	id := r.PathValue("id")
	b, err := s.Share.ExportPost(r.Context(), m.P, id, share.FormatMISP)
	if err != nil {
		return err
	}
	return sendFile(w, "application/json; charset=utf-8", `attachment; filename="medisac-`+id+`.misp.json"`, b)
}

func (s *Server) sharePostSTIX(w http.ResponseWriter, r *http.Request, m *member) error {
	id := r.PathValue("id")
	b, err := s.Share.ExportPost(r.Context(), m.P, id, share.FormatSTIX)
	if err != nil {
		return err
	}
	return sendFile(w, share.STIXMediaType, `attachment; filename="medisac-`+id+`.stix.json"`, b)
}

// ---- indicator lookup ----

type shareLookupView struct {
	shareHelpers
	Value   string
	Type    string
	Results []share.Correlation
	Done    bool
}

func (s *Server) shareLookup(w http.ResponseWriter, r *http.Request, _ *member) error {
	qs := r.URL.Query()
	view := shareLookupView{shareHelpers: s.shareHelpers(r), Value: strings.TrimSpace(qs.Get("value")), Type: qs.Get("type")}
	var err error
	if view.Value != "" {
		view.Results, err = share.LookupIOC(r.Context(), s.DB, viewer(r), share.IOCType(view.Type), view.Value, 100)
		view.Done = err == nil
	}
	pg := s.newPage(w, r, "share.web.lookup.title")
	pg.Data = view
	pg.Form = qs
	return s.renderForm(w, r, "share_lookup", pg, err)
}

// ---- new post ----

type shareFormView struct {
	shareHelpers
	Orgs     []share.OrgEntry
	Groups   []share.Group
	Findings []share.PIIFinding
	Digest   string
}

func (s *Server) shareNewForm(w http.ResponseWriter, r *http.Request, _ *member) error {
	f := url.Values{"kind": {string(share.KindAdvisory)}}
	if k := share.Kind(r.URL.Query().Get("kind")); k.Valid() {
		f.Set("kind", string(k))
	}
	return s.renderShareForm(w, r, nil, f, nil)
}

func (s *Server) renderShareForm(w http.ResponseWriter, r *http.Request, prevErr error, form url.Values, findings []share.PIIFinding) error {
	ctx := r.Context()
	v := viewer(r)
	view := shareFormView{shareHelpers: s.shareHelpers(r), Findings: findings, Digest: piiDigest(findings)}
	var err error
	if view.Orgs, err = share.Directory(ctx, s.DB, v, 0); err != nil {
		return err
	}
	if view.Groups, err = share.ListGroups(ctx, s.DB, v); err != nil {
		return err
	}
	pg := s.newPage(w, r, "share.web.new.title")
	pg.Data = view
	pg.Form = withForm(url.Values{}, form)
	return s.renderForm(w, r, "share_form", pg, prevErr)
}

// piiDigest identifies a set of findings, so that a confirmation covers
// exactly the findings the poster was shown.
func piiDigest(fs []share.PIIFinding) string {
	if len(fs) == 0 {
		return ""
	}
	h := sha256.New()
	for _, f := range fs {
		h.Write([]byte(string(f.Kind) + "\x00" + f.Text + "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func nonEmpty(xs []string) []string {
	var out []string
	for _, x := range xs {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// splitLines splits a text area into trimmed non-empty lines; commas and
// spaces also separate when sep is set.
func splitLines(s string, sep bool) []string {
	f := func(r rune) bool { return r == '\n' || r == '\r' }
	if sep {
		f = func(r rune) bool {
			return r == '\n' || r == '\r' || r == ',' || r == ' ' || r == '\t' || r == '、' || r == '　'
		}
	}
	return nonEmpty(strings.FieldsFunc(s, f))
}

// parseIndicatorLines reads the indicators text area: one value per line,
// optionally "type: value" (type as listed in share.IOCTypes) and a comment
// after " #".
func parseIndicatorLines(s string) []share.IndicatorInput {
	var out []share.IndicatorInput
	for _, line := range splitLines(s, false) {
		var in share.IndicatorInput
		if i := strings.Index(line, " #"); i >= 0 {
			in.Comment = strings.TrimSpace(line[i+2:])
			line = strings.TrimSpace(line[:i])
		}
		if t, rest, ok := strings.Cut(line, ":"); ok && share.IOCType(strings.ToLower(strings.TrimSpace(t))).Valid() && !strings.HasPrefix(rest, "//") {
			in.Type = share.IOCType(strings.ToLower(strings.TrimSpace(t)))
			line = strings.TrimSpace(rest)
		}
		if line == "" {
			continue
		}
		in.Value = line
		out = append(out, in)
	}
	return out
}

// parseShareForm reads the new-post form. Recipient people are given by
// e-mail address and resolved by the caller.
func parseShareForm(f url.Values) (share.PostInput, []string) {
	in := share.PostInput{
		Kind:            share.Kind(f.Get("kind")),
		Title:           f.Get("title"),
		Body:            strings.ReplaceAll(f.Get("body"), "\r\n", "\n"),
		References:      splitLines(f.Get("references"), true),
		CVEs:            splitLines(f.Get("cves"), true),
		Indicators:      parseIndicatorLines(f.Get("indicators")),
		Anonymous:       f.Get("anonymous") == "1",
		RecipientOrgs:   nonEmpty(f["recipient_orgs"]),
		RecipientGroups: nonEmpty(f["recipient_groups"]),
	}
	if t := f.Get("tlp"); t != "" {
		if tl, err := share.ParseTLP(t); err == nil {
			in.TLP = tl
		} else {
			in.TLP = share.TLP(t)
		}
	}
	// Recipients the chosen label cannot name are dropped rather than
	// refused: the form keeps every list, whichever label is chosen.
	switch in.TLP {
	case share.TLPClear, share.TLPGreen:
		in.RecipientOrgs, in.RecipientGroups = nil, nil
	case share.TLPAmberStrict:
		in.RecipientGroups = nil
	case share.TLPRed:
		in.RecipientOrgs, in.RecipientGroups = nil, nil
	}
	var emails []string
	if in.TLP == share.TLPRed {
		emails = splitLines(f.Get("recipient_emails"), true)
	}
	return in, emails
}

// resolvePeople turns e-mail addresses into person ids.
func (s *Server) resolvePeople(r *http.Request, q db.Querier, text string) ([]string, error) {
	var ids []string
	for _, e := range splitLines(text, true) {
		u, err := auth.GetUserByEmail(r.Context(), q, e)
		if err != nil {
			if errors.Is(err, db.ErrNotFound) {
				return nil, apperr.Field("recipient_emails", "share.web.person_unknown", e)
			}
			return nil, err
		}
		ids = append(ids, u.ID)
	}
	return ids, nil
}

func (s *Server) shareCreate(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := canWrite(m); err != nil {
		return err
	}
	f := r.PostForm
	in, emails := parseShareForm(f)
	if in.Kind != share.KindIncident {
		in.Anonymous = false
	}
	findings := share.CheckPII(in.Title + "\n" + in.Body)
	if len(findings) > 0 && !(f.Get("pii_confirmed") == "1" && f.Get("pii_digest") == piiDigest(findings)) {
		form := withForm(url.Values{}, f)
		form.Del("pii_confirmed")
		return s.renderShareForm(w, r, apperr.New(apperr.Invalid, "share.web.pii.found"), form, findings)
	}
	if in.TLP == share.TLPRed && len(emails) == 0 {
		return s.renderShareForm(w, r, apperr.Field("recipient_emails", "share.web.red_needs_people"), f, findings)
	}
	users, err := s.resolvePeople(r, s.DB, strings.Join(emails, "\n"))
	var p *share.Post
	if err == nil {
		in.RecipientUsers = users
		p, err = s.Share.CreatePost(r.Context(), m.P, in, len(findings) > 0)
	}
	if err != nil {
		return s.renderShareForm(w, r, err, f, findings)
	}
	s.flash(w, r, "/share/posts/"+p.ID, "flash.share_posted")
	return nil
}
