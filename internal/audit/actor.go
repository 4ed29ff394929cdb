package audit

import (
	"context"

	"github.com/medisac/medisac/internal/db"
)

// The doors through which a change reaches a capability.
const (
	ViaWeb    = "web"
	ViaAPI    = "api"
	ViaCLI    = "cli"
	ViaSystem = "system"
)

// Actor is who makes a change and from where: built once per request by
// the web session middleware and the API authenticator, and once per
// command by the command line. Capability services receive it and write
// the entry themselves, so an action leaves the same trail whichever door
// it came through; only Via (kept in the entry's details) tells the doors
// apart.
type Actor struct {
	UserID    string
	Email     string
	OrgID     string
	TokenID   string
	IP        string
	UserAgent string
	Via       string
}

// Event is what an actor did: the one canonical entry of a use case.
type Event struct {
	// OrgID is the organisation whose log holds the entry (the owner of
	// the object). Empty means the actor's own organisation.
	OrgID      string
	Action     string
	ObjectType string
	ObjectID   string
	// Outcome is Success when empty.
	Outcome string
	Details map[string]any
}

// Entry returns the audit entry of ev done by a, without a mirror copy.
func (a Actor) Entry(ev Event) Entry {
	org := ev.OrgID
	if org == "" {
		org = a.OrgID
	}
	out := ev.Outcome
	if out == "" {
		out = Success
	}
	details := ev.Details
	if a.Via != "" || a.TokenID != "" {
		details = make(map[string]any, len(ev.Details)+2)
		for k, v := range ev.Details {
			details[k] = v
		}
		if a.Via != "" {
			details["via"] = a.Via
		}
		if a.TokenID != "" {
			details["token_id"] = a.TokenID
		}
	}
	return Entry{
		ActorID: a.UserID, Actor: a.Email, OrgID: org, Action: ev.Action, ObjectType: ev.ObjectType,
		ObjectID: ev.ObjectID, Outcome: out, IP: a.IP, UserAgent: a.UserAgent, Details: details,
	}
}

// Record appends the entry of ev done by a, in q (the transaction of the
// change it records). When the actor acts on another organisation's
// record (an ISAC operator managing a member), a copy goes to the actor's
// own organisation's log as well, so both sides can see it.
func (l *Log) Record(ctx context.Context, q db.Querier, a Actor, ev Event) error {
	e := a.Entry(ev)
	if _, err := l.Append(ctx, q, e); err != nil {
		return err
	}
	if a.OrgID != "" && e.OrgID != a.OrgID {
		e.OrgID = a.OrgID
		if _, err := l.Append(ctx, q, e); err != nil {
			return err
		}
	}
	return nil
}
