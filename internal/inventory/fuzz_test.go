package inventory

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte(assetCSV))
	f.Add(append([]byte("\uFEFF"), assetCSV...))
	f.Add(sjis(f, assetCSV))
	f.Add([]byte("名称\t種別\nA\tPC\n"))
	f.Add([]byte("\"unterminated,\n"))
	f.Add([]byte{0xFF, 0xFE, 'a', 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, _, err := ReadCSV(data, 1000)
		if err == nil && len(rows) > 1000 {
			t.Fatalf("%d rows past the limit", len(rows))
		}
	})
}

func FuzzParseNmap(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<nmaprun><host><status state="up"/><address addr="10.0.0.1" addrtype="ipv4"/><ports><port protocol="tcp" portid="22"><state state="open"/></port></ports></host></nmaprun>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseNmap(bytes.NewReader(data), 1<<20)
		if err != nil {
			return
		}
		for _, h := range s.Hosts {
			if h.IP() == "" && h.MAC == "" {
				t.Fatalf("host without address: %+v", h)
			}
			for _, p := range h.Ports {
				if p.Port < 0 || p.Port > 65535 {
					t.Fatalf("bad port %d", p.Port)
				}
			}
		}
	})
}
