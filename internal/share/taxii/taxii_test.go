package taxii

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/share"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var t0 = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

type member struct {
	v     share.Viewer
	token string
}

type fixture struct {
	d                 *db.DB
	srv               *Server
	author, recipient member
	other, readOnly   member
	orgR              string
	now               time.Time
}

func newMember(t *testing.T, d *db.DB, org, email string, write bool) member {
	ctx := context.Background()
	u, err := auth.CreateUser(ctx, d, auth.NewUser{Email: email, DisplayName: email}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.AddMember(ctx, d, org, u.ID, auth.RoleAdmin, t0); err != nil {
		t.Fatal(err)
	}
	raw, _, err := auth.CreateToken(ctx, d, u.ID, org, "taxii", write, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	return member{v: share.Viewer{OrgID: org, UserID: u.ID, Admin: true, Write: write}, token: raw}
}

func newFixture(t *testing.T, d *db.DB) *fixture {
	ctx := context.Background()
	org := func(name string) string {
		o, err := auth.CreateOrg(ctx, d, auth.OrgInput{Kind: auth.KindHospital, Name: name}, t0)
		if err != nil {
			t.Fatal(err)
		}
		return o.ID
	}
	a, r, o := org("あおば病院"), org("みなと総合病院"), org("ひかり薬局")
	f := &fixture{d: d, orgR: r, now: t0}
	f.srv = New(d, func() time.Time { return f.now }, nil)
	f.srv.Share.Audit = audit.New(d, nil, nil, func() time.Time { return f.now })
	f.author = newMember(t, d, a, "a@aoba.example.jp", true)
	f.recipient = newMember(t, d, r, "r@minato.example.jp", true)
	f.other = newMember(t, d, o, "o@hikari.example.jp", true)
	f.readOnly = newMember(t, d, o, "ro@hikari.example.jp", false)
	return f
}

func (f *fixture) post(t *testing.T, label share.TLP, title string, iocs ...string) *share.Post {
	in := share.PostInput{Kind: share.KindIndicatorSet, TLP: label, Title: title}
	for _, x := range iocs {
		in.Indicators = append(in.Indicators, share.IndicatorInput{Value: x})
	}
	if label == share.TLPAmber {
		in.RecipientOrgs = []string{f.orgR}
	}
	p, err := share.CreatePost(context.Background(), f.d, f.author.v, in, f.now)
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Second)
	return p
}

func (f *fixture) do(t *testing.T, method, path, token, accept, ctype, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) get(t *testing.T, path, token string) (int, map[string]any, http.Header) {
	t.Helper()
	rec := f.do(t, "GET", path, token, MediaType, "", "")
	var m map[string]any
	if rec.Code == 200 || rec.Code == 202 {
		if ct := rec.Header().Get("Content-Type"); ct != MediaType {
			t.Errorf("%s: content type %q", path, ct)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v %s", path, err, rec.Body)
		}
	}
	return rec.Code, m, rec.Header()
}

func objectIDs(m map[string]any) []string {
	var out []string
	l, _ := m["objects"].([]any)
	for _, x := range l {
		o := x.(map[string]any)
		out = append(out, o["id"].(string))
	}
	return out
}

const green = "/taxii2/root/collections/tlp-green/"

func TestTAXIIConformance(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		for i := range 3 {
			f.post(t, share.TLPGreen, "GREEN "+string(rune('A'+i)), "198.51.100."+string(rune('1'+i)))
		}
		amber := f.post(t, share.TLPAmber, "AMBER for みなと", "evil.example.net")

		// Authentication, media types.
		rec := f.do(t, "GET", "/taxii2/", "", MediaType, "", "")
		if rec.Code != 401 || len(rec.Header().Values("WWW-Authenticate")) == 0 {
			t.Errorf("no token: %d %v", rec.Code, rec.Header())
		}
		rec = f.do(t, "GET", "/taxii2/", "msac_wrong", MediaType, "", "")
		if rec.Code != 401 {
			t.Errorf("bad token: %d", rec.Code)
		}
		req := httptest.NewRequest("GET", "/taxii2/", nil)
		req.SetBasicAuth("anyone", f.other.token)
		req.Header.Set("Accept", "application/taxii+json")
		rr := httptest.NewRecorder()
		f.srv.ServeHTTP(rr, req)
		if rr.Code != 200 {
			t.Errorf("basic auth with token: %d", rr.Code)
		}
		if rec := f.do(t, "GET", "/taxii2/", f.other.token, "application/json", "", ""); rec.Code != 406 {
			t.Errorf("JSON accept: %d", rec.Code)
		}

		// Discovery and API root.
		code, m, _ := f.get(t, "/taxii2/", f.other.token)
		if code != 200 || m["default"] != "/taxii2/root/" {
			t.Errorf("discovery %d %v", code, m)
		}
		code, m, _ = f.get(t, "/taxii2/root/", f.other.token)
		if code != 200 || m["max_content_length"] == nil || !strings.Contains(toJSON(m["versions"]), "version=2.1") {
			t.Errorf("api root %d %v", code, m)
		}
		if code, _, _ := f.get(t, "/taxii2/other/", f.other.token); code != 404 {
			t.Errorf("unknown api root %d", code)
		}
		if code, _, _ := f.get(t, "/taxii2/root", f.other.token); code != 404 {
			t.Errorf("path without slash %d", code)
		}

		// Collections.
		code, m, _ = f.get(t, "/taxii2/root/collections/", f.other.token)
		if cs, _ := m["collections"].([]any); code != 200 || len(cs) != 4 {
			t.Fatalf("collections %d %v", code, m)
		}
		code, m, _ = f.get(t, green, f.other.token)
		if code != 200 || m["can_read"] != true || m["title"] != "TLP:GREEN" {
			t.Errorf("collection %d %v", code, m)
		}

		// Objects: paging with next, sorted by date_added.
		var all []string
		next := ""
		pages := 0
		for {
			path := green + "objects/?limit=4"
			if next != "" {
				path += "&next=" + next
			}
			code, m, h := f.get(t, path, f.other.token)
			if code != 200 || h.Get("X-TAXII-Date-Added-First") == "" || h.Get("X-TAXII-Date-Added-Last") == "" {
				t.Fatalf("objects page %d %v %v", code, m, h)
			}
			ids := objectIDs(m)
			if len(ids) > 4 {
				t.Fatalf("page of %d objects with limit 4", len(ids))
			}
			all = append(all, ids...)
			pages++
			if m["more"] != true {
				break
			}
			next, _ = m["next"].(string)
		}
		// 3 posts × (identity, indicator, report) = 9 objects.
		if len(all) != 9 || pages != 3 {
			t.Errorf("%d objects in %d pages: %v", len(all), pages, all)
		}
		if strings.Contains(strings.Join(all, ","), amber.StixID) {
			t.Error("AMBER report in the GREEN collection")
		}
		// added_after from X-TAXII-Date-Added-Last continues after the
		// first post.
		_, m, h := f.get(t, green+"objects/?limit=3", f.other.token)
		_, m2, _ := f.get(t, green+"objects/?added_after="+h.Get("X-TAXII-Date-Added-Last"), f.other.token)
		if n := len(objectIDs(m2)); n != 6 {
			t.Errorf("added_after gives %d objects, want 6 (first page %v)", n, objectIDs(m))
		}
		// Filters.
		_, m, _ = f.get(t, green+"objects/?match[type]=indicator,report", f.other.token)
		if n := len(objectIDs(m)); n != 6 {
			t.Errorf("match[type] gives %d", n)
		}
		_, m, _ = f.get(t, green+"objects/?match[spec_version]=2.0", f.other.token)
		if _, has := m["objects"]; has {
			t.Errorf("spec 2.0 gives %v", m)
		}
		for _, bad := range []string{"?added_after=yesterday", "?limit=0", "?limit=x", "?match[version]=newest", "?next=%21%21"} {
			if code, _, _ := f.get(t, green+"objects/"+bad, f.other.token); code != 400 {
				t.Errorf("%s: %d, want 400", bad, code)
			}
		}

		// Manifest.
		_, m, _ = f.get(t, green+"manifest/?limit=2", f.other.token)
		recs, _ := m["objects"].([]any)
		if len(recs) != 2 || m["more"] != true {
			t.Fatalf("manifest %v", m)
		}
		r0 := recs[0].(map[string]any)
		if r0["media_type"] != share.STIXMediaType || r0["date_added"] == nil || r0["version"] == nil {
			t.Errorf("manifest record %v", r0)
		}

		// One object, its versions after a label change.
		p := f.post(t, share.TLPGreen, "後でCLEARにする", "203.0.113.77")
		f.now = f.now.Add(time.Minute)
		if _, err := share.ChangeLabel(context.Background(), d, f.author.v, p.ID, share.TLPClear, f.now); err != nil {
			t.Fatal(err)
		}
		clear := "/taxii2/root/collections/tlp-clear/"
		code, m, _ = f.get(t, clear+"objects/"+p.StixID+"/versions/", f.other.token)
		if vs, _ := m["versions"].([]any); code != 200 || len(vs) != 2 {
			t.Errorf("versions %d %v", code, m)
		}
		code, m, _ = f.get(t, clear+"objects/"+p.StixID+"/", f.other.token)
		if ids := objectIDs(m); code != 200 || len(ids) != 1 {
			t.Errorf("object %d %v", code, m)
		}
		code, m, _ = f.get(t, clear+"objects/"+p.StixID+"/?match[version]=all", f.other.token)
		if ids := objectIDs(m); code != 200 || len(ids) != 2 {
			t.Errorf("object all versions %d %v", code, m)
		}
		if code, _, _ := f.get(t, clear+"objects/report--00000000-0000-4000-8000-000000000000/", f.other.token); code != 404 {
			t.Errorf("missing object %d", code)
		}

		// TLP: the AMBER report is served to the recipient only.
		amberColl := "/taxii2/root/collections/tlp-amber/objects/"
		_, m, _ = f.get(t, amberColl, f.recipient.token)
		if !strings.Contains(strings.Join(objectIDs(m), ","), amber.StixID) {
			t.Error("recipient does not get the AMBER report")
		}
		_, m, _ = f.get(t, amberColl, f.other.token)
		if len(objectIDs(m)) != 0 {
			t.Errorf("other member gets AMBER objects %v", objectIDs(m))
		}
		if code, _, _ := f.get(t, "/taxii2/root/collections/tlp-amber/objects/"+amber.StixID+"/", f.other.token); code != 404 {
			t.Errorf("other member reads the AMBER report by id: %d", code)
		}

		// POST an envelope: wrong type 415, read-only 403, one bad object
		// among good ones → 202 with a status naming the failure.
		env := `{"objects":[
		 {"type":"indicator","spec_version":"2.1","id":"indicator--a1b2c3d4-0000-4000-8000-000000000001","created":"2024-05-01T00:00:00.000Z","modified":"2024-05-01T00:00:00.000Z","name":"C2","pattern":"[domain-name:value = 'c2.example.org']","pattern_type":"stix","valid_from":"2024-05-01T00:00:00Z"},
		 {"type":"indicator","spec_version":"2.1","id":"indicator--bad","created":"2024-05-01T00:00:00.000Z","modified":"2024-05-01T00:00:00.000Z","pattern":"x","pattern_type":"stix","valid_from":"2024-05-01T00:00:00Z"}]}`
		objs := green + "objects/"
		if rec := f.do(t, "POST", objs, f.other.token, MediaType, "application/json", env); rec.Code != 415 {
			t.Errorf("json content type %d", rec.Code)
		}
		if rec := f.do(t, "POST", objs, f.readOnly.token, MediaType, MediaType, env); rec.Code != 403 {
			t.Errorf("read-only token %d", rec.Code)
		}
		if rec := f.do(t, "POST", objs, f.other.token, MediaType, MediaType, "{"); rec.Code != 400 {
			t.Errorf("broken envelope %d", rec.Code)
		}
		rec = f.do(t, "POST", objs, f.other.token, MediaType, MediaType, env)
		var st share.Status
		_ = json.Unmarshal(rec.Body.Bytes(), &st)
		if rec.Code != 202 || st.Status != "complete" || st.SuccessCount != 1 || st.FailureCount != 1 || st.Failures[0].ID != "indicator--bad" {
			t.Fatalf("post %d %s", rec.Code, rec.Body)
		}
		// The import is audited like one through the pages or the API:
		// share.import on the organisation, by the token's owner.
		var n int
		if err := f.d.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_log WHERE action = 'share.import' AND object_type = 'organization'
			AND object_id = ? AND org_id = ? AND actor_id = ?`, f.other.v.OrgID, f.other.v.OrgID, f.other.v.UserID).Scan(&n); err != nil || n != 1 {
			t.Errorf("%d share.import entries (%v), want 1", n, err)
		}
		code, m, _ = f.get(t, "/taxii2/root/status/"+st.ID+"/", f.other.token)
		if code != 200 || m["id"] != st.ID {
			t.Errorf("status %d %v", code, m)
		}
		if code, _, _ := f.get(t, "/taxii2/root/status/"+st.ID+"/", f.recipient.token); code != 404 {
			t.Errorf("another org reads the status: %d", code)
		}
		// Posting the same object again is not an error.
		rec = f.do(t, "POST", objs, f.other.token, MediaType, MediaType, env)
		_ = json.Unmarshal(rec.Body.Bytes(), &st)
		if rec.Code != 202 || st.SuccessCount != 1 {
			t.Errorf("repost %d %s", rec.Code, rec.Body)
		}
		// The posted indicator is now GREEN, readable by the author org.
		_, m, _ = f.get(t, objs+"indicator--a1b2c3d4-0000-4000-8000-000000000001/", f.author.token)
		if len(objectIDs(m)) != 1 {
			t.Errorf("posted object not served: %v", m)
		}
		if rec := f.do(t, "DELETE", objs+"indicator--a1b2c3d4-0000-4000-8000-000000000001/", f.other.token, MediaType, "", ""); rec.Code != 403 {
			t.Errorf("delete %d", rec.Code)
		}
	})
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestTAXIIPostGranularMarking: a report POSTed to the GREEN collection,
// marked GREEN but with a TLP:RED description, becomes a RED post of the
// poster's organisation: the GREEN collection serves none of it to
// another member.
func TestTAXIIPostGranularMarking(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		env := `{"objects":[
		 {"type":"report","spec_version":"2.1","id":"report--a1b2c3d4-0000-4000-8000-0000000000f1","created":"2024-05-01T00:00:00.000Z","modified":"2024-05-01T00:00:00.000Z",
		  "name":"保守回線の注意","description":"限定: 侵入元は保守業者の端末","published":"2024-05-01T00:00:00Z",
		  "object_marking_refs":["` + share.TLPGreen.MarkingID() + `"],
		  "granular_markings":[{"marking_ref":"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed","selectors":["description"]}],
		  "object_refs":["indicator--a1b2c3d4-0000-4000-8000-0000000000f2"]},
		 {"type":"indicator","spec_version":"2.1","id":"indicator--a1b2c3d4-0000-4000-8000-0000000000f2","created":"2024-05-01T00:00:00.000Z","modified":"2024-05-01T00:00:00.000Z","pattern":"[domain-name:value = 'maint.example.org']","pattern_type":"stix","valid_from":"2024-05-01T00:00:00Z"}]}`
		rec := f.do(t, "POST", green+"objects/", f.other.token, MediaType, MediaType, env)
		if rec.Code != 202 {
			t.Fatalf("post %d %s", rec.Code, rec.Body)
		}
		_, m, _ := f.get(t, green+"objects/", f.author.token)
		for _, id := range objectIDs(m) {
			if strings.Contains(id, "a1b2c3d4-0000-4000-8000-0000000000f") {
				t.Errorf("GREEN collection serves %s", id)
			}
		}
		ps, err := share.ListPosts(context.Background(), d, f.other.v, share.Filter{Mine: true})
		if err != nil || len(ps) != 1 || ps[0].TLP != share.TLPRed || ps[0].LabelRaisedFrom != share.TLPGreen {
			t.Errorf("posted report: %+v %v", ps, err)
		}
	})
}
