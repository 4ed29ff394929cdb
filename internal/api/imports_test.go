package api

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/imports"
)

type jobJSON struct {
	ID       string                      `json:"id"`
	Kind     string                      `json:"kind"`
	OrgID    string                      `json:"org_id"`
	State    string                      `json:"state"`
	Label    string                      `json:"state_label"`
	Actor    string                      `json:"actor"`
	Via      string                      `json:"via"`
	FileName string                      `json:"file_name"`
	Size     int64                       `json:"size"`
	Progress struct{ Done, Total int64 } `json:"progress"`
	Result   json.RawMessage             `json:"result"`
	Error    *errorDetail                `json:"error"`
}

// waitJob polls GET /api/v1/imports/{id} until the job has ended.
func waitJob(t *testing.T, f *fixture, token, id string, hdr ...string) jobJSON {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec := f.do(t, "GET", "/api/v1/imports/"+id, token, "", hdr...)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET import %s: %d %s", id, rec.Code, rec.Body)
		}
		j := decodeBody[jobJSON](t, rec)
		if j.State != "queued" && j.State != "running" {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("import %s still %s", id, j.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startAsync posts an import with Prefer: respond-async and returns the
// job's id from the 202 answer.
func startAsync(t *testing.T, f *fixture, token, path, body string) string {
	t.Helper()
	rec := f.do(t, "POST", path, token, body, "Prefer", "respond-async")
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST %s: %d %s, want 202", path, rec.Code, rec.Body)
	}
	j := decodeBody[jobJSON](t, rec)
	if loc := rec.Header().Get("Location"); loc != "/api/v1/imports/"+j.ID || !db.ValidID(j.ID) {
		t.Fatalf("Location %q for job %q", loc, j.ID)
	}
	if rec.Header().Get("Preference-Applied") != "respond-async" {
		t.Errorf("Preference-Applied %q", rec.Header().Get("Preference-Applied"))
	}
	return j.ID
}

// importIsolationCases starts an import of organisation A (whose job B
// must not see) and lists the import routes' cases.
func importIsolationCases(f *fixture) map[string][]isoCase {
	ctx := context.Background()
	p, err := auth.PrincipalForToken(ctx, f.d, f.adminA.write, f.clock.Now())
	if err != nil {
		panic(err)
	}
	run, err := f.api.ImportJobs.ImportRegister(ctx, p, f.orgA.ID, imports.RegisterInput{FileName: "A秘密台帳.csv"}, strings.NewReader("名称,種別\nA秘密端末,PC\n"))
	if err != nil {
		panic(err)
	}
	<-run.Done()
	if _, err := run.Outcome(); err != nil {
		panic(err)
	}
	id := run.Job.ID
	f.secretsA = append(f.secretsA, id, "A秘密台帳.csv")
	return map[string][]isoCase{
		"GET /api/v1/imports": {
			{name: "own imports", path: "/api/v1/imports", collection: true},
			{name: "own imports, many", path: "/api/v1/imports?limit=200", collection: true},
		},
		"GET /api/v1/imports/{id}": {{name: "A's import", path: "/api/v1/imports/" + id}},
	}
}

// TestImportJobs: an import asked to run in the background answers 202
// at once and reports through its job; one that outlasts the bound does
// the same; one that finishes in time answers as before; a failed one
// shows its message in the caller's language; the spool file is gone
// when the job ends; the audit trail is the one entry of the import.
func TestImportJobs(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		spool := t.TempDir()
		f.api.ImportJobs.Dir = spool
		base := "/api/v1/orgs/" + f.orgA.ID + "/inventory/import/apply?filename=reg.csv"
		tok := f.adminA.write
		before := countAudit(t, f, "inventory.import")

		// In the background, on request.
		id := startAsync(t, f, tok, base, "名称,種別\nPC-1,PC\nPC-2,PC\n")
		j := waitJob(t, f, tok, id)
		if j.State != "done" || j.Kind != "inventory.import" || j.OrgID != f.orgA.ID || j.Via != "api" || j.Actor != f.adminA.user.ID ||
			j.FileName != "reg.csv" || j.Size == 0 || j.Progress.Done != j.Size || j.Error != nil {
			t.Fatalf("job: %+v", j)
		}
		var sum struct {
			OK     bool                      `json:"ok"`
			Rows   int                       `json:"rows"`
			Counts map[string]map[string]int `json:"counts"`
		}
		if err := json.Unmarshal(j.Result, &sum); err != nil || !sum.OK || sum.Rows != 2 || sum.Counts["資産"]["new"] != 2 {
			t.Fatalf("result %s (%v)", j.Result, err)
		}
		if got := countAudit(t, f, "inventory.import"); got != before+1 {
			t.Fatalf("inventory.import entries: %d, want %d", got, before+1)
		}
		if rec := f.do(t, "GET", "/api/v1/orgs/"+f.orgA.ID+"/inventory/assets?q=PC-2", tok, ""); !strings.Contains(rec.Body.String(), "PC-2") {
			t.Fatalf("the job did not write: %s", rec.Body)
		}

		// A small import without the preference answers as before.
		rec := f.do(t, "POST", base, tok, "名称,種別\nPC-3,PC\n")
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"ok":true`) || !strings.Contains(rec.Body.String(), `"rows":[`) {
			t.Fatalf("small import: %d %s", rec.Code, rec.Body)
		}

		// Longer than the bound: 202 and the import goes on.
		f.api.ImportWait = time.Nanosecond
		rec = f.do(t, "POST", base, tok, "名称,種別\nPC-4,PC\n")
		if rec.Code != http.StatusAccepted || rec.Header().Get("Preference-Applied") != "" {
			t.Fatalf("import past the bound: %d %q %s", rec.Code, rec.Header(), rec.Body)
		}
		id2 := decodeBody[jobJSON](t, rec).ID
		if j := waitJob(t, f, tok, id2); j.State != "done" {
			t.Fatalf("job past the bound: %+v", j)
		}

		// A failing import: the job keeps the message, in ja and en.
		bad := "名称,種別,保守期限\nPC-9,PC,そのうち\n"
		id3 := startAsync(t, f, tok, base, bad)
		// The message is in the caller's language (A's admin reads English).
		ja := waitJob(t, f, tok, id3)
		want := f.cat.T("en", "inventory.import.has_errors", 1)
		if ja.State != "failed" || ja.Error == nil || ja.Error.Code != "invalid" || ja.Label != "Failed" || ja.Error.Message != want ||
			f.cat.T("ja", "imports.state.failed") != "失敗" {
			t.Fatalf("failed job: %+v %+v, want message %q", ja, ja.Error, want)
		}
		if ja.Result != nil && string(ja.Result) != "null" {
			t.Errorf("failed job has a result: %s", ja.Result)
		}

		// A share import in the background.
		id4 := startAsync(t, f, tok, "/api/v1/share/import?tlp=green", shareBundle(t))
		if j := waitJob(t, f, tok, id4); j.State != "done" || j.Kind != "share.import" || !strings.Contains(string(j.Result), `"objects":`) {
			t.Fatalf("share job: %+v %s", j, j.Result)
		}

		// The list shows the organisation's jobs, newest first; another
		// organisation's list does not.
		list := decodeBody[struct{ Imports []jobJSON }](t, f.do(t, "GET", "/api/v1/imports", f.adminA.read, ""))
		if len(list.Imports) != 5 || list.Imports[0].ID != id4 {
			t.Fatalf("A's list: %+v", list.Imports)
		}
		if rec := f.do(t, "GET", "/api/v1/imports?limit=0", f.adminA.read, ""); rec.Code != http.StatusBadRequest {
			t.Errorf("limit=0: %d", rec.Code)
		}
		listB := decodeBody[struct{ Imports []jobJSON }](t, f.do(t, "GET", "/api/v1/imports", f.adminB.read, ""))
		if len(listB.Imports) != 0 {
			t.Fatalf("B sees %+v", listB.Imports)
		}
		if rec := f.do(t, "GET", "/api/v1/imports/not-an-id", f.adminA.read, ""); rec.Code != http.StatusNotFound {
			t.Errorf("bad id: %d", rec.Code)
		}

		// Every spool file is gone.
		left, err := os.ReadDir(spool)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 0 {
			t.Errorf("spool files left: %v", left)
		}

		// A read-only token cannot start one (the route refuses it), and
		// an empty file changes nothing and records no job.
		if rec := f.do(t, "POST", base, f.adminA.read, "名称,種別\nPC-5,PC\n", "Prefer", "respond-async"); rec.Code != http.StatusForbidden {
			t.Errorf("read-only token: %d", rec.Code)
		}
		rec = f.do(t, "POST", base, tok, "", "Prefer", "respond-async", "Content-Type", "text/csv")
		if rec.Code != http.StatusBadRequest {
			t.Errorf("empty file: %d %s", rec.Code, rec.Body)
		}
		var n int
		if err := d.QueryRow(t.Context(), `SELECT COUNT(*) FROM import_jobs WHERE org_id = ?`, f.orgA.ID).Scan(&n); err != nil || n != 5 {
			t.Errorf("jobs recorded: %d (%v), want 5", n, err)
		}
	})
}

// shareBundle is a small STIX bundle of one indicator.
func shareBundle(t *testing.T) string {
	t.Helper()
	return `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"bad host","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}]}`
}
