package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/imports"
)

// DefaultImportWait is how long an import request waits for its import
// before answering 202 with the job (Deps.ImportWait).
const DefaultImportWait = 30 * time.Second

// importRoutes are the import status entries of the route table.
func (a *API) importRoutes() []route {
	return []route{
		{"GET", "/api/v1/imports", true, false, a.listImports},
		{"GET", "/api/v1/imports/{id}", true, false, a.getImport},
	}
}

// jobBody is an import job as the API shows it.
type jobBody struct {
	*imports.Job
	// StateLabel is the state in the caller's language.
	StateLabel string `json:"state_label"`
	// Error is the message of a failed or interrupted import.
	Error *errorDetail `json:"error,omitempty"`
}

func (a *API) jobBody(c *call, j *imports.Job) jobBody {
	b := jobBody{Job: j, StateLabel: a.Catalog.T(c.lang, "imports.state."+string(j.State))}
	if j.Err != nil {
		b.Error = &errorDetail{Code: string(j.Err.Code), Message: a.Catalog.T(c.lang, j.Err.Key, j.Err.Args...), Field: j.Err.Field}
	}
	return b
}

func (a *API) getImport(w http.ResponseWriter, r *http.Request, c *call) error {
	j, err := a.ImportJobs.Get(r.Context(), c.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, a.jobBody(c, j))
	return nil
}

type jobList struct {
	Imports []jobBody `json:"imports"`
}

func (a *API) listImports(w http.ResponseWriter, r *http.Request, c *call) error {
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			return apperr.Field("limit", "share.api.bad_limit", 200)
		}
		limit = n
	}
	jobs, err := a.ImportJobs.List(r.Context(), c.p, limit)
	if err != nil {
		return err
	}
	out := jobList{Imports: []jobBody{}}
	for _, j := range jobs {
		out.Imports = append(out.Imports, a.jobBody(c, j))
	}
	a.reply(w, http.StatusOK, out)
	return nil
}

// respondAsync reports whether the client asked not to wait
// (Prefer: respond-async, RFC 7240).
func respondAsync(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(strings.SplitN(p, ";", 2)[0]), "respond-async") {
				return true
			}
		}
	}
	return false
}

// awaitImport waits for run up to the bound and returns what the import
// returned. When the client asked not to wait, or the import runs longer,
// it answers 202 Accepted with the job and its address instead and
// returns accepted true: the import goes on in the node.
func (a *API) awaitImport(w http.ResponseWriter, r *http.Request, c *call, run *imports.Run) (value any, accepted bool, err error) {
	wait := a.ImportWait
	if wait <= 0 {
		wait = DefaultImportWait
	}
	if !respondAsync(r) {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-run.Done():
			v, err := run.Outcome()
			return v, false, err
		case <-t.C:
		case <-r.Context().Done():
		}
	}
	j, err := a.ImportJobs.Get(r.Context(), c.p, run.Job.ID)
	if err != nil {
		j = run.Job
	}
	w.Header().Set("Location", "/api/v1/imports/"+j.ID)
	if respondAsync(r) {
		w.Header().Set("Preference-Applied", "respond-async")
	}
	a.reply(w, http.StatusAccepted, a.jobBody(c, j))
	return nil, true, nil
}
