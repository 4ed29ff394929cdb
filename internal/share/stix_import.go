package share

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// MaxImport is the largest STIX bundle, TAXII envelope or MISP event read,
// in bytes.
const MaxImport = 32 << 20

// ObjectFailure names an object that could not be imported and why.
type ObjectFailure struct {
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
	Message string `json:"message"`
}

// ImportResult is what an import created.
type ImportResult struct {
	Posts []ImportedPost `json:"posts"`
	// Objects is the number of STIX objects stored; Existing the number
	// already present (re-importing is not an error).
	Objects  int             `json:"objects"`
	Existing int             `json:"existing"`
	Failures []ObjectFailure `json:"failures,omitempty"`
	// FailuresOmitted and PostsOmitted count the failures and posts not
	// listed: a result lists at most 10,000 of each, so that a bundle of
	// a million objects does not need a million entries in memory.
	FailuresOmitted int `json:"failures_omitted,omitempty"`
	PostsOmitted    int `json:"posts_omitted,omitempty"`
	// Successes lists every object stored or present already, when
	// ImportOptions.ListSuccesses asks for it (TAXII status resources).
	Successes []ObjectFailure `json:"-"`
	// BusyWaits counts the transactions that found the database busy
	// (written by another process for longer than its busy timeout) and
	// were tried again; BusyWaited is how long they waited in all.
	BusyWaits  int           `json:"-"`
	BusyWaited time.Duration `json:"-"`
	// longestTx is the longest write transaction the import ran, and
	// longestTxAt where it was run from.
	longestTx   time.Duration
	longestTxAt string
}

// FailureCount is the number of objects that failed, listed or not.
func (r *ImportResult) FailureCount() int { return len(r.Failures) + r.FailuresOmitted }

// PostCount is the number of posts made or added to, listed or not.
func (r *ImportResult) PostCount() int { return len(r.Posts) + r.PostsOmitted }

func (r *ImportResult) fail(f ObjectFailure) {
	if len(r.Failures) < maxListed {
		r.Failures = append(r.Failures, f)
	} else {
		r.FailuresOmitted++
	}
}

func (r *ImportResult) addPost(p ImportedPost) {
	if len(r.Posts) < maxListed {
		r.Posts = append(r.Posts, p)
	} else {
		r.PostsOmitted++
	}
}

// LongestTransaction is the longest write transaction the import ran (an
// import writes in many short ones).
func (r *ImportResult) LongestTransaction() time.Duration { return r.longestTx }

// ImportedPost is a post made by an import.
type ImportedPost struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	TLP        TLP    `json:"tlp"`
	Indicators int    `json:"indicators"`
}

// ImportOptions set how imported objects become posts.
type ImportOptions struct {
	// Default is the label of objects without a TLP marking
	// (TLP:AMBER when empty, as the Health-ISAC code of conduct does).
	Default TLP
	// Floor is the widest label an import may give (a TAXII collection's
	// scope); narrower markings are kept.
	Floor TLP
	// Recipients of TLP:AMBER / AMBER+STRICT posts made by the import.
	RecipientOrgs   []string
	RecipientGroups []string
	Source          string
	// ListSuccesses lists every object stored in the result's Successes.
	ListSuccesses bool
	// beforeTx, when set (by tests), runs before each of the import's
	// transactions; an error it returns fails the import there.
	beforeTx func() error
	// Publish, when set, runs in the import's last transaction, the one
	// that makes its posts visible: callers write their audit entry and
	// anything else that must land with the import there.
	Publish func(ctx context.Context, tx *db.Tx, res *ImportResult) error
}

var (
	stixTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,248}[a-z0-9]$`)
	stixTSRE   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$`)
)

// stixObject is one parsed object with its raw form.
type stixObject struct {
	m       map[string]any
	id, typ string
}

func (o stixObject) str(k string) string { s, _ := o.m[k].(string); return s }

