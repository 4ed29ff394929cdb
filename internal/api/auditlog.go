package api

import (
	"net/http"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
)

// auditEntry is an audit log entry as the API shows it.
type auditEntry struct {
	Seq         int64          `json:"seq"`
	At          time.Time      `json:"at"`
	ActorID     string         `json:"actor_id"`
	Actor       string         `json:"actor"`
	OrgID       string         `json:"org_id"`
	Action      string         `json:"action"`
	ActionLabel string         `json:"action_label"`
	ObjectType  string         `json:"object_type"`
	ObjectID    string         `json:"object_id"`
	Outcome     string         `json:"outcome"`
	IP          string         `json:"ip"`
	UserAgent   string         `json:"user_agent"`
	Details     map[string]any `json:"details"`
	PrevHash    string         `json:"prev_hash"`
	Hash        string         `json:"hash"`
}

// auditPage is the body of the audit log routes. NextBefore, when not
// zero, is the "before" value that fetches the next older page.
type auditPage struct {
	Entries    []auditEntry `json:"entries"`
	NextBefore int64        `json:"next_before,omitempty"`
}

// orgAudit shows the log of organisation {id}, which must be the caller's
// own: nobody, ISAC operators included, reads another organisation's log,
// and asking looks exactly like asking for a missing organisation.
func (a *API) orgAudit(w http.ResponseWriter, r *http.Request, c *call) error {
	if r.PathValue("id") != c.p.OrgID {
		return apperr.New(apperr.NotFound, "error.not_found")
	}
	return a.ownAudit(w, r, c)
}

// ownAudit shows the caller's organisation's log to its admins and
// auditors, and records the read.
func (a *API) ownAudit(w http.ResponseWriter, r *http.Request, c *call) error {
	f, err := audit.ParseFilter(r.URL.Query())
	if err != nil {
		if aerr := auth.Authorize(c.p, "audit.read", auth.Target{OrgID: c.p.OrgID}); aerr != nil {
			return aerr
		}
		return err
	}
	entries, err := a.Orgs.ReadAuditLog(r.Context(), c.p, f, map[string]any{"filter": f.Values().Encode()})
	if err != nil {
		return err
	}
	page := auditPage{Entries: make([]auditEntry, 0, len(entries))}
	for _, e := range entries {
		page.Entries = append(page.Entries, auditEntry{
			Seq: e.Seq, At: e.At, ActorID: e.ActorID, Actor: e.Actor, OrgID: e.OrgID, Action: e.Action,
			ActionLabel: audit.ActionLabel(a.Catalog, c.lang, e.Action), ObjectType: e.ObjectType, ObjectID: e.ObjectID,
			Outcome: e.Outcome, IP: e.IP, UserAgent: e.UserAgent, Details: e.Details, PrevHash: e.PrevHash, Hash: e.Hash,
		})
	}
	limit := f.Limit
	if limit <= 0 {
		limit = audit.DefaultLimit
	}
	if len(entries) == min(limit, audit.MaxLimit) {
		page.NextBefore = entries[len(entries)-1].Seq
	}
	a.reply(w, http.StatusOK, page)
	return nil
}
