package api

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// isoCase is one request of the tenant-isolation walk: organisation B's
// admin (write token) aims at organisation A's objects.
type isoCase struct {
	name, path, body string
	// collection routes have no id of A in the path: they may succeed (or
	// be refused) but must not show A's objects. Other routes must answer
	// 404 exactly like a missing object.
	collection bool
	status     int // for collection routes; 0 means 200
}

// isolationCases lists, for every route of the table, the requests that
// prove it keeps organisations apart. A route missing here fails the test.
func isolationCases(f *fixture) map[string][]isoCase {
	a, b := f.orgA.ID, f.orgB.ID
	aAdmin, aStaff := f.adminA.user.ID, f.staffA.user.ID
	cases := map[string][]isoCase{
		"GET /api/v1/openapi.json": {{name: "public document", path: "/api/v1/openapi.json", collection: true}},
		"GET /api/v1/me":           {{name: "own identity", path: "/api/v1/me", collection: true}},
		"GET /api/v1/orgs": {
			{name: "list", path: "/api/v1/orgs", collection: true},
			{name: "search A by name", path: "/api/v1/orgs?q=" + "A%E7%B7%8F%E5%90%88", collection: true},
			{name: "filter A's kind", path: "/api/v1/orgs?kind=hospital", collection: true},
		},
		"POST /api/v1/orgs":     {{name: "create (not an operator)", path: "/api/v1/orgs", body: `{"kind":"hospital","name":"A総合病院"}`, collection: true, status: http.StatusForbidden}},
		"GET /api/v1/orgs/{id}": {{name: "A", path: "/api/v1/orgs/" + a}},
		"PATCH /api/v1/orgs/{id}": {
			{name: "A", path: "/api/v1/orgs/" + a, body: `{"name":"乗っ取り"}`},
			{name: "A with bad body", path: "/api/v1/orgs/" + a, body: `{"name":5}`},
		},
		"GET /api/v1/orgs/{id}/members": {{name: "A", path: "/api/v1/orgs/" + a + "/members"}},
		"PATCH /api/v1/orgs/{id}/members/{user}": {
			{name: "A's admin in A", path: "/api/v1/orgs/" + a + "/members/" + aAdmin, body: `{"role":"staff"}`},
			{name: "A's staff in A", path: "/api/v1/orgs/" + a + "/members/" + aStaff, body: `{"role":"admin"}`},
			{name: "A's staff via B", path: "/api/v1/orgs/" + b + "/members/" + aStaff, body: `{"role":"admin"}`},
		},
		"DELETE /api/v1/orgs/{id}/members/{user}": {
			{name: "A's staff in A", path: "/api/v1/orgs/" + a + "/members/" + aStaff},
			{name: "A's staff via B", path: "/api/v1/orgs/" + b + "/members/" + aStaff},
		},
		"GET /api/v1/orgs/{id}/invitations":  {{name: "A", path: "/api/v1/orgs/" + a + "/invitations"}},
		"POST /api/v1/orgs/{id}/invitations": {{name: "into A", path: "/api/v1/orgs/" + a + "/invitations", body: `{"email":"spy@b.example.jp","role":"admin"}`}},
		"GET /api/v1/orgs/{id}/audit":        {{name: "A's log", path: "/api/v1/orgs/" + a + "/audit"}},
		"DELETE /api/v1/orgs/{id}/invitations/{email}": {
			{name: "A's invitation", path: "/api/v1/orgs/" + a + "/invitations/" + f.inviteA},
			{name: "A's invitation via B", path: "/api/v1/orgs/" + b + "/invitations/" + f.inviteA},
		},
		"GET /api/v1/orgs/{id}/proposals": {{name: "A's proposals", path: "/api/v1/orgs/" + a + "/proposals"}},
		"POST /api/v1/orgs/{id}/proposals/{proposal}/accept": {
			{name: "A's proposal", path: "/api/v1/orgs/" + a + "/proposals/" + f.proposalA + "/accept"},
			{name: "A's proposal via B", path: "/api/v1/orgs/" + b + "/proposals/" + f.proposalA + "/accept"},
		},
		"POST /api/v1/orgs/{id}/proposals/{proposal}/decline": {
			{name: "A's proposal", path: "/api/v1/orgs/" + a + "/proposals/" + f.proposalA + "/decline"},
			{name: "A's proposal via B", path: "/api/v1/orgs/" + b + "/proposals/" + f.proposalA + "/decline"},
		},
		"GET /api/v1/tokens": {{name: "own tokens", path: "/api/v1/tokens", collection: true}},
		"DELETE /api/v1/tokens/{id}": {
			{name: "A admin's token", path: "/api/v1/tokens/" + f.adminA.writeID},
			{name: "A staff's token", path: "/api/v1/tokens/" + f.staffA.readID},
		},
		"GET /api/v1/audit": {
			{name: "own log", path: "/api/v1/audit", collection: true},
			{name: "own log filtered on A", path: "/api/v1/audit?object=" + a, collection: true},
		},
	}
	for _, more := range []func(*fixture) map[string][]isoCase{
		inventoryIsolationCases, assessIsolationCases, shareIsolationCases,
		groupIsolationCases, vulnIsolationCases, vulnAliasIsolationCases,
	} {
		maps.Copy(cases, more(f))
	}
	for k, v := range importIsolationCases(f) {
		cases[k] = v
	}
	return cases
}

