package share

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// The hub's use cases. Every change to the sharing hub is one method of
// Hub: it asks the permission table (through the store function it
// calls), writes in its own transaction and records the one audit entry
// of the change in that transaction, whichever door (web, API, command
// line) it came through. The doors only parse, call and render.

func (h *Hub) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}

// change runs fn in one transaction and records the entry it returns.
func (h *Hub) change(ctx context.Context, p *auth.Principal, fn func(tx *db.Tx, v Viewer) (audit.Event, error)) error {
	v := ViewerOf(p)
	return h.DB.InTx(ctx, func(tx *db.Tx) error {
		ev, err := fn(tx, v)
		if err != nil {
			return err
		}
		return h.record(ctx, tx, p, ev)
	})
}

// changeTo is change for a use case that returns what it made or read
// (the zero value when it fails).
func changeTo[T any](ctx context.Context, h *Hub, p *auth.Principal, fn func(tx *db.Tx, v Viewer) (T, audit.Event, error)) (T, error) {
	var out T
	err := h.change(ctx, p, func(tx *db.Tx, v Viewer) (audit.Event, error) {
		x, ev, err := fn(tx, v)
		out = x
		return ev, err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

func (h *Hub) record(ctx context.Context, q db.Querier, p *auth.Principal, ev audit.Event) error {
	if h.Audit == nil {
		return nil
	}
	return h.Audit.Record(ctx, q, p.Actor(), ev)
}

// CheckAffected answers "are we affected?" for v's organisation and a post
// v may see: AffectedUnknown when the post names no CVE or the hub has no
// checker.
func (h *Hub) CheckAffected(ctx context.Context, q db.Querier, v Viewer, post *Post) (AffectedResult, error) {
	if h == nil || h.Affected == nil || len(post.CVEs) == 0 || !v.Member() {
		return AffectedResult{State: AffectedUnknown}, nil
	}
	return h.Affected.Affected(ctx, q, v.OrgID, post.CVEs)
}

// CreatePost publishes a post of p's organisation and queues its
// notifications. piiConfirmed says the author saw the findings of the
// patient-data check and posts anyway (kept in the entry).
func (h *Hub) CreatePost(ctx context.Context, p *auth.Principal, in PostInput, piiConfirmed bool) (*Post, error) {
	var post *Post
	err := h.change(ctx, p, func(tx *db.Tx, v Viewer) (audit.Event, error) {
		var err error
		if post, err = CreatePost(ctx, tx, v, in, h.now()); err != nil {
			return audit.Event{}, err
		}
		if err := EnqueueFanout(ctx, tx, h.Queue, h.Affected, post.ID, h.now()); err != nil {
			return audit.Event{}, err
		}
		return audit.Event{Action: "share.post.create", ObjectType: "share_post", ObjectID: post.ID, Details: map[string]any{
			"kind": string(post.Kind), "tlp": string(post.TLP), "anonymous": post.Anonymous, "pii_confirmed": piiConfirmed}}, nil
	})
	if err != nil {
		return nil, err
	}
	return post, nil
}

// ChangeLabel changes the label of a post and returns the post as it is
// now.
func (h *Hub) ChangeLabel(ctx context.Context, p *auth.Principal, id string, t TLP) (*Post, error) {
	var post *Post
	err := h.change(ctx, p, func(tx *db.Tx, v Viewer) (audit.Event, error) {
		before, err := GetPost(ctx, tx, v, id)
		if err != nil {
			return audit.Event{}, err
		}
		if _, err := ChangeLabel(ctx, tx, v, id, t, h.now()); err != nil {
			return audit.Event{}, err
		}
		if post, err = GetPost(ctx, tx, v, id); err != nil {
			return audit.Event{}, err
		}
		return audit.Event{Action: "share.post.label", ObjectType: "share_post", ObjectID: id,
			Details: map[string]any{"from": string(before.TLP), "to": string(t)}}, nil
	})
	return post, err
}

// DeletePost deletes a post.
func (h *Hub) DeletePost(ctx context.Context, p *auth.Principal, id string) error {
	return h.change(ctx, p, func(tx *db.Tx, v Viewer) (audit.Event, error) {
		post, err := GetPost(ctx, tx, v, id)
		if err != nil {
			return audit.Event{}, err
		}
		if err := DeletePost(ctx, tx, v, id); err != nil {
			return audit.Event{}, err
		}
		return audit.Event{Action: "share.post.delete", ObjectType: "share_post", ObjectID: id,
			Details: map[string]any{"title": post.Title, "tlp": string(post.TLP)}}, nil
	})
}

// AddRecipients addresses a post to more organisations, groups and people
// (a reshare when p's organisation is not the author) and returns the post
// as it is now.
func (h *Hub) AddRecipients(ctx context.Context, p *auth.Principal, id string, orgs, groups, users []string) (*Post, error) {
	var post *Post
	err := h.change(ctx, p, func(tx *db.Tx, v Viewer) (audit.Event, error) {
		reshare, err := AddRecipients(ctx, tx, v, id, orgs, groups, users, h.now())
		if err != nil {
			return audit.Event{}, err
		}
		if post, err = GetPost(ctx, tx, v, id); err != nil {
			return audit.Event{}, err
		}
		action := "share.post.recipients"
		if reshare {
			action = "share.post.reshare"
		}
		return audit.Event{Action: action, ObjectType: "share_post", ObjectID: id,
			Details: map[string]any{"orgs": orgs, "groups": groups, "users": users}}, nil
	})
	return post, err
}

// Comment adds a comment to a post.
func (h *Hub) Comment(ctx context.Context, p *auth.Principal, postID, body string) (*Comment, error) {
	return changeTo(ctx, h, p, func(tx *db.Tx, v Viewer) (*Comment, audit.Event, error) {
		c, err := AddComment(ctx, tx, v, postID, body, h.now())
		if err != nil {
			return nil, audit.Event{}, err
		}
		return c, audit.Event{Action: "share.comment", ObjectType: "share_post", ObjectID: postID,
			Details: map[string]any{"comment": c.ID}}, nil
	})
}

// Respond records p's organisation's answer to a post.
func (h *Hub) Respond(ctx context.Context, p *auth.Principal, postID string, st ResponseStatus) error {
	return h.change(ctx, p, func(tx *db.Tx, v Viewer) (audit.Event, error) {
		if err := Respond(ctx, tx, v, postID, st, h.now()); err != nil {
			return audit.Event{}, err
		}
		return audit.Event{Action: "share.response", ObjectType: "share_post", ObjectID: postID,
			Details: map[string]any{"status": string(st)}}, nil
	})
}

// Sighting records that p's organisation saw an indicator.
func (h *Hub) Sighting(ctx context.Context, p *auth.Principal, indicatorID string) error {
	return h.change(ctx, p, func(tx *db.Tx, v Viewer) (audit.Event, error) {
		if err := AddSighting(ctx, tx, v, indicatorID, h.now()); err != nil {
			return audit.Event{}, err
		}
		return audit.Event{Action: "share.sighting", ObjectType: "share_indicator", ObjectID: indicatorID}, nil
	})
}

// ExportPost returns one post as a STIX 2.1 bundle (FormatSTIX) or a MISP
// event (FormatMISP); the export is recorded.
func (h *Hub) ExportPost(ctx context.Context, p *auth.Principal, id, format string) ([]byte, error) {
	export := ExportPostSTIX
	if format == FormatMISP {
		export = ExportMISPEvent
	} else {
		format = FormatSTIX
	}
	return changeTo(ctx, h, p, func(tx *db.Tx, v Viewer) ([]byte, audit.Event, error) {
		b, err := export(ctx, tx, v, id)
		return b, audit.Event{Action: audit.ActionDataExport, ObjectType: "share_post", ObjectID: id,
			Details: map[string]any{"format": format}}, err
	})
}

// Export returns the posts p may see (created on or after since when not
// zero) as a STIX 2.1 bundle or MISP events; the export is recorded.
func (h *Hub) Export(ctx context.Context, p *auth.Principal, format string, since time.Time) ([]byte, error) {
	if format != FormatSTIX && format != FormatMISP {
		return nil, apperr.Field("format", "share.web.export.bad_format")
	}
	export := ExportSTIX
	if format == FormatMISP {
		export = ExportMISP
	}
	s := ""
	if !since.IsZero() {
		s = since.Format("2006-01-02")
	}
	return changeTo(ctx, h, p, func(tx *db.Tx, v Viewer) ([]byte, audit.Event, error) {
		b, err := export(ctx, tx, v, since)
		return b, audit.Event{Action: audit.ActionDataExport, ObjectType: "organization", ObjectID: p.OrgID,
			Details: map[string]any{"what": "share", "format": format, "since": s, "bytes": len(b)}}, err
	})
}

// CreateGroup makes a sharing group owned by p's organisation.
func (h *Hub) CreateGroup(ctx context.Context, p *auth.Principal, name string, kind GroupKind) (*Group, error) {
	return changeTo(ctx, h, p, func(tx *db.Tx, v Viewer) (*Group, audit.Event, error) {
		g, err := CreateGroup(ctx, tx, v, name, kind, h.now())
		if err != nil {
			return nil, audit.Event{}, err
		}
		return g, audit.Event{Action: "share.group.create", ObjectType: "share_group", ObjectID: g.ID,
			Details: map[string]any{"name": g.Name, "kind": string(g.Kind)}}, nil
	})
}

// SetGroupMember invites an organisation into a sharing group (its admins
// are asked by e-mail) or removes it.
func (h *Hub) SetGroupMember(ctx context.Context, p *auth.Principal, groupID, orgID string, remove bool) error {
	return h.change(ctx, p, func(tx *db.Tx, v Viewer) (audit.Event, error) {
		invited, err := SetGroupMember(ctx, tx, v, groupID, orgID, remove, h.now())
		if err != nil {
			return audit.Event{}, err
		}
		if invited {
			if err := h.InviteMail().MailGroupInvite(ctx, tx, groupID, orgID); err != nil {
				return audit.Event{}, err
			}
		}
		return audit.Event{Action: "share.group.member", ObjectType: "share_group", ObjectID: groupID,
			Details: map[string]any{"org": orgID, "remove": remove, "invited": invited}}, nil
	})
}

// InviteMail is how the hub asks an organisation's admins to join a group.
func (h *Hub) InviteMail() InviteMail {
	return InviteMail{Mailer: h.Mailer, Catalog: h.Catalog, BaseURL: h.BaseURL}
}

// AnswerGroupInvite accepts or declines (or, for a group joined, leaves) an
// invitation of p's organisation into a sharing group.
func (h *Hub) AnswerGroupInvite(ctx context.Context, p *auth.Principal, groupID string, accept bool) error {
	answer := "decline"
	if accept {
		answer = "accept"
	}
	return h.change(ctx, p, func(tx *db.Tx, v Viewer) (audit.Event, error) {
		if err := AnswerGroupInvite(ctx, tx, v, groupID, accept); err != nil {
			return audit.Event{}, err
		}
		return audit.Event{Action: "share.group.accept", ObjectType: "share_group", ObjectID: groupID,
			Details: map[string]any{"answer": answer}}, nil
	})
}

// AddWarning adds an entry to a warning list.
func (h *Hub) AddWarning(ctx context.Context, p *auth.Principal, list, typ, value string) (*Warning, error) {
	return changeTo(ctx, h, p, func(tx *db.Tx, v Viewer) (*Warning, audit.Event, error) {
		x, err := AddWarning(ctx, tx, v, list, typ, value, h.now())
		if err != nil {
			return nil, audit.Event{}, err
		}
		return x, audit.Event{Action: "share.warning.add", ObjectType: "share_warning", ObjectID: x.ID,
			Details: map[string]any{"list": x.List, "type": x.Type, "value": x.Value}}, nil
	})
}

// SetWarningDisabled turns a warning-list entry off or on again.
func (h *Hub) SetWarningDisabled(ctx context.Context, p *auth.Principal, id string, disabled bool) error {
	return h.change(ctx, p, func(tx *db.Tx, v Viewer) (audit.Event, error) {
		if err := SetWarningDisabled(ctx, tx, v, id, disabled); err != nil {
			return audit.Event{}, err
		}
		return audit.Event{Action: "share.warning.toggle", ObjectType: "share_warning", ObjectID: id,
			Details: map[string]any{"disabled": disabled}}, nil
	})
}

// DeleteWarning deletes a warning-list entry.
func (h *Hub) DeleteWarning(ctx context.Context, p *auth.Principal, id string) error {
	return h.change(ctx, p, func(tx *db.Tx, v Viewer) (audit.Event, error) {
		if err := DeleteWarning(ctx, tx, v, id); err != nil {
			return audit.Event{}, err
		}
		return audit.Event{Action: "share.warning.delete", ObjectType: "share_warning", ObjectID: id}, nil
	})
}

// SetSubscription saves p's notification settings.
func (h *Hub) SetSubscription(ctx context.Context, p *auth.Principal, sub Subscription) error {
	return h.change(ctx, p, func(tx *db.Tx, v Viewer) (audit.Event, error) {
		if err := SetSubscription(ctx, tx, v, sub, h.now()); err != nil {
			return audit.Event{}, err
		}
		return audit.Event{Action: "share.subscription", ObjectType: "user", ObjectID: p.UserID, Details: map[string]any{
			"immediate_tlp": sub.ImmediateTLP, "immediate_kinds": sub.ImmediateKinds, "immediate_devices": sub.ImmediateDevices, "digest": sub.Digest}}, nil
	})
}

// SetWebhook sets (or, with an empty URL, removes) the webhook of p's
// organisation.
func (h *Hub) SetWebhook(ctx context.Context, p *auth.Principal, rawURL, secret string) error {
	return h.change(ctx, p, func(tx *db.Tx, v Viewer) (audit.Event, error) {
		if err := SetWebhook(ctx, tx, v, rawURL, secret, h.now()); err != nil {
			return audit.Event{}, err
		}
		return audit.Event{Action: "share.webhook_change", ObjectType: "organization", ObjectID: p.OrgID,
			Details: map[string]any{"url": rawURL}}, nil
	})
}

// FeedInput is a TAXII collection to pull.
type FeedInput struct {
	Title, ObjectsURL, Username, Secret string
	TLP                                 TLP
	Interval                            int
}

// AddFeed registers a TAXII collection that the hub pulls on a schedule.
func (h *Hub) AddFeed(ctx context.Context, p *auth.Principal, in FeedInput) (*Feed, error) {
	return changeTo(ctx, h, p, func(tx *db.Tx, v Viewer) (*Feed, audit.Event, error) {
		f, err := AddFeed(ctx, tx, v, in.Title, in.ObjectsURL, in.Username, in.Secret, in.TLP, in.Interval, h.now())
		if err != nil {
			return nil, audit.Event{}, err
		}
		return f, audit.Event{Action: "share.feed.add", ObjectType: "share_feed", ObjectID: f.ID,
			Details: map[string]any{"url": f.ObjectsURL, "tlp": string(f.TLP)}}, nil
	})
}

// DeleteFeed stops pulling a TAXII collection.
func (h *Hub) DeleteFeed(ctx context.Context, p *auth.Principal, id string) error {
	return h.change(ctx, p, func(tx *db.Tx, v Viewer) (audit.Event, error) {
		if err := DeleteFeed(ctx, tx, v, id); err != nil {
			return audit.Event{}, err
		}
		return audit.Event{Action: "share.feed.delete", ObjectType: "share_feed", ObjectID: id}, nil
	})
}

// ImportRequest is a STIX 2.1 bundle or MISP event to import.
type ImportRequest struct {
	// Data is the document; when nil, File is read instead (a STIX
	// bundle is then streamed, whatever its size).
	Data []byte
	File io.Reader
	// Default is the label of objects without a marking (TLP:AMBER when
	// empty).
	Default TLP
	// Details are added to the audit entry (the command line names the
	// file).
	Details map[string]any
}

// ImportOutcome is what an import made.
type ImportOutcome struct {
	Format  string
	Result  *ImportResult
	Skipped int
}

// Import imports a STIX 2.1 bundle or a MISP event into posts of p's
// organisation. It writes in short transactions of its own; its audit
// entry lands in the last one, with the posts becoming visible.
func (h *Hub) Import(ctx context.Context, p *auth.Principal, in ImportRequest) (*ImportOutcome, error) {
	v := ViewerOf(p)
	out := &ImportOutcome{}
	data := in.Data
	var stream io.Reader
	if data == nil {
		br := bufio.NewReaderSize(in.File, 1<<20)
		head, _ := br.Peek(4096)
		if DetectFormat(head) == FormatMISP && len(head) == 4096 && !bytes.Contains(head, []byte(`"Event"`)) {
			// "objects" may come after the first 4 KB of a large bundle.
			out.Format = FormatSTIX
		} else {
			out.Format = DetectFormat(head)
		}
		if out.Format == FormatMISP {
			var err error
			if data, err = io.ReadAll(io.LimitReader(br, MaxImport+1)); err != nil {
				return nil, err
			}
		} else {
			stream = br
		}
	} else {
		out.Format = DetectFormat(data)
	}
	opts := ImportOptions{Default: in.Default, Publish: func(ctx context.Context, tx *db.Tx, res *ImportResult) error {
		details := map[string]any{"format": out.Format, "posts": res.PostCount(), "objects": res.Objects, "failures": res.FailureCount()}
		for k, x := range in.Details {
			details[k] = x
		}
		return h.record(ctx, tx, p, audit.Event{Action: "share.import", ObjectType: "organization", ObjectID: p.OrgID, Details: details})
	}}
	var err error
	switch {
	case out.Format == FormatMISP:
		out.Result, out.Skipped, err = ImportMISP(ctx, h.DB, v, data, opts, h.now())
	case stream != nil:
		out.Result, err = ImportSTIX(ctx, h.DB, v, stream, opts, h.now())
	default:
		if len(data) > MaxImport {
			return nil, apperr.New(apperr.TooLarge, "share.import.too_large", MaxImport>>20)
		}
		out.Result, err = ImportSTIX(ctx, h.DB, v, bytes.NewReader(data), opts, h.now())
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
