package web

import (
	"net/http"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
)

// refuseAction asks the permission table whether the signed-in principal
// may do action in its own organisation (the pages always work there); if
// not, it shows the refusal and reports true. A principal who may change
// nothing gets the read-only page.
func (s *Server) refuseAction(w http.ResponseWriter, r *http.Request, action string) bool {
	p := state(r).p
	orgID := ""
	if p != nil {
		orgID = p.OrgID
	}
	return s.refuseErr(w, r, auth.Authorize(p, action, auth.Target{OrgID: orgID}))
}

// refuseErr shows the refusal err of an authorization check, if any, and
// reports whether there was one.
func (s *Server) refuseErr(w http.ResponseWriter, r *http.Request, err error) bool {
	if err == nil {
		return false
	}
	if apperr.Is(err, apperr.Forbidden) && !state(r).p.CanWrite() {
		err = apperr.New(apperr.Forbidden, "error_page.read_only")
	}
	s.renderError(w, r, err)
	return true
}
