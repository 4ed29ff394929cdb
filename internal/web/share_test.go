package web

import (
	"encoding/xml"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/share"
	"github.com/medisac/medisac/internal/testkit"
)

var postIDRe = regexp.MustCompile(`^/share/posts/([0-9a-f-]{36})$`)

// sharePostVia posts the new-post form and returns the new post's id.
func sharePostVia(t *testing.T, c *client, form url.Values) string {
	t.Helper()
	r := c.post("/share/new", form)
	wantStatus(t, r, http.StatusSeeOther)
	m := postIDRe.FindStringSubmatch(r.loc())
	if m == nil {
		t.Fatalf("redirect to %q", r.loc())
	}
	return m[1]
}

func TestShareAdvisoryFlow(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		op := e.signedIn(e.oper, e.isac)
		member := e.signedIn(e.admin, e.hosp)
		clinic := e.signedIn(e.other, e.clinic)

		id := sharePostVia(t, op, url.Values{"kind": {"advisory"}, "tlp": {"green"}, "title": {"VPN装置の緊急更新のお願い"},
			"body": {"## 対応\n- 更新してください\n<script>alert(1)</script>"}, "cves": {"cve-2024-21762, CVE-2023-27997"},
			"references": {"https://www.jpcert.or.jp/at/2024/at240005.html"},
			"indicators": {"203.0.113[.]7 # 攻撃元\n8.8.8.8\nhxxp://evil.example/login"}})

		// A member finds it in the list, by search, and on its page with
		// the label's meaning in plain words.
		list := member.get("/share")
		wantStatus(t, list, http.StatusOK)
		wantContains(t, list, "VPN装置の緊急更新のお願い")
		wantContains(t, list, text("share.tlp.meaning.green"))
		wantContains(t, member.get("/share?q=緊急更新"), "/share/posts/"+id)
		if strings.Contains(member.get("/share?q=存在しない言葉").body, "/share/posts/"+id) {
			t.Error("search for other words finds the post")
		}
		if strings.Contains(member.get("/share?tlp=amber").body, "/share/posts/"+id) {
			t.Error("TLP filter ignored")
		}
		page := member.get("/share/posts/" + id)
		wantStatus(t, page, http.StatusOK)
		checkPage(t, "post", page)
		wantContains(t, page, `tlp-badge tlp-green`)
		wantContains(t, page, text("share.tlp.meaning.green"))
		wantContains(t, page, "<h2>対応</h2>")
		if strings.Contains(page.body, "<script>alert") {
			t.Error("script from the body reached the page")
		}
		wantContains(t, page, "CVE-2024-21762")
		wantContains(t, page, text("share.affected.unknown"))
		wantContains(t, page, text("share.web.ind.warning"))
		wantContains(t, page, "医療ISAC事務局")
		if strings.Contains(page.body, text("share.web.rates.title")) {
			t.Error("a member sees the response rate")
		}

		// The operator sees nobody has answered yet; the member clicks
		// "investigating"; the operator sees the count change.
		rates := func() string {
			r := op.get("/share/posts/" + id)
			wantStatus(t, r, http.StatusOK)
			m := regexp.MustCompile(`data-rate="investigating">([0-9]+)<`).FindStringSubmatch(r.body)
			if m == nil {
				t.Fatal("no rate on the operator's page")
			}
			return m[1]
		}
		if got := rates(); got != "0" {
			t.Fatalf("investigating before = %s", got)
		}
		wantStatus(t, member.post("/share/posts/"+id+"/respond", url.Values{"status": {"investigating"}}), http.StatusSeeOther)
		if got := rates(); got != "1" {
			t.Fatalf("investigating after = %s", got)
		}
		wantContains(t, op.get("/share/ops"), text("share.web.rates.summary", "1", "2", 50))
		wantStatus(t, member.post("/share/posts/"+id+"/respond", url.Values{"status": {"maybe"}}), http.StatusBadRequest)
		if e.auditCount(e.hosp.ID, "share.response") != 1 {
			t.Error("response not audited")
		}

		// Comments and a sighting.
		wantStatus(t, clinic.post("/share/posts/"+id+"/comments", url.Values{"body": {"当院も更新しました。"}}), http.StatusSeeOther)
		wantContains(t, member.get("/share/posts/"+id), "当院も更新しました。")
		ind := regexp.MustCompile(`/share/indicators/([0-9a-f-]{36})/sighting`).FindStringSubmatch(page.body)
		if ind == nil {
			t.Fatal("no sighting button")
		}
		wantStatus(t, clinic.post("/share/indicators/"+ind[1]+"/sighting", url.Values{"post": {id}}), http.StatusSeeOther)
		wantContains(t, clinic.get("/share/posts/"+id), text("share.web.ind.seen_by_us"))

		// Only the author's side changes the label.
		wantStatus(t, member.post("/share/posts/"+id+"/label", url.Values{"tlp": {"clear"}}), http.StatusForbidden)
		wantStatus(t, op.post("/share/posts/"+id+"/label", url.Values{"tlp": {"amber_strict"}}), http.StatusSeeOther)
		wantStatus(t, member.get("/share/posts/"+id), http.StatusNotFound)
		wantStatus(t, op.post("/share/posts/"+id+"/recipients", url.Values{"recipient_orgs": {e.hosp.ID}}), http.StatusSeeOther)
		wantStatus(t, member.get("/share/posts/"+id), http.StatusOK)
		wantStatus(t, clinic.get("/share/posts/"+id), http.StatusNotFound)

		// The auditor reads but cannot answer.
		aud := e.signedIn(e.auditor, e.hosp)
		wantStatus(t, aud.post("/share/posts/"+id+"/respond", url.Values{"status": {"affected"}}), http.StatusForbidden)

		// The member organisation cannot delete the operator's post.
		wantStatus(t, member.post("/share/posts/"+id+"/delete", nil), http.StatusForbidden)
		wantStatus(t, op.post("/share/posts/"+id+"/delete", nil), http.StatusSeeOther)
		wantStatus(t, op.get("/share/posts/"+id), http.StatusNotFound)
	})
}

