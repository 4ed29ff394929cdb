package testkit

import (
	"strings"
	"testing"
)

// ContainsAll marks the test failed (and goes on) for each of wants that
// text, named what in the message, lacks.
func ContainsAll(t testing.TB, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, text)
		}
	}
}
