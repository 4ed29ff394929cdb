package vuln

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/vuln/match"
)

// withSpelling returns the shipped table with spelling added to vendor
// cpeVendor, and optionally an extra product alias.
func withSpelling(t testing.TB, spelling, cpeVendor string, extra ...match.ProductAlias) []byte {
	t.Helper()
	f := match.DefaultAliases().File()
	found := false
	for i := range f.Vendors {
		if f.Vendors[i].CPE == cpeVendor {
			f.Vendors[i].Names = append(f.Vendors[i].Names, spelling)
			found = true
		}
	}
	if !found {
		f.Vendors = append(f.Vendors, match.VendorAlias{CPE: cpeVendor, Names: []string{spelling}})
	}
	f.Products = append(f.Products, extra...)
	return match.EncodeAliases(f)
}

func TestAliasStoreHistory(t *testing.T) {
	eachWatch(t, func(t *testing.T, d *db.DB, c *clock, w *Watch) {
		ctx := context.Background()
		if got, err := CurrentAliases(ctx, d, nil); err != nil || got.Version() != ShippedAliasesVersion() {
			t.Fatalf("nothing stored: %v %v", got, err)
		}
		if h, err := AliasHistory(ctx, d, 0); err != nil || len(h) != 0 {
			t.Fatalf("history before any change: %v %v", h, err)
		}
		recorded := 0
		record := func(ctx context.Context, tx *db.Tx, ch AliasChange) error { recorded++; return nil }
		body := withSpelling(t, "ふぉーちねっと", "fortinet")
		ch, err := w.SaveAliases(ctx, AliasSave{Body: body, Action: AliasEdit, Note: "院内の書き方", ActorID: "u1", Actor: "ops@isac.example.jp"}, record)
		if err != nil {
			t.Fatal(err)
		}
		if !ch.Changed || ch.Old != ShippedAliasesVersion() || ch.New == ch.Old || ch.Seq != 1 || recorded != 1 {
			t.Fatalf("first change: %+v recorded %d", ch, recorded)
		}
		if w.Aliases.Version() != ch.New || w.Aliases.VendorKey("ふぉーちねっと") != "fortinet" {
			t.Errorf("this watch still uses %s", w.Aliases.Version())
		}
		// Another watch of the process on the same database shares the table.
		w2 := newWatch(d, c)
		w2.init()
		if w2.Aliases.VendorKey("フォーチネット") != "fortinet" {
			t.Errorf("a new watch does not use the stored table")
		}
		c.Advance(time.Minute)
		if again, err := w.SaveAliases(ctx, AliasSave{Body: body}, record); err != nil || again.Changed || recorded != 1 {
			t.Errorf("saving the table in force: %+v %v", again, err)
		}
		c.Advance(time.Minute)
		reset, err := w.ResetAliases(ctx, AliasSave{ActorID: "u2", Actor: "chief@isac.example.jp"}, record)
		if err != nil || !reset.Changed || reset.New != ShippedAliasesVersion() || reset.Old != ch.New {
			t.Fatalf("reset: %+v %v", reset, err)
		}
		if w.Aliases.VendorKey("ふぉーちねっと") == "fortinet" {
			t.Errorf("reset table still knows the added spelling")
		}
		c.Advance(time.Minute)
		restored, err := w.RestoreAliases(ctx, ch.ID, AliasSave{Note: "戻す", ActorID: "u1", Actor: "ops@isac.example.jp"}, record)
		if err != nil || !restored.Changed || restored.New != ch.New || restored.Seq != 3 {
			t.Fatalf("restore: %+v %v", restored, err)
		}
		h, err := AliasHistory(ctx, d, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range h {
			got = append(got, fmt.Sprintf("%d %s %s %v %v %s", v.Seq, v.Action, v.CreatedBy, v.Shipped, v.InForce, v.CreatedAt.Format("15:04")))
		}
		want := []string{
			"3 restore ops@isac.example.jp false true 09:03",
			"2 reset chief@isac.example.jp true false 09:02",
			"1 edit ops@isac.example.jp false false 09:00",
		}
		if !slices.Equal(got, want) {
			t.Errorf("history:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		v, b, err := AliasVersionBody(ctx, d, ch.ID)
		if err != nil || !bytes.Equal(b, body) || v.Note != "院内の書き方" || v.InForce {
			t.Errorf("stored body of the first version: %+v %v", v, err)
		}
		if _, _, err := AliasVersionBody(ctx, d, db.NewID()); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("missing version: %v", err)
		}
		if _, err := w.RestoreAliases(ctx, "nonsense", AliasSave{}, record); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("restore of a bad id: %v", err)
		}
		if cur, err := CurrentAliases(ctx, d, nil); err != nil || cur.Version() != ch.New {
			t.Errorf("in force: %v %v", cur, err)
		}
		if h, _ := AliasHistory(ctx, d, 1); len(h) != 1 || h[0].Seq != 3 {
			t.Errorf("limited history: %+v", h)
		}
	})
}

func TestAliasBadTableChangesNothing(t *testing.T) {
	cat := i18n.MustLoad()
	edit := func(fn func(f *match.AliasFile)) []byte {
		f := match.DefaultAliases().File()
		fn(&f)
		return match.EncodeAliases(f)
	}
	cases := []struct {
		name, key string
		body      []byte
		mention   string
	}{
		{"not JSON", "vulnalias.err.json", []byte("{\n  \"vendors\": [\n    {\"cpe\": \"x\",}\n"), "3"},
		{"two values", "vulnalias.err.json", []byte(`{"vendors":[],"products":[]} {}`), "1"},
		{"unknown field", "vulnalias.err.json", []byte(`{"vendors":[],"products":[],"vendor":[]}`), "vendor"},
		{"vendor without cpe", "vulnalias.err.vendor_cpe", edit(func(f *match.AliasFile) {
			f.Vendors = append(f.Vendors, match.VendorAlias{Names: []string{"ふぉーちねっと"}})
		}), "ふぉーちねっと"},
		{"vendor cpe with spaces", "vulnalias.err.vendor_cpe_bad", edit(func(f *match.AliasFile) {
			f.Vendors[0].CPE = "Forti Net"
		}), "Forti Net"},
		{"spelling of two vendors", "vulnalias.err.spelling_conflict", edit(func(f *match.AliasFile) {
			f.Vendors[1].Names = append(f.Vendors[1].Names, "ヤマハ")
		}), "ヤマハ"},
		{"empty spelling", "vulnalias.err.spelling_empty", edit(func(f *match.AliasFile) {
			f.Vendors[2].Names = append(f.Vendors[2].Names, "・・")
		}), "・・"},
		{"bad rename", "vulnalias.err.rename", edit(func(f *match.AliasFile) {
			f.Renames = append(f.Renames, match.RenameAlias{From: "pulse connect secure", To: "ivanti:connect_secure"})
		}), "pulse connect secure"},
		{"product without vendor", "vulnalias.err.product_vendor", edit(func(f *match.AliasFile) {
			f.Products = append(f.Products, match.ProductAlias{Names: []string{"RTX"}, Identities: []string{"cpe:2.3:o:yamaha:{model}:{version}"}})
		}), "RTX"},
		{"product without names", "vulnalias.err.product_names", edit(func(f *match.AliasFile) {
			f.Products = append(f.Products, match.ProductAlias{Vendor: "yamaha", Identities: []string{"cpe:2.3:o:yamaha:{model}:{version}"}})
		}), "yamaha"},
		{"product without identities", "vulnalias.err.product_identities", edit(func(f *match.AliasFile) {
			f.Products = append(f.Products, match.ProductAlias{Vendor: "yamaha", Names: []string{"SWX"}})
		}), "SWX"},
		{"bad template", "vulnalias.err.template", edit(func(f *match.AliasFile) {
			f.Products = append(f.Products, match.ProductAlias{Vendor: "yamaha", Names: []string{"SWX"}, Identities: []string{"yamaha swx {model}"}})
		}), "yamaha swx {model}"},
	}
	eachWatch(t, func(t *testing.T, d *db.DB, c *clock, w *Watch) {
		ctx := context.Background()
		good, err := w.SaveAliases(ctx, AliasSave{Body: withSpelling(t, "ふぉーちねっと", "fortinet")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				called := false
				_, err := w.SaveAliases(ctx, AliasSave{Body: tc.body, Actor: "ops"}, func(context.Context, *db.Tx, AliasChange) error {
					called = true
					return nil
				})
				ae := apperr.From(err)
				if err == nil || ae.Code != apperr.Invalid || ae.Key != tc.key {
					t.Fatalf("error %v (%v %s), want %s", err, ae.Code, ae.Key, tc.key)
				}
				for _, lang := range []string{"ja", "en"} {
					msg := cat.T(lang, ae.Key, ae.Args...)
					if !strings.Contains(msg, tc.mention) || strings.Contains(msg, "%!") {
						t.Errorf("%s message does not name %q: %s", lang, tc.mention, msg)
					}
				}
				if called || w.Aliases.Version() != good.New {
					t.Errorf("a bad table changed something")
				}
				if h, _ := AliasHistory(ctx, d, 0); len(h) != 1 {
					t.Errorf("history has %d versions", len(h))
				}
			})
		}
	})
}

