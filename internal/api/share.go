package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/imports"
	"github.com/medisac/medisac/internal/share"
)

// The sharing hub's API. Posts are not below an organisation: every read
// goes through the hub's one visibility rule (share.Viewer of the token's
// owner), so a post the caller may not see answers 404 exactly like a
// missing one, whatever its label.

const shareBase = "/api/v1/share"

func init() {
	largeBodies["POST "+shareBase+"/import"] = share.MaxImport + 1
}

// shareRoutes are the sharing hub's entries of the route table.
func (a *API) shareRoutes() []route {
	return []route{
		{"GET", shareBase + "/posts", true, false, a.shareListPosts},
		{"POST", shareBase + "/posts", true, true, a.shareCreatePost},
		{"GET", shareBase + "/posts/{post}", true, false, a.shareGetPost},
		{"PATCH", shareBase + "/posts/{post}", true, true, a.shareChangeLabel},
		{"DELETE", shareBase + "/posts/{post}", true, true, a.shareDeletePost},
		{"POST", shareBase + "/posts/{post}/recipients", true, true, a.shareAddRecipients},
		{"GET", shareBase + "/posts/{post}/comments", true, false, a.shareListComments},
		{"POST", shareBase + "/posts/{post}/comments", true, true, a.shareAddComment},
		{"GET", shareBase + "/posts/{post}/response", true, false, a.shareMyResponse},
		{"PUT", shareBase + "/posts/{post}/response", true, true, a.shareRespond},
		{"GET", shareBase + "/posts/{post}/responses", true, false, a.shareRates},
		{"GET", shareBase + "/posts/{post}/stix", true, false, a.sharePostSTIX},
		{"GET", shareBase + "/posts/{post}/correlations", true, false, a.shareCorrelations},
		{"GET", shareBase + "/posts/{post}/affected", true, false, a.shareAffected},
		{"GET", shareBase + "/indicators", true, false, a.shareLookup},
		{"POST", shareBase + "/indicators/{indicator}/sightings", true, true, a.shareSighting},
		{"GET", shareBase + "/groups", true, false, a.shareListGroups},
		{"POST", shareBase + "/groups", true, true, a.shareCreateGroup},
		{"GET", shareBase + "/groups/{group}/members", true, false, a.shareGroupMembers},
		{"PUT", shareBase + "/groups/{group}/members/{org}", true, true, a.shareGroupAdd},
		{"DELETE", shareBase + "/groups/{group}/members/{org}", true, true, a.shareGroupRemove},
		{"GET", shareBase + "/group-invites", true, false, a.shareGroupInvites},
		{"POST", shareBase + "/group-invites/{group}/accept", true, true, a.shareGroupAccept},
		{"POST", shareBase + "/group-invites/{group}/decline", true, true, a.shareGroupDecline},
		{"GET", shareBase + "/subscription", true, false, a.shareGetSubscription},
		{"PUT", shareBase + "/subscription", true, true, a.shareSetSubscription},
		{"GET", shareBase + "/webhook", true, false, a.shareGetWebhook},
		{"PUT", shareBase + "/webhook", true, true, a.shareSetWebhook},
		{"DELETE", shareBase + "/webhook", true, true, a.shareDeleteWebhook},
		{"POST", shareBase + "/pii-check", true, false, a.sharePIICheck},
		{"POST", shareBase + "/import", true, true, a.shareImport},
		{"GET", shareBase + "/export", true, false, a.shareExport},
	}
}

func shareViewer(c *call) share.Viewer { return share.ViewerOf(c.p) }

// postJSON returns the id of the post of the path, once the caller is
// found to see it, and the request body decoded into a T.
func postJSON[T any](a *API, r *http.Request, c *call) (string, T, error) {
	var in T
	id := r.PathValue("post")
	if _, err := share.GetPost(r.Context(), a.DB, shareViewer(c), id); err != nil {
		return "", in, err
	}
	in, err := readJSON[T](r)
	return id, in, err
}

type postList struct {
	Posts []*share.Post `json:"posts"`
	// Next is the value of "before" for the next (older) page, "" at the
	// end.
	Next string `json:"next"`
}

