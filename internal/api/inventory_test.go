package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
)

// memBlobs is an in-memory inventory.BlobStore for the tests.
type memBlobs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (b *memBlobs) Put(_ context.Context, key string, data []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string][]byte{}
	}
	b.m[key] = append([]byte(nil), data...)
	return nil
}

func (b *memBlobs) Open(_ context.Context, key string) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.m[key]
	if !ok {
		return nil, os.ErrNotExist
	}
	return io.NopCloser(bytes.NewReader(d)), nil
}

func (b *memBlobs) Delete(_ context.Context, key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, key)
	return nil
}

// invA holds organisation A's inventory records for the isolation walk.
type invA struct {
	asset, segment, comm, conn, vendor, system, contract, account, doc string
}

var minimalPDF = []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")

// seedInventoryA gives organisation A one record of every kind and a
// document, and adds their names to A's secrets.
func seedInventoryA(f *fixture) invA {
	ctx := context.Background()
	now := f.clock.Now()
	a := f.orgA.ID
	f.api.Documents = &inventory.Documents{Blobs: &memBlobs{}, MaxSize: 1 << 20}
	f.api.Inventory.Documents = f.api.Documents
	var out invA
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(f.d.InTx(ctx, func(tx *db.Tx) error {
		seg, err := inventory.CreateSegment(ctx, tx, a, inventory.Segment{Name: "A秘密医療系", Kind: inventory.SegMedical}, now)
		if err != nil {
			return err
		}
		as, err := inventory.CreateAsset(ctx, tx, a, f.adminA.user.ID, inventory.Asset{Name: "A秘密VPN装置", Kind: inventory.KindNetwork, SegmentID: seg.ID, IP: "10.99.0.1"}, now)
		if err != nil {
			return err
		}
		cm, err := inventory.CreateCommunication(ctx, tx, a, inventory.Communication{AssetID: as.ID, Peer: "A秘密保守センター", Port: "443", Reason: "保守"}, now)
		if err != nil {
			return err
		}
		v, err := inventory.CreateVendor(ctx, tx, a, inventory.Vendor{Name: "A秘密保守会社"}, now)
		if err != nil {
			return err
		}
		cn, err := inventory.CreateConnection(ctx, tx, a, inventory.Connection{Name: "A秘密SSL-VPN", Type: inventory.ConnSSLVPN, AssetID: as.ID, VendorID: v.ID}, now)
		if err != nil {
			return err
		}
		sy, err := inventory.CreateSystem(ctx, tx, a, inventory.System{Name: "A秘密電子カルテ", VendorID: v.ID}, now)
		if err != nil {
			return err
		}
		ct, err := inventory.CreateContract(ctx, tx, a, inventory.Contract{VendorID: v.ID, Title: "A秘密保守契約", SystemIDs: []string{sy.ID}}, now)
		if err != nil {
			return err
		}
		ac, err := inventory.CreateAccount(ctx, tx, a, inventory.Account{SystemID: sy.ID, Username: "a-secret-admin", Kind: inventory.AccountShared, Admin: true}, now)
		if err != nil {
			return err
		}
		d, err := f.api.Documents.Upload(ctx, tx, a, f.adminA.user.ID, inventory.DocumentInput{SystemID: sy.ID, Kind: inventory.DocMDS, Title: "A秘密MDS", Filename: "mds.pdf"}, bytes.NewReader(minimalPDF), now)
		if err != nil {
			return err
		}
		out = invA{asset: as.ID, segment: seg.ID, comm: cm.ID, conn: cn.ID, vendor: v.ID, system: sy.ID, contract: ct.ID, account: ac.ID, doc: d.ID}
		return nil
	}))
	f.secretsA = append(f.secretsA, "A秘密", "a-secret-admin", "10.99.0.1", out.asset, out.segment, out.comm, out.conn, out.vendor, out.system, out.contract, out.account, out.doc)
	return out
}

