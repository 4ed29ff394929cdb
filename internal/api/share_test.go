package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/share"
)

type shareA struct {
	post, indicator, group string
}

// seedShareA gives organisation A a TLP:AMBER post addressed to nobody
// else (so only A may see it), an indicator on it and a customers group.
func seedShareA(f *fixture) shareA {
	ctx := context.Background()
	v := share.Viewer{OrgID: f.orgA.ID, UserID: f.staffA.user.ID, Write: true}
	adm := share.Viewer{OrgID: f.orgA.ID, UserID: f.adminA.user.ID, Admin: true, Write: true}
	var out shareA
	err := f.d.InTx(ctx, func(tx *db.Tx) error {
		p, err := share.CreatePost(ctx, tx, v, share.PostInput{Kind: share.KindIncident, TLP: share.TLPAmber, Title: "A秘密のインシデント",
			Body: "A秘密の本文", Indicators: []share.IndicatorInput{{Value: "198.51.100.77"}}}, f.clock.Now())
		if err != nil {
			return err
		}
		out.post, out.indicator = p.ID, p.Indicators[0].ID
		g, err := share.CreateGroup(ctx, tx, adm, "取引先", share.GroupCustomers, f.clock.Now())
		if err != nil {
			return err
		}
		out.group = g.ID
		_, err = share.SetGroupMember(ctx, tx, adm, g.ID, f.orgA.ID, false, f.clock.Now())
		return err
	})
	if err != nil {
		panic(err)
	}
	f.secretsA = append(f.secretsA, out.post, "A秘密のインシデント", "A秘密の本文", out.indicator)
	return out
}

