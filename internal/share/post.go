package share

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// Kind is the kind of a post.
type Kind string

// The kinds of post.
const (
	KindAdvisory     Kind = "advisory"      // 注意喚起
	KindIncident     Kind = "incident"      // インシデント報告
	KindVulnNote     Kind = "vuln_note"     // 脆弱性情報
	KindIndicatorSet Kind = "indicator_set" // 不審な通信先・ファイルの一覧
	KindQuestion     Kind = "question"      // 相談
)

// Kinds lists the kinds of post in the order forms show them.
var Kinds = []Kind{KindAdvisory, KindIncident, KindVulnNote, KindIndicatorSet, KindQuestion}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// Limits of a post.
const (
	MaxTitle      = 200
	MaxRefs       = 50
	MaxCVEs       = 200
	MaxIndicators = 5000
	MaxRecipients = 500
)

// IndicatorInput is an indicator as written by a person or read from a
// file. An empty Type is guessed with DetectIOC.
type IndicatorInput struct {
	Type    IOCType `json:"type"`
	Value   string  `json:"value"`
	Comment string  `json:"comment,omitempty"`
	// StixID keeps the id of an imported STIX indicator.
	StixID string `json:"-"`
}

// PostInput is what a new post is made of.
type PostInput struct {
	Kind       Kind             `json:"kind"`
	TLP        TLP              `json:"tlp"`
	Title      string           `json:"title"`
	Body       string           `json:"body"`
	References []string         `json:"references"`
	CVEs       []string         `json:"cves"`
	Indicators []IndicatorInput `json:"indicators"`
	// Anonymous hides the reporting organisation from members (incident
	// reports only).
	Anonymous bool `json:"anonymous"`
	// Recipients: organisations and sharing groups for TLP:AMBER,
	// organisations for TLP:AMBER+STRICT, people for TLP:RED.
	RecipientOrgs   []string `json:"recipient_orgs"`
	RecipientGroups []string `json:"recipient_groups"`
	RecipientUsers  []string `json:"recipient_users"`
	// Source is "local" (default), "stix", "taxii" or "misp".
	Source string `json:"-"`
	// StixID keeps the report id of an imported post.
	StixID string `json:"-"`
	// importID stages the post under an import in progress (see runImport).
	importID string
	// raisedFrom is the label an imported post would have had before a
	// narrower granular marking raised it.
	raisedFrom TLP
}

// Post is a post as a reader sees it. AuthorOrgID and AuthorOrgName are
// empty when the post is anonymous and the reader is neither an ISAC
// operator nor of the reporting organisation.
type Post struct {
	ID            string      `json:"id"`
	StixID        string      `json:"stix_id"`
	Kind          Kind        `json:"kind"`
	TLP           TLP         `json:"tlp"`
	Title         string      `json:"title"`
	Body          string      `json:"body"`
	BodyHTML      string      `json:"-"`
	References    []string    `json:"references"`
	CVEs          []string    `json:"cves"`
	Anonymous     bool        `json:"anonymous"`
	AuthorOrgID   string      `json:"author_org_id,omitempty"`
	AuthorOrgName string      `json:"author_org_name,omitempty"`
	AuthorUserID  string      `json:"-"`
	Source        string      `json:"source"`
	CreatedAt     time.Time   `json:"created_at"`
	UpdatedAt     time.Time   `json:"updated_at"`
	Indicators    []Indicator `json:"indicators,omitempty"`
	Recipients    []Recipient `json:"recipients,omitempty"`
	// Mine is true when the reader's organisation wrote the post.
	Mine bool `json:"mine"`
	// LabelRaisedFrom is set on an imported post whose label was raised
	// because part of it (a STIX granular marking, a MISP attribute's tag)
	// was marked narrower than the rest: the label the rest had.
	LabelRaisedFrom TLP `json:"label_raised_from,omitempty"`
}

// Recipient is a named recipient of a post.
type Recipient struct {
	Kind  string `json:"kind"` // org, group, user
	ID    string `json:"id"`
	Label string `json:"label"`
}

var cveRE = regexp.MustCompile(`^CVE-\d{4}-\d{4,7}$`)

