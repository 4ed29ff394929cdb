package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/testkit/seed"
)

// The audit-parity test: the same action through the web, the API and the
// command line leaves the same audit entries (action, object kind, object
// id, organisation), because every door calls the same use case and the use
// case writes the entry. Cases live in parity_<area>_test.go files and are
// added to parityCases from init functions.

// parityDoor performs a case's action through one door on the object obj
// (made by the case's Setup for this door) and returns the id of the object
// the entries should name: obj itself, or the id of what it created.
type parityDoor func(w *parityWorld, obj string) string

// parityCase is one audited action.
type parityCase struct {
	// Name identifies the case in the test output.
	Name string
	// Rule is the permission table row the action is checked against; the
	// coverage test requires a case for every row that changes data.
	Rule string
	// As is the person acting: "hospital_admin" or "isac_admin".
	As string
	// Setup makes a fresh object for one door and returns its id ("" when
	// the case needs none).
	Setup func(w *parityWorld) string
	// Web, API and CLI perform the action; nil when the door does not
	// offer it. At least two doors are required.
	Web, API, CLI parityDoor
}

var parityCases []parityCase

// webForm is the web door of a case whose form needs nothing but the
// object: it loads page, posts form to action and names the case's object.
// In page, action and the form's values, {obj}, {hospital} and {isac} stand
// for the object and the world's two organisations, {n} for a fresh number.
func webForm(page, action string, form url.Values) parityDoor {
	return func(w *parityWorld, obj string) string {
		w.t.Helper()
		w.Form(w.expand(page, obj), w.expand(action, obj), w.expandForm(form, obj))
		return obj
	}
}

// webCreate is the web door of a case that creates something: it posts
// form as webForm does and names what the answer's redirect leads to.
func webCreate(page, action string, form url.Values) parityDoor {
	return func(w *parityWorld, obj string) string {
		w.t.Helper()
		_, loc := w.Form(w.expand(page, obj), w.expand(action, obj), w.expandForm(form, obj))
		if loc == "" {
			w.t.Fatalf("web %s: no redirect to what was created", action)
		}
		return lastPath(loc)
	}
}

// apiCall is the API door of a case whose request needs nothing but the
// object: it sends body (nil: none) as JSON to path and names the case's
// object. The placeholders of webForm stand in path and in body's strings.
func apiCall(method, path string, body any) parityDoor {
	return func(w *parityWorld, obj string) string {
		w.t.Helper()
		w.Call(method, w.expand(path, obj), w.expandJSON(body, obj), nil)
		return obj
	}
}

// apiCreate is the API door of a case that creates something: it posts
// body as apiCall does and names the id the answer gives.
func apiCreate(path string, body any) parityDoor {
	return func(w *parityWorld, obj string) string {
		w.t.Helper()
		var out struct{ ID string }
		w.Call(http.MethodPost, w.expand(path, obj), w.expandJSON(body, obj), &out)
		if out.ID == "" {
			w.t.Fatalf("api %s: no id in the answer", path)
		}
		return out.ID
	}
}

// expand replaces the placeholders of webForm in s.
func (w *parityWorld) expand(s, obj string) string {
	w.counter++
	return strings.NewReplacer("{obj}", obj, "{hospital}", w.Hospital, "{isac}", w.ISAC, "{n}", strconv.Itoa(w.counter)).Replace(s)
}

// expandForm is form with the placeholders of webForm replaced (nil for
// nil).
func (w *parityWorld) expandForm(form url.Values, obj string) url.Values {
	if form == nil {
		return nil
	}
	f := url.Values{}
	for k, vs := range form {
		for _, v := range vs {
			f.Add(k, w.expand(v, obj))
		}
	}
	return f
}

// expandJSON is body encoded as JSON with the placeholders of webForm
// replaced in its strings (nil for nil).
func (w *parityWorld) expandJSON(body any, obj string) any {
	if body == nil {
		return nil
	}
	raw, err := json.Marshal(body)
	if err != nil {
		w.t.Fatal(err)
	}
	return json.RawMessage(w.expand(string(raw), obj))
}

// lastPath is the last element of a redirect's path.
func lastPath(loc string) string {
	loc, _, _ = strings.Cut(loc, "#")
	return loc[strings.LastIndex(loc, "/")+1:]
}