func TestShareAnonymousReportWithPatientDataCheck(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		reporter := e.signedIn(e.staff, e.hosp)
		form := url.Values{"kind": {"incident"}, "tlp": {"green"}, "anonymous": {"1"}, "title": {"ランサムウェア感染"},
			"body": {"受付端末が暗号化されました。山田太郎様の予約票が画面に表示されていました。連絡先 03-1234-5678。"}}
		r := reporter.post("/share/new", form)
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r, text("share.web.pii.title"))
		wantContains(t, r, "山田太郎様")
		wantContains(t, r, "03-1234-5678")
		digest := regexp.MustCompile(`name="pii_digest" value="([0-9a-f]+)"`).FindStringSubmatch(r.body)
		if digest == nil {
			t.Fatal("no digest on the warning step")
		}
		// Ticking the box without the digest of what was shown does not post.
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("pii_confirmed", "1")
		wantStatus(t, reporter.post("/share/new", bad), http.StatusBadRequest)
		// Editing the text removes the warning.
		edited := url.Values{}
		for k, v := range form {
			edited[k] = v
		}
		edited.Set("body", "受付端末が暗号化されました。患者Aさんの予約票が表示されていました。")
		id := sharePostVia(t, reporter, edited)

		// Another member sees the report without the reporter's name.
		other := e.signedIn(e.other, e.clinic)
		page := other.get("/share/posts/" + id)
		wantStatus(t, page, http.StatusOK)
		if strings.Contains(page.body, e.hosp.Name) {
			t.Error("the reporter's name is shown to another member")
		}
		wantContains(t, page, text("share.web.anonymous_org"))
		if strings.Contains(other.get("/share").body, e.hosp.Name) {
			t.Error("the reporter's name is in the list")
		}
		wantStatus(t, other.post("/share/posts/"+id+"/respond", url.Values{"status": {"affected"}}), http.StatusSeeOther)
		// Its STIX download names nobody either, and is linked from the page.
		wantContains(t, page, `href="/share/posts/`+id+`/stix.json"`)
		stix := other.get("/share/posts/" + id + "/stix.json")
		wantStatus(t, stix, http.StatusOK)
		if stix.header.Get("Content-Type") != share.STIXMediaType || !strings.HasPrefix(stix.header.Get("Content-Disposition"), "attachment;") {
			t.Errorf("STIX download headers: %v", stix.header)
		}
		wantContains(t, stix, `"type": "report"`)
		if strings.Contains(stix.body, e.hosp.Name) || strings.Contains(stix.body, `"identity"`) || strings.Contains(stix.body, "created_by_ref") {
			t.Error("the STIX download of an anonymous report names the reporter")
		}
		if e.auditCount(e.clinic.ID, "data.export") != 1 {
			t.Error("the STIX download is not audited")
		}
		// The ISAC sees who reported it.
		op := e.signedIn(e.oper, e.isac)
		ops := op.get("/share/ops")
		wantStatus(t, ops, http.StatusOK)
		wantContains(t, ops, e.hosp.Name)
		wantStatus(t, other.get("/share/ops"), http.StatusNotFound)

		// Confirming the findings shown posts the text as it is.
		confirmed := url.Values{}
		for k, v := range form {
			confirmed[k] = v
		}
		confirmed.Set("pii_confirmed", "1")
		confirmed.Set("pii_digest", digest[1])
		sharePostVia(t, reporter, confirmed)
	})
}

