package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/testkit"
)

// runCLI runs a command with MEDISAC_DATA_DIR set to dir.
func runCLI(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	t.Setenv("MEDISAC_DATA_DIR", dir)
	t.Setenv("MEDISAC_DATABASE_URL", "")
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, &out, &errb)
	return out.String() + errb.String(), err
}

// cliOrg adds the hospital name with `medisac org add` and returns its id.
func cliOrg(t *testing.T, dir, name string) string {
	t.Helper()
	out, err := runCLI(t, dir, "org", "add", "--name", name, "--kind", "hospital")
	if err != nil {
		t.Fatalf("org add: %v %s", err, out)
	}
	id := strings.TrimSpace(out)
	if !db.ValidID(id) {
		t.Fatalf("org add printed %q, want an id", out)
	}
	return id
}

// cliHospital is a fresh data folder with the hospital name in it (added
// with `medisac org add`); it returns the folder and the hospital's id.
func cliHospital(t *testing.T, name string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	return dir, cliOrg(t, dir, name)
}

func TestCommandLineContract(t *testing.T) {
	dir := t.TempDir()
	out, err := runCLI(t, dir, "migrate")
	if err != nil || !strings.Contains(out, "applied") {
		t.Fatalf("migrate: %v %s", err, out)
	}
	orgID := cliOrg(t, dir, "テスト病院")
	if out, err := runCLI(t, dir, "org", "add", "--name", "x", "--kind", "castle"); err == nil || ExitCode(err) == 0 {
		t.Fatalf("org add with a bad kind succeeded: %s", out)
	}
	pw := testkit.WriteFile(t, dir, "pw", []byte("Byouin-Kanri-2026!\n"))
	out, err = runCLI(t, dir, "user", "add", "--org", orgID, "--email", "Admin@Test.example.jp", "--role", "admin", "--password-file", pw)
	if err != nil || !db.ValidID(strings.TrimSpace(out)) {
		t.Fatalf("user add: %v %s", err, out)
	}
	testkit.WriteFile(t, dir, "pw", []byte("short\n"))
	if out, err := runCLI(t, dir, "user", "add", "--org", orgID, "--email", "weak@test.example.jp", "--role", "staff", "--password-file", pw); err == nil || !strings.Contains(err.Error(), "パスワード") {
		t.Fatalf("weak password accepted or message not Japanese: %v %s", err, out)
	}
	out, err = runCLI(t, dir, "token", "add", "--email", "admin@test.example.jp", "--name", "script")
	token := strings.TrimSpace(out)
	if err != nil || !strings.HasPrefix(token, "msac_") {
		t.Fatalf("token add: %v %s", err, out)
	}

	// The token works against the API of a node on the same data.
	_, base := startNode(t, filepath.Join(dir, "medisac.db"), dir, nil)
	req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me map[string]any
	json.NewDecoder(resp.Body).Decode(&me)
	if resp.StatusCode != 200 || !strings.Contains(mustJSON(me), "admin@test.example.jp") {
		t.Fatalf("GET /api/v1/me with the CLI token: %d %v", resp.StatusCode, me)
	}

	// The same token authenticates at the TAXII 2.1 discovery endpoint.
	req, _ = http.NewRequest("GET", base+"/taxii2/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	tresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	tresp.Body.Close()
	if tresp.StatusCode != 200 || !strings.HasPrefix(tresp.Header.Get("Content-Type"), "application/taxii+json") {
		t.Fatalf("GET /taxii2/: %d %q", tresp.StatusCode, tresp.Header.Get("Content-Type"))
	}

	if out, err := runCLI(t, dir, "audit", "verify"); err != nil {
		t.Fatalf("audit verify on an intact log: %v %s", err, out)
	}
	if out, err := runCLI(t, dir, "config"); err != nil || !strings.Contains(out, "data_dir") {
		t.Fatalf("config: %v %s", err, out)
	}
	backup := filepath.Join(dir, "copy.db")
	if out, err := runCLI(t, dir, "backup", "--out", backup); err != nil {
		t.Fatalf("backup: %v %s", err, out)
	}
	if st, err := os.Stat(backup); err != nil || st.Size() == 0 {
		t.Fatalf("backup file: %v", err)
	}
}

// TestAuditVerifyDetectsTampering changes an entry behind the program's back
// and expects `medisac audit verify` to fail naming it.
func TestAuditVerifyDetectsTampering(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"一", "二", "三"} {
		cliOrg(t, dir, "病院"+name)
	}
	if out, err := runCLI(t, dir, "audit", "verify"); err != nil {
		t.Fatalf("intact log: %v %s", err, out)
	}
	d, err := db.Open(context.Background(), filepath.Join(dir, "medisac.db"))
	if err != nil {
		t.Fatal(err)
	}
	// Someone with direct access to the database file removes the
	// append-only trigger and rewrites an entry.
	if _, err := d.Exec(context.Background(), `DROP TRIGGER audit_log_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(context.Background(), `UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	out, err := runCLI(t, dir, "audit", "verify")
	if err == nil || ExitCode(err) == 0 {
		t.Fatalf("tampered log verified: %s", out)
	}
	if !strings.Contains(out, "entry 2") {
		t.Fatalf("verify does not name entry 2: %s", out)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
