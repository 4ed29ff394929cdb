package app

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// smallBundle is a STIX bundle of n indicators and one report.
func smallBundle(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000002","objects":[`)
	var refs []string
	for j := 0; j < n; j++ {
		id := fmt.Sprintf("indicator--00000002-0000-4000-8000-%012d", j)
		refs = append(refs, `"`+id+`"`)
		fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":"%s","created":"2026-04-01T09:00:00.000Z","modified":"2026-04-01T09:00:00.000Z","pattern":"[ipv4-addr:value = '10.2.%d.%d']","pattern_type":"stix","valid_from":"2026-04-01T09:00:00.000Z"},`, id, j>>8, j&255)
	}
	fmt.Fprintf(&b, `{"type":"report","spec_version":"2.1","id":"report--00000002-0000-4000-8000-000000000000","created":"2026-04-01T09:00:00.000Z","modified":"2026-04-01T09:00:00.000Z","name":"ノード経由の取り込み","published":"2026-04-01T09:00:00.000Z","object_refs":[%s]}]}`, strings.Join(refs, ","))
	return []byte(b.String())
}

// waitSocket waits until the node of dir listens on its local socket.
func waitSocket(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, socketName)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no local socket at %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestShareImportThroughNode: beside a running SQLite server, `medisac
// share import` hands the file to the server over the local socket; the
// server imports it as a job (recorded, via cli, by the command line's
// user), the audit entry is the one a direct command writes, the command
// prints the same result, and the spooled file is gone afterwards.
func TestShareImportThroughNode(t *testing.T) {
	w := newParityWorld(t, "sqlite")
	t.Setenv("USER", "ops")
	waitSocket(t, w.dir)
	file := w.File("bundle.json", smallBundle(200))
	before := w.lastSeq()
	out := w.CLI("share", "import", "--org", w.Hospital, file)
	if !strings.Contains(out, "stix: 1 posts, 201 objects stored, 0 already present, 0 skipped, 0 failed") || !strings.Contains(out, "ノード経由の取り込み") {
		t.Errorf("command output:\n%s", out)
	}
	var id, state, actor, via, name string
	if err := w.n.DB.QueryRow(w.ctx, `SELECT id, state, actor, via, file_name FROM import_jobs WHERE org_id = ?`, w.Hospital).Scan(&id, &state, &actor, &via, &name); err != nil {
		t.Fatalf("no job recorded: %v", err)
	}
	if state != "done" || actor != "cli:ops" || via != "cli" || name != file {
		t.Errorf("job %s: state %s, actor %s, via %s, file %s", id, state, actor, via, name)
	}
	var n int
	var actorID, ua, details string
	if err := w.n.DB.QueryRow(w.ctx, `SELECT COUNT(*), MAX(actor_id), MAX(user_agent), MAX(details) FROM audit_log WHERE seq > ? AND action = 'share.import'`, before).
		Scan(&n, &actorID, &ua, &details); err != nil || n != 1 {
		t.Fatalf("share.import entries: %d (%v)", n, err)
	}
	if actorID != "cli:ops" || ua != "medisac-cli" || !strings.Contains(details, `"file":"`+file+`"`) {
		t.Errorf("audit entry by %s (%s): %s", actorID, ua, details)
	}
	if left, _ := os.ReadDir(filepath.Join(w.dir, "imports")); len(left) != 0 {
		t.Errorf("spool files left: %v", left)
	}
	// A bad file: the server's error, in both languages, exit code 1.
	bad := w.File("bad.json", []byte(`{"type":"bundle","objects":`))
	t.Setenv("MEDISAC_DATA_DIR", w.dir)
	t.Setenv("MEDISAC_DATABASE_URL", "")
	var o, e bytes.Buffer
	err := Run(w.ctx, []string{"share", "import", "--org", w.Hospital, bad}, &o, &e)
	if err == nil || !strings.Contains(err.Error(), " / ") {
		t.Errorf("bad file through the node: %v", err)
	}
	if err := w.n.DB.QueryRow(w.ctx, `SELECT COUNT(*) FROM import_jobs WHERE state = 'failed'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("failed jobs: %d (%v)", n, err)
	}
	// An unknown organisation.
	if err := Run(w.ctx, []string{"share", "import", "--org", db.NewID(), file}, &o, &e); err == nil || !strings.Contains(err.Error(), "no organisation") {
		t.Errorf("unknown organisation: %v", err)
	}
}

// TestShareImportWithoutNode: with no server on the data folder, or only
// the socket file a killed server left, the command imports directly; a
// server starting there replaces the stale socket.
func TestShareImportWithoutNode(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MEDISAC_DATA_DIR", dir)
	t.Setenv("MEDISAC_DATABASE_URL", "")
	t.Setenv("USER", "ops")
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.DataDir = dir
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d, err := openDB(ctx, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	org, err := auth.CreateOrg(ctx, d, auth.OrgInput{Kind: auth.KindHospital, Name: "直接取込病院"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	// A stale socket: bound, then its listener gone without removing it.
	ln, err := net.Listen("unix", filepath.Join(dir, socketName))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(filepath.Join(dir, socketName)); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "b.json")
	if err := os.WriteFile(file, smallBundle(20), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := Run(ctx, []string{"share", "import", "--org", org.ID, file}, &out, &errb); err != nil {
		t.Fatalf("direct import: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "1 posts, 21 objects stored") || strings.Contains(errb.String(), "handed") {
		t.Errorf("direct import output:\n%s\n%s", out.String(), errb.String())
	}
	d, err = openDB(ctx, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM import_jobs`).Scan(&n); err != nil || n != 0 {
		t.Errorf("a direct import recorded %d jobs (%v)", n, err)
	}
	if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE action = 'share.import' AND actor_id = 'cli:ops'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("direct import's audit entries: %d (%v)", n, err)
	}
	// A server started on the folder replaces the stale socket.
	startNode(t, "", dir, nil)
	waitSocket(t, dir)
}