func TestShareRecipientsAndRed(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		admin := e.signedIn(e.admin, e.hosp)
		// AMBER to the clinic: the clinic sees it, the ISAC does not.
		id := sharePostVia(t, admin, url.Values{"kind": {"vuln_note"}, "tlp": {"amber"}, "title": {"電子カルテの不具合"},
			"recipient_orgs": {e.clinic.ID}, "recipient_emails": {"ignored@example.jp"}})
		wantStatus(t, e.signedIn(e.other, e.clinic).get("/share/posts/"+id), http.StatusOK)
		wantStatus(t, e.signedIn(e.oper, e.isac).get("/share/posts/"+id), http.StatusNotFound)
		// RED to one person by e-mail.
		r := admin.post("/share/new", url.Values{"kind": {"question"}, "tlp": {"red"}, "title": {"内密の相談"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r, text("share.web.red_needs_people"))
		r = admin.post("/share/new", url.Values{"kind": {"question"}, "tlp": {"red"}, "title": {"内密の相談"}, "recipient_emails": {"nobody@example.jp"}})
		wantStatus(t, r, http.StatusBadRequest)
		red := sharePostVia(t, admin, url.Values{"kind": {"question"}, "tlp": {"red"}, "title": {"内密の相談"}, "recipient_emails": {e.other.Email}})
		wantStatus(t, e.signedIn(e.other, e.clinic).get("/share/posts/"+red), http.StatusOK)
		// The post's downloads follow the same rule as the page.
		wantStatus(t, e.signedIn(e.other, e.clinic).get("/share/posts/"+red+"/stix.json"), http.StatusOK)
		wantStatus(t, e.signedIn(e.staff, e.hosp).get("/share/posts/"+red+"/stix.json"), http.StatusNotFound)
		wantStatus(t, e.signedIn(e.staff, e.hosp).get("/share/posts/"+red), http.StatusNotFound)
		// A missing title keeps what was typed.
		r = admin.post("/share/new", url.Values{"kind": {"advisory"}, "tlp": {"green"}, "body": {"本文だけ"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r, "本文だけ")
		wantContains(t, r, text("share.title.required"))
	})
}

func TestShareAtomFeed(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		op := e.signedIn(e.oper, e.isac)
		clear := sharePostVia(t, op, url.Values{"kind": {"advisory"}, "tlp": {"clear"}, "title": {"一般向け: 不審メールに注意"},
			"body": {"**添付ファイル**を開かないでください & 連絡を。"}, "references": {"https://www.ipa.go.jp/"}})
		green := sharePostVia(t, op, url.Values{"kind": {"advisory"}, "tlp": {"green"}, "title": {"会員向けの情報"}})

		anon := e.client()
		r := anon.get("/share/feed.atom")
		wantStatus(t, r, http.StatusOK)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/atom+xml") {
			t.Errorf("content type %q", ct)
		}
		var feed struct {
			XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
			ID      string   `xml:"id"`
			Title   string   `xml:"title"`
			Updated string   `xml:"updated"`
			Author  struct {
				Name string `xml:"name"`
			} `xml:"author"`
			Links []struct {
				Rel  string `xml:"rel,attr"`
				Href string `xml:"href,attr"`
			} `xml:"link"`
			Entries []struct {
				ID      string `xml:"id"`
				Title   string `xml:"title"`
				Updated string `xml:"updated"`
				Link    []struct {
					Href string `xml:"href,attr"`
				} `xml:"link"`
				Content struct {
					Type string `xml:"type,attr"`
					Body string `xml:",chardata"`
				} `xml:"content"`
			} `xml:"entry"`
		}
		if err := xml.Unmarshal([]byte(r.body), &feed); err != nil {
			t.Fatalf("not XML: %v\n%s", err, r.body)
		}
		if feed.ID == "" || feed.Title == "" || feed.Updated == "" || feed.Author.Name == "" {
			t.Errorf("feed lacks required elements: %+v", feed)
		}
		self := false
		for _, l := range feed.Links {
			self = self || (l.Rel == "self" && strings.HasSuffix(l.Href, "/share/feed.atom"))
		}
		if !self {
			t.Error("no self link")
		}
		if len(feed.Entries) != 1 {
			t.Fatalf("%d entries, want the CLEAR post only", len(feed.Entries))
		}
		en := feed.Entries[0]
		if en.ID != "urn:uuid:"+clear || en.Title != "一般向け: 不審メールに注意" || en.Updated == "" || en.Content.Type != "html" ||
			!strings.Contains(en.Content.Body, "<strong>添付ファイル</strong>") || len(en.Link) == 0 || !strings.HasSuffix(en.Link[0].Href, "/share/posts/"+clear) {
			t.Errorf("entry %+v", en)
		}
		if strings.Contains(r.body, green) {
			t.Error("a GREEN post is in the public feed")
		}
		// Members only below /share otherwise.
		if r := anon.get("/share"); r.status != http.StatusSeeOther {
			t.Errorf("anonymous /share: %d", r.status)
		}
	})
}