// TestTenantIsolation walks every route of the route table as organisation
// B's admin with a write token, aimed at organisation A's objects, and
// checks that each answers 404 like a missing object (or, for collection
// routes, that nothing of A shows), and that A is unchanged afterwards.
func TestTenantIsolation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		cases := isolationCases(f)
		notFound := f.do(t, "GET", "/api/v1/orgs/"+db.NewID(), f.adminB.write, "").Body.String()
		seen := map[string]bool{}
		for _, rt := range f.api.routes() {
			key := rt.Method + " " + rt.Pattern
			seen[key] = true
			cs, ok := cases[key]
			if !ok || len(cs) == 0 {
				t.Errorf("route %s has no tenant-isolation case: add one to isolationCases", key)
				continue
			}
			for _, c := range cs {
				t.Run(key+"/"+c.name, func(t *testing.T) {
					rec := f.do(t, rt.Method, c.path, f.adminB.write, c.body)
					if _, pat := f.api.mux.Handler(httptest.NewRequest(rt.Method, c.path, nil)); pat != key {
						t.Fatalf("case path %s routes to %q, not %s", c.path, pat, key)
					}
					if c.collection {
						want := c.status
						if want == 0 {
							want = http.StatusOK
						}
						if rec.Code != want {
							t.Fatalf("status %d, want %d: %s", rec.Code, want, rec.Body)
						}
						body := rec.Body.String()
						for _, s := range f.secretsA {
							if strings.Contains(body, s) {
								t.Errorf("response shows organisation A's %q", s)
							}
						}
						return
					}
					if rec.Code != http.StatusNotFound {
						t.Fatalf("status %d, want 404: %s", rec.Code, rec.Body)
					}
					if got := rec.Body.String(); got != notFound {
						t.Errorf("404 differs from a missing object's:\n got %s\nwant %s", got, notFound)
					}
				})
			}
		}
		for key := range cases {
			if !seen[key] {
				t.Errorf("isolation case for %s, which is not a route", key)
			}
		}

		// Nothing of A changed: its admin still works, its members and
		// invitation are intact.
		rec := f.do(t, "GET", "/api/v1/orgs/"+f.orgA.ID+"/members", f.adminA.write, "")
		ms := decodeBody[memberList](t, rec)
		if len(ms.Members) != 3 {
			t.Errorf("A has %d members after the walk", len(ms.Members))
		}
		for _, m := range ms.Members {
			if m.UserID == f.adminA.user.ID && m.Role != "admin" {
				t.Errorf("A's admin became %s", m.Role)
			}
		}
		rec = f.do(t, "GET", "/api/v1/orgs/"+f.orgA.ID, f.staffA.write, "")
		if o := decodeBody[map[string]any](t, rec); o["name"] != f.orgA.Name {
			t.Errorf("A's name is %v", o["name"])
		}
		rec = f.do(t, "GET", "/api/v1/orgs/"+f.orgA.ID+"/invitations", f.adminA.read, "")
		if invs := decodeBody[invitationList](t, rec); len(invs.Invitations) != 1 {
			t.Errorf("A has %d invitations after the walk", len(invs.Invitations))
		}
		rec = f.do(t, "GET", "/api/v1/orgs/"+f.orgA.ID+"/proposals", f.adminA.read, "")
		if ps := decodeBody[proposalList](t, rec); len(ps.Proposals) != 1 || ps.Proposals[0].ID != f.proposalA {
			t.Errorf("A's proposals after the walk: %s", rec.Body)
		}
	})
}

// TestOperatorCannotReadOrgData checks that an ISAC operator, who manages
// organisation records, still gets 404 on an organisation's audit log.
func TestOperatorCannotReadOrgData(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		missing := f.do(t, "GET", "/api/v1/orgs/"+db.NewID()+"/audit", f.op.write, "")
		rec := f.do(t, "GET", "/api/v1/orgs/"+f.orgA.ID+"/audit", f.op.write, "")
		if rec.Code != http.StatusNotFound || rec.Body.String() != missing.Body.String() {
			t.Fatalf("operator on A's audit log: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "GET", "/api/v1/audit?object="+f.orgA.ID, f.op.write, "")
		if rec.Code != 200 {
			t.Fatalf("operator own log: %d %s", rec.Code, rec.Body)
		}
		for _, e := range decodeBody[auditPage](t, rec).Entries {
			if e.OrgID != f.isac.ID {
				t.Errorf("operator sees an entry of %s", e.OrgID)
			}
		}
	})
}