// inventoryIsolationCases are the tenant-isolation cases of the inventory
// routes: A's path answers 404 to B, B's path with A's record ids answers
// 404, and B's collections show nothing of A.
func inventoryIsolationCases(f *fixture) map[string][]isoCase {
	ids := seedInventoryA(f)
	a, b := "/api/v1/orgs/"+f.orgA.ID+"/inventory", "/api/v1/orgs/"+f.orgB.ID+"/inventory"
	cases := map[string][]isoCase{}
	add := func(method, pattern string, cs ...isoCase) {
		cases[method+" "+invBase+pattern] = append(cases[method+" "+invBase+pattern], cs...)
	}
	records := map[string]string{"assets": ids.asset, "segments": ids.segment, "communications": ids.comm, "connections": ids.conn,
		"vendors": ids.vendor, "systems": ids.system, "contracts": ids.contract, "accounts": ids.account}
	bodies := map[string]string{"assets": `{"name":"B端末"}`, "segments": `{"name":"B系"}`, "communications": `{"peer":"x","asset_id":"` + ids.asset + `"}`,
		"connections": `{"name":"B回線","asset_id":"` + ids.asset + `"}`, "vendors": `{"name":"B業者"}`, "systems": `{"name":"Bシステム","vendor_id":"` + ids.vendor + `"}`,
		"contracts": `{"title":"B契約","vendor_id":"` + ids.vendor + `"}`, "accounts": `{"username":"b","kind":"personal","system_id":"` + ids.system + `"}`}
	for kind, id := range records {
		status := http.StatusCreated
		if strings.Contains(bodies[kind], "_id") {
			status = http.StatusBadRequest
		}
		add("GET", "/"+kind,
			isoCase{name: "A's list", path: a + "/" + kind},
			isoCase{name: "own list", path: b + "/" + kind, collection: true},
			isoCase{name: "own list filtered on A's device", path: b + "/" + kind + "?asset_id=" + ids.asset + "&system_id=" + ids.system + "&vendor_id=" + ids.vendor, collection: true})
		add("POST", "/"+kind,
			isoCase{name: "into A", path: a + "/" + kind, body: bodies[kind]},
			isoCase{name: "own, pointing at A's records", path: b + "/" + kind, body: bodies[kind], collection: true, status: status})
		for _, m := range []string{"GET", "PATCH", "DELETE"} {
			body := ""
			if m == "PATCH" {
				body = `{"notes":"乗っ取り"}`
				if kind == "contracts" || kind == "communications" {
					body = `{"reason":"x"}`
				}
			}
			add(m, "/"+kind+"/{rec}",
				isoCase{name: "A's record in A", path: a + "/" + kind + "/" + id, body: body},
				isoCase{name: "A's record via B", path: b + "/" + kind + "/" + id, body: body})
		}
	}
	add("GET", "/assets/{rec}/history", isoCase{name: "A's in A", path: a + "/assets/" + ids.asset + "/history"}, isoCase{name: "A's via B", path: b + "/assets/" + ids.asset + "/history"})
	add("GET", "/systems/{rec}/responsibilities", isoCase{name: "A's in A", path: a + "/systems/" + ids.system + "/responsibilities"}, isoCase{name: "A's via B", path: b + "/systems/" + ids.system + "/responsibilities"})
	split := `{"responsibilities":[{"duty":"backup","holder":"vendor"}]}`
	add("PUT", "/systems/{rec}/responsibilities", isoCase{name: "A's in A", path: a + "/systems/" + ids.system + "/responsibilities", body: split},
		isoCase{name: "A's via B", path: b + "/systems/" + ids.system + "/responsibilities", body: split})
	add("GET", "/systems/{rec}/documents", isoCase{name: "A's in A", path: a + "/systems/" + ids.system + "/documents"}, isoCase{name: "A's via B", path: b + "/systems/" + ids.system + "/documents"})
	add("GET", "/documents/{rec}", isoCase{name: "A's in A", path: a + "/documents/" + ids.doc}, isoCase{name: "A's via B", path: b + "/documents/" + ids.doc})
	add("DELETE", "/documents/{rec}", isoCase{name: "A's in A", path: a + "/documents/" + ids.doc}, isoCase{name: "A's via B", path: b + "/documents/" + ids.doc})
	csv := "名称,種別\nB-PC-01,PC\n"
	for _, p := range []string{"/import/preview", "/import/apply"} {
		add("POST", p, isoCase{name: "into A", path: a + p + "?filename=x.csv", body: csv},
			isoCase{name: "own", path: b + p + "?filename=x.csv", body: csv, collection: true})
	}
	add("GET", "/export", isoCase{name: "A's", path: a + "/export?format=json"}, isoCase{name: "own json", path: b + "/export?format=json", collection: true},
		isoCase{name: "own csv", path: b + "/export?format=csv", collection: true})
	add("GET", "/measures", isoCase{name: "A's", path: a + "/measures"}, isoCase{name: "own", path: b + "/measures", collection: true})
	return cases
}

