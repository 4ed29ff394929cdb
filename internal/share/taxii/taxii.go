// Package taxii is medisac's TAXII 2.1 server: discovery at /taxii2/, one
// API root /taxii2/root/, collections per sharing scope, objects with
// added_after/next pagination, manifest, versions, POST of envelopes with
// status resources. Clients authenticate with API tokens (Bearer, or Basic
// with the token as password) and see exactly what their organisation may
// see in the hub: every listing goes through share's visibility predicate.
package taxii

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/share"
)

// MediaType is the TAXII 2.1 media type.
const MediaType = share.TAXIIMediaType

// MaxContentLength is the largest POST body accepted, in bytes.
const MaxContentLength = 16 << 20

// Server serves /taxii2/.
type Server struct {
	DB     *db.DB
	Now    func() time.Time
	Logger *slog.Logger
	// Title is shown in discovery.
	Title string
	// Share is the sharing hub's service, which imports what is added to
	// a collection (New makes one on DB; the node sets its own).
	Share *share.Hub
}

// New returns a TAXII server on d.
func New(d *db.DB, now func() time.Time, logger *slog.Logger) *Server {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{DB: d, Now: now, Logger: logger, Title: "medisac 医療ISAC TAXII", Share: &share.Hub{DB: d, Now: now}}
}

type taxiiError struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	HTTPStatus  string `json:"http_status"`
}

func (s *Server) write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", MediaType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) fail(w http.ResponseWriter, status int, title, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Add("WWW-Authenticate", `Basic realm="medisac TAXII", charset="UTF-8"`)
		w.Header().Add("WWW-Authenticate", `Bearer realm="medisac TAXII"`)
	}
	s.write(w, status, taxiiError{Title: title, Description: desc, HTTPStatus: strconv.Itoa(status)})
}

// acceptsTAXII reports whether an Accept header allows TAXII 2.1 JSON.
func acceptsTAXII(h string) bool {
	for _, part := range strings.Split(h, ",") {
		mt := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(part), " ", ""))
		if i := strings.Index(mt, ";q="); i >= 0 {
			mt = mt[:i]
		}
		if mt == "application/taxii+json" || mt == "application/taxii+json;version=2.1" {
			return true
		}
	}
	return false
}

func (s *Server) principal(r *http.Request) (*auth.Principal, error) {
	h := r.Header.Get("Authorization")
	var raw string
	switch {
	case strings.HasPrefix(h, "Bearer "):
		raw = strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
	default:
		if _, pw, ok := r.BasicAuth(); ok {
			raw = pw
		}
	}
	if raw == "" {
		return nil, errors.New("no credentials")
	}
	p, err := auth.PrincipalForToken(r.Context(), s.DB, raw, s.Now())
	if p != nil {
		p.IP, p.UserAgent, p.Via = r.RemoteAddr, r.UserAgent(), audit.ViaAPI
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			p.IP = host
		}
	}
	return p, err
}

