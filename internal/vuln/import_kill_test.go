package vuln

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// The environment of the child process of TestImportKilled: the database
// to import into, the feed file and the temporary folder.
const (
	importChildEnv  = "MEDISAC_TEST_IMPORT_CHILD_DB"
	importChildFile = "MEDISAC_TEST_IMPORT_CHILD_FILE"
	importChildTemp = "MEDISAC_TEST_IMPORT_CHILD_TEMP"
)

// importChild imports the feed file into the database in transactions of
// 1,000 records, printing "committed" after each and pausing a little, so
// that the parent kills it while it writes.
func importChild() int {
	ctx := context.Background()
	d, err := db.Open(ctx, os.Getenv(importChildEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	w := &Watch{DB: d, ChunkRecords: 1000, ChunkTime: time.Hour, TempDir: os.Getenv(importChildTemp)}
	w.onTx = func(txStat) {
		fmt.Println("committed")
		time.Sleep(300 * time.Millisecond)
	}
	_, err = w.ImportFile(ctx, os.Getenv(importChildFile))
	fmt.Println("finished", err)
	return 0
}

// TestImportKilled kills (SIGKILL) a process importing an NVD file after
// its first transaction committed. The import is listed as running until
// its heartbeat is older than the lease, then RecoverImports marks it
// interrupted and matches what it committed; importing the same file
// again completes it.
func TestImportKilled(t *testing.T) {
	const n = 4000
	feed := writeTemp(t, chunkFeed(t, n, nil))
	dbtest.EachURL(t, func(t *testing.T, target string, d *db.DB) {
		ctx := context.Background()
		org := chunkAssets(t, d)
		temp := t.TempDir()

		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), importChildEnv+"="+target, importChildFile+"="+feed, importChildTemp+"="+temp)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "committed\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child said %q (%v), stderr %s", line, err, stderr.String())
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()

		committed := countRows(t, d, `SELECT COUNT(*) FROM vuln_vulns`)
		if committed == 0 || committed >= n {
			t.Fatalf("%d of %d records committed when killed", committed, n)
		}
		ls, err := RecentImports(ctx, d, 5)
		if err != nil || len(ls) != 1 || !ls[0].Running() || ls[0].Records != n {
			t.Fatalf("imports after the kill: %+v %v", ls, err)
		}
		if len(findingKeys(t, d, org)) != 0 {
			t.Fatal("findings before any matching")
		}

		// The killed process left its spool file; once it is old, the
		// recovery removes it.
		spools, _ := filepath.Glob(filepath.Join(temp, "medisac-import-*.tmp"))
		if len(spools) != 1 {
			t.Fatalf("spool files after the kill: %v", spools)
		}
		old := time.Now().Add(-2 * staleSpool)
		if err := os.Chtimes(spools[0], old, old); err != nil {
			t.Fatal(err)
		}
		// Within the lease the import may still be alive: nothing is
		// marked.
		w := &Watch{DB: d, TempDir: temp}
		if marked, err := w.RecoverImports(ctx); err != nil || marked != 0 {
			t.Fatalf("recover within the lease: %d %v", marked, err)
		}
		// Once the heartbeat is older than the lease, it is marked
		// interrupted and what it committed is matched.
		late := &Watch{DB: d, TempDir: temp, Now: func() time.Time { return time.Now().Add(importLease + time.Second) }}
		if marked, err := late.RecoverImports(ctx); err != nil || marked != 1 {
			t.Fatalf("recover after the lease: %d %v", marked, err)
		}
		if _, err := os.Stat(spools[0]); !os.IsNotExist(err) {
			t.Fatalf("old spool file kept: %v", err)
		}
		partial := findingKeys(t, d, org)
		if len(partial) == 0 {
			t.Fatalf("no findings from the %d committed records", committed)
		}
		ls, err = InterruptedImports(ctx, d)
		if err != nil || len(ls) != 1 || ls[0].ErrorKey != "vuln.import.interrupted" || ls[0].Completed {
			t.Fatalf("interrupted imports %+v %v", ls, err)
		}
		// Matched once: a second pass finds nothing to do.
		if marked, err := late.RecoverImports(ctx); err != nil || marked != 0 {
			t.Fatalf("second recover: %d %v", marked, err)
		}
		var matched bool
		if err := d.QueryRow(ctx, `SELECT matched FROM vuln_imports`).Scan(&matched); err != nil || !matched {
			t.Fatalf("matched %v %v", matched, err)
		}

		// Importing the same file again completes it.
		res, err := w.ImportFile(ctx, feed)
		if err != nil || res.Records != n {
			t.Fatalf("import again: %+v %v", res, err)
		}
		if got := countRows(t, d, `SELECT COUNT(*) FROM vuln_vulns`); got != n {
			t.Fatalf("%d records after importing again", got)
		}
		if ls, err := InterruptedImports(ctx, d); err != nil || len(ls) != 0 {
			t.Fatalf("interrupted imports after completing: %+v %v", ls, err)
		}
		if got := findingKeys(t, d, org); len(got) < len(partial) {
			t.Fatalf("findings after completing %d, before %d", len(got), len(partial))
		}
	})
}
