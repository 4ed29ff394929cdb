package vuln

import (
	"context"
	"errors"
	"github.com/medisac/medisac/internal/vuln/feed"
	"io"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/jobs"
)

// The use cases of the vulnerability watch that change data. Each asks
// the permission table, writes in its own transaction and records the one
// audit entry of the change there, whichever door (page, API, command
// line) it came through. A process builds one Watch and hands it to every
// door, so imports spool to the data folder and one matching runs at a
// time on the node.

// record appends ev done by p in q, when the watch keeps an audit log.
func (w *Watch) record(ctx context.Context, q db.Querier, p *auth.Principal, ev audit.Event) error {
	if w.Audit == nil {
		return nil
	}
	return w.Audit.Record(ctx, q, p.Actor(), ev)
}

// operatorOrg is the organisation whose log holds p's change of the
// shared vulnerability data: p's own, or for the command line (no
// organisation) the first ISAC operator's.
func operatorOrg(ctx context.Context, q db.Querier, p *auth.Principal) (string, error) {
	if p.OrgID != "" {
		return p.OrgID, nil
	}
	var org string
	err := db.ScanErr(q.QueryRow(ctx, `SELECT id FROM organizations WHERE kind = 'isac' ORDER BY created_at LIMIT 1`).Scan(&org))
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return "", err
	}
	return org, nil
}

// eventOf turns an entry built by the watch into the event of a use case.
func eventOf(orgID string, e audit.Entry) audit.Event {
	return audit.Event{OrgID: orgID, Action: e.Action, ObjectType: e.ObjectType, ObjectID: e.ObjectID, Outcome: e.Outcome, Details: e.Details}
}

// SetFindingState records a person's change of a finding's state
// (vuln.finding.state) and returns the finding after it.
func (w *Watch) SetFindingState(ctx context.Context, p *auth.Principal, orgID, findingID string, r Remediation) (Finding, error) {
	if err := auth.AuthorizeMember(p, "vuln.finding.state", orgID); err != nil {
		return Finding{}, err
	}
	var after Finding
	err := w.DB.InTx(ctx, func(tx *db.Tx) error {
		before, aft, err := SetRemediation(ctx, tx, orgID, p.UserID, findingID, r, w.now())
		if err != nil {
			return err
		}
		after = aft
		return w.record(ctx, tx, p, eventOf(orgID, RemediationAudit(before, aft)))
	})
	return after, err
}

// Identity returns an asset's identity, deriving it first when the
// periodic re-match has not seen the asset yet.
func (w *Watch) Identity(ctx context.Context, orgID, assetID string) (AssetIdentity, error) {
	idn, err := GetIdentity(ctx, w.DB, orgID, assetID)
	if err != nil && apperr.CodeOf(err) == apperr.NotFound {
		if _, err := w.MatchAssets(ctx, orgID, []string{assetID}); err != nil {
			return idn, err
		}
		return GetIdentity(ctx, w.DB, orgID, assetID)
	}
	return idn, err
}

// SetAssetIdentity saves a person's correction of a device's identity
// (vuln.identity.set; no names goes back to the derived candidates) and
// re-matches the asset. The re-match job is queued in the same
// transaction: with matchNow it is due a little later and the asset is
// also matched here, so the answer already shows the result (the job
// re-matches and alerts should this node stop first); without, it is due
// at once and the queue is woken (matched here when there is no queue).
func (w *Watch) SetAssetIdentity(ctx context.Context, p *auth.Principal, orgID, assetID string, names []string, matchNow bool) (AssetIdentity, error) {
	if err := auth.AuthorizeMember(p, "vuln.identity.set", orgID); err != nil {
		return AssetIdentity{}, err
	}
	if _, err := w.Identity(ctx, orgID, assetID); err != nil {
		return AssetIdentity{}, err
	}
	var opts []jobs.Option
	if matchNow {
		opts = append(opts, jobs.RunAt(w.now().Add(RematchInterval)))
	}
	queued := false
	err := w.DB.InTx(ctx, func(tx *db.Tx) error {
		idn, err := SetIdentity(ctx, tx, orgID, assetID, p.UserID, names, w.now())
		if err != nil {
			return err
		}
		if queued, err = w.QueueMatchAssets(ctx, tx, orgID, []string{assetID}, opts...); err != nil {
			return err
		}
		return w.record(ctx, tx, p, audit.Event{OrgID: orgID, Action: "vuln.identity.set", ObjectType: "asset", ObjectID: assetID,
			Details: map[string]any{"identities": idn.Override}})
	})
	if err != nil {
		return AssetIdentity{}, err
	}
	if queued && !matchNow {
		w.Queue.Notify()
	} else if _, err := w.MatchAssets(ctx, orgID, []string{assetID}); err != nil {
		return AssetIdentity{}, err
	}
	return GetIdentity(ctx, w.DB, orgID, assetID)
}

