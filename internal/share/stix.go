package share

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/medisac/medisac/internal/db"
)

// STIXMediaType is the media type of STIX 2.1 content.
const STIXMediaType = "application/stix+json;version=2.1"

// tlpExtension is the TLP 2.0 extension-definition id.
const tlpExtension = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

// stixNS is the namespace of the deterministic (UUIDv5) ids medisac gives
// identities and vulnerabilities, so that every export names them alike.
var stixNS = uuid.MustParse("6f1a4c1e-9c55-4b5e-8f3e-2a7d1e0c5b11")

func stixTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// MarkingDefinition returns the official TLP 2.0 marking-definition object
// of t.
func MarkingDefinition(t TLP) map[string]any {
	name := t.Label()
	val := strings.ToLower(strings.TrimPrefix(name, "TLP:"))
	return map[string]any{
		"type": "marking-definition", "spec_version": "2.1", "id": t.MarkingID(),
		"created": "2022-10-01T00:00:00.000Z", "name": name,
		"extensions": map[string]any{tlpExtension: map[string]any{"extension_type": "property-extension", "tlp_2_0": val}},
	}
}

// OrgIdentityID is the STIX identity id of an organisation.
func OrgIdentityID(orgID string) string {
	return "identity--" + uuid.NewSHA1(stixNS, []byte("org:"+orgID)).String()
}

func vulnID(cve string) string {
	return "vulnerability--" + uuid.NewSHA1(stixNS, []byte("cve:"+cve)).String()
}

var stixReportTypes = map[Kind]string{KindAdvisory: "threat-report", KindIncident: "threat-report",
	KindVulnNote: "vulnerability", KindIndicatorSet: "indicator", KindQuestion: "threat-report"}

// stixEscape escapes a value for a STIX pattern string literal.
func stixEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\'`)
}

// Pattern returns the STIX pattern of an indicator.
func Pattern(t IOCType, norm string) string {
	v := stixEscape(norm)
	switch t {
	case IOCIP:
		if strings.Contains(norm, ":") {
			return "[ipv6-addr:value = '" + v + "']"
		}
		return "[ipv4-addr:value = '" + v + "']"
	case IOCDomain:
		return "[domain-name:value = '" + v + "']"
	case IOCURL:
		return "[url:value = '" + v + "']"
	case IOCEmail:
		return "[email-addr:value = '" + v + "']"
	case IOCHash:
		alg := map[int]string{32: "MD5", 40: "SHA-1", 64: "SHA-256", 128: "SHA-512"}[len(norm)]
		return "[file:hashes.'" + alg + "' = '" + v + "']"
	}
	return "[file:name = '" + v + "']"
}

// postObjects builds the STIX objects of a post as medisac writes them.
func postObjects(p *Post, orgName string) []map[string]any {
	created, modified := stixTime(p.CreatedAt), stixTime(p.UpdatedAt)
	marking := []string{p.TLP.MarkingID()}
	var objs []map[string]any
	var refs []string
	creator := ""
	if !p.Anonymous && p.AuthorOrgID != "" {
		creator = OrgIdentityID(p.AuthorOrgID)
		objs = append(objs, map[string]any{"type": "identity", "spec_version": "2.1", "id": creator,
			"created": created, "modified": created, "name": orgName, "identity_class": "organization",
			"sectors": []string{"healthcare"}, "object_marking_refs": marking})
	}
	withCreator := func(o map[string]any) map[string]any {
		if creator != "" {
			o["created_by_ref"] = creator
		}
		return o
	}
	for _, c := range p.CVEs {
		id := vulnID(c)
		refs = append(refs, id)
		objs = append(objs, map[string]any{"type": "vulnerability", "spec_version": "2.1", "id": id,
			"created": created, "modified": created, "name": c, "object_marking_refs": marking,
			"external_references": []map[string]any{{"source_name": "cve", "external_id": c}}})
	}
	seenInd := map[string]bool{}
	for _, i := range p.Indicators {
		if seenInd[i.StixID] {
			continue
		}
		seenInd[i.StixID] = true
		refs = append(refs, i.StixID)
		o := withCreator(map[string]any{"type": "indicator", "spec_version": "2.1", "id": i.StixID,
			"created": created, "modified": modified, "name": i.Norm, "pattern": Pattern(i.Type, i.Norm),
			"pattern_type": "stix", "valid_from": created, "indicator_types": []string{"malicious-activity"},
			"object_marking_refs": marking})
		if i.Comment != "" {
			o["description"] = i.Comment
		}
		objs = append(objs, o)
		for _, c := range p.CVEs {
			rid := "relationship--" + uuid.NewSHA1(stixNS, []byte(i.StixID+"|"+c)).String()
			refs = append(refs, rid)
			objs = append(objs, withCreator(map[string]any{"type": "relationship", "spec_version": "2.1", "id": rid,
				"created": created, "modified": modified, "relationship_type": "related-to",
				"source_ref": i.StixID, "target_ref": vulnID(c), "object_marking_refs": marking}))
		}
	}
	if creator != "" {
		refs = append(refs, creator)
	}
	if len(refs) == 0 {
		// A report must refer to something: a post without CVEs or
		// indicators refers to its own marking.
		refs = append(refs, p.TLP.MarkingID())
	}
	report := withCreator(map[string]any{"type": "report", "spec_version": "2.1", "id": p.StixID,
		"created": created, "modified": modified, "name": p.Title, "published": created,
		"report_types": []string{stixReportTypes[p.Kind]}, "object_refs": refs,
		"object_marking_refs": marking, "x_medisac_kind": string(p.Kind)})
	if p.Body != "" {
		report["description"] = p.Body
	}
	if len(p.References) > 0 {
		var ext []map[string]any
		for _, r := range p.References {
			ext = append(ext, map[string]any{"source_name": "reference", "url": r})
		}
		report["external_references"] = ext
	}
	return append(objs, report)
}