// parityHospital is the Setup of a case whose object is the hospital.
func parityHospital(w *parityWorld) string { return w.Hospital }

// principal is the world's admin named key as the use cases see them.
func (w *parityWorld) principal(key string) *auth.Principal {
	u := w.users[key]
	p := &auth.Principal{UserID: u.ID, Email: u.Email, OrgID: u.OrgID, Role: auth.RoleAdmin, OrgKind: auth.KindHospital}
	if u.OrgID == w.ISAC {
		p.OrgKind = auth.KindISAC
	}
	return p
}

// parityOneDoor lists the permission rules whose action only one door
// offers, with the reason; the coverage test accepts them without a case.
var parityOneDoor = map[string]string{
	"assess.hint.accepted":    "hints are shown and answered on the item's web page only; the API has no hints",
	"assess.hint.ignored":     "hints are shown and answered on the item's web page only; the API has no hints",
	"assess.sheet.share":      "sharing a sheet with the ISAC is a switch on the sheet's web page only",
	"assess.vendor.file":      "attaching the PDF a vendor sent is an upload on the vendor requests' web page only",
	"assess.vendor.remind":    "reminding a vendor is a button on the vendor requests' web page only",
	"settings.job.retry":      "only the operators' jobs page (/admin/jobs) retries a failed job; neither the API nor the command line offers it",
	"share.feed.add":          "only the ISAC operator's pages register TAXII feeds; the API has no route for them",
	"share.feed.delete":       "only the ISAC operator's pages remove TAXII feeds; the API has no route for them",
	"share.feed.pull":         "no door pulls a feed: the hub's scheduled job does, as the system",
	"share.warning.add":       "warning lists are kept on the ISAC operator's pages only; the API has no route for them",
	"share.warning.delete":    "warning lists are kept on the ISAC operator's pages only; the API has no route for them",
	"share.warning.toggle":    "warning lists are kept on the ISAC operator's pages only; the API has no route for them",
	"vuln.notifications.read": "only the vulnerability page marks notifications read; the API lists them without changing them",
	"vuln.webhook":            "only the vulnerability page sets the notification webhook; the API and the command line have no such action",
}

// parityKey is what must be identical across doors.
type parityKey struct {
	Action, ObjectType, ObjectID, OrgID string
}

func (k parityKey) String() string {
	return fmt.Sprintf("%s %s/%s in %s", k.Action, k.ObjectType, k.ObjectID, k.OrgID)
}

// parityWorld is a running node with a hospital and an ISAC operator, each
// with an admin who is signed in on the web and holds a write API token.
type parityWorld struct {
	t     *testing.T
	ctx   context.Context
	n     *Node
	base  string
	dir   string
	dbURL string
	now   time.Time

	Hospital, ISAC string
	users          map[string]*parityUser
	as             *parityUser
	// counter numbers the placeholder {n} of the doors.
	counter int
}

type parityUser struct {
	ID, Email, OrgID string
	web              *http.Client
	token            string
}

// eachParityWorld runs fn with a world on SQLite and one on PostgreSQL.
func eachParityWorld(t *testing.T, fn func(t *testing.T, w *parityWorld)) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { fn(t, newParityWorld(t, backend)) })
	}
}

func newParityWorld(t *testing.T, backend string) *parityWorld {
	t.Helper()
	dir := t.TempDir()
	dbURL := ""
	if backend == "postgres" {
		dbURL = dbtest.PostgresURL(t)
	}
	n, base := startNode(t, dbURL, dir, nil)
	w := &parityWorld{t: t, ctx: context.Background(), n: n, base: base, dir: dir, dbURL: dbURL,
		now: time.Now().UTC(), users: map[string]*parityUser{}}
	hosp, err := auth.CreateOrg(w.ctx, n.DB, auth.OrgInput{Kind: auth.KindHospital, Name: "同一記録病院", Prefecture: "東京都", Beds: ptr(120)}, w.now)
	if err != nil {
		t.Fatal(err)
	}
	isac, err := auth.CreateOrg(w.ctx, n.DB, auth.OrgInput{Kind: auth.KindISAC, Name: "医療ISAC運営"}, w.now)
	if err != nil {
		t.Fatal(err)
	}
	w.Hospital, w.ISAC = hosp.ID, isac.ID
	w.addUser("hospital_admin", "admin@parity-hp.jp", hosp.ID, auth.RoleAdmin)
	w.addUser("isac_admin", "admin@parity-isac.jp", isac.ID, auth.RoleAdmin)
	addParityVendor(w)
	return w
}

