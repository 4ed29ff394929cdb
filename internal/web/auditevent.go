package web

import (
	"net/http"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/db"
)

// auditEvent records one audit entry for the request, on q (a transaction
// or the database), filling in who and from where. Only handlers whose use
// case has not yet moved into its capability's service call it; it goes
// when the last of them does.
func (s *Server) auditEvent(r *http.Request, q db.Querier, e audit.Entry) error {
	if s.Audit == nil {
		return nil
	}
	if e.IP == "" {
		e.IP = clientIP(r)
	}
	if e.UserAgent == "" {
		e.UserAgent = r.UserAgent()
	}
	if p := state(r).p; p != nil && e.ActorID == "" {
		e.ActorID, e.Actor = p.UserID, p.Email
		if e.OrgID == "" {
			e.OrgID = p.OrgID
		}
	}
	if e.Outcome == "" {
		e.Outcome = audit.Success
	}
	_, err := s.Audit.Append(r.Context(), q, e)
	return err
}
