package inventory

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// walk reads every page of a paged list and returns the ids in order.
func walk[T any](t *testing.T, limit int, page func(PageQuery) (Page[T], error), id func(T) string) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for i := 0; ; i++ {
		p, err := page(PageQuery{Cursor: cursor, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) > limit {
			t.Fatalf("page of %d items, limit %d", len(p.Items), limit)
		}
		for _, x := range p.Items {
			ids = append(ids, id(x))
		}
		if p.Next == "" {
			return ids
		}
		if i > 100 {
			t.Fatal("paging does not end")
		}
		cursor = p.Next
	}
}

// TestPagedListsMatchFullLists: every paged list walks the same records in
// the same order as the full list, filters in SQL and after reading alike,
// and refuses a cursor of another organisation.
func TestPagedListsMatchFullLists(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org, other := newOrg(t, d, "A"), newOrg(t, d, "B")
		today := Date("2026-04-01")
		var systemIDs []string
		for i := 0; i < 7; i++ {
			v := must[Vendor](t)(CreateVendor(ctx, d, org, Vendor{Name: fmt.Sprintf("事業者%02d", 7-i)}, t0))
			x := must[System](t)(CreateSystem(ctx, d, org, System{Name: fmt.Sprintf("システム%d", i), VendorID: v.ID}, t0))
			systemIDs = append(systemIDs, x.ID)
			must[Segment](t)(CreateSegment(ctx, d, org, Segment{Name: fmt.Sprintf("S%d", i), Kind: []SegmentKind{SegMedical, SegBusiness}[i%2]}, t0))
			must[Connection](t)(CreateConnection(ctx, d, org, Connection{Name: fmt.Sprintf("回線%d", i), Type: []ConnType{ConnISDN, ConnSSLVPN}[i%2], MFA: Yes, Manager: ManagerIT}, t0))
			must[Contract](t)(CreateContract(ctx, d, org, Contract{VendorID: v.ID, Title: "保守", EndOn: Date(fmt.Sprintf("2027-0%d-01", 1+i%3)), SystemIDs: []string{x.ID}}, t0))
			for j := 0; j < 3; j++ {
				must[Account](t)(CreateAccount(ctx, d, org, Account{Username: fmt.Sprintf("user%d%d", j, i), Kind: AccountPersonal, SystemID: x.ID,
					Holder: "職員", HolderLeft: (i+j)%4 == 0}, t0))
			}
		}
		must[Vendor](t)(CreateVendor(ctx, d, other, Vendor{Name: "他院の事業者"}, t0))

		ids := func(xs []string) string { return fmt.Sprint(xs) }
		vs := must[[]Vendor](t)(ListVendors(ctx, d, org))
		var want []string
		for _, v := range vs {
			want = append(want, v.ID)
		}
		for _, limit := range []int{1, 3, 7, 50} {
			got := walk(t, limit, func(pq PageQuery) (Page[Vendor], error) { return PageVendors(ctx, d, org, pq) }, func(v Vendor) string { return v.ID })
			if ids(got) != ids(want) {
				t.Errorf("vendors, limit %d: %v, want %v", limit, got, want)
			}
		}

		as := must[[]Account](t)(ListAccounts(ctx, d, org, AccountFilter{Flagged: true}, today))
		want = nil
		for _, a := range as {
			want = append(want, a.ID)
		}
		if len(want) == 0 || len(want) == 21 {
			t.Fatalf("%d flagged accounts: the filter test needs some", len(want))
		}
		got := walk(t, 2, func(pq PageQuery) (Page[Account], error) {
			return PageAccounts(ctx, d, org, AccountFilter{Flagged: true}, today, pq)
		}, func(a Account) string { return a.ID })
		if ids(got) != ids(want) {
			t.Errorf("flagged accounts: %v, want %v", got, want)
		}
		bySystem := walk(t, 2, func(pq PageQuery) (Page[Account], error) {
			return PageAccounts(ctx, d, org, AccountFilter{SystemID: systemIDs[3]}, today, pq)
		}, func(a Account) string { return a.ID })
		if len(bySystem) != 3 {
			t.Errorf("accounts of one system: %d", len(bySystem))
		}

		cs := must[[]Contract](t)(ListContracts(ctx, d, org, ""))
		want = nil
		for _, c := range cs {
			want = append(want, c.ID)
		}
		got = walk(t, 2, func(pq PageQuery) (Page[Contract], error) { return PageContracts(ctx, d, org, "", pq) }, func(c Contract) string { return c.ID })
		if ids(got) != ids(want) {
			t.Errorf("contracts: %v, want %v", got, want)
		}
		p := must[Page[Contract]](t)(PageContracts(ctx, d, org, "", PageQuery{Limit: 1}))
		if len(p.Items[0].SystemIDs) != 1 {
			t.Errorf("paged contract without its systems: %+v", p.Items[0])
		}

		segs := walk(t, 2, func(pq PageQuery) (Page[Segment], error) { return PageSegments(ctx, d, org, SegMedical, pq) }, func(s Segment) string { return string(s.Kind) })
		if len(segs) != 4 {
			t.Errorf("medical segments: %v", segs)
		}
		conns := walk(t, 3, func(pq PageQuery) (Page[Connection], error) {
			return PageConnections(ctx, d, org, ConnectionFilter{Flagged: true}, today, pq)
		}, func(c Connection) string { return string(c.Type) })
		if len(conns) != 4 {
			t.Errorf("flagged connections (ISDN): %v", conns)
		}
		systems := walk(t, 3, func(pq PageQuery) (Page[System], error) { return PageSystems(ctx, d, org, "", pq) }, func(s System) string { return s.ID })
		if len(systems) != 7 {
			t.Errorf("systems: %d", len(systems))
		}

		// Cursors: broken, and naming another organisation's record.
		theirs := must[[]Vendor](t)(ListVendors(ctx, d, other))[0].ID
		for _, c := range []string{"!!", base64.RawURLEncoding.EncodeToString([]byte("nope")), base64.RawURLEncoding.EncodeToString([]byte(theirs))} {
			if _, err := PageVendors(ctx, d, org, PageQuery{Cursor: c}); apperr.From(err).Field != "cursor" {
				t.Errorf("cursor %q: %v", c, err)
			}
		}
	})
}