func TestShareAdminPages(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		op := e.signedIn(e.oper, e.isac)
		admin := e.signedIn(e.admin, e.hosp)

		// Sharing groups: the ISAC makes a regional network, a member
		// only a clients group.
		r := op.post("/share/groups", url.Values{"name": {"東京地域医療ネット"}, "kind": {"regional"}})
		wantStatus(t, r, http.StatusSeeOther)
		gid := strings.TrimPrefix(r.loc(), "/share/groups/")
		wantStatus(t, op.post("/share/groups/"+gid+"/members", url.Values{"org_id": {e.clinic.ID}}), http.StatusSeeOther)
		wantContains(t, op.get("/share/groups/"+gid), e.clinic.Name)
		wantStatus(t, admin.post("/share/groups", url.Values{"name": {"地域"}, "kind": {"regional"}}), http.StatusForbidden)
		wantStatus(t, admin.get("/share/groups/"+gid), http.StatusNotFound)
		wantStatus(t, admin.post("/share/groups/"+gid+"/members", url.Values{"org_id": {e.hosp.ID}}), http.StatusNotFound)
		// The group can be a recipient of AMBER: the clinic sees it once
		// its admin accepted the invitation, not before.
		id := sharePostVia(t, admin, url.Values{"kind": {"advisory"}, "tlp": {"amber"}, "title": {"地域向け"}, "recipient_groups": {gid}})
		clinicAdmin := e.signedIn(e.other, e.clinic)
		wantStatus(t, clinicAdmin.get("/share/posts/"+id), http.StatusNotFound)
		groups := clinicAdmin.get("/share/groups")
		wantContains(t, groups, "東京地域医療ネット")
		wantContains(t, groups, "/share/groups/"+gid+"/answer")
		wantStatus(t, clinicAdmin.post("/share/groups/"+gid+"/answer", url.Values{"answer": {"accept"}}), http.StatusSeeOther)
		wantStatus(t, clinicAdmin.get("/share/posts/"+id), http.StatusOK)

		// Warning lists.
		wantStatus(t, op.post("/share/warnings", url.Values{"list": {"院内の正規サーバー"}, "type": {"domain"}, "value": {"intra.example.jp"}}), http.StatusSeeOther)
		wl := op.get("/share/warnings")
		wantContains(t, wl, "intra.example.jp")
		r = op.post("/share/warnings", url.Values{"list": {"x"}, "type": {"cidr"}, "value": {"not-a-range"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantStatus(t, admin.get("/share/warnings"), http.StatusNotFound)
		wid := regexp.MustCompile(`/share/warnings/([0-9a-f-]{36})/delete`).FindStringSubmatch(wl.body)
		if wid == nil {
			t.Fatal("no delete button for the added entry")
		}
		wantStatus(t, op.post("/share/warnings/"+wid[1]+"/toggle", url.Values{"disabled": {"1"}}), http.StatusSeeOther)
		wantStatus(t, op.post("/share/warnings/"+wid[1]+"/delete", nil), http.StatusSeeOther)

		// Notification settings and the webhook.
		wantContains(t, admin.get("/share/settings"), `name="immediate_devices" value="1" checked`)
		wantStatus(t, admin.post("/share/settings", url.Values{"immediate_tlp": {"red"}, "immediate_kinds": {"advisory"}}), http.StatusSeeOther)
		sub, err := share.GetSubscription(bg, d, share.Viewer{OrgID: e.hosp.ID, UserID: e.admin.ID})
		if err != nil || len(sub.ImmediateTLP) != 1 || sub.ImmediateTLP[0] != share.TLPRed || sub.Digest || len(sub.ImmediateKinds) != 1 || sub.ImmediateDevices {
			t.Errorf("subscription %+v %v", sub, err)
		}
		wantStatus(t, admin.post("/share/settings", url.Values{"immediate_devices": {"1"}, "digest": {"1"}}), http.StatusSeeOther)
		sub, err = share.GetSubscription(bg, d, share.Viewer{OrgID: e.hosp.ID, UserID: e.admin.ID})
		if err != nil || len(sub.ImmediateTLP) != 0 || !sub.ImmediateDevices || !sub.Digest {
			t.Errorf("subscription with device alerts %+v %v", sub, err)
		}
		wantContains(t, admin.get("/share/settings"), `name="immediate_devices" value="1" checked`)
		wantStatus(t, admin.post("/share/settings", url.Values{"immediate_tlp": {"purple"}}), http.StatusBadRequest)
		wantStatus(t, admin.post("/share/settings/webhook", url.Values{"url": {"http://hook.example.jp/"}, "secret": {"0123456789abcdef"}}), http.StatusBadRequest)
		wantStatus(t, admin.post("/share/settings/webhook", url.Values{"url": {"https://hook.example.jp/in"}, "secret": {"0123456789abcdef"}}), http.StatusSeeOther)
		wantContains(t, admin.get("/share/settings"), "https://hook.example.jp/in")
		wantStatus(t, e.signedIn(e.staff, e.hosp).post("/share/settings/webhook", url.Values{"remove": {"1"}}), http.StatusForbidden)

		// TAXII feeds.
		wantStatus(t, op.post("/share/feeds", url.Values{"objects_url": {"https://taxii.example.jp/api1/collections/c1/"}, "tlp": {"amber"}}), http.StatusBadRequest)
		wantStatus(t, op.post("/share/feeds", url.Values{"title": {"JPCERT"}, "objects_url": {"https://taxii.example.jp/api1/collections/c1/objects/"}, "tlp": {"green"}, "interval": {"30"}, "secret": {"tok"}}), http.StatusSeeOther)
		feeds := op.get("/share/feeds")
		wantContains(t, feeds, "https://taxii.example.jp/api1/collections/c1/objects/")
		fid := regexp.MustCompile(`/share/feeds/([0-9a-f-]{36})/delete`).FindStringSubmatch(feeds.body)
		if fid == nil {
			t.Fatal("no feed")
		}
		wantStatus(t, op.post("/share/feeds/"+fid[1]+"/delete", nil), http.StatusSeeOther)
		wantStatus(t, admin.get("/share/feeds"), http.StatusNotFound)

		// STIX import (pasted) and export.
		bundle := `{"type":"bundle","id":"bundle--6b4e1b0b-0a0e-4e5c-9b8f-1c2d3e4f5a6b","objects":[{"type":"indicator","spec_version":"2.1",
			"id":"indicator--0b7b6f0e-8f7b-4c1a-9a8e-2f3b4c5d6e7f","created":"2026-03-01T00:00:00Z","modified":"2026-03-01T00:00:00Z",
			"name":"C2","pattern":"[ipv4-addr:value = '198.51.100.23']","pattern_type":"stix","valid_from":"2026-03-01T00:00:00Z",
			"object_marking_refs":["` + share.TLPGreen.MarkingID() + `"]}]}`
		r = admin.post("/share/import", url.Values{"data": {bundle}, "tlp": {"amber"}})
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r, `id="import-result"`)
		wantContains(t, admin.get("/share/lookup?value=198.51.100[.]23"), "TLP:GREEN")
		wantStatus(t, admin.post("/share/import", url.Values{"data": {"{not json"}}), http.StatusBadRequest)
		exp := admin.get("/share/export?format=stix")
		wantStatus(t, exp, http.StatusOK)
		wantContains(t, exp, "198.51.100.23")
		wantStatus(t, admin.get("/share/export?format=csv"), http.StatusBadRequest)
		misp := admin.get("/share/export?format=misp&since=2020-01-01")
		wantStatus(t, misp, http.StatusOK)
		wantContains(t, misp, `"Event"`)
		if e.auditCount(e.hosp.ID, "data.export") != 2 {
			t.Error("exports not audited")
		}
	})
}