func (o stixObject) strs(k string) []string {
	l, _ := o.m[k].([]any)
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// requiredProps are the properties STIX 2.1 requires per type (beyond
// type, id, spec_version, created, modified of SDOs and SROs).
var requiredProps = map[string][]string{
	"report": {"name", "published", "object_refs"}, "indicator": {"pattern", "pattern_type", "valid_from"},
	"vulnerability": {"name"}, "identity": {"name"}, "note": {"content", "object_refs"},
	"relationship": {"relationship_type", "source_ref", "target_ref"}, "sighting": {"sighting_of_ref"},
	"malware": {"is_family"}, "threat-actor": {"name"}, "attack-pattern": {"name"}, "campaign": {"name"},
	"intrusion-set": {"name"}, "tool": {"name"}, "course-of-action": {"name"}, "infrastructure": {"name"},
	"opinion": {"opinion", "object_refs"}, "observed-data": {"first_observed", "last_observed", "number_observed"},
	"grouping": {"context", "object_refs"}, "incident": {"name"}, "location": {}, "malware-analysis": {"product"},
}

// sdoTypes are the object types that need created and modified.
var scoTypes = map[string]bool{"artifact": true, "autonomous-system": true, "directory": true, "domain-name": true,
	"email-addr": true, "email-message": true, "file": true, "ipv4-addr": true, "ipv6-addr": true, "mac-addr": true,
	"mutex": true, "network-traffic": true, "process": true, "software": true, "url": true, "user-account": true,
	"windows-registry-key": true, "x509-certificate": true}

// validateObject checks one STIX 2.1 object: its id names its type and a
// UUID, timestamps are RFC 3339 UTC, and the type's required properties
// are there. It returns a reason in English for the failure list.
func validateObject(m map[string]any) (stixObject, string) {
	o := stixObject{m: m}
	o.typ, o.id = o.str("type"), o.str("id")
	if o.typ == "" || !stixTypeRE.MatchString(o.typ) {
		return o, "missing or malformed type"
	}
	pfx, u, ok := strings.Cut(o.id, "--")
	if !ok || pfx != o.typ {
		return o, "id does not start with its type"
	}
	if _, err := uuid.Parse(u); err != nil {
		return o, "id does not end with a UUID"
	}
	if scoTypes[o.typ] {
		return o, ""
	}
	if sv := o.str("spec_version"); sv != "2.1" {
		return o, "spec_version must be 2.1"
	}
	ts := []string{"created"}
	if o.typ != "marking-definition" && o.typ != "extension-definition" && o.typ != "language-content" {
		ts = append(ts, "modified")
	}
	if o.typ == "indicator" {
		ts = append(ts, "valid_from")
	}
	for _, k := range ts {
		if !stixTSRE.MatchString(o.str(k)) {
			return o, k + " must be a timestamp like 2024-01-02T03:04:05.000Z"
		}
		if _, err := time.Parse(time.RFC3339Nano, o.str(k)); err != nil {
			return o, k + " is not a valid date"
		}
	}
	for _, k := range requiredProps[o.typ] {
		v, ok := m[k]
		if !ok || v == nil || v == "" {
			return o, "required property " + k + " is missing"
		}
		if l, isList := v.([]any); isList && len(l) == 0 {
			return o, "required property " + k + " is empty"
		}
	}
	for _, k := range []string{"object_marking_refs", "object_refs", "external_references", "labels"} {
		if v, ok := m[k]; ok {
			if _, isList := v.([]any); !isList {
				return o, k + " must be a list"
			}
		}
	}
	if o.typ == "indicator" && o.str("pattern_type") == "" {
		return o, "pattern_type is missing"
	}
	return o, ""
}

// ParseBundle reads a STIX 2.1 bundle or a TAXII envelope ({"objects":[…]}),
// returning the valid objects and a failure for each invalid one. Only a
// body that is not such a JSON document at all is an error.
func ParseBundle(data []byte) ([]stixObject, []ObjectFailure, error) {
	if len(data) > MaxImport {
		return nil, nil, apperr.New(apperr.TooLarge, "share.import.too_large", MaxImport>>20)
	}
	var env struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, nil, apperr.Wrap(err, apperr.Invalid, "share.import.not_json")
	}
	if env.Type != "" && env.Type != "bundle" {
		return nil, nil, apperr.New(apperr.Invalid, "share.import.not_bundle")
	}
	var objs []stixObject
	var fails []ObjectFailure
	seen := map[string]bool{}
	for i, raw := range env.Objects {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			fails = append(fails, ObjectFailure{ID: fmt.Sprintf("objects[%d]", i), Message: "not a JSON object"})
			continue
		}
		o, why := validateObject(m)
		if why != "" {
			id := o.id
			if id == "" {
				id = fmt.Sprintf("objects[%d]", i)
			}
			fails = append(fails, ObjectFailure{ID: id, Version: o.str("modified"), Message: why})
			continue
		}
		key := o.id + "|" + o.str("modified")
		if seen[key] {
			continue
		}
		seen[key] = true
		objs = append(objs, o)
	}
	return objs, fails, nil
}

var (
	patValueRE = regexp.MustCompile(`(ipv4-addr|ipv6-addr|domain-name|url|email-addr):value\s*=\s*'((?:[^'\\]|\\.)*)'`)
	patHashRE  = regexp.MustCompile(`file:hashes\.(?:'[^']+'|"[^"]+"|[A-Za-z0-9-]+)\s*=\s*'((?:[^'\\]|\\.)*)'`)
	patNameRE  = regexp.MustCompile(`file:name\s*=\s*'((?:[^'\\]|\\.)*)'`)
)

