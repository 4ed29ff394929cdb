package inventory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var t0 = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

// eachTwoOrgs runs fn on each database with two organisations, "A" and "B".
func eachTwoOrgs(t *testing.T, fn func(t *testing.T, d *db.DB, a, b string)) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fn(t, d, newOrg(t, d, "A"), newOrg(t, d, "B"))
	})
}

func newOrg(t testing.TB, d *db.DB, name string) string {
	t.Helper()
	id := db.NewID()
	_, err := d.Exec(context.Background(), "INSERT INTO organizations (id, kind, name, created_at, updated_at) VALUES (?, 'hospital', ?, ?, ?)", id, name, t0, t0)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func must[T any](t testing.TB) func(T, error) T { return testkit.Must[T](t) }

// errOf and errOf2 keep only the error of a store call, for tables of calls
// that must all fail.
func errOf[T any](_ T, err error) error { return err }

func errOf2[T, U any](_ T, _ U, err error) error { return err }

func TestAssetCRUDAndHistory(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "A病院")
		seg := must[Segment](t)(CreateSegment(ctx, d, org, Segment{Name: "医療系", Kind: SegMedical}, t0))
		a, err := CreateAsset(ctx, d, org, "user-1", Asset{Name: " CT装置 ", Kind: KindMedical, SegmentID: seg.ID, MAC: "00-11-22-aa-bb-cc",
			SupportEnd: "2027-03-31", OpenPorts: []Port{{Port: 443, Protocol: "tcp"}, {Port: 22, Protocol: "tcp"}}}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != "CT装置" || a.MAC != "00:11:22:AA:BB:CC" || a.SegmentName != "医療系" || a.RemoteMaintenance != Unknown || a.Lifecycle != InUse {
			t.Fatalf("created %+v", a)
		}
		if a.OpenPorts[0].Port != 22 {
			t.Errorf("ports not sorted: %v", a.OpenPorts)
		}
		if _, err := CreateAsset(ctx, d, org, "user-1", Asset{Name: "CT装置"}, t0); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("duplicate name: %v", err)
		}
		if _, err := CreateAsset(ctx, d, org, "user-1", Asset{Name: ""}, t0); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("empty name: %v", err)
		}
		if _, err := CreateAsset(ctx, d, org, "user-1", Asset{Name: "x", SupportEnd: "2026-02-30"}, t0); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("bad date: %v", err)
		}
		upd := a
		upd.Version = "V2.1"
		upd.DefaultPasswordChanged = Yes
		upd.SegmentID = ""
		before, after, err := UpdateAsset(ctx, d, org, "user-2", upd, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if before.Version != "" || after.Version != "V2.1" || after.SegmentID != "" || !after.UpdatedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("before %+v after %+v", before, after)
		}
		// No change: no history entry.
		if _, _, err := UpdateAsset(ctx, d, org, "user-2", after, t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		h := must[[]HistoryEntry](t)(AssetHistory(ctx, d, org, a.ID))
		if len(h) != 2 || h[0].Action != "update" || h[0].ActorID != "user-2" || h[1].Action != "create" {
			t.Fatalf("history %+v", h)
		}
		got := map[string]FieldChange{}
		for _, c := range h[0].Changes {
			got[c.Field] = c
		}
		if len(got) != 3 || got["version"].New != "V2.1" || got["segment"].Old != "医療系" || got["default_password_changed"].Old != "unknown" {
			t.Errorf("changes %+v", h[0].Changes)
		}
		if err := SetAssetVulnerable(ctx, d, org, a.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := DeleteAsset(ctx, d, org, "user-3", a.ID, t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := GetAsset(ctx, d, org, a.ID); err != db.ErrNotFound {
			t.Errorf("after delete: %v", err)
		}
		h = must[[]HistoryEntry](t)(AssetHistory(ctx, d, org, a.ID))
		if len(h) != 3 || h[0].Action != "delete" {
			t.Errorf("history after delete %+v", h)
		}
	})
}

