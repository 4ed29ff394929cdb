package web

import (
	"net/http"
	"net/url"

	"github.com/medisac/medisac/internal/apperr"
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

// actJSON is act for the endpoints a page's script calls (the passkey
// ceremonies): h's error is answered as JSON, once, here.
func (s *Server) actJSON(h memberHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st := state(r)
		if err := h(w, r, &member{P: st.p, Lang: st.lang}); err != nil {
			s.jsonError(w, r, err)
		}
	}
}

// may asks the permission table whether m may take action in its own
// organisation (the same rule the service asks): a refusal of someone who
// may not write at all says so.
func (m *member) may(action string) error {
	err := auth.Authorize(m.P, action, auth.Target{OrgID: m.P.OrgID})
	if apperr.Is(err, apperr.Forbidden) && !m.P.CanWrite() {
		return apperr.New(apperr.Forbidden, "error_page.read_only")
	}
	return err
}

// orgMay is may for a change to the working data of m's own organisation,
// which an ISAC operator does not have: it returns that organisation.
func (m *member) orgMay(action string) (string, error) {
	if err := m.may(action); err != nil {
		return "", err
	}
	return invOrg(m.P)
}

// formPage renders a page whose form may come back: prevErr is the error
// of the form sent (nil when the page is first shown) and submitted what
// was typed into it.
type formPage func(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) error

// show is the page's GET handler: the page with its form not yet sent.
func (f formPage) show(w http.ResponseWriter, r *http.Request, _ *member) error {
	return f(w, r, nil, nil)
}

// open adapts h, a handler of a page for people not (yet) signed in
// (signing in, a reset or invitation link), for the route table: h's error
// is rendered once, here, as act does.
func (s *Server) open(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.renderError(w, r, err)
		}
	}
}

// halfwayHandler is the shape of a handler for someone who passed the
// password but not yet the second factor: sess is that partial session,
// p whom it is for.
type halfwayHandler func(w http.ResponseWriter, r *http.Request, sess *auth.Session, p *auth.Principal) error

// halfway adapts h like open, sending anyone without a partial session
// where partial sends them.
func (s *Server) halfway(h halfwayHandler) http.HandlerFunc {
	return s.open(func(w http.ResponseWriter, r *http.Request) error {
		sess, p, ok := s.partial(w, r)
		if !ok {
			return nil
		}
		return h(w, r, sess, p)
	})
}

// halfwayJSON is halfway for the script endpoints of the second-factor
// step: no partial session and h's error are answered as JSON.
func (s *Server) halfwayJSON(h halfwayHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, p, ok := s.partialJSON(w, r)
		if !ok {
			return
		}
		if err := h(w, r, sess, p); err != nil {
			s.jsonError(w, r, err)
		}
	}
}

// orgHandler is a memberHandler for the working data of the member's own
// organisation (the register, the findings): orgID is that organisation.
type orgHandler func(w http.ResponseWriter, r *http.Request, m *member, orgID string) error

// inOrg adapts h for the route table: someone without working data of
// their own (an ISAC operator) is refused as invOrg refuses, before h.
func inOrg(h orgHandler) memberHandler {
	return func(w http.ResponseWriter, r *http.Request, m *member) error {
		orgID, err := invOrg(m.P)
		if err != nil {
			return err
		}
		return h(w, r, m, orgID)
	}
}