// MarkNotificationsRead marks every notification of the organisation read
// (vuln.notifications.read: the mark is the whole organisation's).
func (w *Watch) MarkNotificationsRead(ctx context.Context, p *auth.Principal, orgID string) error {
	if err := auth.AuthorizeMember(p, "vuln.notifications.read", orgID); err != nil {
		return err
	}
	return w.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := MarkRead(ctx, tx, orgID, w.now()); err != nil {
			return err
		}
		return w.record(ctx, tx, p, audit.Event{OrgID: orgID, Action: "vuln.notifications.read", ObjectType: "vuln_notifications", ObjectID: orgID})
	})
}

// SetOrgWebhook sets (or, with an empty address, removes) the
// organisation's notification webhook (vuln.webhook).
func (w *Watch) SetOrgWebhook(ctx context.Context, p *auth.Principal, orgID, rawURL string) error {
	if err := AuthorizeWebhook(p, orgID); err != nil {
		return err
	}
	return w.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := SetWebhook(ctx, tx, orgID, rawURL, w.now()); err != nil {
			return err
		}
		return w.record(ctx, tx, p, audit.Event{OrgID: orgID, Action: audit.ActionSettingsUpdate, ObjectType: "vuln_webhook", ObjectID: orgID,
			Details: map[string]any{"set": strings.TrimSpace(rawURL) != ""}})
	})
}

// ImportFeed imports one feed file read from r (vuln.import) and records
// the import, refused or not, in the operator's log.
func (w *Watch) ImportFeed(ctx context.Context, p *auth.Principal, name string, r io.Reader) (ImportResult, error) {
	if err := AuthorizeImport(p); err != nil {
		return ImportResult{}, err
	}
	res, ierr := w.Import(ctx, name, r)
	if err := w.RecordImport(ctx, p, name, res, ierr); err != nil {
		return res, err
	}
	return res, ierr
}

// RecordImport records an import of the file name made by p (the command
// line imports many files and records each as it ends).
func (w *Watch) RecordImport(ctx context.Context, p *auth.Principal, name string, res ImportResult, ierr error) error {
	details := map[string]any{"file": name, "format": string(res.Format), "records": res.Records, "changed": res.Changed}
	outcome := audit.Success
	if ierr != nil {
		outcome = audit.Failure
		if key, detail, ok := feed.FeedError(ierr); ok {
			details["error"], details["detail"] = key, detail
		}
	}
	org, err := operatorOrg(ctx, w.DB, p)
	if err != nil {
		return err
	}
	return w.record(ctx, w.DB, p, audit.Event{OrgID: org, Action: "vuln.import", ObjectType: "vuln_feed", ObjectID: name, Outcome: outcome, Details: details})
}

// AliasChanger makes a change of the product-name table from the table in
// force (w.Aliases, just reloaded) and in, saving it with record as
// SaveAliases, RestoreAliases or ResetAliases do.
type AliasChanger func(ctx context.Context, w *Watch, in AliasSave, record func(context.Context, *db.Tx, AliasChange) error) (AliasChange, error)

// ChangeAliases changes the product-name table (vuln.aliases.change):
// with change, or when it is nil by saving in.Body. The change is
// recorded in the operator's log (for the command line, the first ISAC
// operator's), with details added to the entry's. in.ActorID and
// in.Actor are p's.
func (w *Watch) ChangeAliases(ctx context.Context, p *auth.Principal, in AliasSave, change AliasChanger, details map[string]any) (AliasChange, error) {
	if err := AuthorizeAliasChange(p); err != nil {
		return AliasChange{}, err
	}
	if err := w.ReloadAliases(ctx); err != nil {
		return AliasChange{}, err
	}
	in.ActorID, in.Actor = p.UserID, p.Email
	if change == nil {
		change = func(ctx context.Context, w *Watch, in AliasSave, record func(context.Context, *db.Tx, AliasChange) error) (AliasChange, error) {
			return w.SaveAliases(ctx, in, record)
		}
	}
	return change(ctx, w, in, func(ctx context.Context, tx *db.Tx, ch AliasChange) error {
		org, err := operatorOrg(ctx, tx, p)
		if err != nil {
			return err
		}
		d := map[string]any{"old_version": ch.Old, "new_version": ch.New, "seq": ch.Seq, "note": strings.TrimSpace(in.Note)}
		for k, v := range details {
			d[k] = v
		}
		return w.record(ctx, tx, p, audit.Event{OrgID: org, Action: "vuln.aliases.change", ObjectType: "vuln_aliases", ObjectID: ch.ID, Details: d})
	})
}