// NormalizeCVE returns "CVE-2024-12345" for any spelling of a CVE id, or an
// Invalid error.
func NormalizeCVE(s string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(s))
	if !cveRE.MatchString(c) {
		return "", apperr.Field("cves", "share.cve.invalid", s)
	}
	return c, nil
}

// checkRef accepts an http or https address.
func checkRef(s string) (string, error) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > 2000 {
		return "", apperr.Field("references", "share.ref.invalid", s)
	}
	return u.String(), nil
}

// normalizeList checks a list of at most max entries (tooMany, on field,
// when longer) with norm, leaving out blank entries and repeats.
func normalizeList(list []string, max int, field, tooMany string, norm func(string) (string, error)) ([]string, error) {
	if len(list) > max {
		return nil, apperr.Field(field, tooMany, max)
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		if strings.TrimSpace(v) == "" {
			continue
		}
		n, err := norm(v)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return dedupe(out), nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// normalize validates in and fills its normalised lists.
func (in *PostInput) normalize() error {
	in.Title = strings.TrimSpace(in.Title)
	if !in.Kind.Valid() {
		return apperr.Field("kind", "share.kind.invalid")
	}
	if in.TLP == "" {
		return apperr.Field("tlp", "share.tlp.required")
	}
	if !in.TLP.Valid() {
		return apperr.Field("tlp", "share.tlp.invalid")
	}
	if in.Title == "" {
		return apperr.Field("title", "share.title.required")
	}
	if utf8.RuneCountInString(in.Title) > MaxTitle || strings.ContainsAny(in.Title, "\r\n") {
		return apperr.Field("title", "share.title.too_long", MaxTitle)
	}
	if len(in.Body) > MaxBody || !utf8.ValidString(in.Body) {
		return apperr.Field("body", "share.body.too_long", MaxBody)
	}
	if in.Anonymous && in.Kind != KindIncident {
		return apperr.Field("anonymous", "share.anonymous.incident_only")
	}
	refs, err := normalizeList(in.References, MaxRefs, "references", "share.ref.too_many", checkRef)
	if err != nil {
		return err
	}
	in.References = refs
	cves, err := normalizeList(in.CVEs, MaxCVEs, "cves", "share.cve.too_many", NormalizeCVE)
	if err != nil {
		return err
	}
	in.CVEs = cves
	if len(in.Indicators) > MaxIndicators {
		return apperr.Field("indicators", "share.ioc.too_many", MaxIndicators)
	}
	for i := range in.Indicators {
		x := &in.Indicators[i]
		if x.Type == "" {
			x.Type = DetectIOC(x.Value)
		}
		if !x.Type.Valid() {
			return apperr.Field("indicators", "share.ioc.bad_type", string(x.Type))
		}
		if utf8.RuneCountInString(x.Comment) > 500 {
			return apperr.Field("indicators", "share.ioc.comment_too_long", 500)
		}
	}
	in.RecipientOrgs, in.RecipientGroups, in.RecipientUsers = dedupe(in.RecipientOrgs), dedupe(in.RecipientGroups), dedupe(in.RecipientUsers)
	return checkRecipientKinds(in.TLP, len(in.RecipientOrgs), len(in.RecipientGroups), len(in.RecipientUsers))
}

// checkRecipientKinds enforces which recipients a label may name.
func checkRecipientKinds(t TLP, orgs, groups, users int) error {
	if orgs+groups+users > MaxRecipients {
		return apperr.Field("recipients", "share.recipients.too_many", MaxRecipients)
	}
	switch t {
	case TLPClear, TLPGreen:
		if orgs+groups+users > 0 {
			return apperr.Field("recipients", "share.recipients.not_for_label")
		}
	case TLPAmber:
		if users > 0 {
			return apperr.Field("recipients", "share.recipients.amber_people")
		}
	case TLPAmberStrict:
		if groups > 0 {
			return apperr.Field("recipients", "share.recipients.strict_no_groups")
		}
		if users > 0 {
			return apperr.Field("recipients", "share.recipients.amber_people")
		}
	case TLPRed:
		if orgs+groups > 0 {
			return apperr.Field("recipients", "share.recipients.red_people_only")
		}
	}
	return nil
}

// checkExist verifies that every id names a row of table; a missing one is
// an Invalid error on field.
func checkExist(ctx context.Context, q db.Querier, table, field string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM `+table+` WHERE id IN (`+db.In(len(ids))+`)`, args...).Scan(&n); err != nil {
		return err
	}
	if n != len(ids) {
		return apperr.Field(field, "share.recipients.unknown")
	}
	return nil
}

// CreatePost writes a new post for v's organisation with its recipients,
// indicators (correlated at once), search index and STIX objects, all in
// q (run it in a transaction). Callers enqueue the notification fan-out
// with EnqueueFanout in the same transaction.
func CreatePost(ctx context.Context, q db.Querier, v Viewer, in PostInput, now time.Time) (*Post, error) {
	return createPost(ctx, q, v, in, now, true)
}

// createPost writes a post; withSTIX generates its STIX objects (imports
// store the objects they received instead).
func createPost(ctx context.Context, q db.Querier, v Viewer, in PostInput, now time.Time, withSTIX bool) (*Post, error) {
	if !v.Member() {
		return nil, apperr.New(apperr.Unauthenticated, "share.signin_required")
	}
	if err := v.check("share.post.create", v.own(), "share.read_only"); err != nil {
		return nil, err
	}
	if err := in.normalize(); err != nil {
		return nil, err
	}
	if err := checkExist(ctx, q, "organizations", "recipient_orgs", in.RecipientOrgs); err != nil {
		return nil, err
	}
	if err := checkExist(ctx, q, "share_groups", "recipient_groups", in.RecipientGroups); err != nil {
		return nil, err
	}
	if err := checkExist(ctx, q, "users", "recipient_users", in.RecipientUsers); err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Microsecond)
	p := &Post{ID: db.NewID(), Kind: in.Kind, TLP: in.TLP, Title: in.Title, Body: in.Body,
		BodyHTML: RenderMarkdown(in.Body), References: in.References, CVEs: in.CVEs, Anonymous: in.Anonymous,
		AuthorOrgID: v.OrgID, AuthorUserID: v.UserID, Source: in.Source, CreatedAt: now, UpdatedAt: now, Mine: true}
	if p.Source == "" {
		p.Source = "local"
	}
	p.StixID = in.StixID
	if p.StixID == "" {
		p.StixID = "report--" + newUUID()
	}
	if p.References == nil {
		p.References = []string{}
	}
	if p.CVEs == nil {
		p.CVEs = []string{}
	}
	refs, _ := json.Marshal(p.References)
	cves, _ := json.Marshal(p.CVEs)
	var importID any
	if in.importID != "" {
		importID = in.importID
	}
	p.LabelRaisedFrom = in.raisedFrom
	if _, err := q.Exec(ctx, `INSERT INTO share_posts (id, stix_id, kind, tlp, title, body, body_html, refs, cves,
		author_org_id, author_user_id, anonymous, source, created_at, updated_at, import_id, label_raised_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.StixID, p.Kind, p.TLP, p.Title, p.Body, p.BodyHTML, string(refs), string(cves),
		p.AuthorOrgID, p.AuthorUserID, p.Anonymous, p.Source, now, now, importID, string(in.raisedFrom)); err != nil {
		if errors.Is(db.MapError(err), db.ErrConflict) {
			return nil, apperr.New(apperr.Conflict, "share.post.duplicate")
		}
		return nil, err
	}
	for _, r := range []struct {
		kind string
		ids  []string
	}{{"org", in.RecipientOrgs}, {"group", in.RecipientGroups}, {"user", in.RecipientUsers}} {
		for _, id := range r.ids {
			if _, err := q.Exec(ctx, `INSERT INTO share_recipients (post_id, kind, ref_id, added_by, added_at) VALUES (?, ?, ?, ?, ?)`,
				p.ID, r.kind, id, v.UserID, now); err != nil {
				return nil, err
			}
		}
	}
	inds, err := addIndicators(ctx, q, p.ID, in.Indicators, now)
	if err != nil {
		return nil, err
	}
	p.Indicators = inds
	if len(inds) > 0 && in.importID == "" {
		// Counts of the posts carrying each value, as the author may see
		// them.
		if p.Indicators, err = listIndicators(ctx, q, v, p.ID); err != nil {
			return nil, err
		}
	}
	if err := indexPost(ctx, q, p); err != nil {
		return nil, err
	}
	if withSTIX {
		if err := storeSTIX(ctx, q, p, now); err != nil {
			return nil, err
		}
	}
	return p, nil
}

const postCols = `p.id, p.stix_id, p.kind, p.tlp, p.title, p.body, p.body_html, p.refs, p.cves, p.anonymous,
	p.author_org_id, COALESCE(o.name, ''), p.author_user_id, p.source, p.created_at, p.updated_at, p.label_raised_from`

const postFrom = ` FROM share_posts p LEFT JOIN organizations o ON o.id = p.author_org_id `

func scanPost(row interface{ Scan(...any) error }, v Viewer) (*Post, error) {
	var p Post
	var refs, cves string
	if err := row.Scan(&p.ID, &p.StixID, &p.Kind, &p.TLP, &p.Title, &p.Body, &p.BodyHTML, &refs, &cves, &p.Anonymous,
		&p.AuthorOrgID, &p.AuthorOrgName, &p.AuthorUserID, &p.Source, &p.CreatedAt, &p.UpdatedAt, &p.LabelRaisedFrom); err != nil {
		return nil, err
	}
	_ = json.Unmarshal([]byte(refs), &p.References)
	_ = json.Unmarshal([]byte(cves), &p.CVEs)
	p.Mine = v.OrgID != "" && p.AuthorOrgID == v.OrgID
	if p.Anonymous && !p.Mine && !v.Operator {
		p.AuthorOrgID, p.AuthorOrgName, p.AuthorUserID = "", "", ""
	}
	return &p, nil
}

// GetPost returns a post v may see, with its indicators and (for its
// authors) recipients; anything else is db.ErrNotFound.
func GetPost(ctx context.Context, q db.Querier, v Viewer, id string) (*Post, error) {
	pred, args := visible(v)
	p, err := scanPost(q.QueryRow(ctx, `SELECT `+postCols+postFrom+`WHERE p.id = ? AND `+pred, append([]any{id}, args...)...), v)
	if err != nil {
		return nil, db.ScanErr(err)
	}
	if p.Indicators, err = listIndicators(ctx, q, v, p.ID); err != nil {
		return nil, err
	}
	if p.Mine || v.Operator {
		if p.Recipients, err = listRecipients(ctx, q, p.ID); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func listRecipients(ctx context.Context, q db.Querier, postID string) ([]Recipient, error) {
	return db.QueryAll(ctx, q, func(row db.Scanner) (Recipient, error) {
		var r Recipient
		err := row.Scan(&r.Kind, &r.ID, &r.Label)
		return r, err
	}, `SELECT r.kind, r.ref_id, COALESCE(o.name, g.name, u.display_name, u.email, '')
		FROM share_recipients r
		LEFT JOIN organizations o ON r.kind = 'org' AND o.id = r.ref_id
		LEFT JOIN share_groups g ON r.kind = 'group' AND g.id = r.ref_id
		LEFT JOIN users u ON r.kind = 'user' AND u.id = r.ref_id
		WHERE r.post_id = ? ORDER BY r.kind, r.added_at, r.ref_id`, postID)
}

// Filter narrows a post listing.
type Filter struct {
	Kind  Kind
	TLP   TLP
	Query string // searched with the bi-gram index
	// Since keeps posts created at or after it.
	Since time.Time
	// Before pages backwards: posts created before the post with this id.
	Before string
	Limit  int
	// Mine keeps the reader's organisation's own posts.
	Mine bool
}

// ListPosts lists the posts v may see, newest first.
func ListPosts(ctx context.Context, q db.Querier, v Viewer, f Filter) ([]*Post, error) {
	pred, args := visible(v)
	where := []string{pred}
	if f.Kind != "" {
		where = append(where, "p.kind = ?")
		args = append(args, f.Kind)
	}
	if f.TLP != "" {
		where = append(where, "p.tlp = ?")
		args = append(args, f.TLP)
	}
	if !f.Since.IsZero() {
		where = append(where, "p.created_at >= ?")
		args = append(args, f.Since.UTC())
	}
	if f.Mine {
		where = append(where, "p.author_org_id = ?")
		args = append(args, v.OrgID)
	}
	if f.Before != "" {
		where = append(where, "(p.created_at < (SELECT created_at FROM share_posts WHERE id = ?) OR (p.created_at = (SELECT created_at FROM share_posts WHERE id = ?) AND p.id < ?))")
		args = append(args, f.Before, f.Before, f.Before)
	}
	search := strings.TrimSpace(f.Query) != ""
	if search {
		cond, cargs, ok := searchCondition(f.Query)
		if !ok {
			return nil, nil
		}
		where = append(where, cond)
		args = append(args, cargs...)
	}
	// A caller asking one more than a page (to know whether another
	// follows) gets it.
	limit := f.Limit
	if limit <= 0 || limit > maxPostList+1 {
		limit = 50
	}
	// The search index finds candidates, which are checked against the
	// text: pages of candidates are read, each after the last one read,
	// until limit posts pass or none are left, so that a page is full
	// whenever more posts match.
	var out []*Post
	var after *Post
	for {
		w, a := where, args
		if after != nil {
			w = append(w[:len(w):len(w)], "(p.created_at < ? OR (p.created_at = ? AND p.id < ?))")
			a = append(a[:len(a):len(a)], after.CreatedAt.UTC(), after.CreatedAt.UTC(), after.ID)
		}
		page, err := listPage(ctx, q, v, w, a, limit)
		if err != nil {
			return nil, err
		}
		n := len(page)
		if n > 0 {
			after = page[n-1]
		}
		if search {
			page = verifySearch(page, f.Query)
		}
		out = append(out, page...)
		if !search || n < limit || len(out) >= limit {
			break
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// maxPostList is the most posts one listing returns.
const maxPostList = 500

func listPage(ctx context.Context, q db.Querier, v Viewer, where []string, args []any, limit int) ([]*Post, error) {
	rows, err := q.Query(ctx, `SELECT `+postCols+postFrom+`WHERE `+strings.Join(where, " AND ")+
		` ORDER BY p.created_at DESC, p.id DESC LIMIT `+strconv.Itoa(limit), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Post
	for rows.Next() {
		p, err := scanPost(rows, v)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ChangeLabel sets a post's label. Only the author, or an admin of the
// author's organisation, may change it (in either direction); recipients
// that the new label cannot name are removed.
func ChangeLabel(ctx context.Context, q db.Querier, v Viewer, id string, t TLP, now time.Time) (before TLP, err error) {
	if !t.Valid() {
		return "", apperr.Field("tlp", "share.tlp.invalid")
	}
	p, err := GetPost(ctx, q, v, id)
	if err != nil {
		return "", err
	}
	owner, err := postOwner(ctx, q, id)
	if err != nil {
		return "", err
	}
	if err := v.check("share.post.label", owner, "share.label.author_only"); err != nil {
		return "", err
	}
	if p.TLP == t {
		return t, nil
	}
	now = now.UTC().Truncate(time.Microsecond)
	if _, err := q.Exec(ctx, `UPDATE share_posts SET tlp = ?, updated_at = ? WHERE id = ?`, t, now, id); err != nil {
		return "", err
	}
	drop := map[TLP][]string{TLPClear: {"org", "group", "user"}, TLPGreen: {"org", "group", "user"},
		TLPAmber: {"user"}, TLPAmberStrict: {"group", "user"}, TLPRed: {"org", "group"}}[t]
	for _, k := range drop {
		if _, err := q.Exec(ctx, `DELETE FROM share_recipients WHERE post_id = ? AND kind = ?`, id, k); err != nil {
			return "", err
		}
	}
	p.TLP, p.UpdatedAt = t, now
	if err := storeSTIX(ctx, q, p, now); err != nil {
		return "", err
	}
	return p.TLP, nil
}

// postOwner is the permission target of a post: the organisation and
// person who wrote it, read from the row whatever the reader is shown.
func postOwner(ctx context.Context, q db.Querier, id string) (auth.Target, error) {
	var t auth.Target
	err := q.QueryRow(ctx, `SELECT author_org_id, author_user_id FROM share_posts WHERE id = ?`, id).Scan(&t.OrgID, &t.AuthorID)
	return t, db.ScanErr(err)
}

// AddRecipients names more recipients of a post and reports whether it was
// a re-share (the action "share.post.reshare" rather than
// "share.post.recipients"). The author, or an admin of the author's
// organisation, may add any recipient the label allows: people for
// TLP:RED, organisations for TLP:AMBER+STRICT, organisations and groups for
// TLP:AMBER. An organisation the author named on a TLP:AMBER post (itself
// or through a group) may pass it on only to its clients: organisations
// that accepted to be in a "customers" sharing group it owns. Nothing else
// widens a post; TLP:RED and TLP:AMBER+STRICT posts are never passed on.
func AddRecipients(ctx context.Context, q db.Querier, v Viewer, id string, orgs, groups, users []string, now time.Time) (reshare bool, err error) {
	p, err := GetPost(ctx, q, v, id)
	if err != nil {
		return false, err
	}
	owner, err := postOwner(ctx, q, id)
	if err != nil {
		return false, err
	}
	orgs, groups, users = dedupe(orgs), dedupe(groups), dedupe(users)
	if owner.OrgID == v.OrgID {
		if err := v.check("share.post.recipients", owner, "share.recipients.author_only"); err != nil {
			return false, err
		}
	} else {
		reshare = true
		if err := v.check("share.post.reshare", v.own(), "share.reshare.not_allowed"); err != nil {
			return false, err
		}
		if p.TLP != TLPAmber || len(groups) > 0 || len(users) > 0 {
			return false, apperr.New(apperr.Forbidden, "share.reshare.not_allowed")
		}
		// Only an organisation the author named may pass the post on: a
		// client reached by a re-share may not relay it further.
		var named int
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM share_recipients r WHERE r.post_id = ? AND (
				(r.kind = 'org' AND r.ref_id = ? AND r.added_by IN (SELECT user_id FROM memberships WHERE org_id = ?))
				OR (r.kind = 'group' AND EXISTS (SELECT 1 FROM share_group_members gm WHERE gm.group_id = r.ref_id AND gm.org_id = ? AND gm.state = 'accepted')))`,
			id, v.OrgID, owner.OrgID, v.OrgID).Scan(&named); err != nil {
			return false, err
		}
		if named == 0 {
			return false, apperr.New(apperr.Forbidden, "share.reshare.not_allowed")
		}
		for _, o := range orgs {
			var n int
			if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM share_group_members gm JOIN share_groups g ON g.id = gm.group_id
				WHERE g.owner_org_id = ? AND g.kind = 'customers' AND gm.org_id = ? AND gm.state = 'accepted'`, v.OrgID, o).Scan(&n); err != nil {
				return false, err
			}
			if n == 0 {
				return false, apperr.New(apperr.Forbidden, "share.reshare.clients_only")
			}
		}
	}
	if err := checkRecipientKinds(p.TLP, len(orgs), len(groups), len(users)); err != nil {
		return false, err
	}
	if err := checkExist(ctx, q, "organizations", "recipient_orgs", orgs); err != nil {
		return false, err
	}
	if err := checkExist(ctx, q, "share_groups", "recipient_groups", groups); err != nil {
		return false, err
	}
	if err := checkExist(ctx, q, "users", "recipient_users", users); err != nil {
		return false, err
	}
	for _, r := range []struct {
		kind string
		ids  []string
	}{{"org", orgs}, {"group", groups}, {"user", users}} {
		for _, rid := range r.ids {
			if _, err := q.Exec(ctx, `INSERT INTO share_recipients (post_id, kind, ref_id, added_by, added_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (post_id, kind, ref_id) DO NOTHING`, id, r.kind, rid, v.UserID, now.UTC()); err != nil {
				return false, err
			}
		}
	}
	return reshare, nil
}

// DeletePost removes a post: its author, or an admin of the author's
// organisation, may.
func DeletePost(ctx context.Context, q db.Querier, v Viewer, id string) error {
	if _, err := GetPost(ctx, q, v, id); err != nil {
		return err
	}
	owner, err := postOwner(ctx, q, id)
	if err != nil {
		return err
	}
	if err := v.check("share.post.delete", owner, "share.post.author_only"); err != nil {
		return err
	}
	if _, err := q.Exec(ctx, `UPDATE share_ioc_values SET post_count = post_count - 1 WHERE id IN (SELECT value_id FROM share_indicators WHERE post_id = ?)`, id); err != nil {
		return err
	}
	_, err = q.Exec(ctx, `DELETE FROM share_posts WHERE id = ?`, id)
	return err
}
