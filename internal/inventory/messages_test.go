package inventory

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/testkit"
)

// TestMessageKeys checks that every message key the package uses exists in
// both catalogs.
func TestMessageKeys(t *testing.T) {
	cat := i18n.MustLoad()
	re := regexp.MustCompile(`"(inventory\.[a-z_]+\.[a-z_.]+[a-z_])"`)
	keys := map[string]bool{}
	for _, m := range testkit.SourceMatches(t, re, "*.go") {
		if !strings.HasSuffix(m.Groups[1], ".") {
			keys[m.Groups[1]] = true
		}
	}
	for _, code := range []string{FlagISDN, FlagUnknownManager, FlagNoMFA, FlagDevicePastSupport, FlagDeviceVulnerable, FlagMedicalSharesIT,
		FlagUnexplainedPort, FlagPastSupport, FlagSharedAdmin, FlagVendorNoExpiry, FlagLeaver} {
		keys["inventory.flag."+code] = true
	}
	for _, key := range []string{"bad_choice", "bad_date", "bad_tri", "bad_ports", "too_long"} {
		keys["inventory.import."+key] = true
	}
	enum := func(prefix string, vals []string) {
		for _, v := range vals {
			keys[prefix+v] = true
		}
	}
	enum("inventory.kind.", strs(AssetKinds))
	enum("inventory.lifecycle.", strs(Lifecycles))
	enum("inventory.segment_kind.", strs(SegmentKinds))
	enum("inventory.conn_type.", strs(ConnTypes))
	enum("inventory.manager.", strs(Managers))
	enum("inventory.duty.", strs(Duties))
	enum("inventory.holder.", strs(Holders))
	enum("inventory.account_kind.", strs(AccountKinds))
	enum("inventory.account_state.", strs(AccountStates))
	enum("inventory.doc_kind.", strs(DocumentKinds))
	enum("inventory.tri.", []string{"yes", "no", "unknown"})
	enum("inventory.import.status.", []string{"new", "changed", "unchanged", "error"})
	testkit.CatalogHasAll(t, cat, 50, slices.Sorted(maps.Keys(keys)))
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// TestLabelsParse checks that every Japanese and English label that export
// may write is read back by import.
// testCat is the message catalog the tests' imports and exports use.
var testCat = i18n.MustLoad()

func TestLabelsParse(t *testing.T) {
	cat := i18n.MustLoad()
	check := func(prefix string, vals []string, parse func(string) (string, bool)) {
		for _, v := range vals {
			for _, lang := range i18n.Languages {
				label := cat.T(lang, prefix+v)
				if got, ok := parse(label); !ok || got != v {
					t.Errorf("%s label %q: got %q %v, want %q", lang, label, got, ok, v)
				}
			}
		}
	}
	wrap := func(f any) func(string) (string, bool) {
		switch p := f.(type) {
		case func(string) (AssetKind, bool):
			return func(s string) (string, bool) { v, ok := p(s); return string(v), ok }
		case func(string) (Lifecycle, bool):
			return func(s string) (string, bool) { v, ok := p(s); return string(v), ok }
		case func(string) (ConnType, bool):
			return func(s string) (string, bool) { v, ok := p(s); return string(v), ok }
		case func(string) (Manager, bool):
			return func(s string) (string, bool) { v, ok := p(s); return string(v), ok }
		case func(string) (Tri, bool):
			return func(s string) (string, bool) { v, ok := p(s); return string(v), ok }
		}
		panic("unknown parser")
	}
	lb := NewLabels(cat)
	check("inventory.kind.", strs(AssetKinds), wrap(lb.kind))
	check("inventory.lifecycle.", strs(Lifecycles), wrap(lb.lifecycle))
	check("inventory.conn_type.", strs(ConnTypes), wrap(lb.connType))
	check("inventory.manager.", strs(Managers), wrap(lb.manager))
	check("inventory.tri.", []string{"yes", "no", "unknown"}, wrap(ParseTri))
}