// stixRowOf is the stored form of a STIX object: its id, type, version
// (modified, else created) and JSON body.
func stixRowOf(o map[string]any) (stixRow, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return stixRow{}, err
	}
	id, _ := o["id"].(string)
	typ, _ := o["type"].(string)
	ver, _ := o["modified"].(string)
	if ver == "" {
		ver, _ = o["created"].(string)
	}
	return stixRow{id: id, typ: typ, version: ver, body: string(b)}, nil
}

// storeObject adds one version of a STIX object to a post's objects.
func storeObject(ctx context.Context, q db.Querier, postID string, o map[string]any, now time.Time) error {
	row, err := stixRowOf(o)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO share_stix_objects (post_id, stix_id, type, version, date_added, body) VALUES (?, ?, ?, ?, ?, ?)`,
		postID, row.id, row.typ, row.version, now.UTC(), row.body)
	return err
}

// storeSTIX writes the STIX objects of a post: all of them for a new post;
// for a post that has objects already (a label change), a new version of
// each whose markings name the new label.
func storeSTIX(ctx context.Context, q db.Querier, p *Post, now time.Time) error {
	latest, err := latestObjects(ctx, q, p.ID)
	if err != nil {
		return err
	}
	if len(latest) == 0 {
		var name string
		if err := q.QueryRow(ctx, `SELECT name FROM organizations WHERE id = ?`, p.AuthorOrgID).Scan(&name); err != nil {
			return db.ScanErr(err)
		}
		for _, o := range postObjects(p, name) {
			if err := storeObject(ctx, q, p.ID, o, now); err != nil {
				return err
			}
		}
		return nil
	}
	mod := stixTime(now)
	for _, o := range latest {
		if o["type"] == "marking-definition" {
			continue
		}
		o["object_marking_refs"] = relabel(o["object_marking_refs"], p.TLP)
		if _, ok := o["modified"]; ok {
			if m, _ := o["modified"].(string); m >= mod {
				mod = stixTime(now.Add(time.Millisecond))
			}
			o["modified"] = mod
		}
		if err := storeObject(ctx, q, p.ID, o, now); err != nil {
			return err
		}
	}
	return nil
}

// relabel replaces the TLP markings in a list of marking refs by t's.
func relabel(v any, t TLP) []string {
	out := []string{t.MarkingID()}
	if l, ok := v.([]any); ok {
		for _, x := range l {
			s, _ := x.(string)
			if _, isTLP := TLPFromMarking(s); s != "" && !isTLP {
				out = append(out, s)
			}
		}
	}
	return out
}

// latestObjects returns the newest version of each STIX object of a post,
// in the order they were first added, read in one pass over the post's
// objects (objects staged by an import in progress left out).
func latestObjects(ctx context.Context, q db.Querier, postID string) ([]map[string]any, error) {
	rows, err := q.Query(ctx, `SELECT s.stix_id, s.body FROM share_stix_objects s WHERE s.post_id = ? AND s.import_id IS NULL ORDER BY s.seq`, postID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := map[string]int{}
	var bodies []string
	for rows.Next() {
		var id, body string
		if err := rows.Scan(&id, &body); err != nil {
			return nil, err
		}
		if i, ok := seen[id]; ok {
			bodies[i] = body
			continue
		}
		seen[id] = len(bodies)
		bodies = append(bodies, body)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(bodies))
	for _, body := range bodies {
		var o map[string]any
		if err := json.Unmarshal([]byte(body), &o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}
