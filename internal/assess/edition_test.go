package assess

import (
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/medisac/medisac/internal/db/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func TestBuiltinEditionsLoad(t *testing.T) {
	es, err := LoadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"mhlw-r6-institution", "mhlw-r7-institution", "mhlw-r6-vendor", "mhlw-r7-vendor", "mhlw-r6-pharmacy",
		"mhlw-r7-pharmacy", "mhlw-2024-08-urgent", "online-doctor", "online-vendor", "online-patient"}
	got := map[string]*Edition{}
	for _, e := range es {
		got[e.ID] = e
	}
	for _, id := range want {
		if got[id] == nil {
			t.Errorf("edition %s not shipped", id)
		}
	}
	// The R6 institution sheet has 14 cells in section 2 (item × device
	// class) and 3 items in section 3.
	r6 := got["mhlw-r6-institution"]
	cells := 0
	for _, it := range r6.Sections[2].Items {
		cells += len(it.CellIDs())
	}
	if cells != 14 || len(r6.Sections[3].Items) != 3 {
		t.Errorf("R6 section 2 has %d cells, section 3 %d items", cells, len(r6.Sections[3].Items))
	}
	r7 := got["mhlw-r7-institution"]
	if r7.Item("two_factor").DueFY != 2027 {
		t.Errorf("two-factor item due %d", r7.Item("two_factor").DueFY)
	}
	if len(r7.Gates) != 1 || r7.Gates[0].Item != "has_system" {
		t.Errorf("R7 gates %+v", r7.Gates)
	}
	for _, e := range es {
		if e.Unverified == "" {
			t.Errorf("%s: every shipped edition is still to be checked against the original and must say so", e.ID)
		}
		if len(e.Items()) == 0 {
			t.Errorf("%s has no items", e.ID)
		}
	}
}

// TestItemIDsStable checks that within each edition ids are unique (the
// parser refuses duplicates), that the same text carries the same id in
// every MHLW sheet, and that an id kept across years of one family names
// the same question (same text, unless a side is marked unverified).
func TestItemIDsStable(t *testing.T) {
	es, err := LoadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	byText := map[string]string{}
	type seen struct {
		text, edition string
		unverified    bool
	}
	byFamilyID := map[string]seen{}
	for _, e := range es {
		ids := map[string]bool{}
		for _, it := range e.Items() {
			if ids[it.ID] {
				t.Errorf("%s: id %s twice", e.ID, it.ID)
			}
			ids[it.ID] = true
			if strings.HasPrefix(e.Family, "mhlw-") {
				if prev, ok := byText[it.Text]; ok && prev != it.ID {
					t.Errorf("%s: text %q has id %s here and %s elsewhere", e.ID, it.Text, it.ID, prev)
				}
				byText[it.Text] = it.ID
			}
			k := e.Family + "/" + it.ID
			if p, ok := byFamilyID[k]; ok && p.text != it.Text && !p.unverified && it.Unverified == "" {
				t.Errorf("%s: id %s means %q in %s but %q here", e.ID, it.ID, p.text, p.edition, it.Text)
			}
			byFamilyID[k] = seen{it.Text, e.ID, it.Unverified != ""}
		}
	}
	// Items that exist in both years keep their ids.
	r6, r7 := find(es, "mhlw-r6-institution"), find(es, "mhlw-r7-institution")
	for _, id := range []string{"has_system", "manager", "register", "remote_maintenance", "mds_sds", "access_rights",
		"unused_accounts", "access_log", "patch", "source_restrict", "stop_services", "contact_chart", "backup", "bcp"} {
		if r6.Item(id) == nil || r7.Item(id) == nil {
			t.Errorf("item %s missing in R6 or R7", id)
		}
	}
}

func find(es []*Edition, id string) *Edition {
	for _, e := range es {
		if e.ID == id {
			return e
		}
	}
	return nil
}