func ptr[T any](v T) *T { return &v }

func (w *parityWorld) addUser(key, email, orgID string, role auth.Role) *parityUser {
	t := w.t
	p := seed.MemberAs(t, w.n.DB, &auth.Org{ID: orgID}, auth.NewUser{Email: email, DisplayName: key, Lang: "ja", Password: "correct horse battery staple 42"}, role, w.now)
	raw, _, err := auth.CreateSession(w.ctx, w.n.DB, p.User.ID, orgID, true, "127.0.0.1", "parity", auth.DefaultSessionPolicy, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	web := browserHTTP()
	base, _ := url.Parse(w.base)
	web.Jar.SetCookies(base, []*http.Cookie{{Name: "medisac_session", Value: raw, Path: "/"}})
	token, _ := seed.Token(t, w.n.DB, p, "parity", true, w.now)
	pu := &parityUser{ID: p.User.ID, Email: p.User.Email, OrgID: orgID, token: token, web: web}
	w.users[key] = pu
	return pu
}

// formToken loads page as the acting user and returns the CSRF token of
// its forms.
func (w *parityWorld) formToken(page string) string {
	w.t.Helper()
	resp, err := w.as.web.Get(w.base + page)
	if err != nil {
		w.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRe.FindStringSubmatch(string(b))
	if m == nil {
		w.t.Fatalf("no form token on %s (status %d)", page, resp.StatusCode)
	}
	return m[1]
}

// send posts body to action as the acting user's browser and fails the
// test unless the answer is a success or a redirect. It returns the
// response body and the Location header.
func (w *parityWorld) send(action, contentType string, body io.Reader) (string, string) {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.base+action, body)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Origin", w.base)
	resp, err := w.as.web.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		w.t.Fatalf("web %s: status %d: %s", action, resp.StatusCode, b)
	}
	return string(b), resp.Header.Get("Location")
}

// Form loads page (as the acting user) for its CSRF token, then posts form
// to action and fails the test unless the answer is a success or a redirect.
// It returns the response body and the Location header.
func (w *parityWorld) Form(page, action string, form url.Values) (string, string) {
	w.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", w.formToken(page))
	return w.send(action, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
}

// Upload loads page for its CSRF token and posts content as the multipart
// file field named field to action; it returns the answer's body.
func (w *parityWorld) Upload(page, action, field, filename string, content []byte) string {
	w.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", w.formToken(page))
	fw, _ := mw.CreateFormFile(field, filename)
	_, _ = fw.Write(content)
	mw.Close()
	b, _ := w.send(action, mw.FormDataContentType(), &body)
	return b
}

// RawCall sends body as it is (contentType "" : no body) to the API as the
// acting user, fails the test on an error status and returns the answer.
func (w *parityWorld) RawCall(method, path, contentType string, body []byte) []byte {
	w.t.Helper()
	req, _ := http.NewRequest(method, w.base+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+w.as.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		w.t.Fatalf("api %s %s: status %d: %s", method, path, resp.StatusCode, b)
	}
	return b
}

// Call sends an API request as the acting user with body encoded as JSON
// (nil: no body), fails the test on an error status and decodes the answer
// into out (may be nil).
func (w *parityWorld) Call(method, path string, body, out any) {
	w.t.Helper()
	var raw []byte
	contentType := ""
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			w.t.Fatal(err)
		}
		contentType = "application/json"
	}
	b := w.RawCall(method, path, contentType, raw)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			w.t.Fatalf("api %s %s: %v: %s", method, path, err, b)
		}
	}
}

