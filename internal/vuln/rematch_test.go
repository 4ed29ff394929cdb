package vuln

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/vuln/feed"
	"github.com/medisac/medisac/internal/vuln/match"
)

func matchState(t *testing.T, d *db.DB, vulnID string) string {
	t.Helper()
	var s string
	err := db.ScanErr(d.QueryRow(context.Background(), `SELECT digest FROM vuln_match_state WHERE vuln_id = ?`, vulnID).Scan(&s))
	if err != nil && err != db.ErrNotFound {
		t.Fatal(err)
	}
	return s
}

// TestFullRematchWritesOnlyChanges checks that the full re-match skips
// unchanged results by their digest, that a change made outside it (an
// asset re-matched on its own) is still seen, and that an alias table
// change derives every identity again without rewriting unchanged ones.
func TestFullRematchWritesOnlyChanges(t *testing.T) {
	eachWatch(t, func(t *testing.T, d *db.DB, c *clock, w *Watch) {
		ctx := context.Background()
		org := newOrg(t, d, "A病院", "東京都")
		fw := mustAsset(t, d, org, inventory.Asset{Name: "FW", Kind: inventory.KindNetwork, Vendor: "Fortinet", Product: "FortiGate", Version: "7.2.2"})
		mustAsset(t, d, org, inventory.Asset{Name: "PC", Kind: inventory.KindPC, Vendor: "Microsoft", Product: "Windows 10", Version: "10.0.19045.3803"})
		importFiles(t, w, td("nvd", "CVE-2022-42475.json"))
		if f, ok := findingsOf(t, d, org, false)["FW CVE-2022-42475"]; !ok || !f.Open() {
			t.Fatalf("no finding: %+v", f)
		}
		st, err := w.MatchAll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Findings != 1 || st.New+st.Changed+st.Closed != 0 {
			t.Fatalf("unchanged re-match: %+v", st)
		}
		digest := matchState(t, d, "CVE-2022-42475")
		if digest == "" {
			t.Fatal("no digest stored")
		}

		// The device is updated and re-matched on its own: the finding
		// closes and the digest is forgotten.
		c.Advance(time.Hour)
		fw.Version = "7.2.5"
		if _, _, err := inventory.UpdateAsset(ctx, d, org, "", fw, c.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := w.MatchAssets(ctx, "", nil); err != nil {
			t.Fatal(err)
		}
		if f := findingsOf(t, d, org, true)["FW CVE-2022-42475"]; f.Open() {
			t.Fatalf("finding not closed: %+v", f)
		}
		if s := matchState(t, d, "CVE-2022-42475"); s != "" {
			t.Fatalf("digest kept after a change: %s", s)
		}
		// Back to the vulnerable version, seen by the full re-match alone:
		// the finding reopens although the result equals the old digest.
		c.Advance(time.Hour)
		fw.Version = "7.2.2"
		if _, _, err := inventory.UpdateAsset(ctx, d, org, "", fw, c.Now()); err != nil {
			t.Fatal(err)
		}
		if st, err = w.MatchAll(ctx); err != nil {
			t.Fatal(err)
		}
		if f := findingsOf(t, d, org, false)["FW CVE-2022-42475"]; !f.Open() || st.New != 1 {
			t.Fatalf("finding not reopened: %+v %+v", f, st)
		}
		if s := matchState(t, d, "CVE-2022-42475"); s != digest {
			t.Fatalf("digest %q, want %q", s, digest)
		}

		// Another alias table version: every identity is derived again,
		// stamped with the version, and none is rewritten.
		var before time.Time
		if err := d.QueryRow(ctx, `SELECT updated_at FROM vuln_asset_identity ORDER BY updated_at DESC LIMIT 1`).Scan(&before); err != nil {
			t.Fatal(err)
		}
		al, err := match.LoadAliases(strings.NewReader(string(match.ShippedAliasesJSON())+"\n"), testReg)
		if err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Hour)
		w2 := newWatch(d, c)
		w2.Aliases = al
		if st, err = w2.MatchAll(ctx); err != nil || st.New+st.Changed+st.Closed != 0 || st.Findings != 1 {
			t.Fatalf("alias re-match: %+v %v", st, err)
		}
		var stale int
		var after time.Time
		if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_asset_identity WHERE aliases <> ?`, al.Version()).Scan(&stale); err != nil || stale != 0 {
			t.Fatalf("identities not stamped with the new table: %d %v", stale, err)
		}
		if err := d.QueryRow(ctx, `SELECT updated_at FROM vuln_asset_identity ORDER BY updated_at DESC LIMIT 1`).Scan(&after); err != nil || !after.Equal(before) {
			t.Fatalf("unchanged identities rewritten: %v → %v (%v)", before, after, err)
		}
		// An asset written with a time before the last pass (restored or
		// imported with its own dates) still gets its identity.
		old, err := inventory.CreateAsset(ctx, d, org, "", inventory.Asset{Name: "旧FW", Kind: inventory.KindNetwork, Vendor: "Fortinet",
			Product: "FortiGate", Version: "7.2.1"}, t0.Add(-48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if st, err = w2.MatchAll(ctx); err != nil || st.New != 1 {
			t.Fatalf("old-dated asset: %+v %v", st, err)
		}
		if _, err := GetIdentity(ctx, d, org, old.ID); err != nil {
			t.Fatalf("no identity for the old-dated asset: %v", err)
		}
		var mark string
		if err := d.QueryRow(ctx, `SELECT value FROM vuln_state WHERE name = 'identities.aliases'`).Scan(&mark); err != nil || mark != al.Version() {
			t.Fatalf("state: %q %v", mark, err)
		}
	})
}

// TestDigestOfGroupsEqualsPerAsset: the digest summed from the index's
// results (exposure carried with each asset) equals the one summed from a
// hit per asset with the maps, for one source and for two, and it changes
// when one asset's exposure does.
func TestDigestOfGroupsEqualsPerAsset(t *testing.T) {
	nvd := rulesFor(t, "CVE-2022-42475.json")
	f, err := os.Open(td("fortinet", "FG-IR-22-398.json"))
	if err != nil {
		t.Fatal(err)
	}
	adv, err := feed.ParseFortinet(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	fort := adv.Rules(testReg)["CVE-2022-42475"]
	if fort == nil {
		t.Fatal("advisory has no rules for CVE-2022-42475")
	}
	x := match.NewIndex(testReg)
	orgs := map[string]string{}
	exposure := map[string]*exposureFacts{}
	texts := map[string]string{}
	versions := []string{"7.2.2", "7.2.3", "7.0.8", "7.0.9", "6.4.10", "6.4.11", "6.2.12", "7.2.1", "6.0.15"}
	for i := range 600 {
		id := fmt.Sprintf("asset-%03d", i)
		text := "cpe:2.3:o:fortinet:fortios:" + versions[i%len(versions)] + ":*:*:*:*:*:*:*\ncpe:2.3:h:fortinet:fortigate-60f:-:*:*:*:*:*:*:*"
		ex := exposureOf(i%2 == 0, i%3 == 0, i%5 == 0)
		texts[id] = text
		orgs[id] = fmt.Sprintf("org-%d", i%7)
		exposure[id] = ex
		if i%4 == 0 {
			x.PutText(id, text) // no exposure carried: looked up
		} else {
			x.PutTextInfo(id, []byte(text), infoKnown|ex.class())
		}
	}
	facts := vulnFacts{cvss: 9.8, kev: true, epss: 0.9}
	w := &Watch{}
	for name, rs := range map[string][]storedRule{
		"nvd":          {{vulnID: "CVE-2022-42475", source: "nvd", rules: nvd}},
		"nvd+fortinet": {{vulnID: "CVE-2022-42475", source: "nvd", rules: nvd}, {vulnID: "CVE-2022-42475", source: "fortinet", rules: fort}},
	} {
		vm := matchVulnGroups(x, rs)
		if (vm.hits == nil) != (name == "nvd") {
			t.Fatalf("%s: per-asset hits %v", name, vm.hits != nil)
		}
		perAsset, err := w.matchVuln(context.Background(), nil, x, rs, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(perAsset) < 100 {
			t.Fatalf("%s: only %d assets affected; the comparison proves little", name, len(perAsset))
		}
		got, want := vm.digest(facts, orgs, exposure), findingsDigest(facts, perAsset, orgs, exposure)
		if got != want {
			t.Fatalf("%s: digest of the results %s, per asset %s", name, got, want)
		}
		if n := len(vm.hitMap()); n != len(perAsset) {
			t.Fatalf("%s: %d hits from the results, %d per asset", name, n, len(perAsset))
		}
		// One affected asset on or off the edge: another digest.
		for id := range perAsset {
			old := exposure[id]
			// KEV: an asset on the edge is 「今すぐ」, others 「至急」.
			exposure[id] = exposureOf(true, false, false)
			if old.external || old.exposed {
				exposure[id] = exposureOf(false, false, false)
			}
			x.PutTextInfo(id, []byte(texts[id]), infoKnown|exposure[id].class())
			if d := matchVulnGroups(x, rs).digest(facts, orgs, exposure); d == got {
				t.Fatalf("%s: digest unchanged after %s's exposure changed", name, id)
			}
			exposure[id] = old
			x.PutTextInfo(id, []byte(texts[id]), infoKnown|old.class())
			break
		}
	}
}
