package feed

import (
	"testing"

	"github.com/medisac/medisac/internal/testkit"
)

// TestImports: parsers read files, never the database or the service.
func TestImports(t *testing.T) {
	testkit.ForbidImports(t, ".", "github.com/medisac/medisac/internal/db", "github.com/medisac/medisac/internal/vuln")
}
