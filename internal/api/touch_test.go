package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// TestTokenReadsDoNotWrite: a GET with a valid token leaves the token's
// row unchanged; the node's flush records the use.
func TestTokenReadsDoNotWrite(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		touches := auth.NewTouches()
		a := New(Deps{DB: d, Catalog: f.cat, Audit: f.log, Mailer: f.mailer, Now: f.clock.Now, Logger: f.quietLogger, Touches: touches})
		lastUsed := func() *time.Time {
			t.Helper()
			var at *time.Time
			if err := d.QueryRow(context.Background(), `SELECT last_used_at FROM api_tokens WHERE id = ?`, f.staffA.readID).Scan(&at); err != nil {
				t.Fatal(err)
			}
			return at
		}
		before := lastUsed()
		f.clock.Advance(5 * time.Minute)
		for _, path := range []string{"/api/v1/me", "/api/v1/orgs/" + f.orgA.ID} {
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.Header.Set("Authorization", "Bearer "+f.staffA.read)
			w := httptest.NewRecorder()
			a.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
			}
		}
		if after := lastUsed(); (before == nil) != (after == nil) || (before != nil && !before.Equal(*after)) {
			t.Fatalf("a read wrote last_used_at: %v -> %v", before, after)
		}
		if err := touches.Flush(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		if at := lastUsed(); at == nil || !at.Equal(f.clock.Now()) {
			t.Fatalf("after the flush last_used_at = %v, want %v", at, f.clock.Now())
		}
	})
}
