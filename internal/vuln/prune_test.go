package vuln

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/feed"
	"github.com/medisac/medisac/internal/vuln/match"
)

// smallIndex holds n assets of the benchmark's asset mix plus assets with
// unknown, unparseable and family versions.
func smallIndex(t testing.TB, n int) *match.Index {
	r := rand.New(rand.NewPCG(5, 6))
	x := match.NewIndex(testReg)
	for i := 0; i < n; i++ {
		var names []cpe.Name
		for _, c := range randomSpec(r).make(r, i) {
			names = append(names, cpe.MustParse(c))
		}
		x.Put(fmt.Sprintf("a%05d", i), names)
	}
	for i, s := range []string{"cpe:2.3:o:fortinet:fortios", "cpe:2.3:o:fortinet:fortios:6.4.x", "cpe:2.3:o:fortinet:fortios:garbage",
		"cpe:2.3:o:paloaltonetworks:pan-os:10.2", "cpe:2.3:a:citrix:netscaler_application_delivery_controller:13.0",
		"cpe:2.3:o:microsoft:windows_10_22h2:10.0.19045", "cpe:2.3:a:apache:log4j:2.14.1"} {
		x.Put(fmt.Sprintf("odd%d", i), []cpe.Name{cpe.MustParse(s)})
	}
	return x
}

func resultSet(gs []match.GroupResult) []string {
	var out []string
	for _, g := range gs {
		for _, id := range g.AssetIDs {
			out = append(out, id+" "+string(g.Confidence)+" "+fmt.Sprint(g.Reasons))
		}
	}
	slices.Sort(out)
	return out
}

// TestPrunerEqualsMatch checks that the pruned view finds exactly what
// Index.Match finds, for every real NVD record of testdata and for
// generated records.
func TestPrunerEqualsMatch(t *testing.T) {
	x := smallIndex(t, 20000)
	p := x.Pruner()
	files, _ := filepath.Glob(td("nvd", "CVE-*.json"))
	var rules []*match.Rules
	for _, f := range files {
		rules = append(rules, rulesFor(t, filepath.Base(f)))
	}
	g := &nvdGen{r: rand.New(rand.NewPCG(1, 1)), synth: 100}
	for i := 0; i < 3000; i++ {
		rec := g.record(i)
		for j := range rec.Configurations {
			for k := range rec.Configurations[j].Nodes {
				for m := range rec.Configurations[j].Nodes[k].CPEMatch {
					cm := &rec.Configurations[j].Nodes[k].CPEMatch[m]
					if strings.Contains(cm.Criteria, "fortios") && cm.VersionEndExcluding != "" {
						cm.VersionStartIncluding, cm.VersionEndExcluding = "6.4.0", "7.0."+fmt.Sprint(i%18)
					}
				}
			}
		}
		r, err := feed.CompileNVD(&rec, testReg)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	for _, crit := range []string{"cpe:2.3:o:fortinet:fortios:6.4.3", "cpe:2.3:o:fortinet:fortios:7.0.0", "cpe:2.3:o:paloaltonetworks:pan-os:10.1.5:h2",
		"cpe:2.3:o:paloaltonetworks:pan-os:10.1.5", "cpe:2.3:o:paloaltonetworks:pan-os:11.2.3:-", "cpe:2.3:a:citrix:netscaler_application_delivery_controller:13.0",
		"cpe:2.3:a:citrix:netscaler_application_delivery_controller:13.1-45.3", "cpe:2.3:o:microsoft:windows_10_22h2:10.0.19045.2100",
		"cpe:2.3:o:microsoft:windows_10_22h2:10.0.19045", "cpe:2.3:o:yamaha:rtx830_firmware:15.02.10", "cpe:2.3:a:apache:log4j:2.14.1",
		"cpe:2.3:o:cisco:adaptive_security_appliance_software:9.8.4.20", "cpe:2.3:o:fortinet:fortios:6.4.*", "cpe:2.3:o:fortinet:fortios:-"} {
		c, err := match.NewCriterion(testReg, crit, true, "", "", "", "")
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, (&match.Rules{Source: "test", Configs: []match.Config{{Nodes: []match.Node{{Operator: "OR", Criteria: []*match.Criterion{c}}}}}}).Prepare())
	}
	matched, specific := 0, 0
	for i, r := range rules {
		want, got := resultSet(x.Match(r)), resultSet(p.Match(r))
		if !slices.Equal(want, got) {
			t.Fatalf("rules %d (%s): pruned view found %d, Match %d", i, r.Configs[0].Nodes[0].Criteria[0].Raw, len(got), len(want))
		}
		if i >= len(rules)-14 && len(want) > 0 {
			specific++
		}
		matched += len(want)
	}
	if matched == 0 || specific < 9 {
		t.Fatalf("%d matched, %d specific-version rules matched: the test proves too little", matched, specific)
	}
}
