package share

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// ResponseStatus is a member organisation's one-click answer to an
// advisory.
type ResponseStatus string

// The answers.
const (
	RespAffected      ResponseStatus = "affected"
	RespNotAffected   ResponseStatus = "not_affected"
	RespInvestigating ResponseStatus = "investigating"
)

// ResponseStatuses lists the answers in the order buttons show them.
var ResponseStatuses = []ResponseStatus{RespAffected, RespInvestigating, RespNotAffected}

// Valid reports whether s is a known answer.
func (s ResponseStatus) Valid() bool {
	return s == RespAffected || s == RespNotAffected || s == RespInvestigating
}

// Respond records (or changes) v's organisation's answer to a post it may
// see.
func Respond(ctx context.Context, q db.Querier, v Viewer, postID string, s ResponseStatus, now time.Time) error {
	if !s.Valid() {
		return apperr.Field("status", "share.response.invalid")
	}
	if _, err := GetPost(ctx, q, v, postID); err != nil {
		return err
	}
	if err := v.check("share.response", v.own(), "share.read_only"); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `INSERT INTO share_responses (post_id, org_id, user_id, status, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (post_id, org_id) DO UPDATE SET status = excluded.status, user_id = excluded.user_id, updated_at = excluded.updated_at`,
		postID, v.OrgID, v.UserID, s, now.UTC())
	return err
}

// MyResponse returns v's organisation's answer to a post v may see, or "";
// a post v may not see is db.ErrNotFound, like everywhere else.
func MyResponse(ctx context.Context, q db.Querier, v Viewer, postID string) (ResponseStatus, error) {
	pred, args := visible(v)
	var s ResponseStatus
	err := q.QueryRow(ctx, `SELECT COALESCE(r.status, '') FROM share_posts p
		LEFT JOIN share_responses r ON r.post_id = p.id AND r.org_id = ?
		WHERE p.id = ? AND `+pred, append([]any{v.OrgID, postID}, args...)...).Scan(&s)
	if err != nil {
		return "", db.ScanErr(err)
	}
	return s, nil
}

// ResponseRate is how the organisations that received a post answered it.
type ResponseRate struct {
	// Audience is the number of member organisations (not ISAC operators)
	// that may see the post.
	Audience      int64 `json:"audience"`
	Affected      int64 `json:"affected"`
	NotAffected   int64 `json:"not_affected"`
	Investigating int64 `json:"investigating"`
}

// Answered is the number of organisations that answered.
func (r ResponseRate) Answered() int64 { return r.Affected + r.NotAffected + r.Investigating }

// Percent is the share of the audience that answered, 0–100.
func (r ResponseRate) Percent() int64 {
	if r.Audience == 0 {
		return 0
	}
	return r.Answered() * 100 / r.Audience
}

// ResponseRates returns the answer counts of a post, for ISAC operators
// and the author's organisation only (members never see who answered).
func ResponseRates(ctx context.Context, q db.Querier, v Viewer, postID string) (*ResponseRate, error) {
	p, err := GetPost(ctx, q, v, postID)
	if err != nil {
		return nil, err
	}
	if !v.Operator && !p.Mine {
		return nil, apperr.New(apperr.Forbidden, "share.response.rates_forbidden")
	}
	var r ResponseRate
	if err := q.QueryRow(ctx, `SELECT
		COALESCE(SUM(CASE WHEN status = 'affected' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status = 'not_affected' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status = 'investigating' THEN 1 ELSE 0 END), 0)
		FROM share_responses WHERE post_id = ?`, postID).Scan(&r.Affected, &r.NotAffected, &r.Investigating); err != nil {
		return nil, err
	}
	pred := visibleFor("ao.id", "''", "FALSE")
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM organizations ao, share_posts p WHERE p.id = ? AND ao.kind <> 'isac' AND `+pred,
		postID).Scan(&r.Audience); err != nil {
		return nil, err
	}
	return &r, nil
}

// Comment is a comment on a post, or a message of a consultation thread.
type Comment struct {
	ID       string    `json:"id"`
	PostID   string    `json:"post_id"`
	OrgID    string    `json:"org_id,omitempty"`
	OrgName  string    `json:"org_name"`
	UserName string    `json:"user_name"`
	Body     string    `json:"body"`
	BodyHTML string    `json:"-"`
	StixID   string    `json:"stix_id"`
	ByAuthor bool      `json:"by_author"`
	Created  time.Time `json:"created_at"`
}

// AddComment adds a comment to a post v may see. Comments are seen by
// whoever may see the post; on an anonymous report, the reporting
// organisation's comments stay anonymous.
func AddComment(ctx context.Context, q db.Querier, v Viewer, postID, body string, now time.Time) (*Comment, error) {
	p, err := GetPost(ctx, q, v, postID)
	if err != nil {
		return nil, err
	}
	if err := v.check("share.comment", v.own(), "share.read_only"); err != nil {
		return nil, err
	}
	body = strings.TrimSpace(body)
	if body == "" {
		return nil, apperr.Field("body", "share.comment.required")
	}
	if len(body) > MaxBody || !utf8.ValidString(body) {
		return nil, apperr.Field("body", "share.body.too_long", MaxBody)
	}
	now = now.UTC().Truncate(time.Microsecond)
	c := &Comment{ID: db.NewID(), PostID: postID, OrgID: v.OrgID, Body: body, BodyHTML: RenderMarkdown(body),
		StixID: "note--" + newUUID(), ByAuthor: p.Mine, Created: now}
	if _, err := q.Exec(ctx, `INSERT INTO share_comments (id, post_id, org_id, user_id, body, body_html, stix_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.PostID, c.OrgID, v.UserID, c.Body, c.BodyHTML, c.StixID, now); err != nil {
		return nil, err
	}
	note := map[string]any{"type": "note", "spec_version": "2.1", "id": c.StixID, "created": stixTime(now), "modified": stixTime(now),
		"content": body, "object_refs": []string{p.StixID}, "object_marking_refs": []string{p.TLP.MarkingID()}}
	if !(p.Anonymous && p.Mine) {
		note["created_by_ref"] = OrgIdentityID(v.OrgID)
	}
	if err := storeObject(ctx, q, postID, note, now); err != nil {
		return nil, err
	}
	return c, nil
}

