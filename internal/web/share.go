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
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/share"
)

// The sharing hub's pages. Reading a post is not written to the audit log
// (members read the hub daily, and TLP is enforced by the store, not by
// watching readers); every change and every export is.

func (s *Server) shareRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /share/feed.atom", s.shareAtom)
	mux.Handle("GET /share", s.requireUser(s.shareList))
	mux.Handle("GET /share/new", s.requireUser(s.shareNewForm))
	mux.Handle("POST /share/new", s.requireUser(s.shareCreate))
	mux.Handle("GET /share/posts/{id}", s.requireUser(s.sharePost))
	mux.Handle("GET /share/posts/{id}/misp.json", s.requireUser(s.sharePostMISP))
	mux.Handle("GET /share/posts/{id}/stix.json", s.requireUser(s.sharePostSTIX))
	mux.Handle("POST /share/posts/{id}/respond", s.requireUser(s.shareRespond))
	mux.Handle("POST /share/posts/{id}/comments", s.requireUser(s.shareComment))
	mux.Handle("POST /share/posts/{id}/label", s.requireUser(s.shareLabel))
	mux.Handle("POST /share/posts/{id}/recipients", s.requireUser(s.shareRecipients))
	mux.Handle("POST /share/posts/{id}/delete", s.requireUser(s.shareDelete))
	mux.Handle("POST /share/indicators/{id}/sighting", s.requireUser(s.shareSighting))
	mux.Handle("GET /share/lookup", s.requireUser(s.shareLookup))
	s.shareAdminRoutes(mux)
}

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

// shareAudit writes a hub change to the audit log in q.
func (s *Server) shareAudit(r *http.Request, q db.Querier, action, objType, objID string, details map[string]any) error {
	return s.auditEvent(r, q, audit.Entry{Action: action, ObjectType: objType, ObjectID: objID, Details: details})
}

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

func (s *Server) shareList(w http.ResponseWriter, r *http.Request) {
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
		s.renderError(w, r, err)
		return
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
	pg := s.newPage(w, r, "share.web.list.title")
	pg.Data = view
	s.render(w, r, http.StatusOK, "share_list", pg)
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

func (s *Server) sharePost(w http.ResponseWriter, r *http.Request) {
	s.renderSharePost(w, r, nil, nil)
}

func (s *Server) renderSharePost(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) {
	ctx := r.Context()
	v := viewer(r)
	p, err := share.GetPost(ctx, s.DB, v, r.PathValue("id"))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	view := sharePostView{shareHelpers: s.shareHelpers(r), Post: p, CanWrite: v.Write, Operator: v.Operator, IsQuestion: p.Kind == share.KindQuestion}
	corr, err := share.Correlations(ctx, s.DB, v, p.ID, 200)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	seen, err := share.SightedByMe(ctx, s.DB, v, p.ID)
	if err != nil {
		s.renderError(w, r, err)
		return
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
		s.renderError(w, r, err)
		return
	}
	if view.MyResponse, err = share.MyResponse(ctx, s.DB, v, p.ID); err != nil {
		s.renderError(w, r, err)
		return
	}
	if v.Operator || p.Mine {
		if view.Rates, err = share.ResponseRates(ctx, s.DB, v, p.ID); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	if view.Affected, err = share.CheckAffected(ctx, s.DB, v, p); err != nil {
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
			s.renderError(w, r, err)
			return
		}
		if view.CanAddGroups {
			if view.Groups, err = share.ListGroups(ctx, s.DB, v); err != nil {
				s.renderError(w, r, err)
				return
			}
		}
	}
	pg := s.newPage(w, r, "share.web.post.title")
	pg.Title = p.Title
	pg.Data = view
	pg.Form = submitted
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
	}
	s.render(w, r, status, "share_post", pg)
}

// postAction runs a change on the post of the path in a transaction with its
// audit entry, then goes back to the post with a message (or shows the post
// with the error).
func (s *Server) postAction(w http.ResponseWriter, r *http.Request, flashKey, anchor string, fn func(tx *db.Tx, v share.Viewer, id string) error) {
	if s.refuseReadOnly(w, r) {
		return
	}
	id := r.PathValue("id")
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error { return fn(tx, viewer(r), id) })
	if err != nil {
		if isNotFound(err) {
			s.renderError(w, r, err)
			return
		}
		s.renderSharePost(w, r, err, r.PostForm)
		return
	}
	s.flash(w, r, "/share/posts/"+id+anchor, flashKey)
}