// TestSharePagesRender renders every hub page for every role in both
// languages and checks them like the rest of the UI.
func TestSharePagesRender(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		op := e.signedIn(e.oper, e.isac)
		id := sharePostVia(t, op, url.Values{"kind": {"question"}, "tlp": {"green"}, "title": {"相談: バックアップの保管"},
			"indicators": {"ip: 192.0.2.1"}, "cves": {"CVE-2024-3400"}})
		r := op.post("/share/groups", url.Values{"name": {"近畿"}, "kind": {"regional"}})
		gid := strings.TrimPrefix(r.loc(), "/share/groups/")
		users := []pageUser{{"admin", e.admin, e.hosp}, {"staff", e.staff, e.hosp}, {"auditor", e.auditor, e.hosp}, {"operator", e.oper, e.isac}}
		opOnly := map[string]int{"admin": 404, "staff": 404, "auditor": 404}
		pages := []pageWant{
			{"/share", nil}, {"/share?kind=question&tlp=green&q=バックアップ&mine=1", nil}, {"/share/new", nil}, {"/share/new?kind=incident", nil},
			{"/share/posts/" + id, nil}, {"/share/lookup", nil}, {"/share/lookup?value=192.0.2.1", nil}, {"/share/lookup?value=x&type=hash", map[string]int{"admin": 400, "staff": 400, "auditor": 400, "operator": 400}},
			{"/share/groups", nil}, {"/share/groups/" + gid, opOnly}, {"/share/settings", nil}, {"/share/interop", nil},
			{"/share/ops", opOnly}, {"/share/warnings", opOnly}, {"/share/feeds", opOnly}, {"/share/posts/" + db.NewID(), map[string]int{"admin": 404, "staff": 404, "auditor": 404, "operator": 404}},
		}
		walkPages(t, e, d, users, pages, func(label, _ string, r resp) {
			if strings.Contains(stripTags(r.body), "share.") {
				t.Errorf("%s: untranslated share key", label)
			}
		})
	})
}

