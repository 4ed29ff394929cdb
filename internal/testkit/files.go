package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteFile writes content to the file name in dir (a test's folder) and
// returns its path; the test fails when it cannot.
func WriteFile(t testing.TB, dir, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
