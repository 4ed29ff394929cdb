package match_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/feed"
	"github.com/medisac/medisac/internal/vuln/match"
	"github.com/medisac/medisac/internal/vuln/version"
)

var testReg = version.Default()

func loadNVD(t testing.TB, file string) *feed.NVDCVE {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "nvd", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := feed.ParseNVD(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(recs) != 1 {
		t.Fatalf("%s: %d records", file, len(recs))
	}
	return &recs[0]
}

func rulesFor(t testing.TB, file string) *match.Rules {
	t.Helper()
	r, err := feed.CompileNVD(loadNVD(t, file), testReg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func target(ids ...string) *match.Target {
	var names []cpe.Name
	for _, s := range ids {
		names = append(names, cpe.MustParse(s))
	}
	return match.NewTarget("asset", names, testReg)
}

const (
	notAffected = ""
	exact       = match.ConfidenceExact
	check       = match.ConfidenceProduct
)

// TestMatchNVD runs real NVD records against assets described as medisac
// derives them (OS/firmware CPE with the device's version string, hardware
// CPE with version NA).
func TestMatchNVD(t *testing.T) {
	const (
		fortigate = "cpe:2.3:h:fortinet:fortigate-60f:-"
		adcHW     = "cpe:2.3:h:citrix:application_delivery_controller:-"
		asaHW     = "cpe:2.3:h:cisco:asa_5525-x:-"
	)
	cases := []struct {
		name   string
		file   string
		ids    []string
		want   match.Confidence
		reason match.Reason
	}{
		// FortiOS SSL-VPN heap overflow: ranges with endIncluding and endExcluding.
		{"42475 in 7.2 range", "CVE-2022-42475.json", []string{"cpe:2.3:o:fortinet:fortios:7.2.2", fortigate}, exact, ""},
		{"42475 fixed 7.2.3", "CVE-2022-42475.json", []string{"cpe:2.3:o:fortinet:fortios:7.2.3", fortigate}, notAffected, ""},
		{"42475 device string", "CVE-2022-42475.json", []string{`cpe:2.3:o:fortinet:fortios:v7.2.2\,build1255`, fortigate}, exact, ""},
		{"42475 endIncluding 5.0.14", "CVE-2022-42475.json", []string{"cpe:2.3:o:fortinet:fortios:5.0.14", fortigate}, exact, ""},
		{"42475 6.0.15 below 6.0.16", "CVE-2022-42475.json", []string{"cpe:2.3:o:fortinet:fortios:6.0.15", fortigate}, exact, ""},
		{"42475 version unknown", "CVE-2022-42475.json", []string{"cpe:2.3:o:fortinet:fortios:*", fortigate}, check, match.ReasonVersionUnknown},
		{"42475 version unparseable", "CVE-2022-42475.json", []string{"cpe:2.3:o:fortinet:fortios:latest", fortigate}, check, match.ReasonVersionUnparseable},
		{"42475 family straddles fix", "CVE-2022-42475.json", []string{`cpe:2.3:o:fortinet:fortios:6.4.x`, fortigate}, check, match.ReasonVersionFamily},
		{"42475 family after all ranges", "CVE-2022-42475.json", []string{`cpe:2.3:o:fortinet:fortios:7.4.x`, fortigate}, notAffected, ""},
		{"42475 other product", "CVE-2022-42475.json", []string{"cpe:2.3:o:yamaha:rtx1210:14.01.38"}, notAffected, ""},
		{"21762 7.4.2", "CVE-2024-21762.json", []string{"cpe:2.3:o:fortinet:fortios:7.4.2"}, exact, ""},
		{"21762 7.4.3 fixed", "CVE-2024-21762.json", []string{"cpe:2.3:o:fortinet:fortios:7.4.3"}, notAffected, ""},
		{"21762 6.0.17", "CVE-2024-21762.json", []string{"cpe:2.3:o:fortinet:fortios:6.0.17"}, exact, ""},
		// Citrix: AND of firmware and a non-vulnerable hardware platform.
		{"19781 firmware on ADC", "CVE-2019-19781.json", []string{"cpe:2.3:o:citrix:application_delivery_controller_firmware:13.0-47.24", adcHW}, exact, ""},
		{"19781 platform not recorded", "CVE-2019-19781.json", []string{"cpe:2.3:o:citrix:application_delivery_controller_firmware:13.0-47.24"}, check, match.ReasonPlatformUnknown},
		{"19781 other platform", "CVE-2019-19781.json", []string{"cpe:2.3:o:citrix:application_delivery_controller_firmware:13.0-47.24", "cpe:2.3:h:citrix:sd-wan:-"}, notAffected, ""},
		{"19781 train not listed", "CVE-2019-19781.json", []string{"cpe:2.3:o:citrix:application_delivery_controller_firmware:14.1-8.50", adcHW}, notAffected, ""},
		// Citrix Bleed: dash builds in ranges, sw_edition variants.
		{"4966 13.1-49.14", "CVE-2023-4966.json", []string{"cpe:2.3:a:citrix:netscaler_application_delivery_controller:13.1-49.14:*:*:*:-"}, exact, ""},
		{"4966 13.1-49.15 fixed", "CVE-2023-4966.json", []string{"cpe:2.3:a:citrix:netscaler_application_delivery_controller:13.1-49.15:*:*:*:-"}, notAffected, ""},
		{"4966 FIPS 13.1-37.163", "CVE-2023-4966.json", []string{"cpe:2.3:a:citrix:netscaler_application_delivery_controller:13.1-37.163:*:*:*:fips"}, exact, ""},
		{"4966 FIPS 13.1-40.1 fixed", "CVE-2023-4966.json", []string{"cpe:2.3:a:citrix:netscaler_application_delivery_controller:13.1-40.1:*:*:*:fips"}, notAffected, ""},
		{"4966 edition unknown", "CVE-2023-4966.json", []string{"cpe:2.3:a:citrix:netscaler_application_delivery_controller:13.1-40.1"}, check, match.ReasonAttributeUnknown},
		{"4966 gateway 14.1-8.49", "CVE-2023-4966.json", []string{"cpe:2.3:a:citrix:netscaler_gateway:14.1-8.49"}, exact, ""},
		// PAN-OS: hotfixes enumerated in the CPE update.
		{"3400 10.2.9 base", "CVE-2024-3400.json", []string{"cpe:2.3:o:paloaltonetworks:pan-os:10.2.9"}, exact, ""},
		{"3400 10.2.9-h1 fixed", "CVE-2024-3400.json", []string{"cpe:2.3:o:paloaltonetworks:pan-os:10.2.9-h1"}, notAffected, ""},
		{"3400 11.1.2-h1", "CVE-2024-3400.json", []string{"cpe:2.3:o:paloaltonetworks:pan-os:11.1.2-h1"}, exact, ""},
		{"3400 11.1.2-h3 fixed", "CVE-2024-3400.json", []string{"cpe:2.3:o:paloaltonetworks:pan-os:11.1.2-h3"}, notAffected, ""},
		{"3400 hotfix split like NVD", "CVE-2024-3400.json", []string{"cpe:2.3:o:paloaltonetworks:pan-os:10.2.7:h6"}, exact, ""},
		{"3400 awaiting analysis", "CVE-2024-3400.awaiting-analysis-2024-04-13.json", []string{"cpe:2.3:o:paloaltonetworks:pan-os:10.2.9"}, notAffected, ""},
		// Cisco ASA: ranges AND hardware models; ASA notation converted.
		{"3452 9.8(4)15 on 5525-X", "CVE-2020-3452.json", []string{"cpe:2.3:o:cisco:adaptive_security_appliance_software:9.8\\(4\\)15", asaHW}, exact, ""},
		{"3452 9.8(4)20 fixed", "CVE-2020-3452.json", []string{"cpe:2.3:o:cisco:adaptive_security_appliance_software:9.8\\(4\\)20", asaHW}, notAffected, ""},
		{"3452 hardware unknown", "CVE-2020-3452.json", []string{"cpe:2.3:o:cisco:adaptive_security_appliance_software:9.8\\(4\\)15"}, check, match.ReasonPlatformUnknown},
		// SonicWall: SonicOS build strings, AND with models.
		{"40766 5.9 on SOHO", "CVE-2024-40766.json", []string{"cpe:2.3:o:sonicwall:sonicos:5.9.2.13-7o", "cpe:2.3:h:sonicwall:soho:-"}, exact, ""},
		{"40766 5.9 fixed", "CVE-2024-40766.json", []string{"cpe:2.3:o:sonicwall:sonicos:5.9.2.14-13o", "cpe:2.3:h:sonicwall:soho:-"}, notAffected, ""},
		{"40766 7.0.1-5035 on NSA 2700", "CVE-2024-40766.json", []string{"cpe:2.3:o:sonicwall:sonicos:7.0.1-5035", "cpe:2.3:h:sonicwall:nsa_2700:-"}, exact, ""},
		{"40766 7.0.1-5035 on NSA 2650", "CVE-2024-40766.json", []string{"cpe:2.3:o:sonicwall:sonicos:7.0.1-5035", "cpe:2.3:h:sonicwall:nsa_2650:-"}, notAffected, ""},
		// Ivanti / Pulse: release in the CPE update, vendor renamed.
		{"11510 9.0R3.3", "CVE-2019-11510.json", []string{"cpe:2.3:a:ivanti:connect_secure:9.0R3.3"}, exact, ""},
		{"11510 9.0R3.4 fixed", "CVE-2019-11510.json", []string{"cpe:2.3:a:ivanti:connect_secure:9.0R3.4"}, notAffected, ""},
		{"11510 split like NVD", "CVE-2019-11510.json", []string{"cpe:2.3:a:ivanti:connect_secure:8.2:r12.0"}, exact, ""},
		{"11510 old vendor name", "CVE-2019-11510.json", []string{"cpe:2.3:a:pulsesecure:pulse_connect_secure:9.0R3.3"}, notAffected, ""},
		{"46805 9.1R11.4", "CVE-2023-46805.json", []string{"cpe:2.3:a:ivanti:connect_secure:9.1R11.4"}, exact, ""},
		{"46805 9.0 train listed whole", "CVE-2023-46805.json", []string{"cpe:2.3:a:ivanti:connect_secure:9.0R6"}, exact, ""},
		{"46805 22.7R2.3", "CVE-2023-46805.json", []string{"cpe:2.3:a:ivanti:connect_secure:22.7R2.3"}, notAffected, ""},
		{"46805 train only", "CVE-2023-46805.json", []string{"cpe:2.3:a:ivanti:connect_secure:9.1"}, check, match.ReasonVersionFamily},
		// log4j: ranges and a beta in the CPE update.
		{"44228 2.14.1", "CVE-2021-44228.json", []string{"cpe:2.3:a:apache:log4j:2.14.1"}, exact, ""},
		{"44228 2.15.0", "CVE-2021-44228.json", []string{"cpe:2.3:a:apache:log4j:2.15.0"}, notAffected, ""},
		{"44228 2.0 beta9", "CVE-2021-44228.json", []string{"cpe:2.3:a:apache:log4j:2.0:beta9"}, exact, ""},
		// EternalBlue: vulnerable SMBv1 AND a Windows platform; Windows alone is not the product.
		{"0144 windows only", "CVE-2017-0144.json", []string{"cpe:2.3:o:microsoft:windows_7:-:sp1"}, notAffected, ""},
		{"0144 smb on windows 7", "CVE-2017-0144.json", []string{"cpe:2.3:a:microsoft:server_message_block:1.0", "cpe:2.3:o:microsoft:windows_7:-:sp1"}, exact, ""},
		// Siemens medical imaging: firmware AND hardware model.
		{"0708 MULTIX firmware on MULTIX", "CVE-2019-0708.json", []string{"cpe:2.3:o:siemens:axiom_multix_m_firmware:VB10A", "cpe:2.3:h:siemens:axiom_multix_m:-"}, exact, ""},
		// ESXi: update levels in the CPE update.
		{"21974 update unknown", "CVE-2021-21974.json", []string{"cpe:2.3:o:vmware:esxi:6.5"}, check, match.ReasonUpdateUnknown},
		{"21974 listed update", "CVE-2021-21974.json", []string{"cpe:2.3:o:vmware:esxi:6.5:650-201701001"}, exact, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := match.Evaluate(rulesFor(t, c.file), target(c.ids...))
			got := match.Confidence("")
			if res.Affected {
				got = res.Confidence
			}
			if got != c.want {
				t.Fatalf("confidence %q, want %q (reasons %v, hits %d)", got, c.want, res.Reasons, len(res.Hits))
			}
			if c.reason != "" && !slices.Contains(res.Reasons, c.reason) {
				t.Errorf("reasons %v, want %s", res.Reasons, c.reason)
			}
			if res.Affected && len(res.Hits) == 0 {
				t.Error("affected without hits")
			}
			if res.Confidence == match.ConfidenceExact && !res.Hits[0].Exact {
				t.Error("exact result whose first hit is not exact")
			}
		})
	}
}

// TestConfigLogic exercises AND, OR, negate and running-on semantics on
// hand-built rules (NVD's current data has no negate).
func TestConfigLogic(t *testing.T) {
	crit := func(s string, vuln bool, bounds ...string) *match.Criterion {
		b := append(bounds, "", "", "", "")
		c, err := match.NewCriterion(testReg, s, vuln, b[0], b[1], b[2], b[3])
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	app := crit("cpe:2.3:a:acme:viewer:*:*:*:*:*:*:*:*", true, "", "", "", "3.0")
	onWin := crit("cpe:2.3:o:microsoft:windows_10_22h2:-:*:*:*:*:*:*:*", false)
	onLinux := crit("cpe:2.3:o:linux:linux_kernel:*:*:*:*:*:*:*:*", false)
	rules := map[string]*match.Rules{
		"app AND NOT windows": {Configs: []match.Config{{Operator: "AND", Nodes: []match.Node{
			{Operator: "OR", Criteria: []*match.Criterion{app}},
			{Operator: "OR", Negate: true, Criteria: []*match.Criterion{onWin}},
		}}}},
		"NOT (app AND windows)": {Configs: []match.Config{{Operator: "AND", Negate: true, Nodes: []match.Node{
			{Operator: "OR", Criteria: []*match.Criterion{app}},
			{Operator: "OR", Criteria: []*match.Criterion{onWin}},
		}}}},
		"app AND (windows OR linux)": {Configs: []match.Config{{Operator: "AND", Nodes: []match.Node{
			{Operator: "OR", Criteria: []*match.Criterion{app}},
			{Operator: "OR", Criteria: []*match.Criterion{onWin, onLinux}},
		}}}},
		"app alone OR'd":              {Configs: []match.Config{{Nodes: []match.Node{{Operator: "OR", Criteria: []*match.Criterion{app}}}}}},
		"node AND of app and windows": {Configs: []match.Config{{Nodes: []match.Node{{Operator: "AND", Criteria: []*match.Criterion{app, onWin}}}}}},
	}
	win := "cpe:2.3:o:microsoft:windows_10_22h2:-"
	linux := "cpe:2.3:o:linux:linux_kernel:6.1"
	cases := []struct {
		rules string
		ids   []string
		want  match.Confidence
	}{
		{"app AND NOT windows", []string{"cpe:2.3:a:acme:viewer:2.0", linux}, exact},
		{"app AND NOT windows", []string{"cpe:2.3:a:acme:viewer:2.0", win}, notAffected},
		{"app AND NOT windows", []string{"cpe:2.3:a:acme:viewer:2.0"}, check},
		{"app AND NOT windows", []string{"cpe:2.3:a:acme:viewer:3.0", linux}, notAffected},
		{"NOT (app AND windows)", []string{"cpe:2.3:a:acme:viewer:2.0", linux}, notAffected},
		{"NOT (app AND windows)", []string{linux}, notAffected},
		{"app AND (windows OR linux)", []string{"cpe:2.3:a:acme:viewer:2.0", linux}, exact},
		{"app AND (windows OR linux)", []string{"cpe:2.3:a:acme:viewer:2.0", "cpe:2.3:o:apple:macos:14.0"}, notAffected},
		{"app AND (windows OR linux)", []string{"cpe:2.3:a:acme:viewer:2.0"}, check},
		{"app AND (windows OR linux)", []string{"cpe:2.3:a:acme:viewer:*", win}, check},
		{"app alone OR'd", []string{"cpe:2.3:a:acme:viewer:2.9.9"}, exact},
		{"app alone OR'd", []string{linux}, notAffected},
		{"node AND of app and windows", []string{"cpe:2.3:a:acme:viewer:1.0", win}, exact},
		{"node AND of app and windows", []string{"cpe:2.3:a:acme:viewer:1.0", linux}, notAffected},
	}
	for _, c := range cases {
		res := match.Evaluate(rules[c.rules], target(c.ids...))
		got := match.Confidence("")
		if res.Affected {
			got = res.Confidence
		}
		if got != c.want {
			t.Errorf("%s with %v: %q, want %q (reasons %v)", c.rules, c.ids, got, c.want, res.Reasons)
		}
	}
}

func TestIndexMatch(t *testing.T) {
	x := match.NewIndex(testReg)
	put := func(id string, ids ...string) {
		var names []cpe.Name
		for _, s := range ids {
			names = append(names, cpe.MustParse(s))
		}
		x.Put(id, names)
	}
	put("fgt-old", "cpe:2.3:o:fortinet:fortios:7.2.2", "cpe:2.3:h:fortinet:fortigate-60f:-")
	put("fgt-old-2", "cpe:2.3:h:fortinet:fortigate-60f:-", "cpe:2.3:o:fortinet:fortios:7.2.2")
	put("fgt-new", "cpe:2.3:o:fortinet:fortios:7.2.3", "cpe:2.3:h:fortinet:fortigate-60f:-")
	put("fgt-unknown", "cpe:2.3:o:fortinet:fortios:*")
	put("rtx", "cpe:2.3:o:yamaha:rtx1210:14.01.38")
	if x.Len() != 5 || x.Groups() != 4 {
		t.Fatalf("Len %d Groups %d", x.Len(), x.Groups())
	}
	match := func() map[string]match.Confidence {
		got := map[string]match.Confidence{}
		for _, g := range x.Match(rulesFor(t, "CVE-2022-42475.json")) {
			for _, id := range g.AssetIDs {
				got[id] = g.Confidence
			}
		}
		return got
	}
	got := match()
	if len(got) != 3 || got["fgt-old"] != exact || got["fgt-old-2"] != exact || got["fgt-unknown"] != check {
		t.Errorf("Match = %v", got)
	}
	put("fgt-old", "cpe:2.3:o:fortinet:fortios:7.2.4")
	x.Delete("fgt-unknown")
	x.Delete("no-such-asset")
	if got := match(); len(got) != 1 || got["fgt-old-2"] != exact || x.Len() != 4 {
		t.Errorf("after update and delete: %v, len %d", got, x.Len())
	}
	x.Delete("fgt-old-2")
	if got := match(); len(got) != 0 || x.Groups() != 3 {
		t.Errorf("after deleting the last member: %v, groups %d", got, x.Groups())
	}
}