// TestShareKeysExist requires every share.web and flash.share key named by
// the hub's handlers and templates, and the key families they build, in
// both languages.
func TestShareKeysExist(t *testing.T) {
	keyRe := regexp.MustCompile(`"((?:share\.web\.|flash\.share_|share\.(?:kind|tlp|response|affected|pii)\.)[a-z_.]*[a-z_])"`)
	keys := map[string]bool{}
	for _, m := range testkit.SourceMatches(t, keyRe, "share*.go", "templates/share_*.html") {
		keys[m.Groups[1]] = true
	}
	for _, k := range share.Kinds {
		keys["share.kind."+string(k)], keys["share.web.kind_help."+string(k)] = true, true
	}
	for _, tl := range share.TLPs {
		keys[tl.MeaningKey()], keys["share.web.tlp_recipients."+string(tl)] = true, true
	}
	for _, x := range share.IOCTypes {
		keys["share.web.ioc."+string(x)] = true
	}
	for _, x := range []string{"ioc.cidr", "group_kind.regional", "group_kind.customers", "group_kind.other", "source.stix", "source.taxii", "source.misp",
		"recipients.kind.org", "recipients.kind.group", "recipients.kind.user"} {
		keys["share.web."+x] = true
	}
	for _, s := range share.ResponseStatuses {
		keys["share.response."+string(s)] = true
	}
	for _, s := range []share.AffectedState{share.AffectedUnknown, share.AffectedYes, share.AffectedNo} {
		keys["share.affected."+string(s)] = true
	}
	testkit.CatalogHasAll(t, catalog, 200, slices.Sorted(maps.Keys(keys)))
}