func shareIsolationCases(f *fixture) map[string][]isoCase {
	ids := seedShareA(f)
	b := f.orgB.ID
	post := shareBase + "/posts/" + ids.post
	c := map[string][]isoCase{}
	add := func(method, pattern string, cs ...isoCase) {
		c[method+" "+shareBase+pattern] = append(c[method+" "+shareBase+pattern], cs...)
	}
	add("GET", "/posts",
		isoCase{name: "list", path: shareBase + "/posts", collection: true},
		isoCase{name: "search A's words", path: shareBase + "/posts?q=" + url.QueryEscape("A秘密"), collection: true},
		isoCase{name: "AMBER incidents", path: shareBase + "/posts?tlp=amber&kind=incident&limit=500", collection: true})
	add("POST", "/posts", isoCase{name: "own GREEN post", path: shareBase + "/posts", body: `{"kind":"advisory","tlp":"green","title":"Bからの注意喚起"}`, collection: true, status: http.StatusCreated})
	add("GET", "/posts/{post}", isoCase{name: "A's post", path: post})
	add("PATCH", "/posts/{post}", isoCase{name: "relabel A's post", path: post, body: `{"tlp":"clear"}`})
	add("DELETE", "/posts/{post}", isoCase{name: "A's post", path: post})
	add("POST", "/posts/{post}/recipients", isoCase{name: "add B to A's post", path: post + "/recipients", body: `{"orgs":["` + b + `"]}`})
	add("GET", "/posts/{post}/comments", isoCase{name: "A's post", path: post + "/comments"})
	add("POST", "/posts/{post}/comments", isoCase{name: "A's post", path: post + "/comments", body: `{"body":"見えていますか"}`})
	add("GET", "/posts/{post}/response", isoCase{name: "A's post", path: post + "/response"})
	add("PUT", "/posts/{post}/response", isoCase{name: "A's post", path: post + "/response", body: `{"status":"affected"}`})
	add("GET", "/posts/{post}/responses", isoCase{name: "A's post", path: post + "/responses"})
	add("GET", "/posts/{post}/correlations", isoCase{name: "A's post", path: post + "/correlations"})
	add("GET", "/posts/{post}/affected", isoCase{name: "A's post", path: post + "/affected"})
	add("GET", "/posts/{post}/stix", isoCase{name: "A's post", path: post + "/stix"})
	add("GET", "/indicators", isoCase{name: "A's indicator value", path: shareBase + "/indicators?value=198.51.100[.]77", collection: true})
	add("POST", "/indicators/{indicator}/sightings", isoCase{name: "A's indicator", path: shareBase + "/indicators/" + ids.indicator + "/sightings"})
	add("GET", "/groups", isoCase{name: "list", path: shareBase + "/groups", collection: true})
	add("POST", "/groups", isoCase{name: "own customers group", path: shareBase + "/groups", body: `{"name":"Bの取引先","kind":"customers"}`, collection: true, status: http.StatusCreated})
	add("GET", "/groups/{group}/members", isoCase{name: "A's group", path: shareBase + "/groups/" + ids.group + "/members"})
	add("PUT", "/groups/{group}/members/{org}", isoCase{name: "B into A's group", path: shareBase + "/groups/" + ids.group + "/members/" + b})
	add("DELETE", "/groups/{group}/members/{org}", isoCase{name: "A out of A's group", path: shareBase + "/groups/" + ids.group + "/members/" + f.orgA.ID})
	add("GET", "/group-invites", isoCase{name: "own invitations", path: shareBase + "/group-invites", collection: true})
	add("POST", "/group-invites/{group}/accept", isoCase{name: "A's group, B not invited", path: shareBase + "/group-invites/" + ids.group + "/accept"})
	add("POST", "/group-invites/{group}/decline", isoCase{name: "A's group, B not invited", path: shareBase + "/group-invites/" + ids.group + "/decline"})
	add("GET", "/subscription", isoCase{name: "own", path: shareBase + "/subscription", collection: true})
	add("PUT", "/subscription", isoCase{name: "own", path: shareBase + "/subscription", body: `{"immediate_tlp":["red"],"immediate_kinds":[],"digest":true}`, collection: true})
	add("GET", "/webhook", isoCase{name: "own", path: shareBase + "/webhook", collection: true})
	add("PUT", "/webhook", isoCase{name: "own", path: shareBase + "/webhook", body: `{"url":"https://hook.b.example.jp/","secret":"0123456789abcdef"}`, collection: true})
	add("DELETE", "/webhook", isoCase{name: "own", path: shareBase + "/webhook", collection: true, status: http.StatusNoContent})
	add("POST", "/pii-check", isoCase{name: "own text", path: shareBase + "/pii-check", body: `{"title":"x","body":"山田太郎様"}`, collection: true})
	add("POST", "/import", isoCase{name: "own bundle", path: shareBase + "/import", body: testBundle("198.51.100.88"), collection: true})
	add("GET", "/export",
		isoCase{name: "STIX", path: shareBase + "/export?format=stix", collection: true},
		isoCase{name: "MISP", path: shareBase + "/export?format=misp&since=2020-01-01", collection: true})
	return c
}

func testBundle(ip string) string {
	return `{"type":"bundle","id":"bundle--6b4e1b0b-0a0e-4e5c-9b8f-1c2d3e4f5a6b","objects":[{"type":"indicator","spec_version":"2.1",
		"id":"indicator--0b7b6f0e-8f7b-4c1a-9a8e-2f3b4c5d6e7f","created":"2026-03-01T00:00:00Z","modified":"2026-03-01T00:00:00Z",
		"name":"C2","pattern":"[ipv4-addr:value = '` + ip + `']","pattern_type":"stix","valid_from":"2026-03-01T00:00:00Z",
		"object_marking_refs":["` + share.TLPGreen.MarkingID() + `"]}]}`
}

// shareMember adds a person with a write token to org.
func shareMember(t *testing.T, f *fixture, org *auth.Org, email string, role auth.Role) person {
	t.Helper()
	return f.addNamedPerson(t, org, email, email, role)
}

