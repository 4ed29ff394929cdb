package version

import (
	"errors"
	"testing"
)

type cmpCase struct {
	a, b string
	want int
}

func runCmp(t *testing.T, s Scheme, cases []cmpCase) {
	t.Helper()
	for _, c := range cases {
		got, err := s.Compare(c.a, c.b)
		if err != nil {
			t.Errorf("%s: Compare(%q, %q): %v", s.Name(), c.a, c.b, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: Compare(%q, %q) = %d, want %d", s.Name(), c.a, c.b, got, c.want)
		}
		if back, _ := s.Compare(c.b, c.a); back != -c.want {
			t.Errorf("%s: Compare(%q, %q) = %d, not antisymmetric", s.Name(), c.b, c.a, back)
		}
	}
}

func runInvalid(t *testing.T, s Scheme, bad []string) {
	t.Helper()
	for _, b := range bad {
		if _, err := s.Parse(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Parse(%q) err = %v, want ErrInvalid", s.Name(), b, err)
		}
		if _, err := s.Compare(b, b); err == nil {
			t.Errorf("%s: Compare(%q, %q) gave no error", s.Name(), b, b)
		}
	}
}

// FortiOS cases from FG-IR-18-384 (5.4.6 … 5.4.12 affected, 5.4.13 fixed),
// FG-IR-22-398 (7.2.0 … 7.2.2 affected, 7.2.3 fixed), device strings as
// FortiGate shows them, and messy values in Fortinet's own feed.
func TestFortiOS(t *testing.T) {
	f := FortiOS{}
	runCmp(t, f, []cmpCase{
		{"7.2.4", "7.2.4", 0},
		{"7.2.2", "7.2.3", -1},
		{"5.4.12", "5.4.13", -1},
		{"5.4.13", "5.6.0", -1},
		{"6.0.10", "6.0.9", 1},
		{"v6.0.4,build0231", "6.0.4", 0},
		{"v6.0.4,build0231,190107 (GA)", "6.0.5", -1},
		{"FortiGate-60F v6.4.11,build2030,221031 (GA.M)", "6.4.11", 0},
		{"FortiOS v7.2.4 build1396 (GA.F)", "7.2.4", 0},
		{"7.0", "7.0.0", 0},
		{"7.0.0", "7.0.1", -1},
		{"5.0.0:beta1", "5.0.0", -1},
		{"5.0.0 beta1", "5.0.0 beta2", -1},
		{"6,2.3", "6.2.3", 0},
		{"6.0.", "6.0.0", 0},
		{"7.1-B5745", "7.1", 0},
		{"24.4.a", "24.4.b", -1},
		{"25.1.a.2", "25.1.a.1", 1},
		{"24.4.a", "24.4.1", -1},
		{"６．４．１１", "6.4.11", 0},
		{"6.4.x", "6.4.0", 0},
	})
	v, err := f.Parse("v6.0.4,build0231,190107 (GA)")
	if err != nil || v.Canonical != "6.0.4" || v.Build != "231" || v.Partial {
		t.Errorf("Parse build: %+v, %v", v, err)
	}
	p, _ := f.Parse("6.4.x")
	if !p.Partial || p.Low().Cmp(mustParse(f, "6.4.0")) != 0 || p.High().Cmp(mustParse(f, "6.4.99")) <= 0 || p.High().Cmp(mustParse(f, "6.5.0")) >= 0 {
		t.Errorf("6.4.x: %+v low %v high %v", p, p.Low(), p.High())
	}
	if q, _ := f.Parse("7.2"); !q.Partial {
		t.Error("7.2 should be a family")
	}
	runInvalid(t, f, []string{"", "ANY", "build0231", "x.1", "6.4.x.1", "v", "NA", "abc"})
}

// ASA cases from cisco-sa-asaftd-ro-path-KJuQhB86 (CVE-2020-3452): first
// fixed 9.6.4.42, 9.8.4.20, 9.9.2.74, 9.10.1.42, 9.12.3.12, 9.13.2.1,
// 9.14.1.10, and the 9.16(3.19) notation of later releases.
func TestCiscoASA(t *testing.T) {
	a := CiscoASA{}
	runCmp(t, a, []cmpCase{
		{"9.8(4)20", "9.8.4.20", 0},
		{"9.8(4)15", "9.8.4.20", -1},
		{"9.8(4)", "9.8.4.0", 0},
		{"9.8(4)", "9.8(4)1", -1},
		{"9.16(3.19)", "9.16.3.19", 0},
		{"9.16(3.19)", "9.16(3)20", -1},
		{"9.10(1)30", "9.10.1.42", -1},
		{"9.10(1)42", "9.9(2)74", 1},
		{"9.8", "9.8.0", 0},
		{"Cisco Adaptive Security Appliance Software Version 9.12(4)", "9.12.4", 0},
	})
	if v, _ := a.Parse("9.8(4)20"); v.Canonical != "9.8.4.20" {
		t.Errorf("canonical %q", v.Canonical)
	}
	if v, _ := a.Parse("9.8"); !v.Partial {
		t.Error("9.8 should be a family")
	}
	runInvalid(t, a, []string{"", "9", "9.8(4.1)2", "9.8(x)", "9.8.4.20.1", "15.2(4)M7"})
}

// IOS cases from Cisco release naming (15.2(4)M7, 12.2(55)SE12, NX-OS
// 7.1(4)N1(1), IOS XE 16.12.4 / 17.3.1a).
func TestCiscoIOS(t *testing.T) {
	c := CiscoIOS{}
	runCmp(t, c, []cmpCase{
		{"15.2(4)M7", "15.2(4)m7", 0},
		{"15.2(4)M6", "15.2(4)M7", -1},
		{"15.2(4)M", "15.2(4)M1", -1},
		{"15.2(4)M11", "15.2(4)M7", 1},
		{"15.2(4)M7", "15.2(5)M1", -1},
		{"15.1(4)M4", "15.1(4)M4a", -1},
		{"12.2(55)SE12", "12.2(55)SE9", 1},
		{"12.2(55)SE", "12.2(55a)SE", -1},
		{"7.1(4)N1(1)", "7.1(4)N1(2)", -1},
		{"16.12.4", "16.12.10", -1},
		{"17.3.1", "17.3.1a", -1},
		{"Cisco IOS Software, Version 15.2(4)M7", "15.2(4)M7", 0},
	})
	runInvalid(t, c, []string{"", "15", "15.2(4", "15.2()M7", "15.2(4)M7-x"})
}

// Citrix cases from CTX261051 (CVE-2019-19781), CTX579459 (CVE-2023-4966:
// fixed 14.1-8.50, 13.1-49.15, 13.0-92.19, 13.1-37.164 FIPS, 12.1-55.300
// FIPS/NDcPP) and CVE-2023-3519 (13.0-91.13).
func TestCitrix(t *testing.T) {
	c := Citrix{}
	runCmp(t, c, []cmpCase{
		{"13.0-47.24", "13.0-91.13", -1},
		{"13.0-91.13", "13.0-91.13", 0},
		{"13.0-92.19", "13.0-91.13", 1},
		{"13.0", "13.0-47.24", -1},
		{"13.1-49.15", "13.1-49.9", 1},
		{"12.1-55.296", "12.1-55.297", -1},
		{"12.1-55.300", "13.0-1.1", -1},
		{"NS13.0: Build 47.24.nc", "13.0-47.24", 0},
		{"13.1-37.164 FIPS", "13.1-37.164", 0},
		{"NetScaler ADC 13.1-FIPS 13.1-37.164", "13.1-37.164", 0},
		{"14.1-8.50", "14.1-12.30", -1},
	})
	for in, ed := range map[string]string{"13.1-37.164 FIPS": "fips", "12.1-55.300 NDcPP": "ndcpp", "13.1-49.15": ""} {
		if v, _ := c.Parse(in); v.Edition != ed {
			t.Errorf("Edition(%q) = %q, want %q", in, v.Edition, ed)
		}
	}
	if v, _ := c.Parse("13.0"); !v.Partial || v.High().Cmp(mustParse(c, "13.0-99.99")) <= 0 {
		t.Errorf("13.0 should be a train: %+v", v)
	}
	runInvalid(t, c, []string{"", "13", "13.0-47", "build 47.24", "ADC"})
}

// PAN-OS cases from PAN-241451 (CVE-2024-3400: fixed 10.2.9-h1, 11.0.4-h1,
// 11.1.2-h3).
func TestPANOS(t *testing.T) {
	p := PANOS{}
	runCmp(t, p, []cmpCase{
		{"10.2.9", "10.2.9-h1", -1},
		{"10.2.9-h1", "10.2.9-h2", -1},
		{"10.2.9-h2", "10.2.10", -1},
		{"10.2.9-h10", "10.2.9-h9", 1},
		{"11.1.2-h3", "11.1.2-h3", 0},
		{"11.1.2-h1", "11.1.2-h3", -1},
		{"11.0.4-h1", "11.1.0", -1},
		{"10.2.9h1", "10.2.9-h1", 0},
		{"PAN-OS 10.2.9-h1", "10.2.9-h1", 0},
		{"10.2", "10.2.0", 0},
	})
	if v, _ := p.Parse("10.2"); !v.Partial {
		t.Error("10.2 should be a family")
	}
	runInvalid(t, p, []string{"", "10", "10.2-h1", "10.2.9-x1", "10.2.9-h", "10.2.9.1"})
}

// Ivanti cases from SA44101 (CVE-2019-11510: fixed 9.0R3.4, 8.3R7.1,
// 8.2R12.1, 8.1R15.1) and the 2024 advisories (9.1R18.3, 22.7R2.3).
func TestIvanti(t *testing.T) {
	iv := Ivanti{}
	runCmp(t, iv, []cmpCase{
		{"9.0R3.3", "9.0R3.4", -1},
		{"9.1R11.4", "9.1R11.4", 0},
		{"9.1R11", "9.1R11.0", 0},
		{"9.1R9", "9.1R11", -1},
		{"9.1R18.3", "22.7R2.3", -1},
		{"22.7R2.3", "22.7R2.10", -1},
		{"9.1", "9.1R1", -1},
		{"9.1r11.3", "9.1R11.3", 0},
		{"Ivanti Connect Secure 22.7R2.3 build 1647", "22.7R2.3", 0},
	})
	if v, _ := iv.Parse("9.1R11.4 build 12345"); v.Build != "12345" || v.Canonical != "9.1R11.4" {
		t.Errorf("%+v", v)
	}
	runInvalid(t, iv, []string{"", "9", "9.1R", "9.1S3", "R11.4"})
}

// Windows cases from Microsoft's release information (KB5033372 is
// 19045.3803; 22H2 builds).
func TestWindows(t *testing.T) {
	w := Windows{}
	runCmp(t, w, []cmpCase{
		{"10.0.19045.3803", "10.0.19045.3803", 0},
		{"10.0.19045.3758", "10.0.19045.3803", -1},
		{"10.0.19045.10000", "10.0.19045.3803", 1},
		{"10.0.19044.3803", "10.0.19045.1", -1},
		{"19045.3803", "10.0.19045.3803", 0},
		{"Version 22H2 (OS Build 19045.3803)", "10.0.19045.3803", 0},
		{"Version 1809 (OS Build 17763.5206)", "10.0.17763.5206", 0},
		{"Microsoft Windows [Version 10.0.22631.2861]", "10.0.22631.2861", 0},
		{"6.1.7601.24546", "10.0.10240.0", -1},
	})
	if v, _ := w.Parse("10.0.19045"); !v.Partial {
		t.Error("build without revision should be Partial")
	}
	if WindowsBuild("10.0.19045.3803") != "19045" {
		t.Error("WindowsBuild")
	}
	runInvalid(t, w, []string{"", "22H2", "10", "abc"})
}

// Semver cases from semver.org §11.
func TestSemver(t *testing.T) {
	s := Semver{}
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0"}
	var cases []cmpCase
	for i := 0; i+1 < len(order); i++ {
		cases = append(cases, cmpCase{order[i], order[i+1], -1})
	}
	cases = append(cases, cmpCase{"1.0.0+build.5", "1.0.0", 0}, cmpCase{"v1.2", "1.2.0", 0},
		cmpCase{"1.0.0-Alpha", "1.0.0-alpha", -1}, cmpCase{"2.14.1", "2.15.0", -1})
	runCmp(t, s, cases)
	runInvalid(t, s, []string{"", "1.0.0-", "1.0.0-a..b", "1.x", "1.0.0.0", "1.0.0+", "1.0.0-a_b"})
}

// Generic cases: the rpmvercmp rules plus the appliance strings of the
// measurements in the matching reference (section 6.3).
func TestGeneric(t *testing.T) {
	g := Generic{}
	runCmp(t, g, []cmpCase{
		{"1.0", "1.0.0", 0},
		{"1.0~rc1", "1.0", -1},
		{"1.0~rc1", "1.0~rc2", -1},
		{"1.0^git1", "1.0", 1},
		{"1.0^git1", "1.0.1", -1},
		{"1.0a", "1.0", 1},
		{"1.0a", "1.0.1", -1},
		{"2.0.1", "2.0.a", 1},
		{"13.0-47.24", "13.0-91.13", -1},
		{"20.4R3-S4.8", "20.4R3-S5", -1},
		{"11.01.34", "11.01.35", -1},
		{"5.9.2.14-13o", "5.9.2.14-12o", 1},
		{"6.5.4.15.116n", "6.5.4.15-116n", 0},
		{"10.2.0.5-d-29sv", "10.2.0.5-d-30sv", -1},
		{"007", "7", 0},
		{"99999999999999999999999", "99999999999999999999998", 1},
	})
	runInvalid(t, g, []string{"", "...", "~", "-"})
}

func TestRegistry(t *testing.T) {
	r := Default()
	cases := map[[2]string]string{
		{"fortinet", "fortios"}:                                 "fortios",
		{"fortinet", "fortiproxy"}:                              "fortios",
		{"cisco", "adaptive_security_appliance_software"}:       "cisco-asa",
		{"cisco", "ios"}:                                        "cisco-ios",
		{"citrix", "netscaler_application_delivery_controller"}: "citrix",
		{"citrix", "application_delivery_controller_firmware"}:  "citrix",
		{"paloaltonetworks", "pan-os"}:                          "panos",
		{"ivanti", "connect_secure"}:                            "ivanti",
		{"pulsesecure", "pulse_connect_secure"}:                 "ivanti",
		{"microsoft", "windows_10_22h2"}:                        "windows",
		{"microsoft", "windows_server_2022"}:                    "windows",
		{"microsoft", "exchange_server"}:                        "generic",
		{"apache", "log4j"}:                                     "generic",
		{"Fortinet", "FortiOS"}:                                 "fortios",
	}
	for k, want := range cases {
		if got := r.For(k[0], k[1]).Name(); got != want {
			t.Errorf("For(%s, %s) = %s, want %s", k[0], k[1], got, want)
		}
	}
	r.Register("apache", "log4j", Semver{})
	if r.For("apache", "log4j").Name() != "semver" {
		t.Error("Register")
	}
	if ByName("citrix") == nil || ByName("nope") != nil {
		t.Error("ByName")
	}
}

func TestJoinCPE(t *testing.T) {
	cases := []struct {
		s                     Scheme
		version, update, want string
	}{
		{PANOS{}, "10.2.9", "h1", "10.2.9-h1"},
		{PANOS{}, "10.2.9", "-", "10.2.9"},
		{Ivanti{}, "9.1", "r11.3", "9.1r11.3"},
		{Ivanti{}, "9.0", "*", "9.0"},
		{Generic{}, "2.0", "beta9", "2.0~beta9"},
		{Generic{}, "6.5", "650-201701001", "6.5-650-201701001"},
	}
	for _, c := range cases {
		if got := JoinCPE(c.s, c.version, c.update); got != c.want {
			t.Errorf("JoinCPE(%s, %q, %q) = %q, want %q", c.s.Name(), c.version, c.update, got, c.want)
		}
	}
	if c, _ := (Generic{}).Compare(JoinCPE(Generic{}, "2.0", "beta9"), "2.0"); c != -1 {
		t.Error("beta joined with ~ must sort before the release")
	}
}

func mustParse(s Scheme, v string) Version {
	p, err := s.Parse(v)
	if err != nil {
		panic(err)
	}
	return p
}

func BenchmarkCompare(b *testing.B) {
	cases := []struct {
		s    Scheme
		a, c string
	}{
		{FortiOS{}, "v6.0.4,build0231,190107 (GA)", "6.0.5"},
		{CiscoASA{}, "9.8(4)15", "9.8.4.20"},
		{CiscoIOS{}, "15.2(4)M7", "15.2(4)M11"},
		{Citrix{}, "13.0-47.24", "13.0-91.13"},
		{PANOS{}, "10.2.9", "10.2.9-h1"},
		{Ivanti{}, "9.1R11.4", "22.7R2.3"},
		{Windows{}, "10.0.19045.3758", "10.0.19045.3803"},
		{Semver{}, "1.0.0-alpha.1", "1.0.0-beta.11"},
		{Generic{}, "6.5.4.15.116n", "7.0.1-5035"},
	}
	for _, c := range cases {
		b.Run(c.s.Name(), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := c.s.Compare(c.a, c.c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("parsed", func(b *testing.B) {
		x, y := mustParse(Citrix{}, "13.0-47.24"), mustParse(Citrix{}, "13.0-91.13")
		for i := 0; i < b.N; i++ {
			if x.Cmp(y) != -1 {
				b.Fatal("order")
			}
		}
	})
}
