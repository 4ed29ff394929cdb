package version

import "testing"

// checkOrder asserts the properties every comparator must have on any
// three inputs: no panic, reflexivity, antisymmetry, transitivity, and a
// partial version's Low ≤ High.
func checkOrder(t *testing.T, s Scheme, a, b, c string) {
	vs := make([]Version, 0, 3)
	for _, x := range []string{a, b, c} {
		v, err := s.Parse(x)
		if err != nil {
			return
		}
		if v.Cmp(v) != 0 {
			t.Fatalf("%s: %q not equal to itself", s.Name(), x)
		}
		if v.Partial && v.Low().Cmp(v.High()) > 0 {
			t.Fatalf("%s: %q Low > High", s.Name(), x)
		}
		if got, err := s.Compare(x, x); err != nil || got != 0 {
			t.Fatalf("%s: Compare(%q, %q) = %d, %v", s.Name(), x, x, got, err)
		}
		vs = append(vs, v)
	}
	ab, ba := vs[0].Cmp(vs[1]), vs[1].Cmp(vs[0])
	if ab != -ba {
		t.Fatalf("%s: not antisymmetric: %q vs %q = %d, reverse %d", s.Name(), a, b, ab, ba)
	}
	bc, ac := vs[1].Cmp(vs[2]), vs[0].Cmp(vs[2])
	if ab <= 0 && bc <= 0 && ac > 0 {
		t.Fatalf("%s: not transitive: %q <= %q <= %q but %q > %q", s.Name(), a, b, c, a, c)
	}
	if ab >= 0 && bc >= 0 && ac < 0 {
		t.Fatalf("%s: not transitive: %q >= %q >= %q but %q < %q", s.Name(), a, b, c, a, c)
	}
}

func fuzzScheme(f *testing.F, s Scheme, seeds ...string) {
	for i := range seeds {
		f.Add(seeds[i], seeds[(i+1)%len(seeds)], seeds[(i+2)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) { checkOrder(t, s, a, b, c) })
}

func FuzzFortiOS(f *testing.F) {
	fuzzScheme(f, FortiOS{}, "7.2.4", "v6.0.4,build0231,190107 (GA)", "6.4.x", "5.0.0:beta1", "24.4.a", "6,2.3", "7.0")
}

func FuzzCiscoASA(f *testing.F) {
	fuzzScheme(f, CiscoASA{}, "9.8(4)20", "9.16(3.19)", "9.8.4.20", "9.8", "9.8(4)")
}

func FuzzCiscoIOS(f *testing.F) {
	fuzzScheme(f, CiscoIOS{}, "15.2(4)M7", "12.2(55a)SE12", "7.1(4)N1(1)", "16.12.4", "17.3.1a")
}

func FuzzCitrix(f *testing.F) {
	fuzzScheme(f, Citrix{}, "13.0-47.24", "13.1-49.15", "13.0", "NS13.0: Build 47.24.nc", "13.1-37.164 FIPS")
}

func FuzzPANOS(f *testing.F) {
	fuzzScheme(f, PANOS{}, "10.2.9-h1", "11.1.2-h3", "10.2.9", "10.2", "10.2.10")
}

func FuzzIvanti(f *testing.F) {
	fuzzScheme(f, Ivanti{}, "9.1R11.4", "22.7R2.3", "9.1", "9.0R3.4 build 123", "9.1R11")
}

func FuzzWindows(f *testing.F) {
	fuzzScheme(f, Windows{}, "10.0.19045.3803", "19045.3803", "Version 22H2 (OS Build 19045.3803)", "10.0.19045", "6.1.7601.24546")
}

func FuzzSemver(f *testing.F) {
	fuzzScheme(f, Semver{}, "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0+build", "v1.2", "1.0.0-rc.1")
}

func FuzzGeneric(f *testing.F) {
	fuzzScheme(f, Generic{}, "1.0~rc1", "1.0^git1", "13.0-47.24", "20.4R3-S4.8", "6.5.4.15.116n")
}