func shareOrg(t *testing.T, f *fixture, kind auth.OrgKind, name string) *auth.Org {
	t.Helper()
	o, err := auth.CreateOrg(context.Background(), f.d, auth.OrgInput{Kind: kind, Name: name, Prefecture: "東京都"}, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func wantCode(t *testing.T, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status %d, want %d: %s", rec.Code, want, rec.Body)
	}
}

// TestShareTLPMatrixAPI checks every label against every relation of reader
// to post through the API's read paths, as the store's matrix test does.
func TestShareTLPMatrixAPI(t *testing.T) {
	relations := []string{"author", "colleague", "recipient org member", "named person", "group member", "other member org", "ISAC operator", "no token"}
	want := map[share.TLP][8]bool{
		share.TLPClear:       {true, true, true, true, true, true, true, false},
		share.TLPGreen:       {true, true, true, true, true, true, true, false},
		share.TLPAmber:       {true, true, true, false, true, false, false, false},
		share.TLPAmberStrict: {true, true, true, false, false, false, false, false},
		share.TLPRed:         {true, false, false, true, false, false, false, false},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		recipientOrg := shareOrg(t, f, auth.KindHospital, "みなと総合病院")
		groupOrg := shareOrg(t, f, auth.KindHospital, "やまびこ病院")
		namedOrg := shareOrg(t, f, auth.KindVendor, "電子カルテ株式会社")
		recipient := shareMember(t, f, recipientOrg, "r@minato.example.jp", auth.RoleStaff)
		groupMember := shareMember(t, f, groupOrg, "g@yamabiko.example.jp", auth.RoleStaff)
		named := shareMember(t, f, namedOrg, "named@karte.example.jp", auth.RoleStaff)

		rec := f.do(t, "POST", shareBase+"/groups", f.op.write, `{"name":"東京都地域医療ネットワーク","kind":"regional"}`)
		wantCode(t, rec, http.StatusCreated)
		group := decodeBody[share.Group](t, rec).ID
		rec = f.do(t, "PUT", shareBase+"/groups/"+group+"/members/"+groupOrg.ID, f.op.write, "")
		wantCode(t, rec, http.StatusNoContent)
		groupAdmin := shareMember(t, f, groupOrg, "admin@yamabiko.example.jp", auth.RoleAdmin)
		wantCode(t, f.do(t, "POST", shareBase+"/group-invites/"+group+"/accept", groupAdmin.write, ""), http.StatusNoContent)

		posts := map[share.TLP]*share.Post{}
		for _, label := range share.TLPs {
			in := map[string]any{"kind": "advisory", "tlp": string(label), "title": "VPN装置の脆弱性 " + label.Label(),
				"body": "リモート保守用VPN装置の更新をお願いします。", "cves": []string{"CVE-2024-21762"},
				"indicators": []map[string]string{{"type": "ip", "value": "203.0.113.7"}}}
			switch label {
			case share.TLPAmber:
				in["recipient_orgs"], in["recipient_groups"] = []string{recipientOrg.ID}, []string{group}
			case share.TLPAmberStrict:
				in["recipient_orgs"] = []string{recipientOrg.ID}
			case share.TLPRed:
				in["recipient_users"] = []string{named.user.ID}
			}
			b, _ := json.Marshal(in)
			rec := f.do(t, "POST", shareBase+"/posts", f.staffA.write, string(b))
			wantCode(t, rec, http.StatusCreated)
			posts[label] = decodeBody[*share.Post](t, rec)
		}
		readers := []string{f.staffA.write, f.adminA.write, recipient.write, named.write, groupMember.write, f.adminB.write, f.op.write, ""}
		for _, label := range share.TLPs {
			p := posts[label]
			for i, rel := range relations {
				tok, exp := readers[i], want[label][i]
				t.Run(label.Label()+"/"+rel, func(t *testing.T) {
					if tok == "" {
						for _, path := range []string{"/posts/" + p.ID, "/posts", "/indicators?value=203.0.113.7", "/export"} {
							if rec := f.do(t, "GET", shareBase+path, "", ""); rec.Code != http.StatusUnauthorized {
								t.Errorf("%s without a token: %d", path, rec.Code)
							}
						}
						return
					}
					status := func(method, path, body string) int { return f.do(t, method, shareBase+path, tok, body).Code }
					wantStatus := http.StatusNotFound
					if exp {
						wantStatus = http.StatusOK
					}
					for _, path := range []string{"/posts/" + p.ID, "/posts/" + p.ID + "/comments", "/posts/" + p.ID + "/correlations", "/posts/" + p.ID + "/affected", "/posts/" + p.ID + "/response", "/posts/" + p.ID + "/stix"} {
						if got := status("GET", path, ""); got != wantStatus {
							t.Errorf("GET %s: %d, want %d", path, got, wantStatus)
						}
					}
					if got := status("PUT", "/posts/"+p.ID+"/response", `{"status":"investigating"}`); got != wantStatus {
						t.Errorf("respond: %d, want %d", got, wantStatus)
					}
					contains := func(path, s string) bool {
						rec := f.do(t, "GET", shareBase+path, tok, "")
						if rec.Code != http.StatusOK {
							t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
						}
						return strings.Contains(rec.Body.String(), s)
					}
					if got := contains("/posts?limit=500", p.ID); got != exp {
						t.Errorf("list shows it: %v, want %v", got, exp)
					}
					if got := contains("/posts?q="+url.QueryEscape("VPN装置 "+label.Label()), p.ID); got != exp {
						t.Errorf("search finds it: %v, want %v", got, exp)
					}
					if got := contains("/indicators?value=203[.]0.113.7", p.ID); got != exp {
						t.Errorf("indicator lookup finds it: %v, want %v", got, exp)
					}
					if got := contains("/export?format=stix", p.StixID); got != exp {
						t.Errorf("STIX export has it: %v, want %v", got, exp)
					}
					if got := contains("/export?format=misp", p.Title); got != exp {
						t.Errorf("MISP export has it: %v, want %v", got, exp)
					}
				})
			}
		}
	})
}