// CLI runs a medisac command against the node's database and returns its
// output; the test fails when it fails.
func (w *parityWorld) CLI(args ...string) string {
	w.t.Helper()
	w.t.Setenv("MEDISAC_DATA_DIR", w.dir)
	w.t.Setenv("MEDISAC_DATABASE_URL", w.dbURL)
	var out, errb bytes.Buffer
	if err := Run(w.ctx, args, &out, &errb); err != nil {
		w.t.Fatalf("medisac %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// File writes content to a file in a fresh folder and returns its path.
func (w *parityWorld) File(name string, content []byte) string {
	w.t.Helper()
	return testkit.WriteFile(w.t, w.t.TempDir(), name, content)
}

// As returns the acting user.
func (w *parityWorld) As() *parityUser { return w.as }

// DB is the node's database, for setups and checks.
func (w *parityWorld) DB() *db.DB { return w.n.DB }

func (w *parityWorld) lastSeq() int64 {
	var seq int64
	if err := w.n.DB.QueryRow(w.ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_log`).Scan(&seq); err != nil {
		w.t.Fatal(err)
	}
	return seq
}

// entriesAfter returns the keys of the entries after seq that record a
// change or a denial (reads of pages that show forms are left out), with
// obj replaced by "<obj>", sorted. Entries the node's own background work
// writes (actor "medisac", e.g. findings closed by a periodic matching
// run) may land at any moment and belong to no door; they are left out.
func (w *parityWorld) entriesAfter(seq int64, obj string) []string {
	rows, err := w.n.DB.Query(w.ctx, `SELECT action, object_type, object_id, org_id, details FROM audit_log WHERE seq > ? AND actor <> 'medisac' ORDER BY seq`, seq)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	orgName := map[string]string{w.Hospital: "<hospital>", w.ISAC: "<isac>"}
	var out []string
	for rows.Next() {
		var k parityKey
		var details string
		if err := rows.Scan(&k.Action, &k.ObjectType, &k.ObjectID, &k.OrgID, &details); err != nil {
			w.t.Fatal(err)
		}
		if k.Action == audit.ActionSensitiveRead || k.Action == audit.ActionAuditRead {
			continue
		}
		if obj != "" && k.ObjectID == obj {
			k.ObjectID = "<obj>"
		}
		if obj != "" && k.OrgID == obj {
			k.OrgID = "<obj>"
		}
		if name, ok := orgName[k.OrgID]; ok {
			k.OrgID = name
		}
		out = append(out, k.String())
	}
	if err := rows.Err(); err != nil {
		w.t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestAuditParity performs every case through every door that offers it,
// on both databases, and compares the entries each door left.
func TestAuditParity(t *testing.T) {
	eachParityWorld(t, func(t *testing.T, w *parityWorld) {
		for _, c := range parityCases {
			t.Run(c.Name, func(t *testing.T) {
				w.t = t
				defer func() { w.t = nil }()
				w.as = w.users[c.As]
				if w.as == nil {
					t.Fatalf("unknown actor %q", c.As)
				}
				doors := []struct {
					name string
					do   parityDoor
				}{{"web", c.Web}, {"api", c.API}, {"cli", c.CLI}}
				var first []string
				var firstDoor string
				used := 0
				for _, d := range doors {
					if d.do == nil {
						continue
					}
					used++
					obj := ""
					if c.Setup != nil {
						obj = c.Setup(w)
					}
					seq := w.lastSeq()
					id := d.do(w, obj)
					got := w.entriesAfter(seq, id)
					if len(got) == 0 {
						t.Fatalf("%s: no audit entry", d.name)
					}
					if first == nil {
						first, firstDoor = got, d.name
						continue
					}
					if strings.Join(got, "\n") != strings.Join(first, "\n") {
						t.Errorf("%s left\n  %s\nbut %s left\n  %s", d.name, strings.Join(got, "\n  "), firstDoor, strings.Join(first, "\n  "))
					}
				}
				if used < 2 {
					t.Fatalf("case offers %d door(s); list one-door actions in parityOneDoor", used)
				}
			})
		}
	})
}

// TestAuditParityCoverage: every permission rule that changes data has a
// parity case or a reason why only one door offers it.
func TestAuditParityCoverage(t *testing.T) {
	have := map[string]bool{}
	for _, c := range parityCases {
		if _, ok := auth.RuleOf(c.Rule); !ok {
			t.Errorf("case %s names rule %q, which the permission table lacks", c.Name, c.Rule)
		}
		have[c.Rule] = true
	}
	for _, r := range auth.Rules() {
		if !r.Writes {
			continue
		}
		if _, ok := parityOneDoor[r.Action]; ok {
			if have[r.Action] {
				t.Errorf("%s has a parity case and is also listed as one-door", r.Action)
			}
			continue
		}
		if !have[r.Action] {
			t.Errorf("no parity case for %s", r.Action)
		}
	}
}