func (a *API) shareListPosts(w http.ResponseWriter, r *http.Request, c *call) error {
	qs := r.URL.Query()
	f := share.Filter{Kind: share.Kind(qs.Get("kind")), Query: qs.Get("q"), Before: qs.Get("before"), Mine: qs.Get("mine") == "true"}
	if f.Kind != "" && !f.Kind.Valid() {
		return apperr.Field("kind", "share.kind.invalid")
	}
	if t := qs.Get("tlp"); t != "" {
		tl, err := share.ParseTLP(t)
		if err != nil {
			return err
		}
		f.TLP = tl
	}
	if s := qs.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return apperr.Field("since", "share.api.bad_time", "since")
		}
		f.Since = t
	}
	f.Limit = 50
	if s := qs.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return apperr.Field("limit", "share.api.bad_limit", 500)
		}
		f.Limit = n
	}
	limit := f.Limit
	f.Limit++
	posts, err := share.ListPosts(r.Context(), a.DB, shareViewer(c), f)
	if err != nil {
		return err
	}
	out := postList{Posts: posts}
	if len(posts) > limit {
		out.Posts = posts[:limit]
		out.Next = posts[limit-1].ID
	}
	out.Posts = nonNil(out.Posts)
	a.reply(w, http.StatusOK, out)
	return nil
}

// postCreateInput is the body of POST /share/posts.
type postCreateInput struct {
	share.PostInput
	// PIIConfirmed says the caller checked the findings of the
	// patient-data check (POST /share/pii-check) and posts anyway.
	PIIConfirmed bool `json:"pii_confirmed"`
}

func (a *API) shareCreatePost(w http.ResponseWriter, r *http.Request, c *call) error {
	in, err := readJSON[postCreateInput](r)
	if err != nil {
		return err
	}
	if err := checkText("title", in.Title); err != nil {
		return err
	}
	if f := share.CheckPII(in.Title + "\n" + in.Body); len(f) > 0 && !in.PIIConfirmed {
		return apperr.Field("body", "share.api.pii_found", len(f))
	}
	p, err := a.Share.CreatePost(r.Context(), c.p, in.PostInput, in.PIIConfirmed)
	return a.send(w, http.StatusCreated, p, err)
}

func (a *API) shareGetPost(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := share.GetPost(r.Context(), a.DB, shareViewer(c), r.PathValue("post"))
	return a.send(w, http.StatusOK, p, err)
}

type labelInput struct {
	TLP string `json:"tlp"`
}

func (a *API) shareChangeLabel(w http.ResponseWriter, r *http.Request, c *call) error {
	id, in, err := postJSON[labelInput](a, r, c)
	if err != nil {
		return err
	}
	t, err := share.ParseTLP(in.TLP)
	if err != nil {
		return err
	}
	p, err := a.Share.ChangeLabel(r.Context(), c.p, id, t)
	return a.send(w, http.StatusOK, p, err)
}

func (a *API) shareDeletePost(w http.ResponseWriter, r *http.Request, c *call) error {
	return noContent(w, a.Share.DeletePost(r.Context(), c.p, r.PathValue("post")))
}

type recipientsInput struct {
	Orgs   []string `json:"orgs"`
	Groups []string `json:"groups"`
	Users  []string `json:"users"`
}

func (a *API) shareAddRecipients(w http.ResponseWriter, r *http.Request, c *call) error {
	id, in, err := postJSON[recipientsInput](a, r, c)
	if err != nil {
		return err
	}
	p, err := a.Share.AddRecipients(r.Context(), c.p, id, in.Orgs, in.Groups, in.Users)
	return a.send(w, http.StatusOK, p, err)
}