func unescapePattern(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\'`, `'`), `\\`, `\`)
}

// PatternIndicators extracts the indicator values compared with = in a
// STIX pattern (IP, domain, URL, e-mail, file hash, file name). Other
// comparisons are left in the stored object.
func PatternIndicators(pattern string) []IndicatorInput {
	var out []IndicatorInput
	for _, m := range patValueRE.FindAllStringSubmatch(pattern, -1) {
		t := map[string]IOCType{"ipv4-addr": IOCIP, "ipv6-addr": IOCIP, "domain-name": IOCDomain, "url": IOCURL, "email-addr": IOCEmail}[m[1]]
		out = append(out, IndicatorInput{Type: t, Value: unescapePattern(m[2])})
	}
	for _, m := range patHashRE.FindAllStringSubmatch(pattern, -1) {
		out = append(out, IndicatorInput{Type: IOCHash, Value: unescapePattern(m[1])})
	}
	for _, m := range patNameRE.FindAllStringSubmatch(pattern, -1) {
		out = append(out, IndicatorInput{Type: IOCFilename, Value: unescapePattern(m[1])})
	}
	return out
}

// refsOf lists the ids an object points at.
func refsOf(o stixObject) []string {
	var out []string
	for k, v := range o.m {
		switch {
		case strings.HasSuffix(k, "_ref"):
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		case strings.HasSuffix(k, "_refs"):
			out = append(out, o.strs(k)...)
		}
	}
	return out
}

func versionOf(o stixObject) string {
	if m := o.str("modified"); m != "" {
		return m
	}
	return o.str("created")
}

func cveOf(o stixObject) string {
	if c, err := NormalizeCVE(o.str("name")); err == nil {
		return c
	}
	if l, ok := o.m["external_references"].([]any); ok {
		for _, x := range l {
			if e, ok := x.(map[string]any); ok && e["source_name"] == "cve" {
				if id, _ := e["external_id"].(string); id != "" {
					if c, err := NormalizeCVE(id); err == nil {
						return c
					}
				}
			}
		}
	}
	return ""
}

func truncateRunes(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// ExportSTIX returns a STIX 2.1 bundle of the posts v may see (created at
// or after since when not zero): the newest version of every object, with
// the TLP 2.0 marking definitions they use. TLP:RED posts are exported only
// to the people they name, like every other read.
func ExportSTIX(ctx context.Context, q db.Querier, v Viewer, since time.Time) ([]byte, error) {
	pred, args := visible(v)
	where := pred
	if !since.IsZero() {
		where += " AND p.created_at >= ?"
		args = append(args, since.UTC())
	}
	return exportSTIX(ctx, q, where, args)
}

// ExportPostSTIX returns a STIX 2.1 bundle of one post v may see: the
// newest version of each of its objects (report, identity unless
// anonymous, vulnerabilities, indicators, relationships, notes,
// sightings) with the TLP 2.0 marking definitions they use. A post v may
// not see is db.ErrNotFound.
func ExportPostSTIX(ctx context.Context, q db.Querier, v Viewer, postID string) ([]byte, error) {
	pred, args := visible(v)
	args = append([]any{postID}, args...)
	var n int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM share_posts p WHERE p.id = ? AND `+pred, args...).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, db.ErrNotFound
	}
	return exportSTIX(ctx, q, "p.id = ? AND "+pred, args)
}

func exportSTIX(ctx context.Context, q db.Querier, where string, args []any) ([]byte, error) {
	// Every version is read in the order stored and the newest of each
	// object kept, in one pass (a per-row "no newer version" subquery is
	// quadratic in the objects of a post on SQLite). Objects staged by an
	// import in progress are not read.
	rows, err := q.Query(ctx, `SELECT s.post_id, s.stix_id, s.body FROM share_stix_objects s JOIN share_posts p ON p.id = s.post_id
		WHERE `+where+` AND s.import_id IS NULL ORDER BY s.seq`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := map[string]int{}
	var out []json.RawMessage
	for rows.Next() {
		var postID, id, body string
		if err := rows.Scan(&postID, &id, &body); err != nil {
			return nil, err
		}
		key := postID + "\x00" + id
		if i, ok := seen[key]; ok {
			out[i] = json.RawMessage(body)
			continue
		}
		seen[key] = len(out)
		out = append(out, json.RawMessage(body))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	usedTLP := map[TLP]bool{}
	for _, body := range out {
		var hdr struct {
			Marks []string `json:"object_marking_refs"`
		}
		_ = json.Unmarshal(body, &hdr)
		for _, m := range hdr.Marks {
			if t, ok := TLPFromMarking(m); ok {
				usedTLP[t] = true
			}
		}
	}
	var marks []json.RawMessage
	for _, t := range TLPs {
		if usedTLP[t] {
			b, _ := json.Marshal(MarkingDefinition(t))
			marks = append(marks, b)
		}
	}
	if out == nil {
		out = []json.RawMessage{}
	}
	return json.MarshalIndent(map[string]any{"type": "bundle", "id": "bundle--" + newUUID(), "objects": append(marks, out...)}, "", " ")
}
