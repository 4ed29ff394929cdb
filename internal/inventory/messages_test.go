package inventory

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/i18n"
)

// TestMessageKeys checks that every message key the package uses exists in
// both catalogs.
func TestMessageKeys(t *testing.T) {
	cat := i18n.MustLoad()
	re := regexp.MustCompile(`"(inventory\.[a-z_]+\.[a-z_.]+[a-z_])"`)
	keys := map[string]bool{}
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasSuffix(m[1], ".") {
				keys[m[1]] = true
			}
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
	if len(keys) < 50 {
		t.Fatalf("only %d keys found", len(keys))
	}
	for k := range keys {
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, k) {
				t.Errorf("%s: missing key %s", lang, k)
			}
		}
	}
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