func TestShareAPIFlow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		// Patient data stops a post until confirmed.
		body := `{"kind":"incident","tlp":"green","anonymous":true,"title":"ランサムウェア","body":"山田太郎様の情報が表示された"}`
		rec := f.do(t, "POST", shareBase+"/posts", f.staffA.write, body)
		if rec.Code != http.StatusBadRequest || apiError(t, rec).Field != "body" {
			t.Fatalf("PII post: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "POST", shareBase+"/pii-check", f.staffA.read, `{"body":"山田太郎様の情報が表示された"}`)
		if res := decodeBody[piiResult](t, rec); rec.Code != 200 || len(res.Findings) != 1 || res.Findings[0].Kind != share.PIIName {
			t.Fatalf("pii-check: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "POST", shareBase+"/posts", f.staffA.write, strings.Replace(body, `"anonymous":true`, `"anonymous":true,"pii_confirmed":true`, 1))
		wantCode(t, rec, http.StatusCreated)
		p := decodeBody[share.Post](t, rec)
		// B sees it without A's name; the operator sees who reported it.
		rec = f.do(t, "GET", shareBase+"/posts/"+p.ID, f.adminB.read, "")
		if rec.Code != 200 || strings.Contains(rec.Body.String(), f.orgA.ID) || strings.Contains(rec.Body.String(), f.orgA.Name) {
			t.Fatalf("B reads the anonymous report: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "GET", shareBase+"/posts/"+p.ID, f.op.read, "")
		if got := decodeBody[share.Post](t, rec); got.AuthorOrgID != f.orgA.ID {
			t.Errorf("operator sees reporter %q", got.AuthorOrgID)
		}
		// B answers; read-only tokens cannot; the operator sees the rate.
		if rec := f.do(t, "PUT", shareBase+"/posts/"+p.ID+"/response", f.adminB.read, `{"status":"affected"}`); rec.Code != http.StatusForbidden {
			t.Errorf("read-only respond: %d", rec.Code)
		}
		if rec := f.do(t, "PUT", shareBase+"/posts/"+p.ID+"/response", f.adminB.write, `{"status":"sure"}`); rec.Code != http.StatusBadRequest {
			t.Errorf("bad status: %d", rec.Code)
		}
		rec = f.do(t, "PUT", shareBase+"/posts/"+p.ID+"/response", f.adminB.write, `{"status":"affected"}`)
		wantCode(t, rec, http.StatusOK)
		rec = f.do(t, "GET", shareBase+"/posts/"+p.ID+"/responses", f.op.read, "")
		if r := decodeBody[rateBody](t, rec); r.Affected != 1 || r.Audience != 2 || r.Percent != 50 {
			t.Errorf("rates %+v", r)
		}
		if rec := f.do(t, "GET", shareBase+"/posts/"+p.ID+"/responses", f.adminB.read, ""); rec.Code != http.StatusForbidden {
			t.Errorf("member reads rates: %d", rec.Code)
		}
		// Comments, label change by the author only.
		rec = f.do(t, "POST", shareBase+"/posts/"+p.ID+"/comments", f.adminB.write, `{"body":"当院でも同じ症状です"}`)
		wantCode(t, rec, http.StatusCreated)
		rec = f.do(t, "GET", shareBase+"/posts/"+p.ID+"/comments", f.staffA.read, "")
		if cs := decodeBody[commentList](t, rec); len(cs.Comments) != 1 || cs.Comments[0].OrgName != f.orgB.Name {
			t.Errorf("comments %+v", cs)
		}
		if rec := f.do(t, "PATCH", shareBase+"/posts/"+p.ID, f.adminB.write, `{"tlp":"clear"}`); rec.Code != http.StatusForbidden {
			t.Errorf("B relabels: %d", rec.Code)
		}
		rec = f.do(t, "PATCH", shareBase+"/posts/"+p.ID, f.staffA.write, `{"tlp":"TLP:AMBER+STRICT"}`)
		if got := decodeBody[share.Post](t, rec); rec.Code != 200 || got.TLP != share.TLPAmberStrict {
			t.Fatalf("relabel: %d %s", rec.Code, rec.Body)
		}
		if rec := f.do(t, "GET", shareBase+"/posts/"+p.ID, f.adminB.read, ""); rec.Code != http.StatusNotFound {
			t.Errorf("B after AMBER+STRICT: %d", rec.Code)
		}
		rec = f.do(t, "POST", shareBase+"/posts/"+p.ID+"/recipients", f.staffA.write, `{"orgs":["`+f.orgB.ID+`"]}`)
		wantCode(t, rec, http.StatusOK)
		if rec := f.do(t, "GET", shareBase+"/posts/"+p.ID, f.adminB.read, ""); rec.Code != http.StatusOK {
			t.Errorf("B named again: %d", rec.Code)
		}
		// Import, lookup, sighting, export.
		rec = f.do(t, "POST", shareBase+"/import?tlp=amber", f.adminB.write, testBundle("198.51.100.23"))
		imp := decodeBody[importBody](t, rec)
		if rec.Code != 200 || imp.Format != "stix" || len(imp.Posts) != 1 || imp.Posts[0].TLP != share.TLPGreen {
			t.Fatalf("import: %d %s", rec.Code, rec.Body)
		}
		if rec := f.do(t, "POST", shareBase+"/import", f.adminB.write, `{"type":"bundle","objects":[{"type":"indicator"}`); rec.Code != http.StatusBadRequest {
			t.Errorf("broken import: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "GET", shareBase+"/indicators?value=198.51.100[.]23", f.staffA.read, "")
		if cs := decodeBody[correlationList](t, rec); len(cs.Correlations) != 1 || cs.Correlations[0].PostID != imp.Posts[0].ID {
			t.Errorf("lookup %s", rec.Body)
		}
		rec = f.do(t, "GET", shareBase+"/posts/"+imp.Posts[0].ID, f.staffA.read, "")
		ind := decodeBody[share.Post](t, rec).Indicators[0].ID
		if rec := f.do(t, "POST", shareBase+"/indicators/"+ind+"/sightings", f.staffA.write, ""); rec.Code != http.StatusNoContent {
			t.Errorf("sighting: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "GET", shareBase+"/posts/"+imp.Posts[0].ID, f.adminB.read, "")
		if got := decodeBody[share.Post](t, rec).Indicators[0].Sightings; got != 1 {
			t.Errorf("sightings %d", got)
		}
		rec = f.do(t, "GET", shareBase+"/posts/"+imp.Posts[0].ID+"/stix", f.staffA.read, "")
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != share.STIXMediaType ||
			!strings.Contains(rec.Body.String(), `"type": "bundle"`) || !strings.Contains(rec.Body.String(), "198.51.100.23") {
			t.Errorf("post STIX: %d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		if rec := f.do(t, "GET", shareBase+"/export?format=csv", f.adminB.read, ""); rec.Code != http.StatusBadRequest {
			t.Errorf("bad format: %d", rec.Code)
		}
		// Settings.
		rec = f.do(t, "GET", shareBase+"/subscription", f.staffA.read, "")
		if s := decodeBody[share.Subscription](t, rec); !s.ImmediateDevices || !s.Digest {
			t.Errorf("default subscription %+v", s)
		}
		rec = f.do(t, "PUT", shareBase+"/subscription", f.staffA.write, `{"immediate_tlp":["amber"],"immediate_kinds":["advisory"],"immediate_devices":false,"digest":false}`)
		wantCode(t, rec, http.StatusOK)
		rec = f.do(t, "GET", shareBase+"/subscription", f.staffA.read, "")
		if s := decodeBody[share.Subscription](t, rec); len(s.ImmediateTLP) != 1 || s.Digest || s.ImmediateDevices {
			t.Errorf("subscription %+v", s)
		}
		rec = f.do(t, "PUT", shareBase+"/subscription", f.staffA.write, `{"immediate_tlp":[],"immediate_kinds":[],"immediate_devices":true,"digest":true}`)
		wantCode(t, rec, http.StatusOK)
		rec = f.do(t, "GET", shareBase+"/subscription", f.staffA.read, "")
		if s := decodeBody[share.Subscription](t, rec); len(s.ImmediateTLP) != 0 || len(s.ImmediateKinds) != 0 || !s.ImmediateDevices {
			t.Errorf("subscription with device alerts only %+v", s)
		}
		if rec := f.do(t, "PUT", shareBase+"/subscription", f.staffA.write, `{"immediate_tlp":["purple"]}`); rec.Code != http.StatusBadRequest {
			t.Errorf("bad label: %d", rec.Code)
		}
		if rec := f.do(t, "PUT", shareBase+"/webhook", f.staffA.write, `{"url":"https://x.example/","secret":"0123456789abcdef"}`); rec.Code != http.StatusForbidden {
			t.Errorf("staff webhook: %d", rec.Code)
		}
		if rec := f.do(t, "PUT", shareBase+"/webhook", f.adminA.write, `{"url":"http://x.example/","secret":"0123456789abcdef"}`); rec.Code != http.StatusBadRequest {
			t.Errorf("http webhook: %d", rec.Code)
		}
		// Groups: members only create customers groups.
		if rec := f.do(t, "POST", shareBase+"/groups", f.adminA.write, `{"name":"地域","kind":"regional"}`); rec.Code != http.StatusForbidden {
			t.Errorf("member creates regional group: %d", rec.Code)
		}
		if rec := f.do(t, "PUT", shareBase+"/groups/"+db.NewID()+"/members/"+f.orgB.ID, f.adminA.write, ""); rec.Code != http.StatusNotFound {
			t.Errorf("missing group: %d", rec.Code)
		}
		// Deleting.
		if rec := f.do(t, "DELETE", shareBase+"/posts/"+p.ID, f.adminB.write, ""); rec.Code != http.StatusForbidden {
			t.Errorf("B deletes A's post: %d", rec.Code)
		}
		if rec := f.do(t, "DELETE", shareBase+"/posts/"+p.ID, f.staffA.write, ""); rec.Code != http.StatusNoContent {
			t.Errorf("delete: %d", rec.Code)
		}
		if n := f.auditCountShare(t, f.orgA.ID); n < 4 {
			t.Errorf("%d share audit entries in A", n)
		}
	})
}

func (f *fixture) auditCountShare(t *testing.T, org string) int {
	t.Helper()
	var n int
	if err := f.d.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_log WHERE org_id = ? AND action LIKE 'share.%'`, org).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestShareAPIKeysExist requires the message keys the share handlers name
// in both languages.
func TestShareAPIKeysExist(t *testing.T) {
	b, err := os.ReadFile("share.go")
	if err != nil {
		t.Fatal(err)
	}
	cat := catalogOnce()
	n := 0
	for _, m := range regexp.MustCompile(`"(share\.(?:api|web|kind|tlp|ioc|import|webhook)\.[a-z_.]*[a-z_])"`).FindAllSubmatch(b, -1) {
		n++
		for _, l := range []string{"ja", "en"} {
			if !cat.Has(l, string(m[1])) {
				t.Errorf("key %s missing in %s", m[1], l)
			}
		}
	}
	if n < 5 {
		t.Fatalf("only %d keys found", n)
	}
}

// TestShareFindingsAPI: only the author or an admin of the author's
// organisation widens or deletes a post; counts reveal no hidden post;
// sharing groups need the invited organisation's consent.
func TestShareFindingsAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		// Widening and deleting.
		rec := f.do(t, "POST", shareBase+"/posts", f.adminA.write, `{"kind":"incident","tlp":"amber_strict","title":"A社内だけ"}`)
		wantCode(t, rec, http.StatusCreated)
		strict := decodeBody[*share.Post](t, rec).ID
		rec = f.do(t, "POST", shareBase+"/posts", f.adminA.write, `{"kind":"incident","tlp":"red","title":"名指しだけ","recipient_users":["`+f.staffA.user.ID+`"]}`)
		wantCode(t, rec, http.StatusCreated)
		red := decodeBody[*share.Post](t, rec).ID
		wantCode(t, f.do(t, "POST", shareBase+"/posts/"+red+"/recipients", f.staffA.write, `{"users":["`+f.adminB.user.ID+`"]}`), http.StatusForbidden)
		wantCode(t, f.do(t, "POST", shareBase+"/posts/"+strict+"/recipients", f.staffA.write, `{"orgs":["`+f.orgB.ID+`"]}`), http.StatusForbidden)
		wantCode(t, f.do(t, "DELETE", shareBase+"/posts/"+strict, f.staffA.write, ""), http.StatusForbidden)
		wantCode(t, f.do(t, "DELETE", shareBase+"/posts/"+red, f.staffA.write, ""), http.StatusForbidden)
		wantCode(t, f.do(t, "GET", shareBase+"/posts/"+strict, f.adminB.write, ""), http.StatusNotFound)
		wantCode(t, f.do(t, "GET", shareBase+"/posts/"+red, f.adminB.write, ""), http.StatusNotFound)
		// Staff's own post: the author deletes it, as the admin may.
		rec = f.do(t, "POST", shareBase+"/posts", f.staffA.write, `{"kind":"question","tlp":"amber_strict","title":"担当者の投稿"}`)
		wantCode(t, rec, http.StatusCreated)
		own := decodeBody[*share.Post](t, rec).ID
		wantCode(t, f.do(t, "POST", shareBase+"/posts/"+own+"/recipients", f.staffA.write, `{"groups":["x"]}`), http.StatusBadRequest)
		wantCode(t, f.do(t, "DELETE", shareBase+"/posts/"+strict, f.adminA.write, ""), http.StatusNoContent)
		wantCode(t, f.do(t, "DELETE", shareBase+"/posts/"+own, f.staffA.write, ""), http.StatusNoContent)

		// Counts: B posts A's hidden value and learns nothing.
		rec = f.do(t, "POST", shareBase+"/posts", f.adminA.write, `{"kind":"incident","tlp":"amber","title":"A秘密","indicators":[{"value":"203.0.113.251"}]}`)
		wantCode(t, rec, http.StatusCreated)
		rec = f.do(t, "POST", shareBase+"/posts", f.staffB.write, `{"kind":"question","tlp":"green","title":"B確認","indicators":[{"value":"203.0.113.251"}]}`)
		wantCode(t, rec, http.StatusCreated)
		probe := decodeBody[*share.Post](t, rec)
		if n := probe.Indicators[0].PostCount; n != 1 {
			t.Errorf("create answer counts %d posts", n)
		}
		if n := decodeBody[*share.Post](t, f.do(t, "GET", shareBase+"/posts/"+probe.ID, f.staffB.write, "")).Indicators[0].PostCount; n != 1 {
			t.Errorf("read counts %d posts", n)
		}
		if b := f.do(t, "GET", shareBase+"/posts/"+probe.ID+"/correlations", f.staffB.write, "").Body.String(); strings.Contains(b, "A秘密") {
			t.Errorf("correlations show A's post: %s", b)
		}
		if b := f.do(t, "GET", shareBase+"/indicators?value=203.0.113.251", f.staffB.write, "").Body.String(); strings.Contains(b, "A秘密") {
			t.Errorf("lookup shows A's post: %s", b)
		}
		wantCode(t, f.do(t, "DELETE", shareBase+"/posts/"+probe.ID, f.staffB.write, ""), http.StatusNoContent)

		// Group consent: B is invited into A's customers group, is told,
		// and gets nothing until B's admin accepts.
		rec = f.do(t, "POST", shareBase+"/groups", f.adminA.write, `{"name":"Aの取引先","kind":"customers"}`)
		wantCode(t, rec, http.StatusCreated)
		g := decodeBody[share.Group](t, rec).ID
		wantCode(t, f.do(t, "PUT", shareBase+"/groups/"+g+"/members/"+f.orgB.ID, f.adminA.write, ""), http.StatusNoContent)
		mails, err := f.mailer.Outbox(context.Background(), f.orgB.ID, 10)
		if err != nil || len(mails) == 0 || !strings.Contains(mails[0].Body, "Aの取引先") {
			t.Errorf("invitation mail: %+v %v", mails, err)
		}
		rec = f.do(t, "POST", shareBase+"/posts", f.adminA.write, `{"kind":"advisory","tlp":"amber","title":"取引先へ","recipient_groups":["`+g+`"]}`)
		wantCode(t, rec, http.StatusCreated)
		toGroup := decodeBody[*share.Post](t, rec).ID
		wantCode(t, f.do(t, "GET", shareBase+"/posts/"+toGroup, f.staffB.write, ""), http.StatusNotFound)
		inv := decodeBody[groupInviteList](t, f.do(t, "GET", shareBase+"/group-invites", f.staffB.write, ""))
		if len(inv.Invites) != 1 || inv.Invites[0].State != "pending" {
			t.Errorf("invites %+v", inv)
		}
		wantCode(t, f.do(t, "POST", shareBase+"/group-invites/"+g+"/accept", f.staffB.write, ""), http.StatusForbidden)
		wantCode(t, f.do(t, "POST", shareBase+"/group-invites/"+g+"/accept", f.adminB.write, ""), http.StatusNoContent)
		wantCode(t, f.do(t, "GET", shareBase+"/posts/"+toGroup, f.staffB.write, ""), http.StatusOK)
		wantCode(t, f.do(t, "POST", shareBase+"/group-invites/"+g+"/decline", f.adminB.write, ""), http.StatusNoContent)
		wantCode(t, f.do(t, "GET", shareBase+"/posts/"+toGroup, f.staffB.write, ""), http.StatusNotFound)
	})
}