func TestListAssetsKeyset(t *testing.T) {
	eachTwoOrgs(t, func(t *testing.T, d *db.DB, org, other string) {
		ctx := context.Background()
		for i := 0; i < 25; i++ {
			kind := KindPC
			if i%5 == 0 {
				kind = KindMedical
			}
			must[Asset](t)(CreateAsset(ctx, d, org, "", Asset{Name: "端末" + string(rune('A'+i)), Kind: kind, IP: "10.0.0." + string(rune('0'+i%10))}, t0))
		}
		must[Asset](t)(CreateAsset(ctx, d, other, "", Asset{Name: "端末A"}, t0))
		var names []string
		cursor := ""
		pages := 0
		for {
			p, err := ListAssets(ctx, d, org, AssetFilter{Limit: 10, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, a := range p.Assets {
				names = append(names, a.Name)
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		if len(names) != 25 || pages != 3 || names[0] != "端末A" || names[24] != "端末Y" {
			t.Fatalf("pages %d names %v", pages, names)
		}
		p := must[AssetPage](t)(ListAssets(ctx, d, org, AssetFilter{Kind: KindMedical}))
		if len(p.Assets) != 5 {
			t.Errorf("kind filter: %d", len(p.Assets))
		}
		p = must[AssetPage](t)(ListAssets(ctx, d, org, AssetFilter{Query: "端末C"}))
		if len(p.Assets) != 1 {
			t.Errorf("query: %d", len(p.Assets))
		}
		p = must[AssetPage](t)(ListAssets(ctx, d, org, AssetFilter{Query: "%"}))
		if len(p.Assets) != 0 {
			t.Errorf("like escape: %d", len(p.Assets))
		}
		if _, err := ListAssets(ctx, d, org, AssetFilter{Cursor: "!!"}); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("bad cursor: %v", err)
		}
	})
}

// TestTenantIsolation checks that organisation B can neither read, change,
// delete nor reference organisation A's rows through any store function.
func TestTenantIsolation(t *testing.T) {
	eachTwoOrgs(t, func(t *testing.T, d *db.DB, a, b string) {
		ctx := context.Background()
		seg := must[Segment](t)(CreateSegment(ctx, d, a, Segment{Name: "医療系"}, t0))
		asset := must[Asset](t)(CreateAsset(ctx, d, a, "", Asset{Name: "VPN装置", SegmentID: seg.ID}, t0))
		comm := must[Communication](t)(CreateCommunication(ctx, d, a, Communication{AssetID: asset.ID, Port: "443", Reason: "保守"}, t0))
		vendor := must[Vendor](t)(CreateVendor(ctx, d, a, Vendor{Name: "保守会社"}, t0))
		conn := must[Connection](t)(CreateConnection(ctx, d, a, Connection{Name: "保守回線", Type: ConnSSLVPN, AssetID: asset.ID, VendorID: vendor.ID}, t0))
		sys := must[System](t)(CreateSystem(ctx, d, a, System{Name: "電子カルテ"}, t0))
		contract := must[Contract](t)(CreateContract(ctx, d, a, Contract{VendorID: vendor.ID, Title: "保守契約", SystemIDs: []string{sys.ID}}, t0))
		acct := must[Account](t)(CreateAccount(ctx, d, a, Account{SystemID: sys.ID, Username: "admin", Kind: AccountAdmin}, t0))
		docs, err := NewDocuments(t.TempDir(), 0)
		if err != nil {
			t.Fatal(err)
		}
		doc := must[Document](t)(docs.Upload(ctx, d, a, "", DocumentInput{SystemID: sys.ID, Kind: DocMDS, Filename: "mds.pdf"}, strings.NewReader("%PDF-1.4\n..."), t0))
		must[[]Responsibility](t)(func() ([]Responsibility, error) {
			_, after, err := SetResponsibilities(ctx, d, a, sys.ID, []Responsibility{{Duty: DutyBackup, Holder: HolderVendor}}, t0)
			return after, err
		}())

		for _, c := range []struct {
			name string
			err  error
		}{
			{"GetAsset", errOf(GetAsset(ctx, d, b, asset.ID))},
			{"GetAssetByName", errOf(GetAssetByName(ctx, d, b, asset.Name))},
			{"UpdateAsset", errOf2(UpdateAsset(ctx, d, b, "", Asset{ID: asset.ID, Name: "x"}, t0))},
			{"DeleteAsset", errOf(DeleteAsset(ctx, d, b, "", asset.ID, t0))},
			{"SetAssetVulnerable", SetAssetVulnerable(ctx, d, b, asset.ID, true)},
			{"GetSegment", errOf(GetSegment(ctx, d, b, seg.ID))},
			{"UpdateSegment", errOf2(UpdateSegment(ctx, d, b, Segment{ID: seg.ID, Name: "x"}, t0))},
			{"DeleteSegment", errOf(DeleteSegment(ctx, d, b, seg.ID))},
			{"GetCommunication", errOf(GetCommunication(ctx, d, b, comm.ID))},
			{"UpdateCommunication", errOf2(UpdateCommunication(ctx, d, b, Communication{ID: comm.ID, Port: "1"}, t0))},
			{"DeleteCommunication", errOf(DeleteCommunication(ctx, d, b, comm.ID))},
			{"GetVendor", errOf(GetVendor(ctx, d, b, vendor.ID))},
			{"UpdateVendor", errOf2(UpdateVendor(ctx, d, b, Vendor{ID: vendor.ID, Name: "x"}, t0))},
			{"DeleteVendor", errOf(DeleteVendor(ctx, d, b, vendor.ID))},
			{"GetConnection", errOf(GetConnection(ctx, d, b, conn.ID, ""))},
			{"UpdateConnection", errOf2(UpdateConnection(ctx, d, b, Connection{ID: conn.ID, Name: "x"}, t0))},
			{"DeleteConnection", errOf(DeleteConnection(ctx, d, b, conn.ID))},
			{"GetSystem", errOf(GetSystem(ctx, d, b, sys.ID))},
			{"UpdateSystem", errOf2(UpdateSystem(ctx, d, b, System{ID: sys.ID, Name: "x"}, t0))},
			{"DeleteSystem", errOf(DeleteSystem(ctx, d, b, sys.ID))},
			{"Responsibilities", errOf(Responsibilities(ctx, d, b, sys.ID))},
			{"SetResponsibilities", errOf2(SetResponsibilities(ctx, d, b, sys.ID, []Responsibility{{Duty: DutyBackup, Holder: HolderInstitution}}, t0))},
			{"GetContract", errOf(GetContract(ctx, d, b, contract.ID))},
			{"UpdateContract", errOf2(UpdateContract(ctx, d, b, Contract{ID: contract.ID, Title: "x", VendorID: vendor.ID}, t0))},
			{"DeleteContract", errOf(DeleteContract(ctx, d, b, contract.ID))},
			{"GetAccount", errOf(GetAccount(ctx, d, b, acct.ID, ""))},
			{"UpdateAccount", errOf2(UpdateAccount(ctx, d, b, Account{ID: acct.ID, Username: "x", Kind: AccountPersonal, SystemID: sys.ID}, t0))},
			{"DeleteAccount", errOf(DeleteAccount(ctx, d, b, acct.ID))},
			{"GetDocument", errOf(GetDocument(ctx, d, b, doc.ID))},
			{"Documents.Open", errOf2(docs.Open(ctx, d, b, doc.ID))},
			{"Documents.Delete", errOf(docs.Delete(ctx, d, b, doc.ID))},
		} {
			if !errors.Is(c.err, db.ErrNotFound) {
				t.Errorf("%s across organisations: got %v, want not found", c.name, c.err)
			}
		}
		for _, c := range []struct {
			name string
			n    int
		}{
			{"AssetHistory", len(must[[]HistoryEntry](t)(AssetHistory(ctx, d, b, asset.ID)))},
			{"ListAssets", len(must[AssetPage](t)(ListAssets(ctx, d, b, AssetFilter{})).Assets)},
			{"AllAssets", len(must[[]Asset](t)(AllAssets(ctx, d, b)))},
			{"ListSegments", len(must[[]Segment](t)(ListSegments(ctx, d, b)))},
			{"ListCommunications", len(must[[]Communication](t)(ListCommunications(ctx, d, b, "")))},
			{"ListVendors", len(must[[]Vendor](t)(ListVendors(ctx, d, b)))},
			{"ListConnections", len(must[[]Connection](t)(ListConnections(ctx, d, b, "")))},
			{"ListSystems", len(must[[]System](t)(ListSystems(ctx, d, b)))},
			{"ListContracts", len(must[[]Contract](t)(ListContracts(ctx, d, b, "")))},
			{"ListAccounts", len(must[[]Account](t)(ListAccounts(ctx, d, b, AccountFilter{}, "")))},
			{"ListDocuments", len(must[[]Document](t)(ListDocuments(ctx, d, b, "")))},
			{"AssetFlags", len(must[map[string][]Flag](t)(AssetFlags(ctx, d, b, "")))},
		} {
			if c.n != 0 {
				t.Errorf("%s leaked %d rows", c.name, c.n)
			}
		}
		bv := must[Vendor](t)(CreateVendor(ctx, d, b, Vendor{Name: "B社"}, t0))
		for _, c := range []struct {
			name string
			err  error
		}{
			{"CreateAsset", errOf(CreateAsset(ctx, d, b, "", Asset{Name: "x", SegmentID: seg.ID}, t0))},
			{"CreateCommunication", errOf(CreateCommunication(ctx, d, b, Communication{AssetID: asset.ID}, t0))},
			{"CreateConnection asset", errOf(CreateConnection(ctx, d, b, Connection{Name: "x", AssetID: asset.ID}, t0))},
			{"CreateConnection vendor", errOf(CreateConnection(ctx, d, b, Connection{Name: "x", VendorID: vendor.ID}, t0))},
			{"CreateContract system", errOf(CreateContract(ctx, d, b, Contract{VendorID: bv.ID, Title: "x", SystemIDs: []string{sys.ID}}, t0))},
			{"CreateAccount", errOf(CreateAccount(ctx, d, b, Account{SystemID: sys.ID, Username: "x", Kind: AccountPersonal}, t0))},
			{"Documents.Upload", errOf(docs.Upload(ctx, d, b, "", DocumentInput{SystemID: sys.ID, Kind: DocMDS}, strings.NewReader("%PDF-1.4"), t0))},
		} {
			if apperr.CodeOf(c.err) != apperr.Invalid {
				t.Errorf("%s referencing another organisation's row: got %v, want invalid", c.name, c.err)
			}
		}

		reg := must[*Register](t)(LoadRegister(ctx, d, b, ""))
		if len(reg.Assets)+len(reg.Segments)+len(reg.Communications)+len(reg.Connections)+len(reg.Systems)+len(reg.Contracts)+len(reg.Documents)+len(reg.Accounts) != 0 || len(reg.Vendors) != 1 {
			t.Errorf("LoadRegister leaked: %+v", reg)
		}
		if m := must[*MeasuresReport](t)(UrgentMeasures(ctx, d, b, "", MeasureOptions{})); len(m.Devices) != 0 {
			t.Error("UrgentMeasures leaked")
		}
		var svg strings.Builder
		if err := RenderOverview(ctx, d, b, &svg, OverviewOptions{}); err != nil || strings.Contains(svg.String(), "VPN装置") {
			t.Errorf("RenderOverview leaked: %v", err)
		}
		if p := must[*Preview](t)(ImportFile(ctx, d, testCat, b, "", "x.csv", []byte("名称,ホスト名\nVPN装置,\n"), false, t0)); p.Rows[0].Status != RowNew {
			t.Errorf("import matched another organisation's asset: %+v", p.Rows[0])
		}

		// A's rows are all still there and unchanged.
		if got := must[Asset](t)(GetAsset(ctx, d, a, asset.ID)); got.Name != "VPN装置" || got.Vulnerable {
			t.Errorf("A's asset changed: %+v", got)
		}
		if got := must[Connection](t)(GetConnection(ctx, d, a, conn.ID, "")); got.Name != "保守回線" {
			t.Errorf("A's connection changed: %+v", got)
		}
		if got := must[[]Responsibility](t)(Responsibilities(ctx, d, a, sys.ID)); got[3].Holder != HolderVendor {
			t.Errorf("A's responsibilities changed: %+v", got)
		}
		if _, rc, err := docs.Open(ctx, d, a, doc.ID); err != nil {
			t.Errorf("A's document: %v", err)
		} else {
			rc.Close()
		}
	})
}

func TestFlags(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "A")
		today := Date("2026-04-01")
		med := must[Segment](t)(CreateSegment(ctx, d, org, Segment{Name: "医療系", Kind: SegMedical}, t0))
		mixed := must[Segment](t)(CreateSegment(ctx, d, org, Segment{Name: "混在", Kind: SegOther}, t0))
		ct := must[Asset](t)(CreateAsset(ctx, d, org, "", Asset{Name: "CT", Kind: KindMedical, SegmentID: med.ID,
			OpenPorts: []Port{{Port: 104, Protocol: "tcp"}, {Port: 22, Protocol: "tcp"}, {Port: 161, Protocol: "udp"}}}, t0))
		mri := must[Asset](t)(CreateAsset(ctx, d, org, "", Asset{Name: "MRI", Kind: KindMedical, SegmentID: mixed.ID}, t0))
		must[Asset](t)(CreateAsset(ctx, d, org, "", Asset{Name: "事務PC", Kind: KindPC, SegmentID: mixed.ID}, t0))
		vpn := must[Asset](t)(CreateAsset(ctx, d, org, "", Asset{Name: "VPN", Kind: KindNetwork, SupportEnd: "2025-03-31"}, t0))
		must[Communication](t)(CreateCommunication(ctx, d, org, Communication{AssetID: ct.ID, Port: "104", Protocol: "tcp", Reason: "DICOM送信"}, t0))
		must[Communication](t)(CreateCommunication(ctx, d, org, Communication{ToSegmentID: med.ID, Port: "100-200", Protocol: "any", Reason: "監視"}, t0))
		must[Communication](t)(CreateCommunication(ctx, d, org, Communication{AssetID: ct.ID, Port: "22", Protocol: "tcp"}, t0))

		flags := must[map[string][]Flag](t)(AssetFlags(ctx, d, org, today))
		codes := func(fs []Flag) string {
			var s []string
			for _, f := range fs {
				s = append(s, f.Code+fmtArgs(f.Args))
			}
			return strings.Join(s, ",")
		}
		if got := codes(flags[ct.ID]); got != "unexplained_port[22 tcp]" {
			t.Errorf("CT flags %q", got)
		}
		if got := codes(flags[mri.ID]); got != "medical_shares_segment[混在]" {
			t.Errorf("MRI flags %q", got)
		}
		if got := codes(flags[vpn.ID]); got != "past_support[2025-03-31]" {
			t.Errorf("VPN flags %q", got)
		}

		must[Asset](t)(func() (Asset, error) { return vpn, SetAssetVulnerable(ctx, d, org, vpn.ID, true) }())
		conn := must[Connection](t)(CreateConnection(ctx, d, org, Connection{Name: "ISDN保守", Type: ConnISDN, AssetID: vpn.ID, MFA: No}, t0))
		c := must[Connection](t)(GetConnection(ctx, d, org, conn.ID, today))
		if got := codes(c.Flags); got != "isdn_ended,unknown_manager,no_mfa,device_past_support[VPN 2025-03-31],device_vulnerable[VPN]" {
			t.Errorf("connection flags %q", got)
		}
		ok := must[Connection](t)(CreateConnection(ctx, d, org, Connection{Name: "光回線", Type: ConnInternet, MFA: Yes, Manager: ManagerIT}, t0))
		if len(ok.Flags) != 0 {
			t.Errorf("clean connection flagged: %v", ok.Flags)
		}
		list := must[[]Connection](t)(ListConnections(ctx, d, org, today))
		if len(list) != 2 || len(list[0].Flags) != 5 || list[0].AssetName != "VPN" {
			t.Errorf("list %+v", list)
		}

		sys := must[System](t)(CreateSystem(ctx, d, org, System{Name: "PACS"}, t0))
		cases := []struct {
			a    Account
			want string
		}{
			{Account{Username: "admin", Kind: AccountShared, Admin: true}, "shared_admin"},
			{Account{Username: "vendor1", Kind: AccountVendor}, "vendor_no_expiry"},
			{Account{Username: "vendor2", Kind: AccountVendor, ExpiresOn: "2027-01-01"}, ""},
			{Account{Username: "vendor3", Kind: AccountVendor, ExpiresOn: "2026-01-01"}, "vendor_no_expiry"},
			{Account{Username: "yamada", Kind: AccountPersonal, Holder: "山田", HolderLeft: true}, "leaver[山田]"},
			{Account{Username: "sato", Kind: AccountPersonal, Holder: "佐藤", HolderLeft: true, State: AccountDisabled}, ""},
		}
		for _, tc := range cases {
			tc.a.SystemID = sys.ID
			got := must[Account](t)(CreateAccount(ctx, d, org, tc.a, t0))
			if codes(got.Flags) != tc.want {
				t.Errorf("%s: flags %q want %q", tc.a.Username, codes(got.Flags), tc.want)
			}
		}
		flagged := must[[]Account](t)(ListAccounts(ctx, d, org, AccountFilter{Flagged: true}, today))
		if len(flagged) != 4 {
			t.Errorf("flagged accounts %d", len(flagged))
		}
	})
}

