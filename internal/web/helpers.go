package web

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/medisac/medisac/internal/apperr"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func dataURI(mime string, b []byte) string {
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sendFile answers with the file b (disposition names it), kept in no
// cache.
func sendFile(w http.ResponseWriter, contentType, disposition string, b []byte) error {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", disposition)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
	return nil
}

// jsonError answers the page scripts' JSON calls in the API's error shape.
func (s *Server) jsonError(w http.ResponseWriter, r *http.Request, err error) {
	ae := apperr.From(err)
	if ae.Code == apperr.Internal {
		s.Logger.Error("internal error", "path", r.URL.Path, "err", err)
	}
	writeJSON(w, apperr.Status(ae.Code), map[string]any{"error": map[string]string{
		"code": string(ae.Code), "message": s.Catalog.T(state(r).lang, ae.Key, ae.Args...), "field": ae.Field}})
}
