package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/vuln"
	"github.com/medisac/medisac/internal/vuln/match"
)

func vulnAliasIsolationCases(f *fixture) map[string][]isoCase {
	table := string(match.ShippedAliasesJSON())
	return map[string][]isoCase{
		"GET /api/v1/vuln/aliases": {{name: "not an operator", path: "/api/v1/vuln/aliases", collection: true, status: http.StatusForbidden}},
		"PUT /api/v1/vuln/aliases": {{name: "not an operator", path: "/api/v1/vuln/aliases?note=x", body: table, collection: true, status: http.StatusForbidden}},
	}
}

// withAPISpelling returns the shipped table with a vendor spelling added.
func withAPISpelling(spelling, cpeVendor string) string {
	f := match.DefaultAliases().File()
	for i := range f.Vendors {
		if f.Vendors[i].CPE == cpeVendor {
			f.Vendors[i].Names = append(f.Vendors[i].Names, spelling)
		}
	}
	return string(match.EncodeAliases(f))
}

func TestVulnAliasAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		as, err := inventory.CreateAsset(ctx, d, f.orgA.ID, "", inventory.Asset{Name: "スイッチ", Kind: inventory.KindNetwork,
			Vendor: "ふぉーちねっと", Product: "FortiSwitch", Version: "7.2.2"}, f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		rec := f.do(t, "GET", "/api/v1/vuln/aliases", f.op.read, "")
		got := decodeBody[aliasTable](t, rec)
		if rec.Code != http.StatusOK || !got.Shipped || got.Version != vuln.ShippedAliasesVersion() || len(got.History) != 0 || !strings.Contains(string(got.Table), "フォーティネット") {
			t.Fatalf("GET: %d %+v", rec.Code, got)
		}
		for _, tok := range []string{f.adminA.read, f.staffA.write} {
			if rec := f.do(t, "GET", "/api/v1/vuln/aliases", tok, ""); rec.Code != http.StatusForbidden {
				t.Errorf("member GET: %d", rec.Code)
			}
		}
		body := withAPISpelling("ふぉーちねっと", "fortinet")
		if rec := f.do(t, "PUT", "/api/v1/vuln/aliases", f.op.read, body); rec.Code != http.StatusForbidden {
			t.Errorf("PUT with a read-only token: %d", rec.Code)
		}
		if rec := f.do(t, "PUT", "/api/v1/vuln/aliases", f.adminA.write, body); rec.Code != http.StatusForbidden {
			t.Errorf("PUT by a member: %d", rec.Code)
		}
		rec = f.do(t, "PUT", "/api/v1/vuln/aliases?note=%E9%99%A2%E5%86%85", f.op.write, `{"vendors":[{"cpe":"Bad Vendor","names":["謎"]}],"products":[]}`)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Bad Vendor") {
			t.Errorf("bad table: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "PUT", "/api/v1/vuln/aliases?note=%E9%99%A2%E5%86%85", f.op.write, body)
		ch := decodeBody[vuln.AliasChange](t, rec)
		if rec.Code != http.StatusOK || !ch.Changed || ch.Old != vuln.ShippedAliasesVersion() {
			t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
		}
		got = decodeBody[aliasTable](t, f.do(t, "GET", "/api/v1/vuln/aliases", f.op.read, ""))
		if got.Shipped || got.Version != ch.New || len(got.History) != 1 || got.History[0].Note != "院内" || got.History[0].CreatedBy != "op@isac.example.jp" {
			t.Errorf("after PUT: %+v", got)
		}
		// Without a queue the re-match ran inside the request.
		idn, err := vuln.GetIdentity(ctx, d, f.orgA.ID, as.ID)
		if err != nil || len(idn.Candidates) == 0 {
			t.Errorf("identity after the change: %+v %v", idn.Candidates, err)
		}
		rec = f.do(t, "PUT", "/api/v1/vuln/aliases", f.op.write, body)
		if ch := decodeBody[vuln.AliasChange](t, rec); rec.Code != http.StatusOK || ch.Changed {
			t.Errorf("same table again: %d %s", rec.Code, rec.Body)
		}
	})
}
