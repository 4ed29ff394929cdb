package audit

import (
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/i18n"
)

func TestActionLabels(t *testing.T) {
	cat := i18n.MustLoad()
	for _, a := range append(KnownActions(), ActionPrefixes...) {
		if !ValidAction(a) {
			t.Errorf("%q is not a valid action name", a)
		}
		k := ActionLabelKey(a)
		if k != "audit.action."+a {
			t.Errorf("ActionLabelKey(%q) = %q", a, k)
		}
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, k) {
				t.Errorf("no %s label for %s", lang, a)
			}
		}
	}
	if got := ActionLabelKey("asset.read"); got != "asset.read" {
		t.Errorf("unknown action key %q", got)
	}
	if got := ActionLabel(cat, "ja", "asset.read"); got != "asset.read" {
		t.Errorf("unknown action label %q", got)
	}
	if got := ActionLabel(cat, "en", ActionSignInFailed); got != "Sign-in failed" {
		t.Errorf("en label %q", got)
	}
	if got := OutcomeLabel(cat, "ja", Denied); !strings.HasPrefix(got, "拒否") {
		t.Errorf("outcome label %q", got)
	}
	// Every reason key Verify can produce exists in both languages.
	for _, k := range []string{"audit.verify.ok", "audit.verify.hash_mismatch", "audit.verify.broken_link", "audit.verify.gap",
		"audit.verify.unexpected_seq", "audit.verify.unreadable", "audit.verify.checkpoint_mismatch",
		"audit.verify.checkpoint_bad_signature", "audit.verify.checkpoint_unknown_key", "audit.verify.truncated"} {
		for _, lang := range i18n.Languages {
			if !cat.Has(lang, k) {
				t.Errorf("no %s text for %s", lang, k)
			}
		}
	}
}