// TestAliasChangeRematches adds a vendor spelling and a product name
// through the queue: the full re-match job derives the asset's identity
// again with the new table and the finding appears.
func TestAliasChangeRematches(t *testing.T) {
	eachWatch(t, func(t *testing.T, d *db.DB, c *clock, w *Watch) {
		ctx := context.Background()
		w.Queue = jobs.New(d, c.Now, nil)
		w.Register()
		org := newOrg(t, d, "ふぉーちねっと病院", "東京都")
		fw := mustAsset(t, d, org, inventory.Asset{Name: "玄関の防火壁", Kind: inventory.KindNetwork, Vendor: "ふぉーちねっと", Product: "ファイアウォール", Version: "7.2.2"})
		sw := mustAsset(t, d, org, inventory.Asset{Name: "スイッチ", Kind: inventory.KindNetwork, Vendor: "ふぉーちねっと", Product: "FortiSwitch", Version: "7.2.2"})
		importFiles(t, w, td("nvd", "CVE-2022-42475.json"))
		if _, err := w.MatchAll(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Queue.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if fs := findingsOf(t, d, org, true); len(fs) != 0 {
			t.Fatalf("findings before the change: %v", fs)
		}
		if idn, err := GetIdentity(ctx, d, org, sw.ID); err != nil || len(idn.Candidates) != 0 {
			t.Fatalf("unknown vendor got candidates: %+v %v", idn.Candidates, err)
		}
		c.Advance(time.Minute)
		body := withSpelling(t, "ふぉーちねっと", "fortinet", match.ProductAlias{Vendor: "fortinet", Names: []string{"ファイアウォール"},
			Identities: []string{"cpe:2.3:o:fortinet:fortios:{version}"}})
		ch, err := w.SaveAliases(ctx, AliasSave{Body: body, Action: AliasEdit, Actor: "ops"}, nil)
		if err != nil || !ch.Changed {
			t.Fatalf("save: %+v %v", ch, err)
		}
		queued, err := w.Queue.List(ctx, jobs.Filter{Kind: JobMatchAll, State: jobs.Queued})
		if err != nil || len(queued) != 1 {
			t.Fatalf("queued full re-match jobs: %d %v", len(queued), err)
		}
		c.Advance(time.Minute)
		if _, err := w.Queue.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		idn, err := GetIdentity(ctx, d, org, fw.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(idn.Candidates) == 0 || idn.Candidates[0].CPE != "cpe:2.3:o:fortinet:fortios:7.2.2:*:*:*:*:*:*:*" {
			t.Errorf("identity after the change: %+v", idn.Candidates)
		}
		idn, err = GetIdentity(ctx, d, org, sw.ID)
		if err != nil || len(idn.Candidates) == 0 || !strings.Contains(idn.Candidates[0].CPE, ":fortinet:fortiswitch:7.2.2") {
			t.Errorf("vendor spelling not used: %+v %v", idn.Candidates, err)
		}
		fs := findingsOf(t, d, org, false)
		if _, ok := fs["玄関の防火壁 CVE-2022-42475"]; !ok || len(fs) != 1 {
			t.Errorf("findings after the change: %v", fs)
		}
		use, err := w.AliasUse(ctx)
		if err != nil {
			t.Fatal(err)
		}
		last := len(w.Aliases.File().Products) - 1
		if use[last] != 1 {
			t.Errorf("assets identified by the new product alias: %v", use)
		}
	})
}

// TestAliasReloadOtherNode changes the table through one watch and lets
// a watch with its own table (another node) pick it up.
func TestAliasReloadOtherNode(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c := testkit.NewClock(t0)
		w1 := newWatch(d, c)
		w2 := newWatch(d, c)
		w2.Aliases = match.DefaultAliases()
		ch, err := w1.SaveAliases(ctx, AliasSave{Body: withSpelling(t, "ふぉーちねっと", "fortinet")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if w2.Aliases.Version() == ch.New {
			t.Fatal("the other node changed without reloading")
		}
		if err := w2.ReloadAliases(ctx); err != nil || w2.Aliases.Version() != ch.New {
			t.Errorf("reload: %v %s", err, w2.Aliases.Version())
		}
		if _, err := w1.ResetAliases(ctx, AliasSave{}, nil); err != nil {
			t.Fatal(err)
		}
		if err := w2.ReloadAliases(ctx); err != nil || w2.Aliases.Version() != ShippedAliasesVersion() {
			t.Errorf("reload after reset: %v %s", err, w2.Aliases.Version())
		}
	})
}

// TestAliasesReplaceConcurrent replaces the table while other goroutines
// identify assets with it (run with -race): every answer comes from one
// of the two tables.
func TestAliasesReplaceConcurrent(t *testing.T) {
	shipped := match.DefaultAliases()
	edited, err := match.LoadAliases(bytes.NewReader(withSpelling(t, "ふぉーちねっと", "fortinet")), testReg)
	if err != nil {
		t.Fatal(err)
	}
	a := match.DefaultAliases()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				cs := a.Identify("ふぉーちねっと", "FortiSwitch", "", "7.2.2", "")
				if len(cs) != 0 && len(cs) != 2 {
					t.Errorf("candidates from neither table: %v", cs)
					return
				}
				_ = a.VendorKey("ふぉーちねっと")
				if v := a.Version(); v != shipped.Version() && v != edited.Version() {
					t.Errorf("version %s from neither table", v)
					return
				}
				_ = a.File()
				_ = a.ProductIndex("Fortinet", "FortiGate", "")
			}
		}()
	}
	for i := 0; i < 200; i++ {
		if i%2 == 0 {
			a.Replace(edited)
		} else {
			a.Replace(shipped)
		}
	}
	close(stop)
	wg.Wait()
	if a.Version() != shipped.Version() {
		t.Errorf("last replace not in force")
	}
	a.Replace(edited)
	snap := a.Snapshot()
	a.Replace(shipped)
	if snap.Version() != edited.Version() || len(snap.Identify("ふぉーちねっと", "FortiSwitch", "", "7.2.2", "")) == 0 || a.Version() != shipped.Version() {
		t.Errorf("snapshot followed the replacement")
	}
}

