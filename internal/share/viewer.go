package share

import (
	"errors"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// Viewer is who reads or writes: a person acting for an organisation, an
// ISAC operator, or nobody (the public, OrgID ""). Every store function
// takes one and filters through the same visibility predicate.
type Viewer struct {
	OrgID    string
	UserID   string
	Operator bool
	// Admin is set for admins of OrgID; they may change the label of their
	// organisation's posts.
	Admin bool
	// Write is false for auditors and read-only tokens.
	Write bool
	// P is the signed-in principal the viewer was made from; permission
	// checks ask auth.Authorize with it. Viewers built without one (the
	// command line, a feed pulled for the person who registered it) are
	// turned into one by principal.
	P *auth.Principal
}

// ViewerOf is the viewer of a principal; nil is the public.
func ViewerOf(p *auth.Principal) Viewer {
	if p == nil || p.OrgID == "" {
		return Viewer{}
	}
	v := Viewer{OrgID: p.OrgID, UserID: p.UserID, Operator: p.IsOperator(), Admin: p.IsAdmin(), Write: p.CanWrite(), P: p}
	if p.System {
		// The command line acts for the organisation, not as a person of
		// it.
		v.UserID = ""
	}
	return v
}

// principal is the principal permission checks are asked with: the one v
// was made from, else one built from v's fields (an admin or staff member,
// an auditor when v may not write, of an ISAC operator when v is one).
func (v Viewer) principal() *auth.Principal {
	if v.P != nil {
		return v.P
	}
	if v.OrgID == "" {
		return nil
	}
	p := &auth.Principal{UserID: v.UserID, OrgID: v.OrgID, Role: auth.RoleStaff, OrgKind: auth.KindHospital}
	if v.Admin {
		p.Role = auth.RoleAdmin
	}
	if !v.Write {
		p.Role = auth.RoleAuditor
	}
	if v.Operator {
		p.OrgKind = auth.KindISAC
	}
	if p.UserID == "" {
		// The command line acts for an organisation without a person.
		p.UserID = "system:" + v.OrgID
	}
	return p
}

// authorize is THE permission check of the hub's use cases: the row action
// of the permission table for the object t, whichever surface (web, API,
// TAXII, command line) called.
func (v Viewer) authorize(action string, t auth.Target) error {
	return auth.Authorize(v.principal(), action, t)
}

// Member reports whether v is signed in for a member organisation.
func (v Viewer) Member() bool { return v.OrgID != "" }

// visibleTemplate is THE visibility rule of the hub over a post aliased p.
// {org}, {user} and {op} stand for the reader's organisation id, person id
// and operator flag: bound values for one reader, or column expressions
// when the fan-out evaluates it for every member at once.
const visibleTemplate = `(p.import_id IS NULL AND (p.tlp = 'clear' OR ({org} <> '' AND (
 p.tlp = 'green'
 OR (p.tlp IN ('amber','amber_strict') AND (p.author_org_id = {org} OR EXISTS (
   SELECT 1 FROM share_recipients r WHERE r.post_id = p.id AND (
     (r.kind = 'org' AND r.ref_id = {org})
     OR (r.kind = 'group' AND p.tlp = 'amber' AND EXISTS (
       SELECT 1 FROM share_group_members gm WHERE gm.group_id = r.ref_id AND gm.org_id = {org} AND gm.state = 'accepted'))))))
 OR (p.tlp = 'red' AND {user} <> '' AND (p.author_user_id = {user} OR EXISTS (
   SELECT 1 FROM share_recipients r WHERE r.post_id = p.id AND r.kind = 'user' AND r.ref_id = {user})))
 OR (p.anonymous AND {op})
))))`

// visible returns the visibility predicate for one viewer with its
// arguments, in placeholder order.
func visible(v Viewer) (string, []any) {
	var args []any
	var b strings.Builder
	s := visibleTemplate
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			break
		}
		j := strings.IndexByte(s[i:], '}')
		b.WriteString(s[:i])
		switch s[i+1 : i+j] {
		case "org":
			args = append(args, v.OrgID)
		case "user":
			args = append(args, v.UserID)
		case "op":
			args = append(args, v.Operator)
		}
		b.WriteString("?")
		s = s[i+j+1:]
	}
	return b.String(), args
}

// visibleFor returns the predicate with the reader given by SQL
// expressions (for set-based fan-out); it takes no arguments.
func visibleFor(org, user, op string) string {
	return strings.NewReplacer("{org}", org, "{user}", user, "{op}", op).Replace(visibleTemplate)
}

// check asks authorize and, when the answer is a plain refusal to someone
// who may write, answers with the hub's own message key, which says more
// than "forbidden".
func (v Viewer) check(action string, t auth.Target, key string) error {
	err := v.authorize(action, t)
	if err == nil || key == "" {
		return err
	}
	// Callers check that v may see the object first: an object of
	// another organisation that v may see is refused, not hidden.
	if errors.Is(err, db.ErrNotFound) || apperr.Is(err, apperr.Forbidden) && v.principal().CanWrite() {
		return apperr.New(apperr.Forbidden, key)
	}
	if apperr.Is(err, apperr.Forbidden) {
		return apperr.New(apperr.Forbidden, "share.read_only")
	}
	return err
}

// own is the target of an action on v's own organisation's records.
func (v Viewer) own() auth.Target { return auth.Target{OrgID: v.OrgID} }
