package web

import (
	"net/http"
	"testing"

	"github.com/medisac/medisac/internal/db/dbtest"
)

// BenchmarkPages measures a signed-in page view end to end (session lookup,
// queries, template) on SQLite.
func BenchmarkPages(b *testing.B) {
	d := dbtest.SQLite(b)
	e := newEnv(b, d)
	c := e.signedIn(e.admin, e.hosp)
	for _, path := range []string{"/", "/org", "/account"} {
		b.Run(path, func(b *testing.B) {
			for b.Loop() {
				if r := c.get(path); r.status != http.StatusOK {
					b.Fatalf("status %d", r.status)
				}
			}
		})
	}
}
