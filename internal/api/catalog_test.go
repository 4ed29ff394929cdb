package api

import (
	"regexp"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/testkit"
)

// TestMessageKeys checks that every message key the package names exists
// in both languages, and that the api.* keys of the two catalogs match.
func TestMessageKeys(t *testing.T) {
	cat := i18n.MustLoad()
	keyRe := regexp.MustCompile(`"((?:api|error|auth\.role|auth\.org|auth\.email)\.[a-z_.]+[a-z_])"`)
	for _, m := range testkit.SourceMatches(t, keyRe, "*.go") {
		key := m.Groups[1]
		if strings.HasSuffix(key, ".") {
			continue
		}
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, key) {
				t.Errorf("%s: key %q missing in %s", m.File, key, lang)
			}
		}
	}
	for _, role := range []string{"admin", "staff", "auditor"} {
		if !cat.Has("ja", "auth.role."+role) || !cat.Has("en", "auth.role."+role) {
			t.Errorf("role label %s missing", role)
		}
	}
	ja, en := map[string]bool{}, map[string]bool{}
	for _, k := range cat.Keys("ja") {
		if strings.HasPrefix(k, "api.") {
			ja[k] = true
		}
	}
	for _, k := range cat.Keys("en") {
		if strings.HasPrefix(k, "api.") {
			en[k] = true
			if !ja[k] {
				t.Errorf("%s only in English", k)
			}
		}
	}
	for k := range ja {
		if !en[k] {
			t.Errorf("%s only in Japanese", k)
		}
	}
}
