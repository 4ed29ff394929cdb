package match_test

import (
	"testing"

	"github.com/medisac/medisac/internal/vuln/match"
)

// BenchmarkEvaluate measures one asset against one CVE's rules.
func BenchmarkEvaluate(b *testing.B) {
	rules := rulesFor(b, "CVE-2022-42475.json")
	tg := target("cpe:2.3:o:fortinet:fortios:7.2.2", "cpe:2.3:h:fortinet:fortigate-60f:-")
	for i := 0; i < b.N; i++ {
		if !match.Evaluate(rules, tg).Affected {
			b.Fatal("not affected")
		}
	}
}

// BenchmarkIdentify measures deriving identities from inventory fields.
func BenchmarkIdentify(b *testing.B) {
	al := match.DefaultAliases()
	for i := 0; i < b.N; i++ {
		if len(al.Identify("フォーティネット", "FortiGate", "FG-60F", "v7.2.4,build1396 (GA.F)", "")) == 0 {
			b.Fatal("no candidates")
		}
	}
}
