package imports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/importgate"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/share"
)

// DefaultBeat is how often a running job writes its heartbeat and
// progress. A job whose heartbeat is older than StaleAfter is shown, and
// at a node's start marked, as interrupted.
const (
	DefaultBeat = 10 * time.Second
	StaleAfter  = 6 * DefaultBeat
)

// MaxCLIImport bounds a file that the command line hands to the running
// server (the API's own limits are inventory.MaxImportSize and
// share.MaxImport): a STIX bundle of a million objects is about 400 MiB.
const MaxCLIImport = 8 << 30

// Service runs the node's import jobs. Build one per node (New) and hand
// it to the API and to the local socket; Close it at stop.
type Service struct {
	DB        *db.DB
	Gate      *importgate.Gate
	Dir       string
	Inventory *inventory.Service
	Share     *share.Hub
	Now       func() time.Time
	Logger    *slog.Logger
	// Runner names this node (host and data folder) in the jobs it runs.
	Runner string
	// Beat is how often a running job writes its heartbeat and progress
	// (DefaultBeat when zero).
	Beat time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns the import jobs of a node whose spool folder is dir (inside
// its data folder) and whose imports run through inv and hub, at most as
// many at once as gate allows.
func New(d *db.DB, gate *importgate.Gate, dir string, inv *inventory.Service, hub *share.Hub, now func() time.Time, logger *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	if gate == nil {
		gate = importgate.New()
	}
	host, _ := os.Hostname()
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{DB: d, Gate: gate, Dir: dir, Inventory: inv, Share: hub, Now: now, Logger: logger,
		Runner: host + ":" + abs, ctx: ctx, cancel: cancel}
}

// Close stops the running jobs (they end as interrupted) and waits for
// them up to ctx's end.
func (s *Service) Close(ctx context.Context) {
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Recover marks interrupted the jobs this node left open when its
// process stopped, and those of any node whose heartbeat stopped, and
// removes spool files that belong to no running job. It returns how many
// jobs it marked.
func (s *Service) Recover(ctx context.Context) (int, error) {
	now := s.Now().UTC()
	res, err := s.DB.Exec(ctx, `UPDATE import_jobs SET state = ?, finished_at = ?, error_code = ?, error_key = ?
		WHERE state IN (?, ?) AND (runner = ? OR heartbeat IS NULL OR heartbeat < ?)`,
		Interrupted, now, apperr.Unavailable, "imports.interrupted", Queued, Running, s.Runner, now.Add(-StaleAfter))
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return int(n), nil
		}
		return int(n), err
	}
	open, err := db.QueryStrings(ctx, s.DB, `SELECT id FROM import_jobs WHERE state IN (?, ?)`, Queued, Running)
	if err != nil {
		return int(n), err
	}
	keep := map[string]bool{}
	for _, id := range open {
		keep[id+".upload"] = true
	}
	for _, e := range entries {
		if !keep[e.Name()] && strings.HasSuffix(e.Name(), ".upload") {
			_ = os.Remove(filepath.Join(s.Dir, e.Name()))
		}
	}
	return int(n), nil
}

// Run is a job started by this node: Done is closed when it ends, then
// Outcome gives what the import returned, for a caller that waited.
type Run struct {
	Job   *Job
	done  chan struct{}
	value any
	err   error
}

// Done is closed when the job has ended.
func (r *Run) Done() <-chan struct{} { return r.done }

// Outcome is the import's own return (a *inventory.Preview, a
// *NmapOutcome or a *share.ImportOutcome) and error, once Done is closed.
func (r *Run) Outcome() (any, error) { return r.value, r.err }

// counter counts the bytes read from a job's file.
type counter struct {
	r io.Reader
	n atomic.Int64
}

func (c *counter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// work runs the import of a job on its spooled file. value is what the
// import returned, summary the job's recorded result.
type work func(ctx context.Context, file io.Reader) (value, summary any, err error)

// spec is a job about to start.
type spec struct {
	kind, orgID, fileName string
	limit                 int64
	tooLarge              func() error
	empty                 error
	run                   work
}

// start takes the gate's place, spools body, records the job and runs it.
func (s *Service) start(ctx context.Context, p *auth.Principal, sp spec, body io.Reader) (*Run, error) {
	release, err := s.Gate.Acquire(sp.orgID)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			release()
		}
	}()
	id := db.NewID()
	path := filepath.Join(s.Dir, id+".upload")
	size, err := s.spool(path, body, sp)
	if err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			_ = os.Remove(path)
		}
	}()
	now := s.Now().UTC()
	actor := p.Actor()
	j := &Job{ID: id, Kind: sp.kind, OrgID: sp.orgID, ActorOrgID: p.OrgID, State: Running, Actor: actor.UserID, Via: actor.Via,
		FileName: sp.fileName, Size: size, Progress: Progress{Total: size}, CreatedAt: now, StartedAt: &now, Heartbeat: &now, runner: s.Runner}
	if _, err := s.DB.Exec(ctx, `INSERT INTO import_jobs (id, org_id, actor_org_id, kind, state, actor, via, file_name, size,
		progress_done, progress_total, created_at, started_at, heartbeat, runner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`,
		j.ID, j.OrgID, j.ActorOrgID, j.Kind, j.State, j.Actor, j.Via, j.FileName, j.Size, j.Size, now, now, now, s.Runner); err != nil {
		return nil, err
	}
	run := &Run{Job: j, done: make(chan struct{})}
	ok = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.execute(run, path, sp.run, release)
	}()
	return run, nil
}

