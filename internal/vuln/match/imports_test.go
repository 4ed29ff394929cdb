package match

import (
	"testing"

	"github.com/medisac/medisac/internal/testkit"
)

// TestImports: matching reads neither feeds nor the database.
func TestImports(t *testing.T) {
	testkit.ForbidImports(t, ".", "github.com/medisac/medisac/internal/db", "github.com/medisac/medisac/internal/vuln",
		"github.com/medisac/medisac/internal/vuln/feed")
}
