package imports

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/importgate"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/share"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func newService(t *testing.T, d *db.DB, now func() time.Time) *Service {
	t.Helper()
	log := audit.New(d, nil, nil, now)
	inv := inventory.NewService(d, log, i18n.MustLoad(), now)
	hub := &share.Hub{DB: d, Audit: log, Now: now}
	s := New(d, importgate.New(), t.TempDir(), inv, hub, now, nil)
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func newOrg(t *testing.T, d *db.DB) string {
	t.Helper()
	o, err := auth.CreateOrg(context.Background(), d, auth.OrgInput{Kind: auth.KindHospital, Name: "取込病院 " + db.NewID()[:8]}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func insertOpen(t *testing.T, s *Service, org, runner string, beat time.Time) string {
	t.Helper()
	id := db.NewID()
	if _, err := s.DB.Exec(context.Background(), `INSERT INTO import_jobs (id, org_id, actor_org_id, kind, state, created_at, started_at, heartbeat, runner)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, org, org, KindShare, Running, beat, beat, beat, runner); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, id+".upload"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestRecover: at start a node marks interrupted the jobs it left running
// (whatever their heartbeat) and those of any node whose heartbeat
// stopped, removes their files, and leaves another live node's job alone.
func TestRecover(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		now := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
		s := newService(t, d, func() time.Time { return now })
		org := newOrg(t, d)
		mine := insertOpen(t, s, org, s.Runner, now.Add(-time.Second))
		dead := insertOpen(t, s, org, "other:/data", now.Add(-StaleAfter-time.Second))
		live := insertOpen(t, s, org, "other:/data", now.Add(-time.Second))
		if err := os.WriteFile(filepath.Join(s.Dir, db.NewID()+".upload"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		n, err := s.Recover(context.Background())
		if err != nil || n != 2 {
			t.Fatalf("Recover = %d, %v; want 2", n, err)
		}
		p := auth.CommandLine("ops", org)
		for id, want := range map[string]State{mine: Interrupted, dead: Interrupted, live: Running} {
			j, err := s.Get(context.Background(), p, id)
			if err != nil || j.State != want {
				t.Fatalf("job %s: %+v, %v; want %s", id, j, err, want)
			}
			if want == Interrupted && (j.Err == nil || j.Err.Key != "imports.interrupted" || j.FinishedAt == nil) {
				t.Errorf("interrupted job %s: %+v", id, j.Err)
			}
		}
		left, _ := os.ReadDir(s.Dir)
		if len(left) != 1 || left[0].Name() != live+".upload" {
			t.Errorf("spool files after recovery: %v", left)
		}
		// A running job whose heartbeat stops shows as interrupted.
		now = now.Add(StaleAfter + time.Second)
		if j, err := s.Get(context.Background(), p, live); err != nil || j.State != Interrupted {
			t.Errorf("stale job: %+v, %v", j, err)
		}
		// Another organisation does not see the jobs.
		other := auth.CommandLine("ops", newOrg(t, d))
		if _, err := s.Get(context.Background(), other, mine); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("other organisation: %v", err)
		}
		if js, err := s.List(context.Background(), other, 0); err != nil || len(js) != 0 {
			t.Errorf("other organisation's list: %v, %v", js, err)
		}
	})
}

// TestShareJob: a share import run as a job
// for the command line writes the same audit entry as a direct command
// (via cli, the file in its details), and a stopped node interrupts a
// running job.
func TestShareJob(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newService(t, d, time.Now)
		org := newOrg(t, d)
		p := auth.CommandLine("ops", org)
		p.OrgKind = auth.KindHospital
		bundle := `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"bad host","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}]}`
		run, err := s.ImportShare(context.Background(), p, ShareInput{FileName: "b.json", Details: map[string]any{"file": "b.json"}}, strings.NewReader(bundle))
		if err != nil {
			t.Fatal(err)
		}
		<-run.Done()
		// Once the job has ended, its place is free and its end recorded:
		// a client may start the next import at once.
		if n := s.Gate.Running(org); n != 0 {
			t.Errorf("%d imports still hold the gate after the job ended", n)
		}
		v, err := run.Outcome()
		if err != nil || v.(*share.ImportOutcome).Result.Objects != 1 {
			t.Fatalf("outcome %+v, %v", v, err)
		}
		var actor, ua, details string
		if err := d.QueryRow(context.Background(), `SELECT actor_id, user_agent, details FROM audit_log WHERE action = 'share.import' AND org_id = ?`, org).Scan(&actor, &ua, &details); err != nil {
			t.Fatal(err)
		}
		if actor != "cli:ops" || ua != "medisac-cli" || !strings.Contains(details, `"file":"b.json"`) {
			t.Errorf("audit entry by %q (%q), details %s", actor, ua, details)
		}
		j, err := s.Get(context.Background(), p, run.Job.ID)
		if err != nil || j.State != Done || j.Via != audit.ViaCLI || j.Actor != "cli:ops" || !strings.Contains(string(j.Result), `"objects":1`) {
			t.Fatalf("job %+v %s, %v", j, j.Result, err)
		}
		// The gate: one import per organisation.
		s.Gate.PerOrg = 1
		release, err := s.Gate.Acquire(org)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ImportShare(context.Background(), p, ShareInput{}, strings.NewReader(bundle)); !apperr.Is(err, apperr.RateLimited) {
			t.Errorf("second import: %v", err)
		}
		release()
		// Too large: refused, nothing recorded.
		if _, err := s.ImportShare(context.Background(), p, ShareInput{Limit: 10}, strings.NewReader(bundle)); !apperr.Is(err, apperr.TooLarge) {
			t.Errorf("too large: %v", err)
		}
		// Not allowed: an auditor.
		aud := &auth.Principal{UserID: db.NewID(), OrgID: org, Role: auth.RoleAuditor, OrgKind: auth.KindHospital}
		if _, err := s.ImportShare(context.Background(), aud, ShareInput{}, strings.NewReader(bundle)); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("auditor: %v", err)
		}
		if js, _ := s.List(context.Background(), p, 0); len(js) != 1 {
			t.Errorf("jobs: %d, want 1", len(js))
		}
		// A body that cannot be read starts nothing.
		if _, err := s.ImportShare(context.Background(), p, ShareInput{}, errReader{}); err == nil {
			t.Error("an unreadable body started a job")
		}
		if js, _ := s.List(context.Background(), p, 0); len(js) != 1 {
			t.Errorf("jobs after the unreadable body: %d, want 1", len(js))
		}
		// Closing the node interrupts a running job.
		started := make(chan struct{})
		run, err = s.start(context.Background(), p, spec{kind: KindShare, orgID: org, limit: 10, run: func(ctx context.Context, _ io.Reader) (any, any, error) {
			close(started)
			<-ctx.Done()
			return nil, nil, ctx.Err()
		}}, strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		<-started
		s.Close(context.Background())
		<-run.Done()
		if j, err := s.Get(context.Background(), p, run.Job.ID); err != nil || j.State != Interrupted || j.Err.Key != "imports.interrupted" {
			t.Fatalf("job after Close: %+v, %v", j, err)
		}
		if left, _ := os.ReadDir(s.Dir); len(left) != 0 {
			t.Errorf("spool files left: %v", left)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("client went away") }
