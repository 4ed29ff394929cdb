package cpe

import (
	"errors"
	"testing"
)

func TestParseFS(t *testing.T) {
	cases := []struct {
		in      string
		attr    Attribute
		want    Value
		text    string
		formats string
	}{
		{"cpe:2.3:o:fortinet:fortios:7.2.4:*:*:*:*:*:*:*", Version, Value{Kind: Str, V: `7\.2\.4`}, "7.2.4", ""},
		{"cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*", Version, AnyValue, "", ""},
		{"cpe:2.3:h:citrix:application_delivery_controller:-:*:*:*:*:*:*:*", Version, NAValue, "", ""},
		// Escapes as they appear in NVD's CVE-2021-44228 criteria.
		{`cpe:2.3:o:cisco:ios:11.5\(1\):*:*:*:*:*:*:*`, Version, Value{Kind: Str, V: `11\.5\(1\)`}, "11.5(1)", ""},
		{`cpe:2.3:a:siemens:logo\!_soft_comfort:*:*:*:*:*:*:*:*`, Product, Value{Kind: Str, V: `logo\!_soft_comfort`}, "logo!_soft_comfort", ""},
		{`cpe:2.3:a:cisco:dna_spaces\:_connector:-:*:*:*:*:*:*:*`, Product, Value{Kind: Str, V: `dna_spaces\:_connector`}, "dna_spaces:_connector", ""},
		{`cpe:2.3:a:netapp:solidfire_\&_hci_management_node:-:*:*:*:*:*:*:*`, Product, Value{Kind: Str, V: `solidfire_\&_hci_management_node`}, "solidfire_&_hci_management_node", ""},
		// Case folds; wildcards at the ends stay unquoted.
		{"CPE:2.3:A:Microsoft:Internet_Explorer:8.*:SP?:*:*:*:*:*:*", Version, Value{Kind: Str, V: `8\.*`}, "8.*", "cpe:2.3:a:microsoft:internet_explorer:8.*:sp?:*:*:*:*:*:*"},
		{"cpe:2.3:a:hp:insight_diagnostics:7.4.0.1570:-:*:*:online:win2003:x64:*", TargetHW, Value{Kind: Str, V: "x64"}, "x64", ""},
		{`cpe:2.3:a:foo\\bar:big\$money_2010:*:*:*:*:special:ipod_touch:80gb:*`, Vendor, Value{Kind: Str, V: `foo\\bar`}, `foo\bar`, ""},
		{"cpe:2.3:a:??ache:*http*:*:*:*:*:*:*:*:*", Vendor, Value{Kind: Str, V: "??ache"}, "??ache", ""},
		// Short names are padded with ANY.
		{"cpe:2.3:o:fortinet:fortios:7.2.4", Update, AnyValue, "", "cpe:2.3:o:fortinet:fortios:7.2.4:*:*:*:*:*:*:*"},
		// A value that is a single quoted hyphen must not turn into NA.
		{`cpe:2.3:a:x:y:\-:*:*:*:*:*:*:*`, Version, Value{Kind: Str, V: `\-`}, "-", ""},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			n, err := Parse(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if n[c.attr] != c.want {
				t.Errorf("%s = %#v, want %#v", c.attr, n[c.attr], c.want)
			}
			if got := n.Text(c.attr); got != c.text {
				t.Errorf("Text(%s) = %q, want %q", c.attr, got, c.text)
			}
			want := c.formats
			if want == "" {
				want = c.in
			}
			if got := n.FormatFS(); got != want {
				t.Errorf("FormatFS = %q, want %q", got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"cpe:2.3",
		"cpe:2.4:o:a:b:*:*:*:*:*:*:*:*",
		"cpe:2.3:x:fortinet:fortios:*:*:*:*:*:*:*:*",
		"cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*:*",
		"cpe:2.3:o:fortinet::*:*:*:*:*:*:*:*",
		"cpe:2.3:o:fortinet:for*tios:*:*:*:*:*:*:*:*",
		"cpe:2.3:o:fortinet:for?tios:*:*:*:*:*:*:*:*",
		"cpe:2.3:o:fortinet:fortios**:*:*:*:*:*:*:*:*",
		`cpe:2.3:o:fortinet:fortios\`,
		"cpe:2.3:o:fort inet:fortios:*:*:*:*:*:*:*:*",
		"cpe:2.3:o:フォーティ:fortios:*:*:*:*:*:*:*:*",
		"cpe:/x:vendor",
		"cpe:/a:v:p:1:2:3:4:5",
		"cpe:/a:v:p%2",
		"cpe:/a:v:p%zz",
		"cpe:/a:v:p:1:2:~a~b",
	} {
		if _, err := Parse(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) err = %v, want ErrSyntax", in, err)
		}
	}
}

func TestParseURI(t *testing.T) {
	cases := []struct {
		in, fs, uri string
	}{
		{"cpe:/a:oclc:oaicat", "cpe:2.3:a:oclc:oaicat:*:*:*:*:*:*:*:*", "cpe:/a:oclc:oaicat"},
		{"cpe:/o:fortinet:fortios:4.3.0", "cpe:2.3:o:fortinet:fortios:4.3.0:*:*:*:*:*:*:*", "cpe:/o:fortinet:fortios:4.3.0"},
		{"cpe:/a:microsoft:internet_explorer:8.%02:sp%01", "cpe:2.3:a:microsoft:internet_explorer:8.*:sp?:*:*:*:*:*:*", "cpe:/a:microsoft:internet_explorer:8.%02:sp%01"},
		{"cpe:/a:hp:insight_diagnostics:7.4.0.1570:-:~~online~win2003~x64~", "cpe:2.3:a:hp:insight_diagnostics:7.4.0.1570:-:*:*:online:win2003:x64:*", "cpe:/a:hp:insight_diagnostics:7.4.0.1570:-:~~online~win2003~x64~"},
		{"cpe:/a:foo%5cbar:big%24money", `cpe:2.3:a:foo\\bar:big\$money:*:*:*:*:*:*:*:*`, "cpe:/a:foo%5cbar:big%24money"},
		{"cpe:/h:nec:ix2235:-", "cpe:2.3:h:nec:ix2235:-:*:*:*:*:*:*:*", "cpe:/h:nec:ix2235:-"},
	}
	for _, c := range cases {
		n, err := Parse(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if got := n.FormatFS(); got != c.fs {
			t.Errorf("%s: FS %q, want %q", c.in, got, c.fs)
		}
		if got := n.FormatURI(); got != c.uri {
			t.Errorf("%s: URI %q, want %q", c.in, got, c.uri)
		}
	}
}

// TestRelations walks NISTIR 7696 Table 6-2.
func TestRelations(t *testing.T) {
	i := Value{Kind: Str, V: "7"}
	k := Value{Kind: Str, V: "8"}
	wild := Value{Kind: Str, V: `7\.*`}
	wild2 := Value{Kind: Str, V: `8\.*`}
	lit := Value{Kind: Str, V: `7\.2`}
	cases := []struct {
		n              int
		source, target Value
		want           Relation
	}{
		{1, AnyValue, AnyValue, Equal},
		{2, AnyValue, NAValue, Superset},
		{3, AnyValue, i, Superset},
		{4, AnyValue, wild, Undefined},
		{5, NAValue, AnyValue, Subset},
		{6, NAValue, NAValue, Equal},
		{7, NAValue, i, Disjoint},
		{8, NAValue, wild, Undefined},
		{9, i, i, Equal},
		{10, i, k, Disjoint},
		{11, i, wild, Undefined},
		{12, i, NAValue, Disjoint},
		{13, i, AnyValue, Subset},
		{14, wild, lit, Superset},
		{14, wild2, lit, Disjoint},
		{15, wild, AnyValue, Subset},
		{16, wild, NAValue, Disjoint},
		{17, wild, wild2, Undefined},
	}
	for _, c := range cases {
		if got := CompareValues(c.source, c.target); got != c.want {
			t.Errorf("row %d: CompareValues(%v, %v) = %v, want %v", c.n, c.source, c.target, got, c.want)
		}
	}
}

func TestCompareStrings(t *testing.T) {
	cases := []struct {
		source, target string
		want           Relation
	}{
		{"*http*", `apache_http_server`, Superset},
		{"*http*", `nginx`, Disjoint},
		{"??ache", "apache", Superset},
		{"??ache", "ache", Superset},
		{"??ache", "xapache", Disjoint},
		{`sp?`, "sp1", Superset},
		{`sp?`, "sp", Superset},
		{`sp?`, "sp12", Disjoint},
		{`8\.*`, `8\.0\.1`, Superset},
		{`8\.*`, `80`, Disjoint},
		{`*\.1`, `7\.0\.1`, Superset},
		{`*\(1\)`, `11\.5\(1\)`, Superset},
		{`*\(1\)`, `11\.5\(2\)`, Disjoint},
	}
	for _, c := range cases {
		s := Value{Kind: Str, V: c.source}
		tg := Value{Kind: Str, V: c.target}
		if got := CompareValues(s, tg); got != c.want {
			t.Errorf("%q vs %q = %v, want %v", c.source, c.target, got, c.want)
		}
	}
}

func TestNameMatch(t *testing.T) {
	cases := []struct {
		source, target string
		match          bool
		disjoint       bool
	}{
		{"cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*", "cpe:2.3:o:fortinet:fortios:7.2.4:*:*:*:*:*:*:*", true, false},
		{"cpe:2.3:o:fortinet:fortios:7.2.4:*:*:*:*:*:*:*", "cpe:2.3:o:fortinet:fortios:7.2.5:*:*:*:*:*:*:*", false, true},
		{"cpe:2.3:o:fortinet:fortios:7.2.4:*:*:*:*:*:*:*", "cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*", false, false},
		{"cpe:2.3:h:citrix:application_delivery_controller:-:*:*:*:*:*:*:*", "cpe:2.3:h:citrix:application_delivery_controller:-:*:*:*:*:*:*:*", true, false},
		{"cpe:2.3:h:citrix:application_delivery_controller:-:*:*:*:*:*:*:*", "cpe:2.3:h:citrix:application_delivery_controller:2.0:*:*:*:*:*:*:*", false, true},
		{"cpe:2.3:a:ivanti:connect_secure:9.1:r11.3:*:*:*:*:*:*", "cpe:2.3:a:ivanti:connect_secure:9.1:r11.3:*:*:*:*:*:*", true, false},
		{"cpe:2.3:a:ivanti:connect_secure:9.1:*:*:*:*:*:*:*", "cpe:2.3:a:ivanti:connect_secure:9.1:r11.3:*:*:*:*:*:*", true, false},
		{"cpe:2.3:a:ivanti:connect_secure:9.1:r11.3:*:*:*:*:*:*", "cpe:2.3:a:ivanti:connect_secure:9.1:r11.4:*:*:*:*:*:*", false, true},
		{"cpe:2.3:a:*:*:*:*:*:*:*:*:*:*", "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*", true, false},
		{"cpe:2.3:a:*:zstandard:1.5.2:*:*:*:*:*:*:*", "cpe:2.3:h:intel:*:*:*:*:*:*:*:*:*", false, true},
	}
	for _, c := range cases {
		s, tg := MustParse(c.source), MustParse(c.target)
		if got := Match(s, tg); got != c.match {
			t.Errorf("Match(%s, %s) = %v, want %v", c.source, c.target, got, c.match)
		}
		if got := IsDisjoint(s, tg); got != c.disjoint {
			t.Errorf("IsDisjoint(%s, %s) = %v, want %v", c.source, c.target, got, c.disjoint)
		}
	}
	a := MustParse("cpe:2.3:o:fortinet:fortios:7.2.4:*:*:*:*:*:*:*")
	if !IsEqual(a, a) || !IsSubset(a, MustParse("cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*")) {
		t.Error("IsEqual/IsSubset on equal and wider names")
	}
}

func TestStrValueAndKey(t *testing.T) {
	n := Name{}
	n[Part] = StrValue("o")
	n[Vendor] = StrValue("Palo Alto Networks")
	n[Product] = StrValue("pan-os")
	n[Version] = StrValue("10.2.9-h1")
	if got := n.FormatFS(); got != "cpe:2.3:o:palo_alto_networks:pan-os:10.2.9-h1:*:*:*:*:*:*:*" {
		t.Errorf("FormatFS = %q", got)
	}
	if got := n.Key(); got != `palo_alto_networks:pan\-os` {
		t.Errorf("Key = %q", got)
	}
	if StrValue("*") != AnyValue || StrValue("-") != NAValue || StrValue("") != AnyValue {
		t.Error("logical values")
	}
	if got := StrValue("a*b").String(); got != "a*b" {
		t.Errorf("quoted star text = %q", got)
	}
	odd := Name{}
	odd[Part] = StrValue("a")
	odd[Vendor] = StrValue("富士通")
	odd[Product] = StrValue("tab\there")
	if _, err := Parse(odd.FormatFS()); err != nil {
		t.Errorf("name built from arbitrary text does not parse back: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"cpe:2.3:o:fortinet:fortios:7.2.4:*:*:*:*:*:*:*",
		`cpe:2.3:o:cisco:ios:11.5\(1\):*:*:*:*:*:*:*`,
		`cpe:2.3:a:cisco:dna_spaces\:_connector:-:*:*:*:*:*:*:*`,
		"cpe:2.3:a:??ache:*http*:*:*:*:*:*:*:*:*",
		`cpe:2.3:a:x:y:\-:*:*:*:*:*:*:*`,
		"cpe:/a:hp:insight_diagnostics:7.4.0.1570:-:~~online~win2003~x64~",
		"cpe:/a:microsoft:internet_explorer:8.%02:sp%01",
		"cpe:/a:foo%5cbar:big%24money",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		fs := n.FormatFS()
		n2, err := Parse(fs)
		if err != nil {
			t.Fatalf("Parse(FormatFS(%q)) = %q: %v", s, fs, err)
		}
		if n2 != n {
			t.Fatalf("round trip of %q through %q changed the name: %#v vs %#v", s, fs, n, n2)
		}
		if fs2 := n2.FormatFS(); fs2 != fs {
			t.Fatalf("format not stable: %q then %q", fs, fs2)
		}
		uri := n.FormatURI()
		n3, err := Parse(uri)
		if err != nil {
			t.Fatalf("Parse(FormatURI(%q)) = %q: %v", s, uri, err)
		}
		if n3 != n {
			t.Fatalf("URI round trip of %q through %q changed the name", s, uri)
		}
		if !IsEqual(n, n2) && !n.hasWild() {
			t.Fatalf("name not equal to itself: %q", s)
		}
		_ = Match(n, n2)
	})
}

func (n Name) hasWild() bool {
	for _, v := range n {
		if v.HasWildcards() {
			return true
		}
	}
	return false
}

func BenchmarkParse(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := Parse(`cpe:2.3:o:cisco:ios:11.5\(1\):*:*:*:*:*:*:*`); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	s := MustParse("cpe:2.3:a:*:*http*:8.*:*:*:*:*:*:*:*")
	t := MustParse("cpe:2.3:a:apache:apache_http_server:8.0.1:*:*:*:*:*:*:*")
	for i := 0; i < b.N; i++ {
		if !Match(s, t) {
			b.Fatal("no match")
		}
	}
}