// ListComments lists the comments of a post v may see, oldest first.
func ListComments(ctx context.Context, q db.Querier, v Viewer, postID string) ([]Comment, error) {
	cs, _, err := PageComments(ctx, q, v, postID, auth.All)
	return cs, err
}

type commentKey struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

var commentOrder = auth.Keyset[Comment, commentKey]{
	Order:  []auth.SortKey{{Expr: "c.created_at"}, {Expr: "c.id"}},
	Key:    func(c Comment) commentKey { return commentKey{c.Created, c.ID} },
	Values: func(k commentKey) []any { return []any{k.At, k.ID} },
}

// PageComments is one page of ListComments, and the cursor of the next.
func PageComments(ctx context.Context, q db.Querier, v Viewer, postID string, pg auth.Page) ([]Comment, string, error) {
	p, err := GetPost(ctx, q, v, postID)
	if err != nil {
		return nil, "", err
	}
	out, next, err := commentOrder.Query(ctx, q, pg, func(r db.Scanner) (Comment, error) {
		c := Comment{PostID: postID}
		err := r.Scan(&c.ID, &c.OrgID, &c.OrgName, &c.UserName, &c.Body, &c.BodyHTML, &c.StixID, &c.Created)
		return c, err
	}, `SELECT c.id, c.org_id, COALESCE(o.name, ''), COALESCE(NULLIF(u.display_name, ''), u.email, ''), c.body, c.body_html, c.stix_id, c.created_at
		FROM share_comments c LEFT JOIN organizations o ON o.id = c.org_id LEFT JOIN users u ON u.id = c.user_id
		WHERE c.post_id = ?`, postID)
	if err != nil {
		return nil, "", err
	}
	for i := range out {
		c := &out[i]
		if !p.Anonymous || p.Mine || v.Operator {
			c.ByAuthor = c.OrgID == p.AuthorOrgID
			continue
		}
		// The reporter's organisation is hidden: compare with the stored
		// author, never show it.
		var isAuthor int
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM share_posts WHERE id = ? AND author_org_id = ?`, postID, c.OrgID).Scan(&isAuthor); err != nil {
			return nil, "", err
		}
		if isAuthor > 0 {
			c.ByAuthor = true
			c.OrgID, c.OrgName, c.UserName = "", "", ""
		}
	}
	return out, next, nil
}

// AddSighting records that v's organisation has seen an indicator of a post
// it may see ("seen here too"). Sightings are shown as counts; which
// organisation saw what is not shown to other members.
func AddSighting(ctx context.Context, q db.Querier, v Viewer, indicatorID string, now time.Time) error {
	var postID, stixID string
	if err := q.QueryRow(ctx, `SELECT post_id, stix_id FROM share_indicators WHERE id = ?`, indicatorID).Scan(&postID, &stixID); err != nil {
		return db.ScanErr(err)
	}
	p, err := GetPost(ctx, q, v, postID)
	if err != nil {
		return err
	}
	if err := v.check("share.sighting", v.own(), "share.read_only"); err != nil {
		return err
	}
	now = now.UTC().Truncate(time.Microsecond)
	sid := "sighting--" + newUUID()
	res, err := q.Exec(ctx, `INSERT INTO share_sightings (indicator_id, org_id, user_id, stix_id, seen_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (indicator_id, org_id) DO NOTHING`, indicatorID, v.OrgID, v.UserID, sid, now)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return storeObject(ctx, q, postID, map[string]any{"type": "sighting", "spec_version": "2.1", "id": sid,
		"created": stixTime(now), "modified": stixTime(now), "first_seen": stixTime(now), "last_seen": stixTime(now), "count": 1,
		"sighting_of_ref": stixID, "object_marking_refs": []string{p.TLP.MarkingID()}}, now)
}

// SightedByMe returns the ids of a post's indicators that v's organisation
// has reported as seen.
func SightedByMe(ctx context.Context, q db.Querier, v Viewer, postID string) (map[string]bool, error) {
	ids, err := db.QueryStrings(ctx, q, `SELECT s.indicator_id FROM share_sightings s JOIN share_indicators i ON i.id = s.indicator_id WHERE i.post_id = ? AND s.org_id = ?`, postID, v.OrgID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// AffectedState is the answer to "are we affected?" for one organisation
// and the CVEs an advisory names.
type AffectedState string

// The states. Unknown (未判定) is shown until the vulnerability capability
// provides an AffectedChecker; it is never guessed.
const (
	AffectedUnknown AffectedState = "unknown"
	AffectedYes     AffectedState = "affected"
	AffectedNo      AffectedState = "not_affected"
)

// AffectedResult is what an AffectedChecker found.
type AffectedResult struct {
	State AffectedState `json:"state"`
	// Assets names the organisation's registered devices that match.
	Assets []string `json:"assets,omitempty"`
}

// AffectedChecker answers whether an organisation's registered devices are
// affected by CVEs. The vulnerability capability implements it; the node
// sets it on the Hub (Hub.Affected) when it is wired.
type AffectedChecker interface {
	Affected(ctx context.Context, q db.Querier, orgID string, cves []string) (AffectedResult, error)
}