func TestParseShareForm(t *testing.T) {
	in, emails := parseShareForm(url.Values{"kind": {"advisory"}, "tlp": {"TLP:AMBER+STRICT"}, "title": {"x"},
		"cves": {"CVE-2024-1 , CVE-2024-2、CVE-2024-3"}, "references": {"https://a.example/\r\nhttps://b.example/"},
		"indicators":     {"url: hxxp://x[.]example/a # 偽ログイン\n\n  198.51.100.1  \nhash:" + strings.Repeat("a", 64)},
		"recipient_orgs": {"o1", ""}, "recipient_groups": {"g1"}, "recipient_emails": {"a@example.jp"}})
	if in.TLP != share.TLPAmberStrict || len(in.CVEs) != 3 || len(in.References) != 2 || len(in.RecipientGroups) != 0 ||
		len(in.RecipientOrgs) != 1 || len(emails) != 0 {
		t.Errorf("%+v %v", in, emails)
	}
	want := []share.IndicatorInput{{Type: share.IOCURL, Value: "hxxp://x[.]example/a", Comment: "偽ログイン"}, {Value: "198.51.100.1"},
		{Type: share.IOCHash, Value: strings.Repeat("a", 64)}}
	if len(in.Indicators) != len(want) {
		t.Fatalf("indicators %+v", in.Indicators)
	}
	for i := range want {
		if in.Indicators[i] != want[i] {
			t.Errorf("indicator %d = %+v, want %+v", i, in.Indicators[i], want[i])
		}
	}
	in, emails = parseShareForm(url.Values{"tlp": {"red"}, "recipient_orgs": {"o1"}, "recipient_emails": {"a@example.jp b@example.jp"}})
	if len(in.RecipientOrgs) != 0 || len(emails) != 2 {
		t.Errorf("red: %+v %v", in, emails)
	}
}

// FuzzShareForm feeds arbitrary form text to the new-post parser: it must
// not panic, every indicator must have a value, and a line URL like
// "https://…" must never be mistaken for a type prefix.
func FuzzShareForm(f *testing.F) {
	f.Add("ip: 192.0.2.1 # note\nhttps://x.example/\n", "TLP:AMBER", "CVE-2024-1,CVE-2024-2")
	f.Add("url:\n:\n #\n", "red", "")
	f.Add("\x00\xff", "tlp:white", "、、")
	f.Fuzz(func(t *testing.T, inds, tlp, cves string) {
		in, _ := parseShareForm(url.Values{"indicators": {inds}, "tlp": {tlp}, "cves": {cves}})
		for _, x := range in.Indicators {
			if strings.TrimSpace(x.Value) == "" {
				t.Fatalf("empty indicator from %q", inds)
			}
			if x.Type != "" && !x.Type.Valid() {
				t.Fatalf("invalid type %q", x.Type)
			}
			if strings.HasPrefix(x.Value, "//") {
				t.Fatalf("URL split as type prefix: %+v", x)
			}
		}
		for _, c := range in.CVEs {
			if c == "" || !utf8.ValidString(c) && utf8.ValidString(cves) {
				t.Fatalf("bad cve %q", c)
			}
		}
	})
}

