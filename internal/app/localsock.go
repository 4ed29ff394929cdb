package app

// The local socket: on SQLite one process should write the database. A
// serving node listens on <data folder>/medisac.sock (mode 0600, so only
// the folder's owner reaches it); a command line import on the same data
// folder hands its file to the node there as an import job and follows it,
// so the node's own writers (the periodic re-match, …) and the import take
// turns in the node's one write queue instead of the two processes
// fighting over SQLite's lock. Without a live node the command imports
// directly, as before. On PostgreSQL the command imports directly: the
// server's row locks and short transactions let two processes write side by
// side, and a cluster has no one data folder.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/imports"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/share"
)

// socketName is the local socket's file in the data folder.
const socketName = "medisac.sock"

func socketPath(cfg *Config) string { return filepath.Join(cfg.DataDir, socketName) }

// databaseIdentity names the database of a configuration, the same for
// the node and a command run elsewhere on the same files: the SQLite
// file's absolute path; "" for PostgreSQL.
func databaseIdentity(cfg *Config) string {
	u := cfg.DatabaseURL
	if strings.HasPrefix(u, "postgres") {
		return ""
	}
	p := strings.TrimPrefix(strings.TrimPrefix(u, "sqlite://"), "file:")
	p, _, _ = strings.Cut(p, "?")
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	if r, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(r, filepath.Base(abs))
	}
	return abs
}

// listenLocal opens the node's local socket: on SQLite only. A socket
// file left by a killed node (nobody answers on it) is replaced; one a
// live node answers on is left alone and this node goes without.
func (n *Node) listenLocal() (net.Listener, error) {
	if n.DB.Dialect() != db.SQLite {
		return nil, nil
	}
	path := socketPath(n.Cfg)
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("another server answers on %s", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(n.Cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// localHandler answers the command line on the local socket.
func (n *Node) localHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/node", func(w http.ResponseWriter, r *http.Request) {
		writeLocal(w, http.StatusOK, map[string]any{"database": databaseIdentity(n.Cfg), "pid": os.Getpid()})
	})
	mux.HandleFunc("POST /v1/imports/share", func(w http.ResponseWriter, r *http.Request) {
		qs := r.URL.Query()
		p, err := localPrincipal(r.Context(), n.DB, qs.Get("user"), qs.Get("org"))
		if err != nil {
			writeLocalError(w, err)
			return
		}
		in := imports.ShareInput{FileName: qs.Get("file"), Details: map[string]any{"file": qs.Get("file")}, Limit: imports.MaxCLIImport}
		run, err := n.Imports.ImportShare(r.Context(), p, in, r.Body)
		if err != nil {
			writeLocalError(w, err)
			return
		}
		writeLocal(w, http.StatusAccepted, localJob(run.Job))
	})
	mux.HandleFunc("POST /v1/imports/register", func(w http.ResponseWriter, r *http.Request) {
		qs := r.URL.Query()
		p, err := localPrincipal(r.Context(), n.DB, qs.Get("user"), qs.Get("org"))
		if err != nil {
			writeLocalError(w, err)
			return
		}
		run, err := n.Imports.ImportRegister(r.Context(), p, p.OrgID, imports.RegisterInput{FileName: qs.Get("file")}, r.Body)
		if err != nil {
			writeLocalError(w, err)
			return
		}
		writeLocal(w, http.StatusAccepted, localJob(run.Job))
	})
	mux.HandleFunc("GET /v1/imports/{id}", func(w http.ResponseWriter, r *http.Request) {
		qs := r.URL.Query()
		p, err := localPrincipal(r.Context(), n.DB, qs.Get("user"), qs.Get("org"))
		if err != nil {
			writeLocalError(w, err)
			return
		}
		j, err := n.Imports.Get(r.Context(), p, r.PathValue("id"))
		if err != nil {
			writeLocalError(w, err)
			return
		}
		writeLocal(w, http.StatusOK, localJob(j))
	})
	return mux
}

// localPrincipal is the command line acting for orgID, as a direct
// command would be (auth.CommandLine with the user's name).
func localPrincipal(ctx context.Context, d *db.DB, user, orgID string) (*auth.Principal, error) {
	var kind string
	if err := d.QueryRow(ctx, `SELECT kind FROM organizations WHERE id = ?`, orgID).Scan(&kind); err != nil {
		return nil, &localError{Code: "no_org", Message: fmt.Sprintf("no organisation %q", orgID)}
	}
	p := auth.CommandLine(user, orgID)
	p.OrgKind = auth.OrgKind(kind)
	return p, nil
}

// localJobBody is a job on the local socket, its error with key and
// arguments for the command to print in both languages.
type localJobBody struct {
	*imports.Job
	Error *localError `json:"error,omitempty"`
}

type localError struct {
	Code    string `json:"code"`
	Key     string `json:"key,omitempty"`
	Args    []any  `json:"args,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message,omitempty"`
}

func (e *localError) Error() string { return e.Code + ": " + e.Key + e.Message }

func localErrorOf(e *apperr.Error) *localError {
	return &localError{Code: string(e.Code), Key: e.Key, Args: e.Args, Field: e.Field}
}

func localJob(j *imports.Job) localJobBody {
	b := localJobBody{Job: j}
	if j.Err != nil {
		b.Error = localErrorOf(j.Err)
	}
	return b
}

