package inventory

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

func readNmap(t testing.TB, name string) *NmapScan {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseNmap(bytes.NewReader(b), 0)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

func TestParseNmapRealFiles(t *testing.T) {
	cases := []struct {
		file      string
		hosts     int
		checkHost func(t *testing.T, hs []NmapHost)
	}{
		{"libnmap-dionaea_scan.xml", 1, func(t *testing.T, hs []NmapHost) {
			var found *NmapHost
			for i := range hs {
				if len(hs[i].Ports) > 10 {
					found = &hs[i]
				}
			}
			if found == nil || found.OSGuess != "Linux 4.15 - 5.6" || found.OSAccuracy != 100 || len(found.CPEs) == 0 {
				t.Errorf("dionaea host %+v", found)
			}
		}},
		{"libnmap-full_sudo6.xml", 4, nil},
		{"libnmap-os_scan6.xml", 3, nil},
		{"nmap-ndiff-complex.xml", 1, func(t *testing.T, hs []NmapHost) {
			if hs[0].IP() == "" || len(hs[0].Ports) == 0 {
				t.Errorf("complex host %+v", hs[0])
			}
			for _, p := range hs[0].Ports {
				if p.Protocol == "udp" {
					return
				}
			}
			t.Errorf("no udp port in %+v", hs[0].Ports)
		}},
		{"nmap-ndiff-random-1.xml", 55, nil},
		{"nmap-radialnet-example.xml", 8, func(t *testing.T, hs []NmapHost) {
			h := hs[0]
			if h.IPv4 != "66.35.250.168" || h.Hostnames[0] != "freshmeat.net" || len(h.Ports) != 1 || h.Ports[0].Product != "Apache httpd" ||
				h.Ports[0].Version != "1.3.39 (Unix) PHP/4.4.7" || h.OSGuess == "" || h.OSType != "software router" {
				t.Errorf("radialnet host %+v", h)
			}
		}},
	}
	for _, tc := range cases {
		s := readNmap(t, tc.file)
		if len(s.Hosts) != tc.hosts {
			t.Errorf("%s: %d hosts, want %d", tc.file, len(s.Hosts), tc.hosts)
			continue
		}
		if tc.checkHost != nil {
			tc.checkHost(t, s.Hosts)
		}
	}
}

func TestParseNmapHostile(t *testing.T) {
	for _, name := range []string{"hostile-xxe.xml", "malformed.xml"} {
		b, _ := os.ReadFile(filepath.Join("testdata", name))
		if _, err := ParseNmap(bytes.NewReader(b), 0); !errors.Is(err, ErrNotNmap) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	bad := []string{
		`<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY a "x">]><nmaprun><host><address addr="&a;" addrtype="ipv4"/></host></nmaprun>`,
		`<?xml version="1.0"?><nmaprun><host><address addr="&ext;" addrtype="ipv4"/></host></nmaprun>`,
		`<?xml version="1.0" encoding="UTF-16"?><nmaprun/>`,
		`<html><body>not nmap</body></html>`,
		`<nmaprun><host>`,
		``,
	}
	for _, s := range bad {
		if _, err := ParseNmap(strings.NewReader(s), 0); !errors.Is(err, ErrNotNmap) {
			t.Errorf("%q: got %v", s, err)
		}
	}
	big := `<nmaprun>` + strings.Repeat(" ", 2000) + `</nmaprun>`
	if _, err := ParseNmap(strings.NewReader(big), 1000); !errors.Is(err, ErrNotNmap) {
		t.Errorf("oversized: %v", err)
	}
}

func TestNmapPreviewApply(t *testing.T) {
	eachTwoOrgs(t, func(t *testing.T, d *db.DB, org, other string) {
		ctx := context.Background()
		scan := readNmap(t, "nmap-radialnet-example.xml")
		// An existing asset known by its IP address, one by hostname.
		web := must[Asset](t)(CreateAsset(ctx, d, org, "", Asset{Name: "freshmeat", IP: "66.35.250.168", Kind: KindServer}, t0))
		h1 := scan.Hosts[1]
		byHost := must[Asset](t)(CreateAsset(ctx, d, org, "", Asset{Name: "二台目", Hostname: strings.ToUpper(h1.Hostnames[0])}, t0))
		// Another organisation's asset with the same IP is never matched.
		must[Asset](t)(CreateAsset(ctx, d, other, "", Asset{Name: "他院", IP: scan.Hosts[2].IPv4}, t0))

		props, err := PreviewNmap(ctx, d, org, scan)
		if err != nil {
			t.Fatal(err)
		}
		if len(props) != 8 {
			t.Fatalf("%d proposals", len(props))
		}
		if props[0].Status != RowChanged || props[0].AssetID != web.ID || props[0].MatchedBy != "ip" {
			t.Errorf("proposal 0 %+v", props[0])
		}
		changed := map[string]FieldChange{}
		for _, c := range props[0].Changes {
			changed[c.Field] = c
		}
		if changed["open_ports"].New != "80/tcp http Apache httpd 1.3.39 (Unix) PHP/4.4.7" || changed["hostname"].New != "freshmeat.net" || changed["os_guess"].New == "" {
			t.Errorf("changes %+v", props[0].Changes)
		}
		if props[1].AssetID != byHost.ID || props[1].MatchedBy != "hostname" {
			t.Errorf("proposal 1 %+v", props[1])
		}
		if props[2].Status != RowNew || props[2].Proposed.Name == "" || props[2].Proposed.IP != scan.Hosts[2].IPv4 {
			t.Errorf("proposal 2 %+v", props[2])
		}
		if n := countRows(t, d, "inv_assets"); n != 3 {
			t.Fatalf("preview wrote: %d assets", n)
		}
		if _, err := ApplyNmap(ctx, d, org, "u1", scan, []int{99}, t0); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("bad index: %v", err)
		}
		applied, err := ApplyNmap(ctx, d, org, "u1", scan, []int{0, 2}, t0)
		if err != nil || len(applied) != 2 {
			t.Fatalf("apply %v %d", err, len(applied))
		}
		got := must[Asset](t)(GetAsset(ctx, d, org, web.ID))
		if len(got.OpenPorts) != 1 || got.OpenPorts[0].Product != "Apache httpd" || got.Kind != KindServer || got.Name != "freshmeat" {
			t.Errorf("updated %+v", got)
		}
		if _, err := GetAsset(ctx, d, org, applied[1].AssetID); err != nil {
			t.Errorf("created: %v", err)
		}
		// Accepted proposals are now unchanged; a second apply writes nothing.
		props = must[[]NmapProposal](t)(PreviewNmap(ctx, d, org, scan))
		if props[0].Status != RowUnchanged || props[2].Status != RowUnchanged {
			t.Errorf("after apply: %s %s", props[0].Status, props[2].Status)
		}
		h := must[[]HistoryEntry](t)(AssetHistory(ctx, d, org, web.ID))
		if len(h) != 2 {
			t.Errorf("history %d", len(h))
		}
		flags := must[map[string][]Flag](t)(AssetFlags(ctx, d, org, "2026-04-01"))
		if len(flags[web.ID]) != 1 || flags[web.ID][0].Code != FlagUnexplainedPort {
			t.Errorf("flags %+v", flags[web.ID])
		}
	})
}

func TestNmapLargeSweep(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "A")
		scan := readNmap(t, "nmap-ndiff-random-1.xml")
		props := must[[]NmapProposal](t)(PreviewNmap(ctx, d, org, scan))
		all := make([]int, len(props))
		names := map[string]bool{}
		for i, p := range props {
			all[i] = i
			if names[p.Proposed.Name] {
				t.Errorf("duplicate proposed name %s", p.Proposed.Name)
			}
			names[p.Proposed.Name] = true
		}
		if _, err := ApplyNmap(ctx, d, org, "", scan, all, t0); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, d, "inv_assets"); n != 55 {
			t.Errorf("%d assets", n)
		}
	})
}

func TestImportNmapFile(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "A")
		data, _ := os.ReadFile("testdata/nmap-radialnet-example.xml")
		if DetectFormat("scan.xml", data) != "nmap" || DetectFormat("a.bin", data) != "nmap" || DetectFormat("a.csv", []byte(assetCSV)) != "csv" || DetectFormat("x", buildTestXLSX(t)) != "xlsx" {
			t.Error("DetectFormat")
		}
		p, err := ImportNmapFile(ctx, d, org, "", data, true, t0)
		if err != nil || len(p) != 8 || countRows(t, d, "inv_assets") != 0 {
			t.Fatalf("dry run %v %d", err, len(p))
		}
		if _, err := ImportNmapFile(ctx, d, org, "", data, false, t0); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, d, "inv_assets"); n != 8 {
			t.Errorf("%d assets", n)
		}
		bad, _ := os.ReadFile("testdata/hostile-xxe.xml")
		if _, err := ImportNmapFile(ctx, d, org, "", bad, false, t0); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("hostile: %v", err)
		}
	})
}
