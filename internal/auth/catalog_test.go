package auth_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/testkit"
)

// TestCatalogCoversAuth checks that every message key the package uses, and
// every label the web layer shows for its values, has a Japanese and an
// English text taking the same arguments.
func TestCatalogCoversAuth(t *testing.T) {
	keyRe := regexp.MustCompile(`"(auth\.[a-z_.]+)"`)
	keys := map[string]bool{}
	for _, m := range testkit.SourceMatches(t, keyRe, "*.go") {
		if _, action := auth.RuleOf(m.Groups[1]); action {
			continue // an action of the permission table, not a message
		}
		keys[m.Groups[1]] = true
	}
	if len(keys) < 25 {
		t.Fatalf("found only %d keys in the source", len(keys))
	}
	for _, k := range auth.OrgKinds {
		keys["auth.kind."+string(k)] = true
	}
	for _, r := range auth.Roles {
		keys["auth.role."+string(r)] = true
		keys["auth.role."+string(r)+".help"] = true
	}
	for _, p := range []auth.MFAPolicy{auth.MFAAdmins, auth.MFAEveryone} {
		keys["auth.mfa_policy."+string(p)] = true
	}
	for _, f := range strings.Fields("email display_name password name name_kana prefecture medical_code beds kind role lang mfa_policy") {
		keys["auth.field."+f] = true
	}
	verbRe := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)
	for k := range keys {
		for _, lang := range []string{"ja", "en"} {
			if !catalog.Has(lang, k) {
				t.Errorf("%s catalog has no %q", lang, k)
			}
		}
		ja, en := verbRe.FindAllString(catalog.T("ja", k), -1), verbRe.FindAllString(catalog.T("en", k), -1)
		if strings.Join(ja, " ") != strings.Join(en, " ") {
			t.Errorf("%q: Japanese takes %v, English %v", k, ja, en)
		}
	}
	for _, k := range catalog.Keys("ja") {
		if strings.HasPrefix(k, "auth.") && !keys[k] {
			t.Errorf("catalog key %q is not used", k)
		}
	}
}