type commentList struct {
	Comments   []share.Comment `json:"comments"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

func (a *API) shareListComments(w http.ResponseWriter, r *http.Request, c *call) error {
	return listPage(a, w, r, func(p auth.Page) ([]share.Comment, string, error) {
		return share.PageComments(r.Context(), a.DB, shareViewer(c), r.PathValue("post"), p)
	}, func(cs []share.Comment, next string) any { return commentList{cs, next} })
}

type commentInput struct {
	Body string `json:"body"`
}

func (a *API) shareAddComment(w http.ResponseWriter, r *http.Request, c *call) error {
	id, in, err := postJSON[commentInput](a, r, c)
	if err != nil {
		return err
	}
	cm, err := a.Share.Comment(r.Context(), c.p, id, in.Body)
	return a.send(w, http.StatusCreated, cm, err)
}

type responseBody struct {
	Status share.ResponseStatus `json:"status"`
}

func (a *API) shareMyResponse(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("post")
	s, err := share.MyResponse(r.Context(), a.DB, shareViewer(c), id)
	return a.send(w, http.StatusOK, responseBody{Status: s}, err)
}

func (a *API) shareRespond(w http.ResponseWriter, r *http.Request, c *call) error {
	id, in, err := postJSON[responseBody](a, r, c)
	if err != nil {
		return err
	}
	err = a.Share.Respond(r.Context(), c.p, id, in.Status)
	return a.send(w, http.StatusOK, in, err)
}

type rateBody struct {
	share.ResponseRate
	Answered int64 `json:"answered"`
	Percent  int64 `json:"percent"`
}

func (a *API) shareRates(w http.ResponseWriter, r *http.Request, c *call) error {
	rate, err := share.ResponseRates(r.Context(), a.DB, shareViewer(c), r.PathValue("post"))
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, rateBody{ResponseRate: *rate, Answered: rate.Answered(), Percent: rate.Percent()})
	return nil
}

type correlationList struct {
	Correlations []share.Correlation `json:"correlations"`
}

func (a *API) shareCorrelations(w http.ResponseWriter, r *http.Request, c *call) error {
	cs, err := share.Correlations(r.Context(), a.DB, shareViewer(c), r.PathValue("post"), 500)
	return a.send(w, http.StatusOK, correlationList{Correlations: nonNil(cs)}, err)
}

func (a *API) shareAffected(w http.ResponseWriter, r *http.Request, c *call) error {
	v := shareViewer(c)
	p, err := share.GetPost(r.Context(), a.DB, v, r.PathValue("post"))
	if err != nil {
		return err
	}
	res, err := a.Share.CheckAffected(r.Context(), a.DB, v, p)
	return a.send(w, http.StatusOK, res, err)
}

func (a *API) shareLookup(w http.ResponseWriter, r *http.Request, c *call) error {
	qs := r.URL.Query()
	value := qs.Get("value")
	if strings.TrimSpace(value) == "" {
		return apperr.Field("value", "share.api.value_required")
	}
	t := share.IOCType(qs.Get("type"))
	if t != "" && !t.Valid() {
		return apperr.Field("type", "share.ioc.bad_type", string(t))
	}
	cs, err := share.LookupIOC(r.Context(), a.DB, shareViewer(c), t, value, 500)
	return a.send(w, http.StatusOK, correlationList{Correlations: nonNil(cs)}, err)
}

func (a *API) shareSighting(w http.ResponseWriter, r *http.Request, c *call) error {
	return noContent(w, a.Share.Sighting(r.Context(), c.p, r.PathValue("indicator")))
}

type groupList struct {
	Groups []share.Group `json:"groups"`
}

func (a *API) shareListGroups(w http.ResponseWriter, r *http.Request, c *call) error {
	gs, err := share.ListGroups(r.Context(), a.DB, shareViewer(c))
	return a.send(w, http.StatusOK, groupList{Groups: nonNil(gs)}, err)
}

type groupInput struct {
	Name string          `json:"name"`
	Kind share.GroupKind `json:"kind"`
}

func (a *API) shareCreateGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	in, err := readJSON[groupInput](r)
	if err != nil {
		return err
	}
	if err := checkText("name", in.Name); err != nil {
		return err
	}
	g, err := a.Share.CreateGroup(r.Context(), c.p, in.Name, in.Kind)
	return a.send(w, http.StatusCreated, g, err)
}

type groupMembers struct {
	Group   *share.Group     `json:"group"`
	Members []share.OrgEntry `json:"members"`
}

func (a *API) shareGroupMembers(w http.ResponseWriter, r *http.Request, c *call) error {
	g, ms, err := share.GroupMembers(r.Context(), a.DB, shareViewer(c), r.PathValue("group"))
	return a.send(w, http.StatusOK, groupMembers{Group: g, Members: nonNil(ms)}, err)
}

type groupInviteList struct {
	Invites []share.GroupInvite `json:"invites"`
}

// shareGroupInvites lists the groups the caller's organisation was invited
// into (state "pending") or belongs to ("accepted").
func (a *API) shareGroupInvites(w http.ResponseWriter, r *http.Request, c *call) error {
	xs, err := share.ListGroupInvites(r.Context(), a.DB, shareViewer(c))
	return a.send(w, http.StatusOK, groupInviteList{Invites: nonNil(xs)}, err)
}

func (a *API) shareGroupAccept(w http.ResponseWriter, r *http.Request, c *call) error {
	return a.shareGroupAnswer(w, r, c, true)
}

func (a *API) shareGroupDecline(w http.ResponseWriter, r *http.Request, c *call) error {
	return a.shareGroupAnswer(w, r, c, false)
}

// shareGroupAnswer accepts or declines an invitation of the caller's
// organisation (declining a group joined leaves it); admins only.
func (a *API) shareGroupAnswer(w http.ResponseWriter, r *http.Request, c *call, accept bool) error {
	return noContent(w, a.Share.AnswerGroupInvite(r.Context(), c.p, r.PathValue("group"), accept))
}

func (a *API) shareGroupAdd(w http.ResponseWriter, r *http.Request, c *call) error {
	return a.shareGroupChange(w, r, c, false)
}

func (a *API) shareGroupRemove(w http.ResponseWriter, r *http.Request, c *call) error {
	return a.shareGroupChange(w, r, c, true)
}

func (a *API) shareGroupChange(w http.ResponseWriter, r *http.Request, c *call, remove bool) error {
	err := a.Share.SetGroupMember(r.Context(), c.p, r.PathValue("group"), r.PathValue("org"), remove)
	if share.ErrField(err) == "org_id" {
		// An unknown organisation in the path is a missing object.
		err = db.ErrNotFound
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) shareGetSubscription(w http.ResponseWriter, r *http.Request, c *call) error {
	s, err := share.GetSubscription(r.Context(), a.DB, shareViewer(c))
	return a.send(w, http.StatusOK, subscriptionBody(s), err)
}

// subscriptionBody never has null lists.
func subscriptionBody(s share.Subscription) share.Subscription {
	s.ImmediateTLP = nonNil(s.ImmediateTLP)
	s.ImmediateKinds = nonNil(s.ImmediateKinds)
	return s
}

func (a *API) shareSetSubscription(w http.ResponseWriter, r *http.Request, c *call) error {
	in, err := readJSON[share.Subscription](r)
	if err != nil {
		return err
	}
	err = a.Share.SetSubscription(r.Context(), c.p, in)
	return a.send(w, http.StatusOK, subscriptionBody(in), err)
}

type webhookBody struct {
	URL    string `json:"url"`
	Secret string `json:"secret,omitempty"`
}

func (a *API) shareGetWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := share.GetWebhook(r.Context(), a.DB, shareViewer(c))
	return a.send(w, http.StatusOK, webhookBody{URL: u}, err)
}

func (a *API) shareSetWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	in, err := readJSON[webhookBody](r)
	if err != nil {
		return err
	}
	if strings.TrimSpace(in.URL) == "" {
		return apperr.Field("url", "share.webhook.https_only")
	}
	err = a.Share.SetWebhook(r.Context(), c.p, in.URL, in.Secret)
	return a.send(w, http.StatusOK, webhookBody{URL: in.URL}, err)
}

func (a *API) shareDeleteWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	return noContent(w, a.Share.SetWebhook(r.Context(), c.p, "", ""))
}

type piiInput struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

type piiResult struct {
	Findings []share.PIIFinding `json:"findings"`
}

func (a *API) sharePIICheck(w http.ResponseWriter, r *http.Request, c *call) error {
	in, err := readJSON[piiInput](r)
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, piiResult{Findings: nonNil(share.CheckPII(in.Title + "\n" + in.Body))})
	return nil
}

type importBody struct {
	Format  string `json:"format"`
	Skipped int    `json:"skipped"`
	*share.ImportResult
}

func (a *API) shareImport(w http.ResponseWriter, r *http.Request, c *call) error {
	var in imports.ShareInput
	if t := r.URL.Query().Get("tlp"); t != "" {
		var err error
		if in.Default, err = share.ParseTLP(t); err != nil {
			return err
		}
	}
	// The import runs as a job of the node: a long one answers 202 and
	// goes on (GET /api/v1/imports/{id}).
	run, err := a.ImportJobs.ImportShare(r.Context(), c.p, in, r.Body)
	if err != nil {
		return err
	}
	v, accepted, err := a.awaitImport(w, r, c, run)
	if accepted || err != nil {
		return err
	}
	a.reply(w, http.StatusOK, imports.Summary(v.(*share.ImportOutcome)))
	return nil
}

// sharePostSTIX answers one post as a STIX 2.1 bundle.
func (a *API) sharePostSTIX(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := a.Share.ExportPost(r.Context(), c.p, r.PathValue("post"), share.FormatSTIX)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", share.STIXMediaType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

func (a *API) shareExport(w http.ResponseWriter, r *http.Request, c *call) error {
	qs := r.URL.Query()
	format := qs.Get("format")
	if format == "" {
		format = share.FormatSTIX
	}
	if format != share.FormatSTIX && format != share.FormatMISP {
		return apperr.Field("format", "share.web.export.bad_format")
	}
	var since time.Time
	if s := qs.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			if t, err = time.ParseInLocation("2006-01-02", s, time.UTC); err != nil {
				return apperr.Field("since", "share.api.bad_time", "since")
			}
		}
		since = t
	}
	b, err := a.Share.Export(r.Context(), c.p, format, since)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}