func TestEncodeAliasesRoundTrip(t *testing.T) {
	a := match.DefaultAliases()
	b, err := match.LoadAliases(bytes.NewReader(match.EncodeAliases(a.File())), testReg)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range [][4]string{{"ヤマハ", "RTX830", "", "Rev.15.02.26"}, {"Fortinet", "FortiGate", "FG-60F", "7.2.2"}, {"日本電気", "UNIVERGE IX2106", "", "10.2.16"}} {
		x, y := a.Identify(in[0], in[1], in[2], in[3], ""), b.Identify(in[0], in[1], in[2], in[3], "")
		if len(x) == 0 || fmt.Sprint(x) != fmt.Sprint(y) {
			t.Errorf("%v: %v vs %v", in, x, y)
		}
	}
	if a.ProductIndex("Fortinet", "FortiGate", "") != 0 || a.ProductIndex("Nobody", "Widget", "") != -1 {
		t.Errorf("product index")
	}
}

func FuzzLoadAliases(f *testing.F) {
	f.Add(match.ShippedAliasesJSON())
	f.Add([]byte(`{"vendors":[{"cpe":"x","names":["エックス"]}],"products":[{"vendor":"x","names":["y"],"identities":["cpe:2.3:a:x:{model}:{version}"]}]}`))
	f.Add([]byte(`{"vendors":[],"products":[],"renames":[{"from":"a:b","to":"c:d"}]}`))
	f.Add([]byte(`{"vendors":[{"cpe":"","names":[]}]}`))
	f.Add([]byte(`[1,2`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := match.LoadAliases(bytes.NewReader(b), testReg)
		if err != nil {
			if apperr.From(err).Code == apperr.Internal {
				t.Fatalf("internal error: %v", err)
			}
			return
		}
		a.Identify("ヤマハ", "RTX830", "", "15.02.26", "")
		again, err := match.LoadAliases(bytes.NewReader(match.EncodeAliases(a.File())), testReg)
		if err != nil {
			t.Fatalf("re-encoded table does not load: %v", err)
		}
		if len(again.File().Products) != len(a.File().Products) {
			t.Fatal("products lost")
		}
	})
}