// spool writes body to path, at most sp.limit bytes.
func (s *Service) spool(path string, body io.Reader, sp spec) (int64, error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, io.LimitReader(body, sp.limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || err == nil && n > sp.limit:
		err = sp.tooLarge()
	case err != nil:
		err = apperr.Wrap(err, apperr.Invalid, "api.bad_json.read")
	case n == 0 && sp.empty != nil:
		err = sp.empty
	}
	if err != nil {
		_ = os.Remove(path)
		return 0, err
	}
	return n, nil
}

// execute runs the job and records how it ended. The spool file is
// removed and the gate's place given back before the end is recorded and
// Done closed, so that a client who sees the job ended may start the next
// import at once.
func (s *Service) execute(run *Run, path string, fn work, release func()) {
	defer close(run.done)
	ctx := s.ctx
	job := *run.Job
	j := &job
	f, err := os.Open(path)
	if err != nil {
		_ = os.Remove(path)
		release()
		run.err = err
		s.finish(j, nil, err)
		return
	}
	c := &counter{r: f}
	beatDone := make(chan struct{})
	stopBeat := make(chan struct{})
	go func() {
		defer close(beatDone)
		s.heartbeat(ctx, j.ID, c, stopBeat)
	}()
	value, summary, err := fn(ctx, c)
	close(stopBeat)
	<-beatDone
	f.Close()
	_ = os.Remove(path)
	release()
	j.Progress.Done = c.n.Load()
	run.value, run.err = value, err
	s.finish(j, summary, err)
}

func (s *Service) heartbeat(ctx context.Context, id string, c *counter, stop <-chan struct{}) {
	beat := s.Beat
	if beat <= 0 {
		beat = DefaultBeat
	}
	t := time.NewTicker(beat)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.DB.Exec(ctx, `UPDATE import_jobs SET heartbeat = ?, progress_done = ? WHERE id = ?`,
				s.Now().UTC(), c.n.Load(), id); err != nil && ctx.Err() == nil {
				s.Logger.Warn("import job heartbeat", "job", id, "err", err.Error())
			}
		}
	}
}

// finish records the end of a job: done with its summary, failed with
// its error, or interrupted when the node stopped it.
func (s *Service) finish(j *Job, summary any, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 30*time.Second)
	defer cancel()
	now := s.Now().UTC()
	j.FinishedAt = &now
	var result any
	var e apperrFields
	switch {
	case err == nil:
		j.State = Done
		b, merr := json.Marshal(summary)
		if merr != nil {
			b = []byte("null")
		}
		j.Result = b
		result = string(b)
	case errors.Is(err, context.Canceled) && s.ctx.Err() != nil:
		j.State = Interrupted
		j.Err = apperr.New(apperr.Unavailable, "imports.interrupted")
	default:
		j.State = Failed
		j.Err = errorOf(err)
		if j.Err.Code == apperr.Internal {
			s.Logger.Error("import job failed", "job", j.ID, "kind", j.Kind, "err", err)
		}
	}
	if j.Err != nil {
		e = apperrFields{string(j.Err.Code), j.Err.Key, encodeArgs(j.Err.Args), j.Err.Field}
	}
	if _, uerr := s.DB.Exec(ctx, `UPDATE import_jobs SET state = ?, finished_at = ?, heartbeat = ?, progress_done = ?, result = ?,
		error_code = ?, error_key = ?, error_args = ?, error_field = ? WHERE id = ?`,
		j.State, now, now, j.Progress.Done, result, e.code, e.key, e.args, e.field, j.ID); uerr != nil {
		s.Logger.Error("import job record", "job", j.ID, "err", uerr.Error())
	}
}

type apperrFields struct{ code, key, args, field string }

// Get returns the job id when p's organisation started it or owns it;
// another organisation's job is not found. A running job whose heartbeat
// stopped is shown as interrupted.
func (s *Service) Get(ctx context.Context, p *auth.Principal, id string) (*Job, error) {
	if p == nil || p.OrgID == "" {
		return nil, apperr.New(apperr.Unauthenticated, "error.unauthenticated")
	}
	if !db.ValidID(id) {
		return nil, apperr.New(apperr.NotFound, "error.not_found")
	}
	j, err := scanJob(s.DB.QueryRow(ctx, `SELECT `+jobColumns+` FROM import_jobs WHERE id = ? AND (org_id = ? OR actor_org_id = ?)`, id, p.OrgID, p.OrgID))
	if errors.Is(err, db.ErrNotFound) {
		return nil, apperr.New(apperr.NotFound, "error.not_found")
	}
	if err != nil {
		return nil, err
	}
	s.stale(j)
	return j, nil
}

// List returns the latest jobs (at most limit, newest first) of p's
// organisation.
func (s *Service) List(ctx context.Context, p *auth.Principal, limit int) ([]*Job, error) {
	if p == nil || p.OrgID == "" {
		return nil, apperr.New(apperr.Unauthenticated, "error.unauthenticated")
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	jobs, err := db.QueryAll(ctx, s.DB, scanJob, `SELECT `+jobColumns+` FROM import_jobs WHERE org_id = ? OR actor_org_id = ?
		ORDER BY created_at DESC, id DESC LIMIT `+fmt.Sprint(limit), p.OrgID, p.OrgID)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		s.stale(j)
	}
	return jobs, nil
}

// stale shows an open job whose heartbeat stopped as interrupted.
func (s *Service) stale(j *Job) {
	if j.Open() && (j.Heartbeat == nil || s.Now().Sub(*j.Heartbeat) > StaleAfter) {
		j.State = Interrupted
		j.Err = apperr.New(apperr.Unavailable, "imports.interrupted")
	}
}
