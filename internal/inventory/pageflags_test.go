package inventory

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// TestFlagsForAssetsMatchesWholeRegister checks that the flags of a page
// of assets equal those computed from the whole register.
func TestFlagsForAssetsMatchesWholeRegister(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
		org := newOrg(t, d, "旗病院")
		seg := func(name string, k SegmentKind) string {
			s, err := CreateSegment(ctx, d, org, Segment{Name: name, Kind: k}, now)
			if err != nil {
				t.Fatal(err)
			}
			return s.ID
		}
		mixed, pure, office := seg("混在", SegMedical), seg("医療のみ", SegMedical), seg("事務", SegBusiness)
		for _, a := range []Asset{
			{Name: "CT", Kind: KindMedical, SegmentID: mixed, SupportEnd: "2020-01-01"},
			{Name: "PC", Kind: KindPC, SegmentID: mixed},
			{Name: "MRI", Kind: KindMedical, SegmentID: pure, OpenPorts: []Port{{Port: 104, Protocol: "tcp"}}},
			{Name: "廃棄PC", Kind: KindPC, SegmentID: pure, Lifecycle: Retired},
			{Name: "心電計", Kind: KindMedical, SegmentID: office},
		} {
			if _, err := CreateAsset(ctx, d, org, "", a, now); err != nil {
				t.Fatal(err)
			}
		}
		all, err := AllAssets(ctx, d, org)
		if err != nil {
			t.Fatal(err)
		}
		want, err := AssetFlags(ctx, d, org, DateOf(now))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range all {
			got, err := FlagsForAssets(ctx, d, org, []Asset{a}, DateOf(now))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[a.ID], want[a.ID]) {
				t.Errorf("%s: page flags %v, register flags %v", a.Name, got[a.ID], want[a.ID])
			}
		}
		if len(want) != 3 {
			t.Errorf("%d flagged assets, want 3 (CT, MRI, 心電計)", len(want))
		}
	})
}