// TestInventoryImportThroughNode: `medisac inventory import` beside a
// running SQLite server hands the register to the server too, prints the
// same counts, and for a file with errors prints every error as before.
func TestInventoryImportThroughNode(t *testing.T) {
	w := newParityWorld(t, "sqlite")
	t.Setenv("USER", "ops")
	waitSocket(t, w.dir)
	file := w.File("台帳.csv", []byte("名称,種別\nノード端末1,PC\nノード端末2,PC\n"))
	before := w.lastSeq()
	out := w.CLI("inventory", "import", "--org", w.Hospital, file)
	if !strings.Contains(out, "資産: 新規 new 2, 変更 changed 0") || !strings.Contains(out, "取り込みました / imported") {
		t.Errorf("command output:\n%s", out)
	}
	var n int
	var actorID string
	if err := w.n.DB.QueryRow(w.ctx, `SELECT COUNT(*), MAX(actor_id) FROM audit_log WHERE seq > ? AND action = 'inventory.import'`, before).Scan(&n, &actorID); err != nil || n != 1 || actorID != "cli:ops" {
		t.Fatalf("inventory.import entries: %d by %s (%v)", n, actorID, err)
	}
	if err := w.n.DB.QueryRow(w.ctx, `SELECT COUNT(*) FROM import_jobs WHERE kind = 'inventory.import' AND state = 'done' AND via = 'cli' AND file_name = '台帳.csv'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("register jobs: %d (%v)", n, err)
	}
	bad := w.File("bad.csv", []byte("名称,種別,保守期限\nノード端末3,PC,そのうち\n"))
	var o, e bytes.Buffer
	err := Run(w.ctx, []string{"inventory", "import", "--org", w.Hospital, bad}, &o, &e)
	if err == nil || !strings.Contains(o.String(), "2 行目") || !strings.Contains(o.String(), "保守期限") {
		t.Errorf("file with errors: %v\n%s", err, o.String())
	}
	if err := w.n.DB.QueryRow(w.ctx, `SELECT COUNT(*) FROM import_jobs WHERE kind = 'inventory.import' AND state = 'failed'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("failed register jobs: %d (%v)", n, err)
	}
}