func (s *Server) shareRespond(w http.ResponseWriter, r *http.Request) {
	st := share.ResponseStatus(r.PostForm.Get("status"))
	s.postAction(w, r, "flash.share_responded", "#respond", func(tx *db.Tx, v share.Viewer, id string) error {
		if err := share.Respond(r.Context(), tx, v, id, st, s.Now()); err != nil {
			return err
		}
		return s.shareAudit(r, tx, "share.response", "share_post", id, map[string]any{"status": string(st)})
	})
}

func (s *Server) shareComment(w http.ResponseWriter, r *http.Request) {
	s.postAction(w, r, "flash.share_commented", "#comments", func(tx *db.Tx, v share.Viewer, id string) error {
		c, err := share.AddComment(r.Context(), tx, v, id, r.PostForm.Get("body"), s.Now())
		if err != nil {
			return err
		}
		return s.shareAudit(r, tx, "share.comment", "share_post", id, map[string]any{"comment": c.ID})
	})
}

func (s *Server) shareLabel(w http.ResponseWriter, r *http.Request) {
	t, err := share.ParseTLP(r.PostForm.Get("tlp"))
	s.postAction(w, r, "flash.share_label_changed", "", func(tx *db.Tx, v share.Viewer, id string) error {
		if err != nil {
			return err
		}
		p, err := share.GetPost(r.Context(), tx, v, id)
		if err != nil {
			return err
		}
		if _, err := share.ChangeLabel(r.Context(), tx, v, id, t, s.Now()); err != nil {
			return err
		}
		return s.shareAudit(r, tx, "share.post.label", "share_post", id, map[string]any{"from": string(p.TLP), "to": string(t)})
	})
}

func (s *Server) shareRecipients(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	s.postAction(w, r, "flash.share_recipients_added", "", func(tx *db.Tx, v share.Viewer, id string) error {
		users, err := s.resolvePeople(r, tx, f.Get("recipient_emails"))
		if err != nil {
			return err
		}
		orgs, groups := nonEmpty(f["recipient_orgs"]), nonEmpty(f["recipient_groups"])
		if len(orgs)+len(groups)+len(users) == 0 {
			return apperr.Field("recipients", "share.web.recipients.none")
		}
		reshare, err := share.AddRecipients(r.Context(), tx, v, id, orgs, groups, users, s.Now())
		if err != nil {
			return err
		}
		action := "share.post.recipients"
		if reshare {
			action = "share.post.reshare"
		}
		return s.shareAudit(r, tx, action, "share_post", id, map[string]any{"orgs": orgs, "groups": groups, "users": users})
	})
}

func (s *Server) shareDelete(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	id := r.PathValue("id")
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		p, err := share.GetPost(r.Context(), tx, viewer(r), id)
		if err != nil {
			return err
		}
		if err := share.DeletePost(r.Context(), tx, viewer(r), id); err != nil {
			return err
		}
		return s.shareAudit(r, tx, "share.post.delete", "share_post", id, map[string]any{"title": p.Title, "tlp": string(p.TLP)})
	})
	if err != nil {
		if isNotFound(err) {
			s.renderError(w, r, err)
			return
		}
		s.renderSharePost(w, r, err, nil)
		return
	}
	s.flash(w, r, "/share", "flash.share_deleted")
}

func (s *Server) shareSighting(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	ind := r.PathValue("id")
	postID := r.PostForm.Get("post")
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		if err := share.AddSighting(r.Context(), tx, viewer(r), ind, s.Now()); err != nil {
			return err
		}
		return s.shareAudit(r, tx, "share.sighting", "share_indicator", ind, map[string]any{"post": postID})
	})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	to := "/share"
	if db.ValidID(postID) {
		to = "/share/posts/" + postID + "#indicators"
	}
	s.flash(w, r, to, "flash.share_sighted")
}

func (s *Server) sharePostMISP(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var b []byte
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		var err error
		if b, err = share.ExportMISPEvent(r.Context(), tx, viewer(r), id); err != nil {
			return err
		}
		return s.shareAudit(r, tx, audit.ActionDataExport, "share_post", id, map[string]any{"format": "misp"})
	})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="medisac-`+id+`.misp.json"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

