package match_test

import (
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/match"
)

func TestIdentify(t *testing.T) {
	al := match.DefaultAliases()
	cases := []struct {
		name                        string
		vendor, product, model, ver string
		cpe                         string
		want                        []string
		source                      string
	}{
		{"FortiGate as Japanese staff type it", "フォーティネット", "FortiGate", "FG-60F", "v7.2.4,build1396 (GA.F)", "",
			[]string{"cpe:2.3:o:fortinet:fortios:7.2.4:*:*:*:*:*:*:*", "cpe:2.3:h:fortinet:fortigate-60f:-:*:*:*:*:*:*:*"}, "alias"},
		{"full-width FortiGate", "ＦＯＲＴＩＮＥＴ", "ＦｏｒｔｉＧａｔｅ　６０Ｆ", "", "７．２．４", "",
			[]string{"cpe:2.3:o:fortinet:fortios:7.2.4:*:*:*:*:*:*:*", "cpe:2.3:h:fortinet:fortigate-60f:-:*:*:*:*:*:*:*"}, "alias"},
		{"product alone names the vendor", "", "FortiGate", "FGT60F", "6.4.11", "",
			[]string{"cpe:2.3:o:fortinet:fortios:6.4.11:*:*:*:*:*:*:*", "cpe:2.3:h:fortinet:fortigate-60f:-:*:*:*:*:*:*:*"}, "alias"},
		{"YAMAHA RTX in katakana", "ヤマハ株式会社", "RTX1210", "", "Rev.14.01.38", "",
			[]string{"cpe:2.3:o:yamaha:rtx1210_firmware:14.01.38:*:*:*:*:*:*:*", "cpe:2.3:h:yamaha:rtx1210:-:*:*:*:*:*:*:*"}, "alias"},
		{"YAMAHA in hiragana", "やまは", "ＲＴＸ８３０", "", "15.02.30", "",
			[]string{"cpe:2.3:o:yamaha:rtx830_firmware:15.02.30:*:*:*:*:*:*:*", "cpe:2.3:o:yamaha:rtx830:15.02.30:*:*:*:*:*:*:*"}, "alias"},
		{"NEC UNIVERGE IX as 日本電気", "日本電気", "UNIVERGE IX", "IX2106", "10.6.21", "",
			[]string{"cpe:2.3:o:nec:univerge_ix2106_firmware:10.6.21:*:*:*:*:*:*:*", "cpe:2.3:h:nec:univerge_ix2106:-:*:*:*:*:*:*:*", "cpe:2.3:o:nec:ix2106:10.6.21:*:*:*:*:*:*:*"}, "alias"},
		{"Cisco ASA", "シスコシステムズ合同会社", "ASA", "ASA5525-X", "9.8(4)15", "",
			[]string{"cpe:2.3:o:cisco:adaptive_security_appliance_software:9.8.4.15:*:*:*:*:*:*:*", "cpe:2.3:h:cisco:asa_5525-x:-:*:*:*:*:*:*:*"}, "alias"},
		{"Cisco IOS", "Cisco", "IOS", "C1111-4P", "15.2(4)M7", "",
			[]string{`cpe:2.3:o:cisco:ios:15.2\(4\)m7:*:*:*:*:*:*:*`, "cpe:2.3:h:cisco:c1111-4p:-:*:*:*:*:*:*:*"}, "alias"},
		{"PAN-OS with hotfix", "パロアルトネットワークス", "PA-220", "", "10.2.9-h1", "",
			[]string{"cpe:2.3:o:paloaltonetworks:pan-os:10.2.9-h1:*:*:*:*:*:*:*", "cpe:2.3:h:paloaltonetworks:pa-220:-:*:*:*:*:*:*:*"}, "alias"},
		{"SonicWall NSA", "SonicWall", "NSA 2700", "", "7.0.1-5035", "",
			[]string{"cpe:2.3:o:sonicwall:sonicos:7.0.1-5035:*:*:*:*:*:*:*", "cpe:2.3:h:sonicwall:nsa_2700:-:*:*:*:*:*:*:*"}, "alias"},
		{"Citrix ADC FIPS", "Citrix", "NetScaler ADC", "MPX 8905", "13.1-37.164 FIPS", "",
			[]string{"cpe:2.3:a:citrix:netscaler_application_delivery_controller:13.1-37.164:*:*:*:fips:*:*:*", "cpe:2.3:o:citrix:application_delivery_controller_firmware:13.1-37.164:*:*:*:*:*:*:*", "cpe:2.3:h:citrix:application_delivery_controller:-:*:*:*:*:*:*:*"}, "alias"},
		{"Citrix Gateway", "シトリックス", "Citrix Gateway", "", "13.0-92.18", "",
			[]string{"cpe:2.3:a:citrix:netscaler_gateway:13.0-92.18:*:*:*:-:*:*:*"}, "alias"},
		{"Pulse Connect Secure, both vendor names", "Pulse Secure", "Pulse Connect Secure", "PSA3000", "9.0R3.3", "",
			[]string{"cpe:2.3:a:ivanti:connect_secure:9.0r3.3:*:*:*:*:*:*:*", "cpe:2.3:a:pulsesecure:pulse_connect_secure:9.0r3.3:*:*:*:*:*:*:*"}, "alias"},
		{"Sophos", "ソフォス", "Sophos Firewall", "XGS 2100", "19.5.3", "",
			[]string{"cpe:2.3:o:sophos:sfos:19.5.3:*:*:*:*:*:*:*"}, "alias"},
		{"WatchGuard", "WatchGuard", "Firebox", "T40", "12.10.3", "",
			[]string{"cpe:2.3:o:watchguard:fireware:12.10.3:*:*:*:*:*:*:*", "cpe:2.3:h:watchguard:firebox_t40:-:*:*:*:*:*:*:*"}, "alias"},
		{"Allied Telesis", "アライドテレシス", "AT-x510-28GTX", "", "5.4.9-2.4", "",
			[]string{"cpe:2.3:o:alliedtelesis:at-x510-28gtx_firmware:5.4.9-2.4:*:*:*:*:*:*:*", "cpe:2.3:h:alliedtelesis:at-x510-28gtx:-:*:*:*:*:*:*:*"}, "alias"},
		{"Buffalo in katakana", "バッファロー", "TeraStation", "TS5410DN", "4.02", "",
			[]string{"cpe:2.3:o:buffalo:ts5410dn_firmware:4.02:*:*:*:*:*:*:*", "cpe:2.3:h:buffalo:ts5410dn:-:*:*:*:*:*:*:*"}, "alias"},
		{"Windows 10 22H2 build", "Microsoft", "Windows 10 Pro", "", "10.0.19045.3803", "",
			[]string{"cpe:2.3:o:microsoft:windows_10_22h2:10.0.19045.3803:*:*:*:*:*:*:*"}, "windows"},
		{"Windows Server 2019 from winver", "マイクロソフト", "Windows Server 2019 Standard", "", "Version 1809 (OS Build 17763.5206)", "",
			[]string{"cpe:2.3:o:microsoft:windows_server_2019:10.0.17763.5206:*:*:*:*:*:*:*"}, "windows"},
		{"Windows 7 SP1", "Microsoft", "Windows 7 Professional", "", "6.1.7601", "",
			[]string{"cpe:2.3:o:microsoft:windows_7:-:sp1:*:*:*:*:*:*"}, "windows"},
		{"Windows Server 2012 R2 by name", "Microsoft", "Windows Server 2012 R2", "", "", "",
			[]string{"cpe:2.3:o:microsoft:windows_server_2012:r2:*:*:*:*:*:*:*"}, "windows"},
		{"ESXi update", "VMware", "ESXi", "", "7.0 Update 1a", "",
			[]string{"cpe:2.3:o:vmware:esxi:7.0.0:update_1a:*:*:*:*:*:*"}, "alias"},
		{"registered CPE comes first, with its renamed form", "", "", "", "", "cpe:2.3:a:pulsesecure:pulse_connect_secure:9.0r3.3",
			[]string{"cpe:2.3:a:pulsesecure:pulse_connect_secure:9.0r3.3:*:*:*:*:*:*:*", "cpe:2.3:a:ivanti:connect_secure:9.0r3.3:*:*:*:*:*:*:*"}, "cpe"},
		{"Fujitsu product not in the table", "富士通株式会社", "PRIMERGY RX2530", "", "1.2", "",
			[]string{"cpe:2.3:o:fujitsu:primergy_rx2530:1.2:*:*:*:*:*:*:*", "cpe:2.3:a:fujitsu:primergy_rx2530:1.2:*:*:*:*:*:*:*"}, "guess"},
		{"Canon as キャノン", "キャノン", "imageRUNNER ADVANCE", "", "", "",
			[]string{"cpe:2.3:o:canon:imagerunner_advance:*:*:*:*:*:*:*:*"}, "guess"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := al.Identify(c.vendor, c.product, c.model, c.ver, c.cpe)
			if len(got) == 0 {
				t.Fatal("no candidates")
			}
			if got[0].Source != c.source {
				t.Errorf("source %q, want %q", got[0].Source, c.source)
			}
			have := map[string]bool{}
			for _, g := range got {
				have[g.CPE] = true
				if g.Rule == "" {
					t.Errorf("%s: no rule", g.CPE)
				}
			}
			for _, w := range c.want {
				if !have[w] {
					var list []string
					for _, g := range got {
						list = append(list, g.CPE)
					}
					t.Errorf("missing %s in\n%s", w, strings.Join(list, "\n"))
				}
			}
		})
	}
	if got := al.Identify("Unknown Maker", "Widget", "", "1.0", ""); len(got) != 0 {
		t.Errorf("unknown vendor gave %v", got)
	}
	if got := al.Identify("富士通", "電子カルテ", "", "1.0", ""); len(got) != 0 {
		t.Errorf("a product name no CPE can hold gave %v", got)
	}
	if got := al.Identify("富士通", "電子カルテ", "HOPE LifeMark-HX", "1.0", ""); len(got) == 0 || got[0].CPE != "cpe:2.3:o:fujitsu:hope_lifemark-hx:1.0:*:*:*:*:*:*:*" {
		t.Errorf("model used when the product is Japanese: %v", got)
	}
	x := match.NewIndex(testReg)
	for _, c := range al.Identify("キヤノン", "複合機 iR-ADV C5535", "", "１．０", "") {
		x.Put("printer", []cpe.Name{c.Name})
	}
}

