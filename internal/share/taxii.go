package share

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// Collection is a TAXII 2.1 collection: one per sharing scope (CLEAR,
// GREEN, AMBER, RED as the reader may see them) and one per sharing group
// the reader's organisation belongs to.
type Collection struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types"`
	tlps        []TLP
	group       string
}

// scopeCollectionID is the fixed id of a scope collection.
func scopeCollectionID(alias string) string {
	return uuid.NewSHA1(stixNS, []byte("taxii-collection:"+alias)).String()
}

// Collections lists the collections of v.
func Collections(ctx context.Context, q db.Querier, v Viewer) ([]Collection, error) {
	mk := func(alias, title, desc string, tlps ...TLP) Collection {
		return Collection{ID: scopeCollectionID(alias), Alias: alias, Title: title, Description: desc, CanRead: true,
			CanWrite: v.Write, MediaTypes: []string{STIXMediaType}, tlps: tlps}
	}
	out := []Collection{
		mk("tlp-clear", "TLP:CLEAR", "Public posts"),
		mk("tlp-green", "TLP:GREEN", "Posts for the whole ISAC community"),
		mk("tlp-amber", "TLP:AMBER", "AMBER and AMBER+STRICT posts addressed to your organisation", TLPAmber, TLPAmberStrict),
		mk("tlp-red", "TLP:RED", "RED posts addressed to you", TLPRed),
	}
	out[0].tlps, out[1].tlps = []TLP{TLPClear}, []TLP{TLPGreen}
	groups, err := db.QueryAll(ctx, q, func(r db.Scanner) (Collection, error) {
		var id, name string
		err := r.Scan(&id, &name)
		return Collection{ID: id, Title: "TLP:AMBER " + name, Description: "AMBER posts addressed to the sharing group",
			CanRead: true, CanWrite: v.Write, MediaTypes: []string{STIXMediaType}, tlps: []TLP{TLPAmber}, group: id}, err
	}, `SELECT g.id, g.name FROM share_groups g JOIN share_group_members m ON m.group_id = g.id WHERE m.org_id = ? ORDER BY g.name, g.id`, v.OrgID)
	if err != nil {
		return nil, err
	}
	return append(out, groups...), nil
}

// FindCollection returns one of v's collections by id or alias, or
// db.ErrNotFound.
func FindCollection(ctx context.Context, q db.Querier, v Viewer, id string) (*Collection, error) {
	cs, err := Collections(ctx, q, v)
	if err != nil {
		return nil, err
	}
	for i := range cs {
		if cs[i].ID == id || (cs[i].Alias != "" && cs[i].Alias == id) {
			return &cs[i], nil
		}
	}
	return nil, db.ErrNotFound
}

// ObjectQuery filters a collection's objects (TAXII 2.1 §3.4).
type ObjectQuery struct {
	AddedAfter time.Time
	IDs        []string
	Types      []string
	// Versions: "last" (default), "first", "all", or modified timestamps.
	Versions     []string
	SpecVersions []string
	Limit        int
	Next         string
}

// ObjectRecord is one stored version of a STIX object in a collection.
type ObjectRecord struct {
	ID        string
	Version   string
	DateAdded time.Time
	Body      json.RawMessage
	seq       int64
}

// ObjectPage is one page of a listing.
type ObjectPage struct {
	Records []ObjectRecord
	More    bool
	Next    string
}

// MaxPage is the largest page a TAXII listing returns.
const MaxPage = 1000

func encodeNext(t time.Time, seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(t.UTC().Format(time.RFC3339Nano) + "|" + strconv.FormatInt(seq, 10)))
}

func decodeNext(s string) (time.Time, int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, 0, false
	}
	ts, sq, ok := strings.Cut(string(b), "|")
	if !ok {
		return time.Time{}, 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	n, err2 := strconv.ParseInt(sq, 10, 64)
	return t, n, err == nil && err2 == nil
}

// ErrBadNext is returned for a next token this server did not make.
var ErrBadNext = db.ErrNotFound

