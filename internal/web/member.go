package web

import (
	"net/http"

	"github.com/medisac/medisac/internal/auth"
)

// member is the signed-in person a handler acts for.
type member struct {
	// P is the principal: who, in which organisation, from where. Pass it
	// to the capability service, which checks the permission table and
	// writes the audit entry.
	P    *auth.Principal
	Lang string
}

// memberHandler is the shape of a handler for signed-in people: it parses
// the request, calls one use case and renders the answer; an error it
// returns is rendered as the error page by the adapter. A handler that
// shows the error inside its form renders that itself and returns nil.
type memberHandler func(w http.ResponseWriter, r *http.Request, m *member) error

// act adapts h for the route table, inside requireUser, requireAdmin or
// requireOperator (which send people who are not signed in to sign in):
// h's error is rendered once, here.
func (s *Server) act(h memberHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st := state(r)
		if err := h(w, r, &member{P: st.p, Lang: st.lang}); err != nil {
			s.renderError(w, r, err)
		}
	}
}
