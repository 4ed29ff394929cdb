package vuln

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/match"
)

type assetSpec struct {
	weight int
	make   func(r *rand.Rand, i int) []string
}

// assetMix is a rough picture of a million registered devices across
// 10,000 hospitals: many PCs and servers, fewer network edge devices.
var assetMix = []assetSpec{
	{15, func(r *rand.Rand, i int) []string {
		models := []string{"60e", "60f", "80f", "100f", "40f", "200f", "30e", "90g", "61f", "101f"}
		v := fmt.Sprintf("%d.%d.%d", []int{5, 6, 6, 6, 7, 7, 7}[r.IntN(7)], []int{0, 2, 4}[r.IntN(3)], r.IntN(18))
		return []string{"cpe:2.3:o:fortinet:fortios:" + v, "cpe:2.3:h:fortinet:fortigate-" + models[r.IntN(len(models))] + ":-"}
	}},
	{5, func(r *rand.Rand, i int) []string {
		return []string{fmt.Sprintf("cpe:2.3:o:cisco:adaptive_security_appliance_software:9.%d.%d.%d", 6+r.IntN(12), r.IntN(5), r.IntN(40)),
			"cpe:2.3:h:cisco:asa_55" + []string{"06-x", "08-x", "16-x", "25-x", "45-x"}[r.IntN(5)] + ":-"}
	}},
	{3, func(r *rand.Rand, i int) []string {
		return []string{fmt.Sprintf("cpe:2.3:o:paloaltonetworks:pan-os:1%d.%d.%d-h%d", r.IntN(2), r.IntN(3), r.IntN(12), r.IntN(6))}
	}},
	{3, func(r *rand.Rand, i int) []string {
		return []string{fmt.Sprintf("cpe:2.3:a:citrix:netscaler_application_delivery_controller:13.%d-%d.%d:*:*:*:-", r.IntN(2), 30+r.IntN(30), r.IntN(60))}
	}},
	{10, func(r *rand.Rand, i int) []string {
		m := []string{"rtx830", "rtx1210", "rtx1220", "nvr510"}[r.IntN(4)]
		return []string{fmt.Sprintf("cpe:2.3:o:yamaha:%s_firmware:15.02.%02d", m, r.IntN(30)), "cpe:2.3:h:yamaha:" + m + ":-"}
	}},
	{4, func(r *rand.Rand, i int) []string {
		return []string{fmt.Sprintf("cpe:2.3:o:nec:univerge_ix2106_firmware:10.%d.%d", r.IntN(8), r.IntN(30))}
	}},
	{50, func(r *rand.Rand, i int) []string {
		p := []string{"windows_10_22h2", "windows_11_23h2", "windows_10_21h2"}[r.IntN(3)]
		return []string{fmt.Sprintf("cpe:2.3:o:microsoft:%s:10.0.19045.%d", p, 2000+r.IntN(2000))}
	}},
	{10, func(r *rand.Rand, i int) []string {
		return []string{fmt.Sprintf("cpe:2.3:o:microsoft:windows_server_2019:10.0.17763.%d", 4000+r.IntN(1500)),
			fmt.Sprintf("cpe:2.3:a:apache:log4j:2.%d.%d", r.IntN(20), r.IntN(3))}
	}},
}

var (
	benchIndexOnce  sync.Once
	benchIndex      *match.Index
	benchIndexBuild time.Duration
	benchIndexHeap  uint64
)

// randomSpec picks an asset kind of assetMix, as often as its weight says.
func randomSpec(r *rand.Rand) assetSpec {
	total := 0
	for _, s := range assetMix {
		total += s.weight
	}
	w := r.IntN(total)
	for _, s := range assetMix {
		if w < s.weight {
			return s
		}
		w -= s.weight
	}
	return assetSpec{}
}

func millionAssets(b *testing.B) *match.Index {
	benchIndexOnce.Do(func() {
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		r := rand.New(rand.NewPCG(1, 2))
		x := match.NewIndex(testReg)
		names := make([]cpe.Name, 0, 2)
		for i := 0; i < 1_000_000; i++ {
			spec := randomSpec(r)
			names = names[:0]
			for _, c := range spec.make(r, i) {
				names = append(names, cpe.MustParse(c))
			}
			x.Put(fmt.Sprintf("asset-%07d", i), names)
		}
		benchIndexBuild = time.Since(start)
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		benchIndexHeap = after.HeapAlloc - before.HeapAlloc
		benchIndex = x
	})
	return benchIndex
}

// BenchmarkMatchOneCVE matches one newly imported CVE against a million
// synthetic assets (the target is under 50 ms).
func BenchmarkMatchOneCVE(b *testing.B) {
	x := millionAssets(b)
	for _, file := range []string{"CVE-2022-42475.json", "CVE-2024-3400.json", "CVE-2021-44228.json"} {
		rules := rulesFor(b, file)
		b.Run(strings.TrimSuffix(file, ".json"), func(b *testing.B) {
			affected := 0
			for i := 0; i < b.N; i++ {
				affected = 0
				for _, g := range x.Match(rules) {
					affected += len(g.AssetIDs)
				}
			}
			b.ReportMetric(float64(affected), "affected")
			b.ReportMetric(float64(x.Groups()), "groups")
			b.ReportMetric(benchIndexBuild.Seconds(), "index-build-s")
			b.ReportMetric(float64(benchIndexHeap)/(1<<20), "index-MB")
		})
	}
}
