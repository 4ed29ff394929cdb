// Package imports runs long file imports as jobs of the node. A job's file
// is spooled to the node's data folder, its record (table import_jobs)
// keeps its state, progress, result or error, and the import itself runs
// in the node through the same service methods as a direct import
// (inventory.Service.ApplyImport, share.Hub.Import), with the caller's
// principal, so that its audit entry is the same whichever door started it.
//
// An API request that starts an import waits for it up to a bound and
// answers as before when it finishes in time; otherwise (or when the client
// asks for it with Prefer: respond-async) it answers 202 with the job, which
// the client follows at GET /api/v1/imports/{id}. A command line import
// beside a running SQLite server hands its file to the server the same way
// (see internal/app/localsock.go), so that one process writes the database.
package imports

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// State is where a job is.
type State string

// The states of a job. Queued and Running are open; the others final.
const (
	Queued      State = "queued"
	Running     State = "running"
	Done        State = "done"
	Failed      State = "failed"
	Interrupted State = "interrupted"
)

// Kinds of job: the audited action each runs.
const (
	KindRegister = "inventory.import"
	KindShare    = "share.import"
)

// Job is one import job as recorded.
type Job struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	OrgID      string `json:"org_id"`
	ActorOrgID string `json:"-"`
	State      State  `json:"state"`
	// Actor is who started the import (a user id, or cli:NAME).
	Actor    string   `json:"actor"`
	Via      string   `json:"via"`
	FileName string   `json:"file_name"`
	Size     int64    `json:"size"`
	Progress Progress `json:"progress"`
	// Result is the summary of a finished import (see RegisterSummary and
	// ShareSummary); nil until then.
	Result json.RawMessage `json:"result,omitempty"`
	// Err is the error of a failed or interrupted job.
	Err        *apperr.Error `json:"-"`
	CreatedAt  time.Time     `json:"created_at"`
	StartedAt  *time.Time    `json:"started_at,omitempty"`
	FinishedAt *time.Time    `json:"finished_at,omitempty"`
	Heartbeat  *time.Time    `json:"heartbeat_at,omitempty"`
	runner     string
}

// Progress counts the bytes of the file read so far.
type Progress struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// Open reports whether the job has not ended.
func (j *Job) Open() bool { return j.State == Queued || j.State == Running }

const jobColumns = `id, org_id, actor_org_id, kind, state, actor, via, file_name, size, progress_done, progress_total,
	result, error_code, error_key, error_args, error_field, created_at, started_at, finished_at, heartbeat, runner`

func scanJob(r db.Scanner) (*Job, error) {
	j := &Job{}
	var result sql.NullString
	var code, key, args, field string
	var started, finished, beat sql.NullTime
	if err := r.Scan(&j.ID, &j.OrgID, &j.ActorOrgID, &j.Kind, &j.State, &j.Actor, &j.Via, &j.FileName, &j.Size,
		&j.Progress.Done, &j.Progress.Total, &result, &code, &key, &args, &field, &j.CreatedAt, &started, &finished, &beat, &j.runner); err != nil {
		return nil, db.ScanErr(err)
	}
	if result.Valid && result.String != "" {
		j.Result = json.RawMessage(result.String)
	}
	if key != "" {
		j.Err = &apperr.Error{Code: apperr.Code(code), Key: key, Args: decodeArgs(args), Field: field}
	}
	j.StartedAt, j.FinishedAt, j.Heartbeat = timePtr(started), timePtr(finished), timePtr(beat)
	return j, nil
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time.UTC()
	return &v
}

// encodeArgs keeps an error's message arguments as JSON.
func encodeArgs(args []any) string {
	if len(args) == 0 {
		return ""
	}
	b, err := json.Marshal(args)
	if err != nil {
		return ""
	}
	return string(b)
}

// decodeArgs reads them back; whole numbers become int64 again, so that a
// message's %d prints them as before.
func decodeArgs(s string) []any {
	if s == "" {
		return nil
	}
	var args []any
	if err := json.Unmarshal([]byte(s), &args); err != nil {
		return nil
	}
	for i, a := range args {
		if f, ok := a.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			args[i] = int64(f)
		}
	}
	return args
}

// errorOf is the application error a job ended with.
func errorOf(err error) *apperr.Error {
	if errors.Is(err, context.Canceled) {
		return apperr.New(apperr.Unavailable, "imports.interrupted")
	}
	e := apperr.From(err)
	if e.Code == apperr.Internal {
		return apperr.New(apperr.Internal, "error.internal")
	}
	return e
}