// TestShareFindingsWeb: through the forms, only the author or an admin of
// the author's organisation widens or deletes a post; a granular marking
// narrower than the report keeps it out of the public feed; counts reveal
// no hidden post; the anonymous report form says who sees the reporter.
func TestShareFindingsWeb(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		admin := e.signedIn(e.admin, e.hosp)
		staff := e.signedIn(e.staff, e.hosp)
		clinic := e.signedIn(e.other, e.clinic)
		anon := e.client()

		// Widening and deleting a colleague's AMBER+STRICT post.
		strict := sharePostVia(t, admin, url.Values{"kind": {"incident"}, "tlp": {"amber_strict"}, "title": {"院内だけの情報"}})
		wantStatus(t, staff.post("/share/posts/"+strict+"/recipients", url.Values{"recipient_orgs": {e.clinic.ID}}), http.StatusForbidden)
		wantStatus(t, clinic.get("/share/posts/"+strict), http.StatusNotFound)
		wantStatus(t, staff.post("/share/posts/"+strict+"/delete", nil), http.StatusForbidden)
		wantStatus(t, staff.get("/share/posts/"+strict), http.StatusOK)
		wantStatus(t, admin.post("/share/posts/"+strict+"/recipients", url.Values{"recipient_orgs": {e.clinic.ID}}), http.StatusSeeOther)
		wantStatus(t, clinic.get("/share/posts/"+strict), http.StatusOK)
		wantStatus(t, admin.post("/share/posts/"+strict+"/delete", nil), http.StatusSeeOther)

		// A CLEAR report whose description is marked RED.
		bundle := `{"type":"bundle","id":"bundle--6b4e1b0b-0a0e-4e5c-9b8f-1c2d3e4f5a6c","objects":[
			{"type":"report","spec_version":"2.1","id":"report--7c4e1b0b-0a0e-4e5c-9b8f-1c2d3e4f5a6c","created":"2026-03-01T00:00:00Z","modified":"2026-03-01T00:00:00Z",
			"name":"公開の注意喚起","description":"非公開: 侵入口は保守用VPNの初期パスワード","published":"2026-03-01T00:00:00Z",
			"object_marking_refs":["` + share.TLPClear.MarkingID() + `"],
			"granular_markings":[{"marking_ref":"` + share.TLPRed.MarkingID() + `","selectors":["description"]}],
			"object_refs":["indicator--0b7b6f0e-8f7b-4c1a-9a8e-2f3b4c5d6e70"]},
			{"type":"indicator","spec_version":"2.1","id":"indicator--0b7b6f0e-8f7b-4c1a-9a8e-2f3b4c5d6e70","created":"2026-03-01T00:00:00Z","modified":"2026-03-01T00:00:00Z",
			"pattern":"[ipv4-addr:value = '198.51.100.24']","pattern_type":"stix","valid_from":"2026-03-01T00:00:00Z","object_marking_refs":["` + share.TLPClear.MarkingID() + `"]}]}`
		wantStatus(t, admin.post("/share/import", url.Values{"data": {bundle}}), http.StatusOK)
		feed := anon.get("/share/feed.atom")
		wantStatus(t, feed, http.StatusOK)
		for _, secret := range []string{"初期パスワード", "公開の注意喚起"} {
			if strings.Contains(feed.body, secret) {
				t.Errorf("public feed shows %q", secret)
			}
		}
		if strings.Contains(clinic.get("/share").body, "公開の注意喚起") {
			t.Error("another member sees the raised post")
		}
		mine := admin.get("/share?mine=1")
		id := regexp.MustCompile(`/share/posts/([0-9a-f-]{36})`).FindStringSubmatch(mine.body)
		if id == nil {
			t.Fatal("imported post not listed")
		}
		post := admin.get("/share/posts/" + id[1])
		wantContains(t, post, "TLP:RED")
		wantContains(t, post, `id="label-raised"`)
		wantContains(t, post, "初期パスワード")

		// Counts: the clinic posts the hospital's hidden value.
		sharePostVia(t, admin, url.Values{"kind": {"incident"}, "tlp": {"amber"}, "title": {"北町の秘密の通信先"}, "indicators": {"203.0.113.252"}})
		probe := sharePostVia(t, clinic, url.Values{"kind": {"question"}, "tlp": {"green"}, "title": {"確認用"}, "indicators": {"203.0.113.252"}})
		for _, page := range []string{"/share/posts/" + probe, "/share/lookup?value=203.0.113.252"} {
			if b := clinic.get(page).body; strings.Contains(b, "北町の秘密の通信先") {
				t.Errorf("%s shows the hidden post", page)
			}
		}

		// The anonymous report form says the ISAC's staff see the reporter.
		form := admin.get("/share/new?kind=incident")
		wantContains(t, form, `id="anonymous-notice"`)
		wantContains(t, form, text("share.web.new.anonymous_notice"))
	})
}
