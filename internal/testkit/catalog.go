package testkit

import (
	"testing"

	"github.com/medisac/medisac/internal/i18n"
)

// CatalogHasAll fails t for each of keys that a language of the catalog
// lacks. Fewer than min keys means the code that collected them went
// wrong, and fails t at once.
func CatalogHasAll(t testing.TB, cat *i18n.Catalog, min int, keys []string) {
	t.Helper()
	if len(keys) < min {
		t.Fatalf("only %d keys found", len(keys))
	}
	for _, k := range keys {
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, k) {
				t.Errorf("key %q missing in %s", k, lang)
			}
		}
	}
}