func writeLocal(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeLocalError(w http.ResponseWriter, err error) {
	var le *localError
	if errors.As(err, &le) {
		writeLocal(w, http.StatusBadRequest, map[string]any{"error": le})
		return
	}
	e := apperr.From(err)
	if e.Code == apperr.Internal {
		e = apperr.New(apperr.Internal, "error.internal")
	}
	writeLocal(w, apperr.Status(e.Code), map[string]any{"error": localErrorOf(e)})
}

// localClient talks to a live node on the data folder of cfg.
type localClient struct {
	c    *http.Client
	user string
	org  string
}

// dialNode returns a client of the node serving the same SQLite database
// as cfg, or nil when none is running (no socket, a stale one, another
// database, or PostgreSQL).
func dialNode(ctx context.Context, cfg *Config, org string) *localClient {
	if databaseIdentity(cfg) == "" {
		return nil
	}
	path := socketPath(cfg)
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	lc := &localClient{c: &http.Client{Transport: tr}, user: os.Getenv("USER"), org: org}
	var node struct {
		Database string `json:"database"`
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := lc.do(cctx, http.MethodGet, "/v1/node", nil, &node); err != nil || node.Database != databaseIdentity(cfg) {
		return nil
	}
	return lc
}

func (lc *localClient) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	q := url.Values{"user": {lc.user}, "org": {lc.org}}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://medisac"+path+sep+q.Encode(), body)
	if err != nil {
		return err
	}
	res, err := lc.c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		var e struct {
			Error *localError `json:"error"`
		}
		if err := json.NewDecoder(res.Body).Decode(&e); err != nil || e.Error == nil {
			return fmt.Errorf("server answered %s", res.Status)
		}
		return e.Error
	}
	return json.NewDecoder(res.Body).Decode(out)
}

// follow polls the job until it ends and returns it.
func (lc *localClient) follow(ctx context.Context, id string, every time.Duration) (*localJobBody, error) {
	for {
		var j localJobBody
		if err := lc.do(ctx, http.MethodGet, "/v1/imports/"+id, nil, &j); err != nil {
			return nil, err
		}
		if !j.Open() {
			return &j, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(every):
		}
	}
}

// jobError is the command's error for a job that did not finish.
func jobError(e *localError) error {
	if e == nil {
		return errors.New("import failed")
	}
	if e.Key == "" {
		return usageError("%s", e.Message)
	}
	args := e.Args
	for i, a := range args {
		if f, ok := a.(float64); ok && f == float64(int64(f)) {
			args[i] = int64(f)
		}
	}
	return cliError(&apperr.Error{Code: apperr.Code(e.Code), Key: e.Key, Args: args, Field: e.Field})
}

// importViaNode posts body to the node as an import job of kind (share
// or register), follows it and returns it once it ended.
func importViaNode(ctx context.Context, lc *localClient, kind, name string, body io.Reader) (*localJobBody, error) {
	var j localJobBody
	if err := lc.do(ctx, http.MethodPost, "/v1/imports/"+kind+"?file="+url.QueryEscape(name), body, &j); err != nil {
		return nil, err
	}
	cat, err := catalog()
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, bilingual(cat, "imports.cli.handed", j.ID))
	done, err := lc.follow(ctx, j.ID, 500*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, bilingual(cat, "imports.cli.lost", "GET /api/v1/imports/"+j.ID))
	}
	return done, nil
}

// shareImportViaNode hands file to the node as a share import job,
// follows it and prints its result as a direct import does.
func shareImportViaNode(ctx context.Context, lc *localClient, file string, stdout io.Writer) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	done, err := importViaNode(ctx, lc, "share", file, f)
	var le *localError
	if errors.As(err, &le) {
		return jobError(le)
	}
	if err != nil {
		return err
	}
	if done.State != imports.Done {
		return jobError(done.Error)
	}
	sum := imports.ShareSummary{ImportResult: &share.ImportResult{}}
	if err := json.Unmarshal(done.Result, &sum); err != nil {
		return err
	}
	printShareImport(stdout, sum.Format, sum.Skipped, sum.ImportResult)
	return nil
}

// registerImportViaNode hands a register file to the node and prints the
// counts as a direct import does. It returns handled false when the
// import failed for errors in the file: the caller previews it to print
// every error.
func registerImportViaNode(ctx context.Context, lc *localClient, cat *i18n.Catalog, name string, data []byte, stdout io.Writer) (handled bool, err error) {
	done, err := importViaNode(ctx, lc, "register", name, bytes.NewReader(data))
	var le *localError
	if errors.As(err, &le) {
		if le.Code == "no_org" {
			return true, fmt.Errorf("組織 %s が見つかりません / organisation %s not found", lc.org, lc.org)
		}
		return true, jobError(le)
	}
	if err != nil {
		return true, err
	}
	if done.State != imports.Done {
		if done.Error != nil && done.Error.Key == "inventory.import.has_errors" {
			return false, nil
		}
		return true, jobError(done.Error)
	}
	var sum imports.RegisterSummary
	if err := json.Unmarshal(done.Result, &sum); err != nil {
		return true, err
	}
	printPreview(stdout, cat, &inventory.Preview{Format: sum.Format, Encoding: sum.Encoding, Counts: sum.Counts, NewSegments: sum.NewSegments})
	fmt.Fprintln(stdout, "取り込みました / imported")
	return true, nil
}