// TestInventoryAPI walks the record life cycle, the import and the export
// through the real handler on both databases.
func TestInventoryAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		f.api.Documents = &inventory.Documents{Blobs: &memBlobs{}, MaxSize: 1 << 20}
		f.api.Inventory.Documents = f.api.Documents
		base := "/api/v1/orgs/" + f.orgA.ID + "/inventory"
		tok := f.staffA.write

		rec := f.do(t, "POST", base+"/segments", tok, `{"name":"医療系","kind":"medical"}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create segment: %d %s", rec.Code, rec.Body)
		}
		seg := decodeBody[inventory.Segment](t, rec)
		for i := 0; i < 3; i++ {
			rec = f.do(t, "POST", base+"/assets", tok, fmt.Sprintf(`{"name":"CT-%d","kind":"medical","segment_id":%q,"support_end":"2020-03-31"}`, i, seg.ID))
			if rec.Code != http.StatusCreated {
				t.Fatalf("create asset: %d %s", rec.Code, rec.Body)
			}
		}
		ct := decodeBody[inventory.Asset](t, rec)
		if rec := f.do(t, "POST", base+"/assets", tok, `{"name":"CT-0"}`); rec.Code != http.StatusConflict || apiError(t, rec).Field != "name" {
			t.Fatalf("duplicate name: %d %s", rec.Code, rec.Body)
		}
		if rec := f.do(t, "POST", base+"/assets", tok, `{"name":"x","support_end":"昨日"}`); rec.Code != http.StatusBadRequest || apiError(t, rec).Field != "support_end" {
			t.Fatalf("bad date: %d %s", rec.Code, rec.Body)
		}
		if rec := f.do(t, "POST", base+"/assets", tok, `{"name":"x","id":"mine"}`); rec.Code != http.StatusBadRequest || apiError(t, rec).Field != "id" {
			t.Fatalf("read-only id accepted: %d %s", rec.Code, rec.Body)
		}
		if rec := f.do(t, "POST", base+"/assets", f.auditorA.write, `{"name":"x"}`); rec.Code != http.StatusForbidden {
			t.Fatalf("auditor created an asset: %d", rec.Code)
		}

		// Keyset pagination.
		rec = f.do(t, "GET", base+"/assets?limit=2&kind=medical", tok, "")
		p1 := decodeBody[inventory.AssetPage](t, rec)
		if len(p1.Assets) != 2 || p1.NextCursor == "" {
			t.Fatalf("page 1: %+v", p1)
		}
		rec = f.do(t, "GET", base+"/assets?limit=2&kind=medical&cursor="+p1.NextCursor, tok, "")
		p2 := decodeBody[inventory.AssetPage](t, rec)
		if len(p2.Assets) != 1 || p2.NextCursor != "" || p2.Assets[0].Name != "CT-2" {
			t.Fatalf("page 2: %+v", p2)
		}

		// PATCH changes only what is sent and records history.
		rec = f.do(t, "PATCH", base+"/assets/"+ct.ID, tok, `{"firmware_current":"yes","ip":"192.168.1.20"}`)
		if rec.Code != http.StatusOK {
			t.Fatalf("patch: %d %s", rec.Code, rec.Body)
		}
		got := decodeBody[inventory.Asset](t, rec)
		if got.IP != "192.168.1.20" || got.FirmwareCurrent != inventory.Yes || got.SegmentID != seg.ID || got.SupportEnd != "2020-03-31" {
			t.Fatalf("patched asset: %+v", got)
		}
		if rec := f.do(t, "PATCH", base+"/assets/"+ct.ID, tok, `{"colour":"red"}`); rec.Code != http.StatusBadRequest || apiError(t, rec).Field != "colour" {
			t.Fatalf("unknown field: %d %s", rec.Code, rec.Body)
		}

		// The other record kinds share one create/PATCH path: a vendor and an
		// external connection (whose flags depend on the date) keep what is
		// not sent and take what is.
		rec = f.do(t, "POST", base+"/vendors", tok, `{"name":"保守会社","phone":"03-0000-0000"}`)
		vendor := decodeBody[inventory.Vendor](t, rec)
		rec = f.do(t, "PATCH", base+"/vendors/"+vendor.ID, tok, `{"notes":"夜間も対応"}`)
		if got := decodeBody[inventory.Vendor](t, rec); rec.Code != http.StatusOK || got.ID != vendor.ID || got.Phone != "03-0000-0000" || got.Notes != "夜間も対応" {
			t.Fatalf("patched vendor: %d %+v", rec.Code, got)
		}
		rec = f.do(t, "POST", base+"/connections", tok, `{"name":"保守VPN","type":"ssl_vpn","mfa":"no"}`)
		conn := decodeBody[inventory.Connection](t, rec)
		rec = f.do(t, "PATCH", base+"/connections/"+conn.ID, tok, `{"mfa":"yes"}`)
		if got := decodeBody[inventory.Connection](t, rec); rec.Code != http.StatusOK || got.MFA != inventory.Yes || got.Type != inventory.ConnSSLVPN || got.Name != "保守VPN" {
			t.Fatalf("patched connection: %d %+v", rec.Code, got)
		}
		if rec := f.do(t, "PATCH", base+"/connections/"+conn.ID, tok, `{"type":"telepathy"}`); rec.Code != http.StatusBadRequest || apiError(t, rec).Field != "type" {
			t.Fatalf("bad connection type: %d %s", rec.Code, rec.Body)
		}
		for _, path := range []string{"/connections/" + conn.ID, "/vendors/" + vendor.ID} {
			if rec := f.do(t, "DELETE", base+path, tok, ""); rec.Code != http.StatusOK && rec.Code != http.StatusNoContent {
				t.Fatalf("DELETE %s: %d %s", path, rec.Code, rec.Body)
			}
		}
		rec = f.do(t, "GET", base+"/assets/"+ct.ID+"/history", tok, "")
		if !strings.Contains(rec.Body.String(), "192.168.1.20") {
			t.Fatalf("history: %s", rec.Body)
		}

		// Generic kinds: list pages, flags, delete.
		for i := 0; i < 3; i++ {
			body := fmt.Sprintf(`{"name":"回線%d","type":"isdn","asset_id":%q}`, i, ct.ID)
			if rec := f.do(t, "POST", base+"/connections", tok, body); rec.Code != http.StatusCreated {
				t.Fatalf("connection: %d %s", rec.Code, rec.Body)
			}
		}
		rec = f.do(t, "GET", base+"/connections?limit=2&flagged=true", tok, "")
		cl := decodeBody[struct {
			Connections []inventory.Connection `json:"connections"`
			NextCursor  string                 `json:"next_cursor"`
		}](t, rec)
		if len(cl.Connections) != 2 || cl.NextCursor == "" || len(cl.Connections[0].Flags) < 3 {
			t.Fatalf("connections page: %s", rec.Body)
		}
		rec = f.do(t, "GET", base+"/connections?limit=2&cursor="+cl.NextCursor, tok, "")
		if !strings.Contains(rec.Body.String(), "回線2") || strings.Contains(rec.Body.String(), "回線0") {
			t.Fatalf("connections page 2: %s", rec.Body)
		}
		if rec := f.do(t, "DELETE", base+"/connections/"+cl.Connections[0].ID, tok, ""); rec.Code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", rec.Code, rec.Body)
		}
		if rec := f.do(t, "GET", base+"/connections/"+cl.Connections[0].ID, tok, ""); rec.Code != http.StatusNotFound {
			t.Fatalf("deleted connection: %d", rec.Code)
		}

		// Account reads are recorded.
		rec = f.do(t, "POST", base+"/systems", tok, `{"name":"電子カルテ"}`)
		sys := decodeBody[inventory.System](t, rec)
		if rec := f.do(t, "POST", base+"/accounts", tok, `{"username":"vendor1","kind":"vendor","system_id":"`+sys.ID+`"}`); rec.Code != http.StatusCreated {
			t.Fatalf("account: %d %s", rec.Code, rec.Body)
		}
		before := countAudit(t, f, "record.read")
		if rec := f.do(t, "GET", base+"/accounts?flagged=true", tok, ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), "vendor_no_expiry") {
			t.Fatalf("accounts: %d %s", rec.Code, rec.Body)
		}
		if countAudit(t, f, "record.read") != before+1 {
			t.Error("account list read not audited")
		}

		// Import: preview, errors with sheet/row/column, all or nothing.
		bad := "名称,種別,保守期限\nPC-1,PC,R8.3.31\nPC-2,PC,そのうち\nPC-1,PC,\n"
		rec = f.do(t, "POST", base+"/import/preview?filename=a.csv", tok, bad)
		if rec.Code != 200 {
			t.Fatalf("preview: %d %s", rec.Code, rec.Body)
		}
		body := rec.Body.String()
		for _, want := range []string{`"ok":false`, `"row":3`, `"column":"保守期限"`, `"sheet":"資産"`, "日付"} {
			if !strings.Contains(body, want) {
				t.Errorf("preview lacks %s: %s", want, body)
			}
		}
		if rec := f.do(t, "POST", base+"/import/apply?filename=a.csv", tok, bad); rec.Code != http.StatusBadRequest {
			t.Fatalf("apply with errors: %d %s", rec.Code, rec.Body)
		}
		if rec := f.do(t, "GET", base+"/assets?q=PC-", tok, ""); strings.Contains(rec.Body.String(), "PC-1") {
			t.Fatal("a faulty import wrote rows")
		}
		good := "\ufeff名称,種別,保守期限\nPC-1,PC,R8.3.31\nPC-2,パソコン,2026/4/1\n"
		rec = f.do(t, "POST", base+"/import/apply?filename=a.csv", tok, good)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ok":true`) {
			t.Fatalf("apply: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "POST", base+"/import/preview?filename=a.csv", tok, good)
		if !strings.Contains(rec.Body.String(), `"unchanged":2`) {
			t.Fatalf("re-import changes something: %s", rec.Body)
		}
		xxe := `<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY x SYSTEM "file:///etc/passwd">]><nmaprun>&x;</nmaprun>`
		if rec := f.do(t, "POST", base+"/import/preview?filename=scan.xml", tok, xxe); rec.Code != http.StatusBadRequest {
			t.Fatalf("entity file: %d %s", rec.Code, rec.Body)
		}

		// Export.
		rec = f.do(t, "GET", base+"/export?format=csv", tok, "")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "PC-2") || !strings.HasPrefix(rec.Header().Get("Content-Disposition"), "attachment") {
			t.Fatalf("export: %d %q", rec.Code, rec.Header())
		}
		if rec := f.do(t, "GET", base+"/export?format=pdf", tok, ""); rec.Code != http.StatusBadRequest {
			t.Fatalf("bad format: %d", rec.Code)
		}
		rec = f.do(t, "GET", base+"/measures", tok, "")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "CT-0") {
			t.Fatalf("measures: %d %s", rec.Code, rec.Body)
		}
	})
}

func countAudit(t *testing.T, f *fixture, action string) int {
	t.Helper()
	var n int
	if err := f.d.QueryRow(context.Background(), "SELECT COUNT(*) FROM audit_log WHERE action = ?", action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