// ListObjects returns a page of the objects of a collection that v may see,
// sorted by the time they were added (then by insertion order), with
// keyset pagination: Next encodes the last record's (date_added, seq).
// withBody false leaves Body empty (manifest, versions).
func ListObjects(ctx context.Context, q db.Querier, v Viewer, c *Collection, f ObjectQuery, withBody bool) (*ObjectPage, error) {
	pred, args := visible(v)
	// Objects an import in progress added to a post are not served yet.
	where := []string{pred, "s.import_id IS NULL"}
	tl := make([]string, len(c.tlps))
	for i, t := range c.tlps {
		tl[i] = "?"
		args = append(args, t)
	}
	where = append(where, "p.tlp IN ("+strings.Join(tl, ", ")+")")
	if c.group != "" {
		where = append(where, "EXISTS (SELECT 1 FROM share_recipients r WHERE r.post_id = p.id AND r.kind = 'group' AND r.ref_id = ?)")
		args = append(args, c.group)
	}
	if !f.AddedAfter.IsZero() {
		where = append(where, "s.date_added > ?")
		args = append(args, f.AddedAfter.UTC())
	}
	if len(f.IDs) > 0 {
		where = append(where, "s.stix_id IN ("+db.In(len(f.IDs))+")")
		for _, x := range f.IDs {
			args = append(args, x)
		}
	}
	if len(f.Types) > 0 {
		where = append(where, "s.type IN ("+db.In(len(f.Types))+")")
		for _, x := range f.Types {
			args = append(args, x)
		}
	}
	if len(f.SpecVersions) > 0 {
		ok := false
		for _, s := range f.SpecVersions {
			ok = ok || s == "2.1"
		}
		if !ok {
			return &ObjectPage{}, nil
		}
	}
	vers := f.Versions
	if len(vers) == 0 {
		vers = []string{"last"}
	}
	var exact []string
	var vconds []string
	for _, x := range vers {
		switch x {
		case "all":
			vconds = append(vconds, "1 = 1")
		case "last":
			vconds = append(vconds, "NOT EXISTS (SELECT 1 FROM share_stix_objects n WHERE n.post_id = s.post_id AND n.stix_id = s.stix_id AND n.seq > s.seq AND n.import_id IS NULL)")
		case "first":
			vconds = append(vconds, "NOT EXISTS (SELECT 1 FROM share_stix_objects n WHERE n.post_id = s.post_id AND n.stix_id = s.stix_id AND n.seq < s.seq AND n.import_id IS NULL)")
		default:
			exact = append(exact, x)
		}
	}
	if len(exact) > 0 {
		vconds = append(vconds, "s.version IN ("+db.In(len(exact))+")")
		for _, x := range exact {
			args = append(args, x)
		}
	}
	where = append(where, "("+strings.Join(vconds, " OR ")+")")
	if f.Next != "" {
		t, seq, ok := decodeNext(f.Next)
		if !ok {
			return nil, ErrBadNext
		}
		where = append(where, "(s.date_added > ? OR (s.date_added = ? AND s.seq > ?))")
		args = append(args, t, t, seq)
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	cols := "s.seq, s.stix_id, s.version, s.date_added, ''"
	if withBody {
		cols = "s.seq, s.stix_id, s.version, s.date_added, s.body"
	}
	rows, err := q.Query(ctx, `SELECT `+cols+` FROM share_stix_objects s JOIN share_posts p ON p.id = s.post_id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY s.date_added, s.seq LIMIT `+strconv.Itoa(limit+1), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	page := &ObjectPage{}
	for rows.Next() {
		var r ObjectRecord
		var body string
		if err := rows.Scan(&r.seq, &r.ID, &r.Version, &r.DateAdded, &body); err != nil {
			return nil, err
		}
		r.Body = json.RawMessage(body)
		page.Records = append(page.Records, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(page.Records) > limit {
		page.Records = page.Records[:limit]
		page.More = true
		last := page.Records[limit-1]
		page.Next = encodeNext(last.DateAdded, last.seq)
	}
	return page, nil
}

// Status is a TAXII 2.1 status resource of an add-objects request.
type Status struct {
	ID               string          `json:"id"`
	Status           string          `json:"status"`
	RequestTimestamp string          `json:"request_timestamp"`
	TotalCount       int             `json:"total_count"`
	SuccessCount     int             `json:"success_count"`
	Successes        []ObjectFailure `json:"successes,omitempty"`
	FailureCount     int             `json:"failure_count"`
	Failures         []ObjectFailure `json:"failures,omitempty"`
	PendingCount     int             `json:"pending_count"`
}

// AddObjects imports an envelope POSTed to a collection by p: objects
// without a marking get the collection's label, and none lands wider than
// it; posts into a group collection are addressed to that group. It
// returns the status resource, stored for later GETs. It imports like
// ImportSTIX (in short transactions, published at once with the status
// resource and the import's audit entry, the one every door writes).
func (h *Hub) AddObjects(ctx context.Context, p *auth.Principal, c *Collection, body []byte) (*Status, error) {
	d, v, now := h.DB, ViewerOf(p), h.now()
	opts := ImportOptions{Default: c.tlps[0], Floor: c.tlps[0], Source: "taxii", ListSuccesses: true}
	if c.group != "" {
		opts.RecipientGroups = []string{c.group}
	}
	var st *Status
	opts.Publish = func(ctx context.Context, tx *db.Tx, res *ImportResult) error {
		st = &Status{ID: db.NewID(), Status: "complete", RequestTimestamp: now.UTC().Format("2006-01-02T15:04:05.000000Z"),
			Successes: res.Successes, SuccessCount: len(res.Successes), Failures: res.Failures, FailureCount: res.FailureCount()}
		st.TotalCount = st.SuccessCount + st.FailureCount
		b, _ := json.Marshal(st)
		if _, err := tx.Exec(ctx, `INSERT INTO share_taxii_status (id, org_id, created_at, body) VALUES (?, ?, ?, ?)`, st.ID, v.OrgID, now.UTC(), string(b)); err != nil {
			return err
		}
		return h.record(ctx, tx, p, audit.Event{Action: "share.import", ObjectType: "organization", ObjectID: p.OrgID,
			Details: map[string]any{"format": "taxii", "collection": c.ID, "posts": res.PostCount(), "objects": res.Objects, "failures": res.FailureCount()}})
	}
	if _, err := ImportSTIX(ctx, d, v, bytes.NewReader(body), opts, now); err != nil {
		return nil, err
	}
	return st, nil
}

// GetStatus returns a status resource of v's organisation.
func GetStatus(ctx context.Context, q db.Querier, v Viewer, id string) (json.RawMessage, error) {
	var body string
	if err := q.QueryRow(ctx, `SELECT body FROM share_taxii_status WHERE id = ? AND org_id = ?`, id, v.OrgID).Scan(&body); err != nil {
		return nil, db.ScanErr(err)
	}
	return json.RawMessage(body), nil
}