func fmtArgs(args []any) string {
	if len(args) == 0 {
		return ""
	}
	return fmt.Sprint(args)
}

func TestContractsAndResponsibilities(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "A")
		vendorOrg := newOrg(t, d, "ベンダー社")
		v := must[Vendor](t)(CreateVendor(ctx, d, org, Vendor{Name: "ベンダー社", MedisacOrgID: vendorOrg}, t0))
		if v.MedisacOrgID != vendorOrg {
			t.Errorf("medisac org %q", v.MedisacOrgID)
		}
		if _, err := CreateVendor(ctx, d, org, Vendor{Name: "x", MedisacOrgID: db.NewID()}, t0); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("unknown medisac org: %v", err)
		}
		s1 := must[System](t)(CreateSystem(ctx, d, org, System{Name: "電子カルテ", VendorID: v.ID}, t0))
		s2 := must[System](t)(CreateSystem(ctx, d, org, System{Name: "PACS"}, t0))
		c := must[Contract](t)(CreateContract(ctx, d, org, Contract{VendorID: v.ID, Title: "保守", StartOn: "2026-04-01", EndOn: "2027-03-31",
			SystemIDs: []string{s1.ID, s2.ID, s1.ID}, RemoteMaintenance: Yes}, t0))
		if len(c.SystemIDs) != 2 {
			t.Errorf("systems %v", c.SystemIDs)
		}
		if _, err := CreateContract(ctx, d, org, Contract{VendorID: v.ID, Title: "逆", StartOn: "2027-04-01", EndOn: "2026-03-31"}, t0); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("end before start: %v", err)
		}
		c.SystemIDs = []string{s2.ID}
		_, after, err := UpdateContract(ctx, d, org, c, t0)
		if err != nil || len(after.SystemIDs) != 1 || after.SystemIDs[0] != s2.ID {
			t.Fatalf("update %v %+v", err, after)
		}
		rs := must[[]Responsibility](t)(Responsibilities(ctx, d, org, s1.ID))
		if len(rs) != len(Duties) || rs[0].Holder != HolderUndecided {
			t.Errorf("empty split %+v", rs)
		}
		_, rs, err = SetResponsibilities(ctx, d, org, s1.ID, []Responsibility{{Duty: DutyFirmware, Holder: HolderVendor, Note: "年2回"}, {Duty: DutyBackup, Holder: HolderInstitution}}, t0)
		if err != nil || rs[0].Holder != HolderVendor || rs[0].Note != "年2回" || rs[3].Holder != HolderInstitution {
			t.Fatalf("split %v %+v", err, rs)
		}
		_, rs, _ = SetResponsibilities(ctx, d, org, s1.ID, []Responsibility{{Duty: DutyFirmware, Holder: HolderShared}}, t0)
		if rs[0].Holder != HolderShared || rs[3].Holder != HolderInstitution {
			t.Errorf("split after second set %+v", rs)
		}
		if _, _, err := SetResponsibilities(ctx, d, org, s1.ID, []Responsibility{{Duty: "coffee", Holder: HolderShared}}, t0); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("bad duty: %v", err)
		}
		if _, err := DeleteVendor(ctx, d, org, v.ID); err != nil {
			t.Fatal(err)
		}
		if l := must[[]Contract](t)(ListContracts(ctx, d, org, "")); len(l) != 0 {
			t.Errorf("contracts left after vendor delete: %d", len(l))
		}
	})
}

