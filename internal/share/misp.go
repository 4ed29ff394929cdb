package share

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// mispEvent is the part of a MISP event (MISP core format) the hub reads
// and writes.
type mispEvent struct {
	UUID          string          `json:"uuid"`
	Info          string          `json:"info"`
	Date          string          `json:"date,omitempty"`
	ThreatLevelID json.RawMessage `json:"threat_level_id,omitempty"`
	Analysis      json.RawMessage `json:"analysis,omitempty"`
	Distribution  json.RawMessage `json:"distribution,omitempty"`
	Published     bool            `json:"published"`
	Timestamp     string          `json:"timestamp,omitempty"`
	Tag           []mispTag       `json:"Tag,omitempty"`
	Attribute     []mispAttribute `json:"Attribute"`
	Object        []struct {
		Name         string          `json:"name"`
		Distribution json.RawMessage `json:"distribution,omitempty"`
		Attribute    []mispAttribute `json:"Attribute"`
	} `json:"Object,omitempty"`
	EventReport []mispReport `json:"EventReport,omitempty"`
}

type mispTag struct {
	Name string `json:"name"`
}

type mispAttribute struct {
	UUID     string `json:"uuid,omitempty"`
	Type     string `json:"type"`
	Category string `json:"category,omitempty"`
	Value    string `json:"value"`
	ToIDs    bool   `json:"to_ids"`
	Comment  string `json:"comment,omitempty"`
	Deleted  bool   `json:"deleted,omitempty"`
	// Tag and Distribution mark one attribute narrower than its event.
	Tag          []mispTag       `json:"Tag,omitempty"`
	Distribution json.RawMessage `json:"distribution,omitempty"`
}

// mispTagsTLP returns the narrowest tlp: tag of tags.
func mispTagsTLP(tags []mispTag) TLP {
	var out TLP
	for _, t := range tags {
		if tl, err := ParseTLP(t.Name); err == nil && strings.HasPrefix(strings.ToLower(strings.TrimSpace(t.Name)), "tlp:") {
			if out == "" || out.Wider(tl) {
				out = tl
			}
		}
	}
	return out
}

// mispDistributionTLP maps a MISP distribution level to a label: 0 "your
// organisation only" AMBER+STRICT, 1–3 (community, connected, all) GREEN,
// 4 a sharing group AMBER; 5 "inherit" and anything else nothing.
func mispDistributionTLP(r json.RawMessage) TLP {
	d, ok := rawInt(r)
	if !ok {
		return ""
	}
	return map[int]TLP{0: TLPAmberStrict, 1: TLPGreen, 2: TLPGreen, 3: TLPGreen, 4: TLPAmber}[d]
}

type mispReport struct {
	UUID    string `json:"uuid,omitempty"`
	Name    string `json:"name"`
	Content string `json:"content"`
}

