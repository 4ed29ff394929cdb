package match

import (
	"testing"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/version"
)

// TestGenericFallbackParsedOnce: bounds or versions the vendor's scheme
// cannot read are compared by the generic scheme, parsed once when the
// criterion is compiled and the identity prepared; the answers equal
// parsing them at each comparison.
func TestGenericFallbackParsedOnce(t *testing.T) {
	inRangeCrit, err := NewCriterion(testReg, "cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*", true, "6.0.5a", "", "", "6.0.9a")
	if err != nil {
		t.Fatal(err)
	}
	exactCrit, err := NewCriterion(testReg, "cpe:2.3:o:fortinet:fortios:6.0.5a:*:*:*:*:*:*:*", true, "", "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !inRangeCrit.gset || !inRangeCrit.gbOK || exactCrit.gcerr != nil || exactCrit.cerr == nil {
		t.Fatalf("fallback not prepared at compile time: %+v / cerr %v", inRangeCrit.gbounds, exactCrit.cerr)
	}
	for _, c := range []struct {
		crit *Criterion
		ver  string
		want Tri
	}{
		{inRangeCrit, "6.0.7", Yes}, {inRangeCrit, "6.0.3", No}, {inRangeCrit, "6.0.10", No}, {inRangeCrit, "6.0.9", Yes},
		{exactCrit, "6.0.6", No}, {exactCrit, "6.0.5", No},
	} {
		id := &target("cpe:2.3:o:fortinet:fortios:" + c.ver + ":*:*:*:*:*:*:*").Identities[0]
		if !id.gset {
			t.Fatal("identity without its generic version")
		}
		got, _ := matchVersion(c.crit, id)
		// The same comparison with nothing prepared.
		lazyC, lazyID := *c.crit, *id
		lazyC.gset, lazyID.gset = false, false
		lazy, _ := matchVersion(&lazyC, &lazyID)
		if got != c.want || lazy != got {
			t.Errorf("%s against %s: %v (unprepared %v), want %v", c.crit.Raw, c.ver, got, lazy, c.want)
		}
	}
}

var testReg = version.Default()

func target(ids ...string) *Target {
	var names []cpe.Name
	for _, s := range ids {
		names = append(names, cpe.MustParse(s))
	}
	return NewTarget("asset", names, testReg)
}