func TestDocuments(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "A")
		sys := must[System](t)(CreateSystem(ctx, d, org, System{Name: "PACS"}, t0))
		docs, err := NewDocuments(t.TempDir(), 1024)
		if err != nil {
			t.Fatal(err)
		}
		png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 100)...)
		xlsx := buildTestXLSX(t)
		cases := []struct {
			name string
			data []byte
			want string
			code apperr.Code
		}{
			{"mds.pdf", []byte("%PDF-1.7\nhello"), TypePDF, ""},
			{"図.png", png, TypePNG, ""},
			{"fake.pdf", []byte("<html><script>alert(1)</script>"), "", apperr.Invalid},
			{"big.pdf", append([]byte("%PDF-1.7\n"), make([]byte, 2000)...), "", apperr.TooLarge},
			{"empty.pdf", nil, "", apperr.Invalid},
		}
		if len(xlsx) <= 1024 {
			cases = append(cases, struct {
				name string
				data []byte
				want string
				code apperr.Code
			}{"sds.xlsx", xlsx, TypeXLSX, ""})
		}
		for _, tc := range cases {
			doc, err := docs.Upload(ctx, d, org, "u1", DocumentInput{SystemID: sys.ID, Kind: DocSDS, Filename: "../../" + tc.name}, bytes.NewReader(tc.data), t0)
			if tc.code != "" {
				if apperr.CodeOf(err) != tc.code {
					t.Errorf("%s: got %v want %s", tc.name, err, tc.code)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if doc.ContentType != tc.want || doc.Filename != tc.name || doc.Size != int64(len(tc.data)) {
				t.Errorf("%s: %+v", tc.name, doc)
			}
			_, rc, err := docs.Open(ctx, d, org, doc.ID)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			buf.ReadFrom(rc)
			rc.Close()
			if !bytes.Equal(buf.Bytes(), tc.data) {
				t.Errorf("%s: stored bytes differ", tc.name)
			}
		}
		list := must[[]Document](t)(ListDocuments(ctx, d, org, sys.ID))
		if len(list) != len(cases)-3 {
			t.Errorf("documents %d", len(list))
		}
		if _, err := docs.Delete(ctx, d, org, list[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := docs.Open(ctx, d, org, list[0].ID); err != db.ErrNotFound {
			t.Errorf("after delete: %v", err)
		}
	})
}