// TestIdentifyThenMatch runs the whole path: inventory fields → identities
// → NVD rules.
func TestIdentifyThenMatch(t *testing.T) {
	al := match.DefaultAliases()
	cases := []struct {
		file                        string
		vendor, product, model, ver string
		want                        match.Confidence
	}{
		{"CVE-2022-42475.json", "フォーティネット", "FortiGate", "FG-60F", "v7.2.2,build1255 (GA.F)", exact},
		{"CVE-2022-42475.json", "フォーティネット", "FortiGate", "FG-60F", "7.2.3", notAffected},
		{"CVE-2019-19781.json", "Citrix", "Citrix ADC", "MPX 8905", "13.0-47.24", exact},
		{"CVE-2023-4966.json", "Citrix", "NetScaler ADC", "", "13.1-49.14", exact},
		{"CVE-2020-3452.json", "Cisco", "ASA", "ASA5525-X", "9.8(4)15", exact},
		{"CVE-2024-3400.json", "Palo Alto Networks", "PA-220", "", "11.1.2-h1", exact},
		{"CVE-2019-11510.json", "Pulse Secure", "Pulse Connect Secure", "", "9.0R3.3", exact},
		{"CVE-2023-46805.json", "Ivanti", "Connect Secure", "", "9.1R11.4", exact},
		{"CVE-2024-40766.json", "SonicWall", "NSA 2700", "", "7.0.1-5035", exact},
	}
	for _, c := range cases {
		tg := match.NewTarget("a", match.Names(al.Identify(c.vendor, c.product, c.model, c.ver, "")), testReg)
		res := match.Evaluate(rulesFor(t, c.file), tg)
		got := match.Confidence("")
		if res.Affected {
			got = res.Confidence
		}
		if got != c.want {
			t.Errorf("%s %s %s %s: %q, want %q (%v)", c.file, c.product, c.model, c.ver, got, c.want, res.Reasons)
		}
	}
}
