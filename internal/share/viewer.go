package share

import (
	"strings"

	"github.com/medisac/medisac/internal/auth"
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
}

// ViewerOf is the viewer of a principal; nil is the public.
func ViewerOf(p *auth.Principal) Viewer {
	if p == nil || p.OrgID == "" {
		return Viewer{}
	}
	return Viewer{OrgID: p.OrgID, UserID: p.UserID, Operator: p.IsOperator(), Admin: p.IsAdmin(), Write: p.CanWrite()}
}

// Member reports whether v is signed in for a member organisation.
func (v Viewer) Member() bool { return v.OrgID != "" }

// visibleTemplate is THE visibility rule of the hub over a post aliased p.
// {org}, {user} and {op} stand for the reader's organisation id, person id
// and operator flag: bound values for one reader, or column expressions
// when the fan-out evaluates it for every member at once.
const visibleTemplate = `(p.tlp = 'clear' OR ({org} <> '' AND (
 p.tlp = 'green'
 OR (p.tlp IN ('amber','amber_strict') AND (p.author_org_id = {org} OR EXISTS (
   SELECT 1 FROM share_recipients r WHERE r.post_id = p.id AND (
     (r.kind = 'org' AND r.ref_id = {org})
     OR (r.kind = 'group' AND p.tlp = 'amber' AND EXISTS (
       SELECT 1 FROM share_group_members gm WHERE gm.group_id = r.ref_id AND gm.org_id = {org}))))))
 OR (p.tlp = 'red' AND {user} <> '' AND (p.author_user_id = {user} OR EXISTS (
   SELECT 1 FROM share_recipients r WHERE r.post_id = p.id AND r.kind = 'user' AND r.ref_id = {user})))
 OR (p.anonymous AND {op})
)))`

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