// rawInt reads a MISP number written as a number or a string.
func rawInt(r json.RawMessage) (int, bool) {
	s := strings.Trim(string(r), `"`)
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// ParseMISP reads a MISP event JSON document ({"Event": {…}} or the event
// itself). Attributes without a type or value are reported as failures.
func ParseMISP(data []byte) (*mispEvent, []ObjectFailure, error) {
	if len(data) > MaxImport {
		return nil, nil, apperr.New(apperr.TooLarge, "share.import.too_large", MaxImport>>20)
	}
	var wrap struct {
		Event *mispEvent `json:"Event"`
	}
	if err := json.Unmarshal(data, &wrap); err != nil {
		return nil, nil, apperr.Wrap(err, apperr.Invalid, "share.import.not_json")
	}
	ev := wrap.Event
	if ev == nil {
		ev = &mispEvent{}
		if err := json.Unmarshal(data, ev); err != nil {
			return nil, nil, apperr.Wrap(err, apperr.Invalid, "share.import.not_json")
		}
	}
	if strings.TrimSpace(ev.Info) == "" {
		return nil, nil, apperr.New(apperr.Invalid, "share.import.misp_no_info")
	}
	if ev.UUID != "" {
		if _, err := uuid.Parse(ev.UUID); err != nil {
			return nil, nil, apperr.New(apperr.Invalid, "share.import.misp_bad_uuid")
		}
	}
	var fails []ObjectFailure
	check := func(as []mispAttribute) []mispAttribute {
		out := as[:0]
		for i, a := range as {
			if a.Type == "" || a.Value == "" {
				id := a.UUID
				if id == "" {
					id = fmt.Sprintf("Attribute[%d]", i)
				}
				fails = append(fails, ObjectFailure{ID: id, Message: "attribute without type or value"})
				continue
			}
			out = append(out, a)
		}
		return out
	}
	ev.Attribute = check(ev.Attribute)
	for i := range ev.Object {
		ev.Object[i].Attribute = check(ev.Object[i].Attribute)
	}
	return ev, fails, nil
}

// mispIndicators maps a MISP attribute to indicators, references and CVEs.
func mispIndicators(a mispAttribute, in *PostInput) bool {
	v := strings.TrimSpace(a.Value)
	first, second, _ := strings.Cut(v, "|")
	add := func(t IOCType, val string) bool {
		if _, err := NormalizeIOC(t, val); err != nil {
			return false
		}
		in.Indicators = append(in.Indicators, IndicatorInput{Type: t, Value: val, Comment: truncateRunes(a.Comment, 500)})
		return true
	}
	switch a.Type {
	case "ip-src", "ip-dst":
		return add(IOCIP, v)
	case "ip-src|port", "ip-dst|port":
		return add(IOCIP, first)
	case "domain", "hostname":
		return add(IOCDomain, v)
	case "domain|ip", "hostname|port":
		ok := add(IOCDomain, first)
		if a.Type == "domain|ip" {
			ok = add(IOCIP, second) || ok
		}
		return ok
	case "url":
		return add(IOCURL, v)
	case "md5", "sha1", "sha256", "sha512":
		return add(IOCHash, v)
	case "filename":
		return add(IOCFilename, v)
	case "filename|md5", "filename|sha1", "filename|sha256", "filename|sha512":
		ok := add(IOCFilename, first)
		return add(IOCHash, second) || ok
	case "email", "email-src", "email-dst", "email-reply-to", "whois-registrant-email":
		return add(IOCEmail, v)
	case "link":
		if u, err := checkRef(v); err == nil && len(in.References) < MaxRefs {
			in.References = append(in.References, u)
			return true
		}
	case "vulnerability":
		if c, err := NormalizeCVE(v); err == nil {
			in.CVEs = append(in.CVEs, c)
			return true
		}
	}
	return false
}

var mispTLP = map[TLP]string{TLPClear: "tlp:clear", TLPGreen: "tlp:green", TLPAmber: "tlp:amber", TLPAmberStrict: "tlp:amber+strict", TLPRed: "tlp:red"}

// ImportMISP reads a MISP event into one post of v's organisation. The
// label comes from the event's tlp: tag, else from its distribution
// (0 "your organisation only" → AMBER+STRICT, 1–3 → GREEN, 4 sharing group →
// AMBER), else opts.Default. An attribute (or object) tagged or
// distributed narrower than the event makes the whole post that narrow,
// and the post records the label it would have had. Attributes the hub has
// no indicator type for (registry keys, mutexes, ssdeep…) are counted as
// skipped. The event's uuid becomes the post's report id, so re-importing
// it is a conflict-free no-op. It writes like ImportSTIX: in short
// transactions, published at once.
func ImportMISP(ctx context.Context, d *db.DB, v Viewer, data []byte, opts ImportOptions, now time.Time) (*ImportResult, int, error) {
	if !v.Member() {
		return nil, 0, apperr.New(apperr.Unauthenticated, "share.signin_required")
	}
	if err := v.check("share.import", v.own(), "share.read_only"); err != nil {
		return nil, 0, err
	}
	ev, fails, err := ParseMISP(data)
	if err != nil {
		return nil, 0, err
	}
	res := &ImportResult{Failures: fails}
	in := PostInput{Kind: KindIndicatorSet, Title: truncateRunes(ev.Info, MaxTitle), Source: "misp"}
	in.TLP = mispTagsTLP(ev.Tag)
	if in.TLP == "" {
		in.TLP = mispDistributionTLP(ev.Distribution)
	}
	if in.TLP == "" {
		in.TLP = opts.Default
	}
	if in.TLP == "" {
		in.TLP = TLPAmber
	}
	skipped := 0
	var body []string
	all := append([]mispAttribute{}, ev.Attribute...)
	narrowest := TLP("")
	narrower := func(t TLP) {
		if t != "" && (narrowest == "" || narrowest.Wider(t)) {
			narrowest = t
		}
	}
	for _, o := range ev.Object {
		narrower(mispDistributionTLP(o.Distribution))
		all = append(all, o.Attribute...)
	}
	for _, a := range all {
		if a.Deleted {
			continue
		}
		narrower(mispTagsTLP(a.Tag))
		narrower(mispDistributionTLP(a.Distribution))
		if a.Type == "text" || a.Type == "comment" {
			if len(body) < 20 {
				body = append(body, a.Value)
			}
			continue
		}
		if !mispIndicators(a, &in) {
			skipped++
		}
	}
	if narrowest != "" && in.TLP.Wider(narrowest) {
		in.raisedFrom = in.TLP
		in.TLP = narrowest
	}
	if opts.Floor != "" && in.TLP.Wider(opts.Floor) {
		in.TLP = opts.Floor
	}
	if in.raisedFrom == in.TLP {
		in.raisedFrom = ""
	}
	if in.TLP == TLPAmber || in.TLP == TLPAmberStrict {
		in.RecipientOrgs = opts.RecipientOrgs
		if in.TLP == TLPAmber {
			in.RecipientGroups = opts.RecipientGroups
		}
	}
	for _, r := range ev.EventReport {
		body = append(body, r.Content)
	}
	in.Body = strings.Join(body, "\n\n")
	if len(in.Body) > MaxBody {
		in.Body = in.Body[:MaxBody]
	}
	in.CVEs, in.References = dedupe(in.CVEs), dedupe(in.References)
	if len(in.Indicators) == 0 {
		in.Kind = KindAdvisory
	}
	if len(in.Indicators) > MaxIndicators {
		in.Indicators = in.Indicators[:MaxIndicators]
	}
	if ev.UUID != "" {
		in.StixID = "report--" + strings.ToLower(ev.UUID)
		var n int
		if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM share_posts WHERE stix_id = ?`, in.StixID).Scan(&n); err != nil {
			return nil, 0, err
		}
		if n > 0 {
			res.Existing++
			return res, skipped, nil
		}
	}
	err = runImport(ctx, d, v, opts, now, res, func(s *stagedImport) error {
		p, err := s.stagePost(ctx, in)
		if err != nil {
			return err
		}
		// Its STIX objects, written for a post made here, land with it,
		// in chunks like everything an import writes.
		var name string
		if err := d.QueryRow(ctx, `SELECT name FROM organizations WHERE id = ?`, p.AuthorOrgID).Scan(&name); err != nil {
			return db.ScanErr(err)
		}
		var rows []stixRow
		for _, o := range postObjects(p, name) {
			row, err := stixRowOf(o)
			if err != nil {
				return err
			}
			rows = append(rows, row)
		}
		if err := s.stageObjects(ctx, p.ID, rows, false); err != nil {
			return err
		}
		res.Posts = append(res.Posts, ImportedPost{ID: p.ID, Title: p.Title, TLP: p.TLP, Indicators: len(p.Indicators)})
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return res, skipped, nil
}

var mispTypes = map[IOCType]string{IOCIP: "ip-dst", IOCDomain: "domain", IOCURL: "url", IOCEmail: "email-src", IOCFilename: "filename"}
var mispCategory = map[IOCType]string{IOCIP: "Network activity", IOCDomain: "Network activity", IOCURL: "Network activity",
	IOCEmail: "Payload delivery", IOCFilename: "Artifacts dropped", IOCHash: "Payload delivery"}

// mispEventOf builds the MISP event of a post.
func mispEventOf(p *Post) mispEvent {
	_, u, _ := strings.Cut(p.StixID, "--")
	dist := map[TLP]int{TLPClear: 3, TLPGreen: 1, TLPAmber: 4, TLPAmberStrict: 0, TLPRed: 0}[p.TLP]
	ev := mispEvent{UUID: u, Info: p.Title, Date: p.CreatedAt.In(time.UTC).Format("2006-01-02"),
		ThreatLevelID: json.RawMessage(`"4"`), Analysis: json.RawMessage(`"2"`), Distribution: json.RawMessage(strconv.Quote(strconv.Itoa(dist))),
		Published: true, Timestamp: strconv.FormatInt(p.UpdatedAt.Unix(), 10), Tag: []mispTag{{Name: mispTLP[p.TLP]}}, Attribute: []mispAttribute{}}
	for _, i := range p.Indicators {
		t := mispTypes[i.Type]
		if i.Type == IOCHash {
			t = map[int]string{32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}[len(i.Norm)]
		}
		_, iu, _ := strings.Cut(i.StixID, "--")
		if _, err := uuid.Parse(iu); err != nil {
			iu = uuid.NewSHA1(stixNS, []byte(i.ID)).String()
		}
		ev.Attribute = append(ev.Attribute, mispAttribute{UUID: iu, Type: t, Category: mispCategory[i.Type], Value: i.Norm, ToIDs: i.Warning == "", Comment: i.Comment})
	}
	for _, c := range p.CVEs {
		ev.Attribute = append(ev.Attribute, mispAttribute{UUID: uuid.NewSHA1(stixNS, []byte(p.ID+c)).String(), Type: "vulnerability", Category: "External analysis", Value: c})
	}
	for _, r := range p.References {
		ev.Attribute = append(ev.Attribute, mispAttribute{UUID: uuid.NewSHA1(stixNS, []byte(p.ID+r)).String(), Type: "link", Category: "External analysis", Value: r})
	}
	if p.Body != "" {
		ev.EventReport = []mispReport{{UUID: uuid.NewSHA1(stixNS, []byte(p.ID+"report")).String(), Name: p.Title, Content: p.Body}}
	}
	return ev
}

// ExportMISP returns the posts v may see (created at or after since when not
// zero) as MISP events: {"response": [{"Event": …}, …]} like MISP's
// restSearch, each tagged with its TLP label.
func ExportMISP(ctx context.Context, q db.Querier, v Viewer, since time.Time) ([]byte, error) {
	var events []map[string]any
	before := ""
	for {
		ps, err := ListPosts(ctx, q, v, Filter{Since: since, Before: before, Limit: 500})
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if p.Indicators, err = listIndicators(ctx, q, v, p.ID); err != nil {
				return nil, err
			}
			events = append(events, map[string]any{"Event": mispEventOf(p)})
		}
		if len(ps) < 500 {
			break
		}
		before = ps[len(ps)-1].ID
	}
	if events == nil {
		events = []map[string]any{}
	}
	return json.MarshalIndent(map[string]any{"response": events}, "", " ")
}

// ExportMISPEvent returns one post as a MISP event document.
func ExportMISPEvent(ctx context.Context, q db.Querier, v Viewer, postID string) ([]byte, error) {
	p, err := GetPost(ctx, q, v, postID)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(map[string]any{"Event": mispEventOf(p)}, "", " ")
}
