package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
)

// TestShareImportCommandWaitsForServer runs `medisac share import` while
// the server (another process's handle on the same SQLite file, with its
// own write queue) holds the write lock for longer than the command's busy
// timeout of 15 s: the command's transaction waits and tries again instead
// of failing with SQLITE_BUSY, the import lands whole, and the command
// says that it waited.
func TestShareImportCommandWaitsForServer(t *testing.T) {
	w := newParityWorld(t, "sqlite")
	w.t = t
	w.as = w.users["hospital_admin"]
	// A server that offers no local socket (such as an older version):
	// the command imports directly, beside it.
	waitSocket(t, w.dir)
	if err := os.Remove(filepath.Join(w.dir, socketName)); err != nil {
		t.Fatal(err)
	}
	// A report of 3,000 indicators: the import writes in some fifty
	// transactions, and the server takes the lock between two of them.
	var b strings.Builder
	b.WriteString(`{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000001","objects":[`)
	var refs []string
	for j := 0; j < 3000; j++ {
		id := fmt.Sprintf("indicator--00000001-0000-4000-8000-%012d", j)
		refs = append(refs, `"`+id+`"`)
		fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":"%s","created":"2026-04-01T09:00:00.000Z","modified":"2026-04-01T09:00:00.000Z","pattern":"[ipv4-addr:value = '10.1.%d.%d']","pattern_type":"stix","valid_from":"2026-04-01T09:00:00.000Z"},`, id, j>>8, j&255)
	}
	fmt.Fprintf(&b, `{"type":"report","spec_version":"2.1","id":"report--00000001-0000-4000-8000-000000000000","created":"2026-04-01T09:00:00.000Z","modified":"2026-04-01T09:00:00.000Z","name":"サーバーと同時の取り込み","published":"2026-04-01T09:00:00.000Z","object_refs":[%s]}]}`, strings.Join(refs, ","))
	file := w.File("bundle.json", []byte(b.String()))
	held := make(chan error, 1)
	go func() {
		// Once the import has registered (it is writing), the server
		// takes the lock for 16 s.
		for {
			var n int
			if err := w.n.DB.QueryRow(w.ctx, `SELECT COUNT(*) FROM share_posts WHERE import_id IS NOT NULL`).Scan(&n); err == nil && n > 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		held <- w.n.DB.InTx(w.ctx, func(tx *db.Tx) error {
			if _, err := tx.Exec(w.ctx, `UPDATE organizations SET name = name WHERE id = ?`, w.ISAC); err != nil {
				return err
			}
			time.Sleep(16 * time.Second)
			return nil
		})
	}()
	out := w.CLI("share", "import", "--org", w.Hospital, file)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "1 posts, 3001 objects stored") || !strings.Contains(out, "waited 1 times") || !strings.Contains(out, "回待ちました") {
		t.Errorf("command output:\n%s", out)
	}
	var n int
	if err := w.n.DB.QueryRow(w.ctx, `SELECT COUNT(*) FROM share_posts WHERE author_org_id = ? AND import_id IS NULL`, w.Hospital).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d posts imported (%v), want 1", n, err)
	}
}