// ServeHTTP answers every request under /taxii2/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, err := s.principal(r)
	if err != nil {
		s.fail(w, http.StatusUnauthorized, "Authentication required", "Send an API token as Bearer, or as the Basic password.")
		return
	}
	if !acceptsTAXII(r.Header.Get("Accept")) {
		s.fail(w, http.StatusNotAcceptable, "Not acceptable", "Accept must include "+MediaType)
		return
	}
	v := share.ViewerOf(p)
	path := strings.TrimPrefix(r.URL.Path, "/taxii2/")
	parts := strings.Split(strings.TrimSuffix(path, "/"), "/")
	if path == "" {
		parts = nil
	}
	if path != "" && !strings.HasSuffix(path, "/") {
		s.fail(w, http.StatusNotFound, "Not found", "TAXII paths end with /")
		return
	}
	ctx := r.Context()
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case len(parts) == 0 && get:
		s.write(w, http.StatusOK, map[string]any{"title": s.Title, "description": "Posts of the medisac sharing hub, under TLP 2.0.",
			"default": "/taxii2/root/", "api_roots": []string{"/taxii2/root/"}})
	case len(parts) == 0 || parts[0] != "root":
		s.notFoundOrMethod(w, get)
	case len(parts) == 1 && get:
		s.write(w, http.StatusOK, map[string]any{"title": "medisac", "versions": []string{MediaType}, "max_content_length": MaxContentLength})
	case len(parts) == 3 && parts[1] == "status" && get:
		st, err := share.GetStatus(ctx, s.DB, v, parts[2])
		if err != nil {
			s.storeErr(w, err)
			return
		}
		s.write(w, http.StatusOK, st)
	case len(parts) == 2 && parts[1] == "collections" && get:
		cs, err := share.Collections(ctx, s.DB, v)
		if err != nil {
			s.storeErr(w, err)
			return
		}
		if len(cs) == 0 {
			s.write(w, http.StatusOK, map[string]any{})
			return
		}
		s.write(w, http.StatusOK, map[string]any{"collections": cs})
	case len(parts) >= 3 && parts[1] == "collections":
		c, err := share.FindCollection(ctx, s.DB, v, parts[2])
		if err != nil {
			s.storeErr(w, err)
			return
		}
		s.collection(w, r, v, c, parts[3:])
	default:
		s.notFoundOrMethod(w, get)
	}
}

func (s *Server) notFoundOrMethod(w http.ResponseWriter, get bool) {
	if !get {
		s.fail(w, http.StatusMethodNotAllowed, "Method not allowed", "")
		return
	}
	s.fail(w, http.StatusNotFound, "Not found", "")
}

func (s *Server) storeErr(w http.ResponseWriter, err error) {
	if errors.Is(err, db.ErrNotFound) {
		s.fail(w, http.StatusNotFound, "Not found", "")
		return
	}
	ae := apperr.From(err)
	if ae == nil || ae.Code == apperr.Internal {
		s.Logger.Error("taxii", "err", err)
		s.fail(w, http.StatusInternalServerError, "Internal error", "")
		return
	}
	s.fail(w, apperr.Status(ae.Code), string(ae.Code), ae.Key)
}

func (s *Server) collection(w http.ResponseWriter, r *http.Request, v share.Viewer, c *share.Collection, rest []string) {
	ctx := r.Context()
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case len(rest) == 0 && get:
		s.write(w, http.StatusOK, c)
	case len(rest) == 1 && rest[0] == "manifest" && get:
		s.list(w, r, v, c, "", "manifest")
	case len(rest) == 1 && rest[0] == "objects" && get:
		s.list(w, r, v, c, "", "objects")
	case len(rest) == 1 && rest[0] == "objects" && r.Method == http.MethodPost:
		s.add(w, r, v, c)
	case len(rest) == 2 && rest[0] == "objects" && get:
		s.list(w, r, v, c, rest[1], "object")
	case len(rest) == 2 && rest[0] == "objects" && r.Method == http.MethodDelete:
		s.fail(w, http.StatusForbidden, "Forbidden", "Objects are removed by deleting their post in medisac.")
	case len(rest) == 3 && rest[0] == "objects" && rest[2] == "versions" && get:
		s.list(w, r, v, c, rest[1], "versions")
	default:
		s.notFoundOrMethod(w, get)
	}
	_ = ctx
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// parseQuery reads the TAXII filters; malformed ones are a 400.
func parseQuery(r *http.Request, objectID, kind string) (share.ObjectQuery, error) {
	qs := r.URL.Query()
	var f share.ObjectQuery
	if a := qs.Get("added_after"); a != "" {
		t, err := time.Parse(time.RFC3339Nano, a)
		if err != nil {
			return f, errors.New("added_after must be an RFC 3339 timestamp")
		}
		f.AddedAfter = t
	}
	if l := qs.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			return f, errors.New("limit must be a positive integer")
		}
		f.Limit = n
	}
	f.Next = qs.Get("next")
	f.IDs = splitList(qs.Get("match[id]"))
	f.Types = splitList(qs.Get("match[type]"))
	f.Versions = splitList(qs.Get("match[version]"))
	f.SpecVersions = splitList(qs.Get("match[spec_version]"))
	for _, x := range f.Versions {
		if x != "all" && x != "first" && x != "last" {
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				return f, errors.New("match[version] must be first, last, all or timestamps")
			}
		}
	}
	if objectID != "" {
		f.IDs = []string{objectID}
		if kind == "versions" {
			f.Versions = []string{"all"}
		}
	}
	return f, nil
}

func taxiiTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func (s *Server) list(w http.ResponseWriter, r *http.Request, v share.Viewer, c *share.Collection, objectID, kind string) {
	f, err := parseQuery(r, objectID, kind)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	page, err := share.ListObjects(r.Context(), s.DB, v, c, f, kind == "objects" || kind == "object")
	if err != nil {
		if errors.Is(err, share.ErrBadNext) {
			s.fail(w, http.StatusBadRequest, "Bad request", "next is not a value this server gave")
			return
		}
		s.storeErr(w, err)
		return
	}
	if kind == "object" && len(page.Records) == 0 && f.Next == "" && f.AddedAfter.IsZero() {
		s.fail(w, http.StatusNotFound, "Not found", "")
		return
	}
	if n := len(page.Records); n > 0 {
		w.Header().Set("X-TAXII-Date-Added-First", taxiiTime(page.Records[0].DateAdded))
		w.Header().Set("X-TAXII-Date-Added-Last", taxiiTime(page.Records[n-1].DateAdded))
	}
	out := map[string]any{}
	if page.More {
		out["more"] = true
		out["next"] = page.Next
	} else {
		out["more"] = false
	}
	switch kind {
	case "manifest":
		var recs []map[string]any
		for _, x := range page.Records {
			recs = append(recs, map[string]any{"id": x.ID, "date_added": taxiiTime(x.DateAdded), "version": x.Version, "media_type": share.STIXMediaType})
		}
		if recs != nil {
			out["objects"] = recs
		}
	case "versions":
		var vs []string
		for _, x := range page.Records {
			vs = append(vs, x.Version)
		}
		if vs != nil {
			out["versions"] = vs
		}
	default:
		var objs []json.RawMessage
		seen := map[string]bool{}
		for _, x := range page.Records {
			if seen[x.ID+"|"+x.Version] {
				continue
			}
			seen[x.ID+"|"+x.Version] = true
			objs = append(objs, x.Body)
		}
		if objs != nil {
			out["objects"] = objs
		}
	}
	s.write(w, http.StatusOK, out)
}

func (s *Server) add(w http.ResponseWriter, r *http.Request, v share.Viewer, c *share.Collection) {
	ct := strings.ToLower(strings.ReplaceAll(r.Header.Get("Content-Type"), " ", ""))
	if ct != "application/taxii+json;version=2.1" && ct != "application/taxii+json" {
		s.fail(w, http.StatusUnsupportedMediaType, "Unsupported media type", "Content-Type must be "+MediaType)
		return
	}
	if !c.CanWrite || !v.Write {
		s.fail(w, http.StatusForbidden, "Forbidden", "This token cannot write.")
		return
	}
	if r.ContentLength > MaxContentLength {
		s.fail(w, http.StatusRequestEntityTooLarge, "Request too large", "max_content_length is "+strconv.Itoa(MaxContentLength))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxContentLength+1))
	if err != nil {
		s.fail(w, http.StatusBadRequest, "Bad request", "could not read the body")
		return
	}
	if len(body) > MaxContentLength {
		s.fail(w, http.StatusRequestEntityTooLarge, "Request too large", "max_content_length is "+strconv.Itoa(MaxContentLength))
		return
	}
	st, err := s.Share.AddObjects(r.Context(), v.P, c, body)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Invalid {
			s.fail(w, http.StatusBadRequest, "Bad request", "The body is not a TAXII envelope of STIX 2.1 objects.")
			return
		}
		s.storeErr(w, err)
		return
	}
	s.write(w, http.StatusAccepted, st)
}
