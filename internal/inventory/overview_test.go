package inventory

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
)

func sampleRegister(t testing.TB, ctx context.Context, d *db.DB, org string) {
	t.Helper()
	med := must[Segment](t)(CreateSegment(ctx, d, org, Segment{Name: "医療系", Kind: SegMedical}, t0))
	biz := must[Segment](t)(CreateSegment(ctx, d, org, Segment{Name: "情報系 <script>alert(1)</script>", Kind: SegBusiness}, t0))
	dmz := must[Segment](t)(CreateSegment(ctx, d, org, Segment{Name: "DMZ", Kind: SegDMZ}, t0))
	vpn := must[Asset](t)(CreateAsset(ctx, d, org, "", Asset{Name: "FortiGate 60F", Kind: KindNetwork, SegmentID: dmz.ID, SupportEnd: "2025-03-31"}, t0))
	ct := must[Asset](t)(CreateAsset(ctx, d, org, "", Asset{Name: "CT装置 & ルータ", Kind: KindMedical, SegmentID: med.ID}, t0))
	for i := 0; i < 12; i++ {
		must[Asset](t)(CreateAsset(ctx, d, org, "", Asset{Name: "事務PC-" + strings.Repeat("0", 2-len(itoaInt(i))) + itoaInt(i), Kind: KindPC, SegmentID: biz.ID}, t0))
	}
	must[Asset](t)(CreateAsset(ctx, d, org, "", Asset{Name: "未分類の機器"}, t0))
	v := must[Vendor](t)(CreateVendor(ctx, d, org, Vendor{Name: "保守ベンダー\"A\""}, t0))
	must[Connection](t)(CreateConnection(ctx, d, org, Connection{Name: "SSL-VPN（リモート保守）", Type: ConnSSLVPN, AssetID: vpn.ID, VendorID: v.ID, MFA: No, Peer: "vendor.example.jp"}, t0))
	must[Connection](t)(CreateConnection(ctx, d, org, Connection{Name: "CT保守 LTE", Type: ConnMobile, AssetID: ct.ID, VendorID: v.ID, MFA: Yes, Manager: ManagerVendor}, t0))
	must[Connection](t)(CreateConnection(ctx, d, org, Connection{Name: "旧ISDN", Type: ConnISDN}, t0))
	must[Connection](t)(CreateConnection(ctx, d, org, Connection{Name: "インターネット", Type: ConnInternet, AssetID: vpn.ID, MFA: Yes, Manager: ManagerIT}, t0))
}

func TestOverviewSVG(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "A")
		sampleRegister(t, ctx, d, org)
		cat := i18n.MustLoad()
		var buf bytes.Buffer
		err := RenderOverview(ctx, d, org, &buf, OverviewOptions{OrgName: "さくら病院 <b>", Today: "2026-04-01",
			T: func(key string, args ...any) string { return cat.T("ja", key, args...) }})
		if err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if os.Getenv("INVENTORY_SVG_OUT") != "" {
			os.WriteFile(os.Getenv("INVENTORY_SVG_OUT"), buf.Bytes(), 0o644)
		}
		dec := xml.NewDecoder(strings.NewReader(out))
		dec.Strict = true
		var texts []string
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("not well-formed: %v", err)
			}
			if cd, ok := tok.(xml.CharData); ok {
				texts = append(texts, string(cd))
			}
		}
		all := strings.Join(texts, "\n")
		for _, want := range []string{"さくら病院 <b> ネットワーク構成図", "SSL-VPN（リモート保守）", "LTE・モバイル回線", "ISDN終了", "MFAなし", "保守期限切れ",
			"医療系", "FortiGate 60F", "✚ CT装置 & ルータ", "ほか 4 台", "セグメント未設定", "終端機器が登録されていません", "事業者: 保守ベンダー\"A\""} {
			if !strings.Contains(all, want) {
				t.Errorf("missing text %q", want)
			}
		}
		if strings.Contains(out, "<script") || strings.Contains(out, "<b>") {
			t.Error("unescaped text in SVG")
		}
		if !strings.Contains(out, `viewBox="0 0 1123 794"`) || !strings.Contains(out, `width="297mm"`) || !strings.Contains(out, "Noto Sans CJK JP") {
			t.Errorf("not A4 / font: %s", out[:300])
		}
	})
}

func TestOverviewManyConnections(t *testing.T) {
	reg := &Register{}
	for i := 0; i < 47; i++ {
		reg.Connections = append(reg.Connections, Connection{Name: "回線" + itoaInt(i), Type: ConnSSLVPN, Flags: []Flag{flag(FlagNoMFA)}})
	}
	for i := 0; i < 9; i++ {
		reg.Segments = append(reg.Segments, Segment{ID: itoaInt(i), Name: "セグメント" + itoaInt(i)})
	}
	var buf bytes.Buffer
	if err := OverviewSVG(&buf, reg, OverviewOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(buf.Bytes(), new(struct{})); err != nil {
		t.Fatal(err)
	}
	if strings.Count(buf.String(), "<rect") < 47+9 {
		t.Error("connections or segments missing")
	}
}
