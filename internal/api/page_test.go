package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/testkit/seed"
)

// pagedList is a list of the API read one page at a time: the arrays of
// its body (one, or two shown one after the other) and how many rows it
// has. A row is named by its "id" (a group membership by its group_id, a
// member by the user_id).
type pagedList struct {
	path  string
	token string
	parts []string
	want  int
}

// rowsOf returns the ids of the rows of a page body, each as
// "<array>:<id>", and its next_cursor.
func (l pagedList) rowsOf(t *testing.T, body []byte) ([]string, string) {
	t.Helper()
	var b map[string]json.RawMessage
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("%s: %v (%s)", l.path, err, body)
	}
	var ids []string
	for _, part := range l.parts {
		var rows []map[string]any
		if err := json.Unmarshal(b[part], &rows); err != nil {
			t.Fatalf("%s: %s: %v (%s)", l.path, part, err, body)
		}
		for _, r := range rows {
			id, _ := r["id"].(string)
			for _, k := range []string{"group_id", "user_id"} {
				if id == "" {
					id, _ = r[k].(string)
				}
			}
			if id == "" {
				t.Fatalf("%s: a row without id: %v", l.path, r)
			}
			ids = append(ids, part+":"+id)
		}
	}
	var next string
	if raw, ok := b["next_cursor"]; ok {
		if err := json.Unmarshal(raw, &next); err != nil {
			t.Fatal(err)
		}
	}
	return ids, next
}

