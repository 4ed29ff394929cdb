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
	Objects   int             `json:"objects"`
	Existing  int             `json:"existing"`
	Failures  []ObjectFailure `json:"failures,omitempty"`
	Successes []ObjectFailure `json:"-"`
}

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

// ImportSTIX reads a STIX 2.1 bundle (or TAXII envelope) into posts of v's
// organisation: one post per report with everything the report refers to
// (directly or through relationships, sightings and notes), and one more
// post for the objects no report refers to. Every object is kept as
// received, so exports give it back; indicators are extracted from
// patterns and correlated, vulnerabilities become CVE ids. An object's
// TLP marking sets its post's label (the narrowest wins); objects without
// one get opts.Default. Invalid objects are listed in the result and the
// valid ones still land. Run it in a transaction.
func ImportSTIX(ctx context.Context, q db.Querier, v Viewer, data []byte, opts ImportOptions, now time.Time) (*ImportResult, error) {
	objs, fails, err := ParseBundle(data)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{Failures: fails}
	if err := importObjects(ctx, q, v, objs, opts, now, res); err != nil {
		return nil, err
	}
	return res, nil
}

func importObjects(ctx context.Context, q db.Querier, v Viewer, objs []stixObject, opts ImportOptions, now time.Time, res *ImportResult) error {
	if !v.Member() || !v.Write {
		return apperr.New(apperr.Forbidden, "share.read_only")
	}
	if opts.Default == "" {
		opts.Default = TLPAmber
	}
	if opts.Source == "" {
		opts.Source = "stix"
	}
	now = now.UTC().Truncate(time.Microsecond)
	byID := map[string]stixObject{}
	var order []string
	for _, o := range objs {
		if _, dup := byID[o.id]; !dup {
			order = append(order, o.id)
		}
		if prev, ok := byID[o.id]; !ok || o.str("modified") >= prev.str("modified") {
			byID[o.id] = o
		}
	}
	// Objects already stored (same id and version) are not stored again.
	for _, o := range objs {
		var n int
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM share_stix_objects WHERE stix_id = ? AND version = ?`, o.id, versionOf(o)).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			res.Existing++
			res.Successes = append(res.Successes, ObjectFailure{ID: o.id, Version: versionOf(o)})
			delete(byID, o.id)
		}
	}
	assigned := map[string]bool{}
	var groups [][]string
	group := func(root string) []string {
		in := map[string]bool{root: true}
		list := []string{root}
		for changed := true; changed; {
			changed = false
			for _, id := range order {
				o, ok := byID[id]
				if !ok || in[id] || assigned[id] {
					continue
				}
				pull := false
				for _, r := range refsOf(o) {
					if in[r] && (o.typ == "relationship" || o.typ == "sighting" || o.typ == "note" || o.typ == "opinion") {
						pull = true
					}
				}
				for _, x := range list {
					for _, r := range refsOf(byID[x]) {
						if r == id {
							pull = true
						}
					}
				}
				if pull {
					in[id], changed = true, true
					list = append(list, id)
				}
			}
		}
		return list
	}
	for _, id := range order {
		if o, ok := byID[id]; ok && (o.typ == "report" || o.typ == "grouping") && !assigned[id] {
			g := group(id)
			for _, x := range g {
				assigned[x] = true
			}
			groups = append(groups, g)
		}
	}
	var rest []string
	for _, id := range order {
		if o, ok := byID[id]; ok && !assigned[id] && o.typ != "marking-definition" {
			rest = append(rest, id)
		}
	}
	if len(rest) > 0 {
		groups = append(groups, rest)
	}
	for _, g := range groups {
		if err := importGroup(ctx, q, v, byID, g, opts, now, res); err != nil {
			return err
		}
	}
	return nil
}

func versionOf(o stixObject) string {
	if m := o.str("modified"); m != "" {
		return m
	}
	return o.str("created")
}

func importGroup(ctx context.Context, q db.Querier, v Viewer, byID map[string]stixObject, ids []string, opts ImportOptions, now time.Time, res *ImportResult) error {
	label := TLP("")
	var in PostInput
	var root *stixObject
	names := []string{}
	for _, id := range ids {
		o, ok := byID[id]
		if !ok || o.typ == "marking-definition" {
			continue
		}
		for _, mid := range o.strs("object_marking_refs") {
			if t, ok := TLPFromMarking(mid); ok && (label == "" || label.Wider(t)) {
				label = t
			}
		}
		switch o.typ {
		case "report", "grouping":
			if root == nil {
				oo := o
				root = &oo
			}
		case "indicator":
			for _, x := range PatternIndicators(o.str("pattern")) {
				if _, err := NormalizeIOC(x.Type, x.Value); err == nil {
					x.Comment = truncateRunes(o.str("name"), 500)
					x.StixID = o.id
					in.Indicators = append(in.Indicators, x)
				}
			}
		case "vulnerability":
			c := cveOf(o)
			if c != "" {
				in.CVEs = append(in.CVEs, c)
			}
		}
		if n := o.str("name"); n != "" && o.typ != "identity" {
			names = append(names, n)
		}
	}
	if label == "" {
		label = opts.Default
	}
	if opts.Floor != "" && label.Wider(opts.Floor) {
		label = opts.Floor
	}
	in.TLP = label
	in.Source = opts.Source
	if label == TLPAmber || label == TLPAmberStrict {
		in.RecipientOrgs = opts.RecipientOrgs
		if label == TLPAmber {
			in.RecipientGroups = opts.RecipientGroups
		}
	}
	in.Kind = KindIndicatorSet
	if root != nil {
		in.StixID = root.id
		in.Title = truncateRunes(root.str("name"), MaxTitle)
		in.Body = root.str("description")
		in.Kind = KindAdvisory
		if k := Kind(root.str("x_medisac_kind")); k.Valid() {
			in.Kind = k
		} else {
			for _, t := range root.strs("report_types") {
				switch t {
				case "vulnerability":
					in.Kind = KindVulnNote
				case "indicator":
					in.Kind = KindIndicatorSet
				}
			}
		}
		if l, ok := root.m["external_references"].([]any); ok {
			for _, x := range l {
				if e, ok := x.(map[string]any); ok {
					if u, _ := e["url"].(string); u != "" {
						if _, err := checkRef(u); err == nil && len(in.References) < MaxRefs {
							in.References = append(in.References, u)
						}
					}
				}
			}
		}
	} else {
		if len(names) == 0 {
			names = append(names, ids[0])
		}
		in.Title = truncateRunes("STIX: "+strings.Join(names[:min(3, len(names))], ", "), MaxTitle)
		if len(in.Indicators) == 0 {
			in.Kind = KindAdvisory
		}
	}
	if in.Title == "" {
		in.Title = "STIX"
	}
	if len(in.Indicators) > MaxIndicators {
		in.Indicators = in.Indicators[:MaxIndicators]
	}
	in.CVEs = dedupe(in.CVEs)
	if len(in.Body) > MaxBody {
		in.Body = in.Body[:MaxBody]
	}
	var p *Post
	var existing, owner string
	if root != nil {
		err := q.QueryRow(ctx, `SELECT id, author_org_id FROM share_posts WHERE stix_id = ?`, root.id).Scan(&existing, &owner)
		if err := db.ScanErr(err); err != nil && err != db.ErrNotFound {
			return err
		}
	}
	switch {
	case existing != "" && owner != v.OrgID:
		for _, id := range ids {
			res.Failures = append(res.Failures, ObjectFailure{ID: id, Version: versionOf(byID[id]), Message: "belongs to a report another organisation shared"})
		}
		return nil
	case existing != "":
		// A new version of a report this organisation imported before.
		var err error
		if p, err = GetPost(ctx, q, v, existing); err != nil {
			return err
		}
	default:
		var err error
		if p, err = createPost(ctx, q, v, in, now, false); err != nil {
			return err
		}
	}
	// Keep each object as received; objects without a TLP marking get the
	// post's, so nothing ever leaves unmarked.
	for _, id := range ids {
		o, ok := byID[id]
		if !ok {
			continue
		}
		if o.typ != "marking-definition" {
			o.m["object_marking_refs"] = relabel(o.m["object_marking_refs"], p.TLP)
		}
		if err := storeObject(ctx, q, p.ID, o.m, now); err != nil {
			return err
		}
		res.Objects++
		res.Successes = append(res.Successes, ObjectFailure{ID: o.id, Version: versionOf(o)})
	}
	res.Posts = append(res.Posts, ImportedPost{ID: p.ID, Title: p.Title, TLP: p.TLP, Indicators: len(p.Indicators)})
	return nil
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
	rows, err := q.Query(ctx, `SELECT s.stix_id, s.body FROM share_stix_objects s JOIN share_posts p ON p.id = s.post_id
		WHERE `+where+` AND NOT EXISTS (SELECT 1 FROM share_stix_objects n WHERE n.post_id = s.post_id AND n.stix_id = s.stix_id AND n.seq > s.seq)
		ORDER BY s.seq`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := map[string]int{}
	var out []json.RawMessage
	usedTLP := map[TLP]bool{}
	for rows.Next() {
		var id, body string
		if err := rows.Scan(&id, &body); err != nil {
			return nil, err
		}
		var hdr struct {
			Modified string   `json:"modified"`
			Marks    []string `json:"object_marking_refs"`
		}
		_ = json.Unmarshal([]byte(body), &hdr)
		for _, m := range hdr.Marks {
			if t, ok := TLPFromMarking(m); ok {
				usedTLP[t] = true
			}
		}
		if i, ok := seen[id]; ok {
			out[i] = json.RawMessage(body)
			continue
		}
		seen[id] = len(out)
		out = append(out, json.RawMessage(body))
	}
	if err := rows.Err(); err != nil {
		return nil, err
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
