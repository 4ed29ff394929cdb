package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
)

// TestAssessListsPage: the sheet and vendor request lists come in pages
// cut by the database, in the list's order, each row once; a bad cursor
// or limit is refused on its field with a plain message.
func TestAssessListsPage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		now := f.clock.Now()
		a := f.orgA.ID
		reg := assessRegistry()
		var wantSheets, wantReqs []string
		err := d.InTx(ctx, func(tx *db.Tx) error {
			for _, ed := range []string{"mhlw-r7-institution", "mhlw-2024-08-urgent"} {
				e, err := reg.Get(ctx, tx, a, ed)
				if err != nil {
					return err
				}
				for fy := 2025; fy >= 2021; fy-- {
					sh, err := assess.StartSheet(ctx, tx, e, a, fy, "", now)
					if err != nil {
						return err
					}
					wantSheets = append(wantSheets, sh.ID)
				}
			}
			for i := range 7 {
				v, err := inventory.CreateVendor(ctx, tx, a, inventory.Vendor{Name: fmt.Sprintf("保守会社%02d", i), Email: "support@vendor.example.jp"}, now)
				if err != nil {
					return err
				}
				for _, fy := range []int{2025, 2024} {
					if _, _, err := assess.RequestVendorSheet(ctx, tx, reg, a, f.adminA.user.ID, assess.VendorRequestInput{VendorID: v.ID, EditionID: "mhlw-r7-vendor", FiscalYear: fy}, now); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		all, err := assess.ListSheets(ctx, d, a, assess.SheetFilter{})
		if err != nil {
			t.Fatal(err)
		}
		wantSheets = wantSheets[:0]
		for _, s := range all {
			wantSheets = append(wantSheets, s.ID)
		}
		reqs, err := assess.ListVendorRequests(ctx, d, a, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			wantReqs = append(wantReqs, r.ID)
		}
		if len(wantSheets) != 10 || len(wantReqs) != 14 {
			t.Fatalf("%d sheets, %d requests", len(wantSheets), len(wantReqs))
		}

		walk := func(path, key string, limit int) []string {
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatalf("%s: no end of pages", path)
				}
				q := url.Values{"limit": {fmt.Sprint(limit)}}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				sep := "?"
				if strings.Contains(path, "?") {
					sep = "&"
				}
				rec := f.do(t, "GET", path+sep+q.Encode(), f.staffA.read, "")
				if rec.Code != http.StatusOK {
					t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
				}
				var out map[string]json.RawMessage
				if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
					t.Fatal(err)
				}
				var rows []struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(out[key], &rows); err != nil {
					t.Fatal(err)
				}
				if len(rows) > limit {
					t.Fatalf("%s: %d rows on a page of %d", path, len(rows), limit)
				}
				for _, r := range rows {
					got = append(got, r.ID)
				}
				if err := json.Unmarshal(out["next_cursor"], &cursor); err != nil {
					t.Fatal(err)
				}
				if cursor == "" {
					return got
				}
			}
		}
		base := "/api/v1/orgs/" + a + "/assess"
		for _, limit := range []int{1, 3, 10, 500} {
			if got := walk(base+"/sheets", "sheets", limit); strings.Join(got, ",") != strings.Join(wantSheets, ",") {
				t.Errorf("sheets in pages of %d:\n got %v\nwant %v", limit, got, wantSheets)
			}
			if got := walk(base+"/vendor-requests", "vendor_requests", limit); strings.Join(got, ",") != strings.Join(wantReqs, ",") {
				t.Errorf("vendor requests in pages of %d:\n got %v\nwant %v", limit, got, wantReqs)
			}
		}
		// A filtered list pages within its filter.
		if got := walk(base+"/vendor-requests?fiscal_year=2024", "vendor_requests", 2); len(got) != 7 {
			t.Errorf("2024's requests: %d", len(got))
		}
		for _, c := range []struct{ query, field, ja string }{
			{"limit=0", "limit", "件数（limit）は 1 から 500 までの整数で指定してください。"},
			{"limit=501", "limit", "件数（limit）は 1 から 500 までの整数で指定してください。"},
			{"limit=x", "limit", "件数（limit）は 1 から 500 までの整数で指定してください。"},
			{"cursor=%21%21", "cursor", "ページの指定（cursor）が正しくありません。"},
			{"cursor=e30", "cursor", "ページの指定（cursor）が正しくありません。"},
		} {
			for _, path := range []string{base + "/sheets", base + "/vendor-requests"} {
				rec := f.do(t, "GET", path+"?"+c.query, f.staffA.read, "")
				if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"field":"`+c.field+`"`) {
					t.Errorf("%s?%s: %d %s", path, c.query, rec.Code, rec.Body)
				}
				if !strings.Contains(rec.Body.String(), c.ja) {
					t.Errorf("%s?%s: not the message: %s", path, c.query, rec.Body)
				}
			}
		}
	})
}