func (s *Server) sharePostSTIX(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var b []byte
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		var err error
		if b, err = share.ExportPostSTIX(r.Context(), tx, viewer(r), id); err != nil {
			return err
		}
		return s.shareAudit(r, tx, audit.ActionDataExport, "share_post", id, map[string]any{"format": "stix"})
	})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", share.STIXMediaType)
	w.Header().Set("Content-Disposition", `attachment; filename="medisac-`+id+`.stix.json"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// ---- indicator lookup ----

type shareLookupView struct {
	shareHelpers
	Value   string
	Type    string
	Results []share.Correlation
	Done    bool
}

func (s *Server) shareLookup(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	view := shareLookupView{shareHelpers: s.shareHelpers(r), Value: strings.TrimSpace(qs.Get("value")), Type: qs.Get("type")}
	pg := s.newPage(w, r, "share.web.lookup.title")
	status := http.StatusOK
	if view.Value != "" {
		res, err := share.LookupIOC(r.Context(), s.DB, viewer(r), share.IOCType(view.Type), view.Value, 100)
		if err != nil {
			pg.Error = apperr.From(err)
			status = formStatus(err)
		}
		view.Results, view.Done = res, err == nil
	}
	pg.Data = view
	pg.Form = qs
	s.render(w, r, status, "share_lookup", pg)
}

// ---- new post ----

type shareFormView struct {
	shareHelpers
	Orgs     []share.OrgEntry
	Groups   []share.Group
	Findings []share.PIIFinding
	Digest   string
}

func (s *Server) shareNewForm(w http.ResponseWriter, r *http.Request) {
	f := url.Values{"kind": {string(share.KindAdvisory)}}
	if k := share.Kind(r.URL.Query().Get("kind")); k.Valid() {
		f.Set("kind", string(k))
	}
	s.renderShareForm(w, r, nil, f, nil)
}

func (s *Server) renderShareForm(w http.ResponseWriter, r *http.Request, prevErr error, form url.Values, findings []share.PIIFinding) {
	ctx := r.Context()
	v := viewer(r)
	view := shareFormView{shareHelpers: s.shareHelpers(r), Findings: findings, Digest: piiDigest(findings)}
	var err error
	if view.Orgs, err = share.Directory(ctx, s.DB, v, 0); err != nil {
		s.renderError(w, r, err)
		return
	}
	if view.Groups, err = share.ListGroups(ctx, s.DB, v); err != nil {
		s.renderError(w, r, err)
		return
	}
	pg := s.newPage(w, r, "share.web.new.title")
	pg.Data = view
	pg.Form = withForm(url.Values{}, form)
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
	}
	s.render(w, r, status, "share_form", pg)
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

func (s *Server) shareCreate(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	ctx := r.Context()
	f := r.PostForm
	in, emails := parseShareForm(f)
	if in.Kind != share.KindIncident {
		in.Anonymous = false
	}
	findings := share.CheckPII(in.Title + "\n" + in.Body)
	if len(findings) > 0 && !(f.Get("pii_confirmed") == "1" && f.Get("pii_digest") == piiDigest(findings)) {
		form := withForm(url.Values{}, f)
		form.Del("pii_confirmed")
		s.renderShareForm(w, r, apperr.New(apperr.Invalid, "share.web.pii.found"), form, findings)
		return
	}
	if in.TLP == share.TLPRed && len(emails) == 0 {
		s.renderShareForm(w, r, apperr.Field("recipient_emails", "share.web.red_needs_people"), f, findings)
		return
	}
	var p *share.Post
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		users, err := s.resolvePeople(r, tx, strings.Join(emails, "\n"))
		if err != nil {
			return err
		}
		in.RecipientUsers = users
		if p, err = share.CreatePost(ctx, tx, viewer(r), in, s.Now()); err != nil {
			return err
		}
		if err := share.EnqueueFanout(ctx, tx, s.Queue, p.ID, s.Now()); err != nil {
			return err
		}
		return s.shareAudit(r, tx, "share.post.create", "share_post", p.ID, map[string]any{"kind": string(p.Kind), "tlp": string(p.TLP),
			"anonymous": p.Anonymous, "pii_confirmed": len(findings) > 0})
	})
	if err != nil {
		s.renderShareForm(w, r, err, f, findings)
		return
	}
	s.flash(w, r, "/share/posts/"+p.ID, "flash.share_posted")
}