func TestParseEditionErrors(t *testing.T) {
	head := "id: x\nkind: survey\ntitle: T\nfiscal_year: 2025\n"
	cases := []struct {
		name, src string
		line      int
		reason    string
	}{
		{"syntax", head + "sections: [\n", 5, "did not find expected"},
		{"unknown field", head + "colour: red\nsections: []\n", 5, "field colour not found"},
		{"no sections", head, 1, "no sections"},
		{"bad id", "id: X Y\nkind: survey\ntitle: T\nfiscal_year: 2025\n", 1, "id \"X Y\""},
		{"duplicate item", head + "sections:\n  - id: a\n    title: A\n    items:\n      - {id: q, text: one}\n      - {id: q, text: two}\n", 10, "used twice"},
		{"bad type", head + "sections:\n  - id: a\n    title: A\n    items:\n      - id: q\n        text: one\n        type: essay\n", 9, "unknown type"},
		{"undeclared cell", head + "sections:\n  - id: a\n    title: A\n    items:\n      - {id: q, text: one, cells: [server]}\n", 9, "not declared"},
		{"choice without options", head + "sections:\n  - id: a\n    title: A\n    items:\n      - {id: q, text: one, type: choice}\n", 9, "at least two options"},
		{"gate on unknown item", head + "gates:\n  - {item: nope, answer: \"no\"}\nsections:\n  - id: a\n    title: A\n    items:\n      - {id: q, text: one}\n", 6, "unknown item"},
		{"due before edition", head + "sections:\n  - id: a\n    title: A\n    items:\n      - {id: q, text: one, due_fy: 2020}\n", 9, "due_fy"},
		{"empty", "", 0, "empty file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseEdition("broken.yaml", []byte(c.src))
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FileError", err)
			}
			if fe.File != "broken.yaml" || fe.Line != c.line || !strings.Contains(fe.Reason, c.reason) {
				t.Errorf("got %s:%d %q, want line %d containing %q", fe.File, fe.Line, fe.Reason, c.line, c.reason)
			}
			if !strings.HasPrefix(err.Error(), "broken.yaml") {
				t.Errorf("message %q does not start with the file", err)
			}
		})
	}
}

// TestBrokenDirectoryStopsLoading is what happens at start: one broken
// file among good ones fails the whole load, naming it.
func TestBrokenDirectoryStopsLoading(t *testing.T) {
	good, err := editionsFS.ReadFile("editions/mhlw-2024-08-urgent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"e/a.yaml": {Data: good},
		"e/b.yaml": {Data: []byte("id: b\nkind: survey\ntitle: B\nfiscal_year: 2025\nsections:\n  - id: s\n    title: S\n    items:\n      - {id: q, text: x, type: number, min: 5, max: 1}\n")},
	}
	_, err = loadDir(fsys, "e")
	if err == nil || err.Error() != "b.yaml:9: item \"q\": min is larger than max" {
		t.Fatalf("got %v", err)
	}
	fsys["e/b.yaml"] = &fstest.MapFile{Data: good}
	if _, err := loadDir(fsys, "e"); err == nil || !strings.Contains(err.Error(), "also used by a.yaml") {
		t.Fatalf("duplicate edition id: %v", err)
	}
}

func FuzzParseEdition(f *testing.F) {
	for _, name := range []string{"mhlw-2024-08-urgent.yaml", "online-patient.yaml"} {
		b, err := editionsFS.ReadFile("editions/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("id: x\nkind: survey\ntitle: T\nfiscal_year: 2025\nsections:\n  - id: a\n    title: A\n    items:\n      - {id: q, text: one, type: multi, options: [{id: a, label: A}, {id: b, label: B}]}\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEdition("f.yaml", data)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v is not a FileError", err, err)
			}
			return
		}
		for _, it := range e.Items() {
			if e.Item(it.ID) != it {
				t.Fatalf("item %s not indexed", it.ID)
			}
		}
	})
}