// walk reads every page of l at n rows a page and returns the rows in
// order.
func (l pagedList) walk(t *testing.T, f *fixture, n int) []string {
	t.Helper()
	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > l.want+2 {
			t.Fatalf("%s: the pages do not end", l.path)
		}
		q := url.Values{"limit": {fmt.Sprint(n)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		rec := f.do(t, "GET", l.path+"?"+q.Encode(), l.token, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("%s page %d: %d %s", l.path, pages, rec.Code, rec.Body)
		}
		ids, next := l.rowsOf(t, rec.Body.Bytes())
		if len(ids) > n || (next != "" && len(ids) == 0) {
			t.Fatalf("%s page %d: %d rows for a limit of %d, next %q", l.path, pages, len(ids), n, next)
		}
		all = append(all, ids...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

// TestListsWalkEveryPage checks every list the API reads one page at a
// time: walking all pages of a list longer than a page gives the whole
// list, in the same order, with no row twice; a cursor that no page gave
// is refused with a clear 400 in Japanese and English.
func TestListsWalkEveryPage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		now := f.clock.Now()
		a := "/api/v1/orgs/" + f.orgA.ID
		// Members of A (three already) and tokens of A's staff (two
		// already, all made at the same instant: the id breaks the tie).
		for i := range 6 {
			seed.MemberAs(t, d, f.orgA, auth.NewUser{Email: fmt.Sprintf("m%d@a.example.jp", i), DisplayName: "職員", Lang: "ja"}, auth.RoleStaff, now)
		}
		for i := range 5 {
			seed.Token(t, d, seed.Person{User: f.staffA.user, Org: f.orgA}, fmt.Sprintf("t%d", i), false, now)
		}
		// Organisations, some with the same reading and name (with the
		// three of the fixture and the vendor below, ten).
		for i := range 6 {
			seed.Org(t, d, auth.OrgInput{Kind: auth.KindClinic, Name: fmt.Sprintf("診療所%d", i%2), NameKana: "テスト", Prefecture: "東京都"}, now)
		}
		// Hospital groups: three A owns, two of B's that A is invited to.
		for i, g := range []struct{ token, name string }{{f.adminA.write, "甲"}, {f.adminA.write, "乙"}, {f.adminA.write, "甲乙"}, {f.adminB.write, "丙"}, {f.adminB.write, "丁"}} {
			rec := f.do(t, "POST", hgroupBase, g.token, `{"name":"`+g.name+`"}`)
			if rec.Code != http.StatusCreated {
				t.Fatalf("group %d: %d %s", i, rec.Code, rec.Body)
			}
			if g.token == f.adminB.write {
				id := decodeBody[auth.Group](t, rec).ID
				if rec := f.do(t, "POST", hgroupBase+"/"+id+"/invitations", g.token, `{"ref":"`+f.orgA.ID+`"}`); rec.Code != http.StatusCreated {
					t.Fatalf("group invitation: %d %s", rec.Code, rec.Body)
				}
			}
		}
		// Surveys the operator sends to the hospitals (A).
		opBase := "/api/v1/orgs/" + f.isac.ID + "/assess"
		for i := range 5 {
			rec := f.do(t, "POST", opBase+"/surveys", f.op.write, `{"edition":`+jsonString(strings.Replace(apiSurvey, "isac-api-survey", fmt.Sprintf("isac-api-survey-%d", i), 1))+`,"filter":{"kinds":["hospital"]}}`)
			if rec.Code != http.StatusCreated {
				t.Fatalf("survey %d: %d %s", i, rec.Code, rec.Body)
			}
		}
		// Vendor-sheet requests of A addressed to one vendor organisation.
		vOrg, v := f.vendorOrg(t, "港システム", "tanto@minato-sys.example.jp")
		for i := range 5 {
			iv, err := inventory.CreateVendor(ctx, d, f.orgA.ID, inventory.Vendor{Name: fmt.Sprintf("港システム%d", i), MedisacOrgID: vOrg.ID}, now)
			if err != nil {
				t.Fatal(err)
			}
			rec := f.do(t, "POST", a+"/assess/vendor-requests", f.adminA.write, `{"vendor_id":"`+iv.ID+`","edition_id":"mhlw-r7-vendor","fiscal_year":2025}`)
			if rec.Code != http.StatusCreated {
				t.Fatalf("vendor request %d: %d %s", i, rec.Code, rec.Body)
			}
		}
		// Comments on a post of A.
		rec := f.do(t, "POST", shareBase+"/posts", f.staffA.write, `{"kind":"incident","tlp":"green","title":"不審なメール","body":"添付ファイル付きのメール"}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("post: %d %s", rec.Code, rec.Body)
		}
		post := decodeBody[map[string]any](t, rec)["id"].(string)
		for i := range 7 {
			if rec := f.do(t, "POST", shareBase+"/posts/"+post+"/comments", f.staffB.write, fmt.Sprintf(`{"body":"見ました %d"}`, i)); rec.Code != http.StatusCreated {
				t.Fatalf("comment %d: %d %s", i, rec.Code, rec.Body)
			}
		}

		lists := []pagedList{
			{path: a + "/members", token: f.staffA.read, parts: []string{"members"}, want: 9},
			{path: "/api/v1/tokens", token: f.staffA.read, parts: []string{"tokens"}, want: 7},
			{path: "/api/v1/orgs", token: f.op.read, parts: []string{"orgs"}, want: 10},
			{path: hgroupBase, token: f.adminA.read, parts: []string{"owned", "memberships"}, want: 5},
			{path: opBase + "/surveys", token: f.op.read, parts: []string{"owned", "invited"}, want: 5},
			{path: a + "/assess/surveys", token: f.staffA.read, parts: []string{"owned", "invited"}, want: 5},
			{path: "/api/v1/orgs/" + vOrg.ID + "/assess/inbox", token: v.read, parts: []string{"requests"}, want: 5},
			{path: shareBase + "/posts/" + post + "/comments", token: f.staffA.read, parts: []string{"comments"}, want: 7},
		}
		for _, l := range lists {
			full := l.walk(t, f, auth.MaxPageSize)
			if len(full) != l.want {
				t.Fatalf("%s: %d rows in one page, want %d: %v", l.path, len(full), l.want, full)
			}
			if seen := slices.Compact(slices.Sorted(slices.Values(full))); len(seen) != len(full) {
				t.Fatalf("%s: a row twice in %v", l.path, full)
			}
			for _, n := range []int{1, 2, 3} {
				if got := l.walk(t, f, n); !slices.Equal(got, full) {
					t.Errorf("%s at %d a page:\n got %v\nwant %v", l.path, n, got, full)
				}
			}
			// A cursor no page gave, and a bad limit.
			for _, c := range []string{"x", "e30", "1.e30", "eyJ0IjoxfQ", "3.abc", strings.Repeat("A", 40)} {
				rec := f.do(t, "GET", l.path+"?cursor="+url.QueryEscape(c), l.token, "")
				if e := apiError(t, rec); rec.Code != http.StatusBadRequest || e.Field != "cursor" {
					t.Errorf("%s cursor %q: %d %+v", l.path, c, rec.Code, e)
				}
			}
			rec := f.do(t, "GET", l.path+"?limit=0", l.token, "")
			if e := apiError(t, rec); rec.Code != http.StatusBadRequest || e.Field != "limit" {
				t.Errorf("%s limit 0: %d %+v", l.path, rec.Code, e)
			}
		}

		// The refusal speaks the caller's language (admin A: English,
		// staff A: Japanese).
		for _, tc := range []struct{ token, want string }{
			{f.adminA.read, "The page position (cursor) is not valid"},
			{f.staffA.read, "ページの指定（cursor）が正しくありません"},
		} {
			rec := f.do(t, "GET", a+"/members?cursor=x", tc.token, "")
			if e := apiError(t, rec); !strings.Contains(e.Message, tc.want) {
				t.Errorf("cursor refusal: %+v, want %q", e, tc.want)
			}
		}
	})
}
