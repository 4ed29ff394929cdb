package share

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// dataDir holds copies of the public STIX 2.1 and MISP examples from the
// project's reference data.
const dataDir = "testdata/shared"

func readData(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, rel))
	if err != nil {
		dbtest.SkipOrFail(t.(*testing.T), "data", "shared data not found: "+err.Error())
	}
	return b
}

func init() {
	matrixReads = append(matrixReads,
		matrixRead{"STIX export", func(t *testing.T, d *db.DB, v Viewer, p *Post) bool {
			b := must[[]byte](t)(ExportSTIX(context.Background(), d, v, t0))
			return strings.Contains(string(b), `"`+p.StixID+`"`)
		}},
		matrixRead{"STIX export of the post", func(t *testing.T, d *db.DB, v Viewer, p *Post) bool {
			b, err := ExportPostSTIX(context.Background(), d, v, p.ID)
			if err == db.ErrNotFound {
				return false
			}
			if err != nil {
				t.Fatal(err)
			}
			return strings.Contains(string(b), `"`+p.StixID+`"`)
		}},
		matrixRead{"MISP export", func(t *testing.T, d *db.DB, v Viewer, p *Post) bool {
			b := must[[]byte](t)(ExportMISP(context.Background(), d, v, t0))
			_, u, _ := strings.Cut(p.StixID, "--")
			return strings.Contains(string(b), u)
		}},
	)
}

// schemaRequired reads the required properties of a STIX type from the
// official JSON schemas (its own and core.json's).
func schemaRequired(t *testing.T, typ string) []string {
	var req []string
	for _, dir := range []string{"sdos", "sros", "common"} {
		name := typ
		if dir == "common" {
			if typ != "marking-definition" {
				continue
			}
		}
		b, err := os.ReadFile(filepath.Join(dataDir, "stix/schemas-stix2.1", dir, name+".json"))
		if err != nil {
			continue
		}
		var s struct {
			Required []string `json:"required"`
			AllOf    []struct {
				Ref      string   `json:"$ref"`
				Required []string `json:"required"`
			} `json:"allOf"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		req = append(req, s.Required...)
		for _, a := range s.AllOf {
			req = append(req, a.Required...)
			if strings.HasSuffix(a.Ref, "core.json") {
				req = append(req, "type", "spec_version", "id", "created", "modified")
			}
		}
		return req
	}
	return nil
}

func checkBundleAgainstSchemas(t *testing.T, b []byte) int {
	t.Helper()
	var bundle struct {
		Type    string           `json:"type"`
		ID      string           `json:"id"`
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		t.Fatal(err)
	}
	if bundle.Type != "bundle" || !strings.HasPrefix(bundle.ID, "bundle--") {
		t.Errorf("not a bundle: %s %s", bundle.Type, bundle.ID)
	}
	for _, o := range bundle.Objects {
		typ, _ := o["type"].(string)
		if _, why := validateObject(o); why != "" {
			t.Errorf("%v: %s", o["id"], why)
		}
		for _, k := range schemaRequired(t, typ) {
			if _, ok := o[k]; !ok && !(typ == "marking-definition" && k == "modified") {
				t.Errorf("%v lacks %s required by the %s schema", o["id"], k, typ)
			}
		}
		if typ != "marking-definition" {
			refs, _ := o["object_marking_refs"].([]any)
			marked := false
			for _, r := range refs {
				_, ok := TLPFromMarking(r.(string))
				marked = marked || ok
			}
			if !marked {
				t.Errorf("%v leaves without a TLP marking", o["id"])
			}
		}
	}
	return len(bundle.Objects)
}

func TestSTIXRoundTripRealFiles(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(dataDir, "stix", "*.json"))
	if len(files) == 0 {
		dbtest.SkipOrFail(t, "data", "no STIX examples in "+dataDir)
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		for _, f := range files {
			t.Run(filepath.Base(f), func(t *testing.T) {
				raw, _ := os.ReadFile(f)
				var src struct {
					Objects []map[string]any `json:"objects"`
				}
				_ = json.Unmarshal(raw, &src)
				res, err := ImportSTIX(ctx, d, w.author, bytes.NewReader(raw), ImportOptions{Default: TLPGreen}, t0)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Failures) > 0 {
					t.Errorf("failures: %+v", res.Failures)
				}
				// Every object of the file comes back out, by id.
				out := must[[]byte](t)(ExportSTIX(ctx, d, w.author, t0))
				checkBundleAgainstSchemas(t, out)
				for _, o := range src.Objects {
					id := o["id"].(string)
					if o["type"] == "marking-definition" {
						if _, isTLP := TLPFromMarking(id); isTLP {
							continue
						}
					}
					if !strings.Contains(string(out), `"`+id+`"`) {
						t.Errorf("%s lost in the round trip", id)
					}
				}
				// Importing again stores nothing new.
				again := must[*ImportResult](t)(ImportSTIX(ctx, d, w.author, bytes.NewReader(raw), ImportOptions{Default: TLPGreen}, t0))
				if again.Objects != 0 || len(again.Posts) != 0 {
					t.Errorf("re-import stored %d objects, %d posts", again.Objects, len(again.Posts))
				}
			})
		}
		// Markings decide the label: the example marked TLP:AMBER (1.0)
		// is not visible to another member.
		ps := must[[]*Post](t)(ListPosts(ctx, d, w.other, Filter{Limit: 500}))
		for _, p := range ps {
			if p.TLP != TLPGreen && p.TLP != TLPClear {
				t.Errorf("other member sees %s post %q", p.TLP, p.Title)
			}
		}
		// apt1's indicators became correlated indicators.
		c := must[[]Correlation](t)(LookupIOC(ctx, d, w.recipient, IOCDomain, "hugesoft.org", 10))
		if len(c) != 1 {
			t.Errorf("apt1 domain lookup: %v", c)
		}
	})
}

// commentedAmberPost makes the world and an amber post on which the
// recipient has commented.
func commentedAmberPost(t *testing.T, d *db.DB) (*world, *Post) {
	w := newWorld(t, d)
	p := matrixPost(t, d, w, TLPAmber)
	must[*Comment](t)(AddComment(context.Background(), d, w.recipient, p.ID, "当院は該当機種なし。", t0))
	return w, p
}

func TestSTIXExportOfLocalPostValidates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w, p := commentedAmberPost(t, d)
		if err := AddSighting(ctx, d, w.recipient, p.Indicators[0].ID, t0); err != nil {
			t.Fatal(err)
		}
		out := must[[]byte](t)(ExportSTIX(ctx, d, w.recipient, t0))
		types := map[string]bool{}
		var b struct {
			Objects []map[string]any `json:"objects"`
		}
		_ = json.Unmarshal(out, &b)
		for _, o := range b.Objects {
			types[o["type"].(string)] = true
		}
		for _, want := range []string{"report", "indicator", "vulnerability", "identity", "relationship", "note", "sighting", "marking-definition"} {
			if !types[want] {
				t.Errorf("export lacks a %s", want)
			}
		}
		checkBundleAgainstSchemas(t, out)
		if !strings.Contains(string(out), TLPAmber.MarkingID()) || !strings.Contains(string(out), `"tlp_2_0": "amber"`) {
			t.Error("TLP 2.0 AMBER marking definition missing")
		}
		// The export imports again elsewhere: another hub's member.
		d2 := newWorld(t, d)
		res := must[*ImportResult](t)(ImportSTIX(ctx, d, d2.other, bytes.NewReader(out), ImportOptions{}, t0))
		if len(res.Failures) != 0 {
			t.Errorf("re-import failures %+v", res.Failures)
		}
	})
}

func TestBadSTIXObjects(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		body := `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
		 {"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.9']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"},
		 {"type":"indicator","spec_version":"2.1","id":"indicator--c2f8ea6f-5d52-4d5e-9c50-0ae1e8b1c0a1","created":"yesterday","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '1.2.3.4']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"},
		 {"type":"report","spec_version":"2.1","id":"malware--1d2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z"},
		 {"type":"vulnerability","spec_version":"2.0","id":"vulnerability--9e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"CVE-2024-1"},
		 "not an object"]}`
		res := must[*ImportResult](t)(ImportSTIX(ctx, d, w.author, strings.NewReader(body), ImportOptions{}, t0))
		if len(res.Failures) != 4 || res.Objects != 1 {
			t.Fatalf("failures %+v, objects %d", res.Failures, res.Objects)
		}
		for _, f := range res.Failures {
			if f.ID == "" || f.Message == "" {
				t.Errorf("failure without id or reason: %+v", f)
			}
		}
		if _, err := ImportSTIX(ctx, d, w.author, strings.NewReader(`{"type":"bundle","objects":`), ImportOptions{}, t0); errKey(err) != "share.import.not_json" {
			t.Errorf("broken JSON: %v", err)
		}
	})
}

func TestMISPRoundTripRealFiles(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		for _, name := range []string{"circl-osint-regin-event.json", "misp-indicators-test-event.json"} {
			t.Run(name, func(t *testing.T) {
				raw := readData(t, "misp/"+name)
				res, skipped, err := ImportMISP(ctx, d, w.author, raw, ImportOptions{}, t0)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Posts) != 1 || res.Posts[0].Indicators == 0 {
					t.Fatalf("result %+v", res)
				}
				p := must[*Post](t)(GetPost(ctx, d, w.author, res.Posts[0].ID))
				ev := must[[]byte](t)(ExportMISPEvent(ctx, d, w.author, p.ID))
				var src, back struct {
					Event mispEvent `json:"Event"`
				}
				_ = json.Unmarshal(raw, &src)
				_ = json.Unmarshal(ev, &back)
				if back.Event.UUID != src.Event.UUID || back.Event.Info != src.Event.Info {
					t.Errorf("uuid/info %s %q, want %s %q", back.Event.UUID, back.Event.Info, src.Event.UUID, src.Event.Info)
				}
				// The exported event imports to the same indicators.
				if _, err := d.Exec(ctx, `DELETE FROM share_posts WHERE id = ?`, p.ID); err != nil {
					t.Fatal(err)
				}
				res2, _, err := ImportMISP(ctx, d, w.author, ev, ImportOptions{}, t0)
				if err != nil {
					t.Fatal(err)
				}
				p2 := must[*Post](t)(GetPost(ctx, d, w.author, res2.Posts[0].ID))
				norms := func(p *Post) string {
					var s []string
					for _, i := range p.Indicators {
						s = append(s, string(i.Type)+":"+i.Norm)
					}
					return strings.Join(s, ",")
				}
				if norms(p) != norms(p2) || p.TLP != p2.TLP || strings.Join(p.CVEs, ",") != strings.Join(p2.CVEs, ",") {
					t.Errorf("round trip changed the post:\n%s %s %v\n%s %s %v", norms(p), p.TLP, p.CVEs, norms(p2), p2.TLP, p2.CVEs)
				}
				t.Logf("%s: %d indicators, %d attributes skipped, label %s", name, len(p.Indicators), skipped, p.TLP)
			})
		}
	})
}

func FuzzParseBundle(f *testing.F) {
	for _, name := range []string{"indicator-for-malicious-url.json", "sighting-of-an-indicator.json", "using-marking-definitions.json"} {
		if b, err := os.ReadFile(filepath.Join(dataDir, "stix", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"type":"bundle","objects":[{"type":"x","id":"x--1"}]}`))
	f.Add([]byte(`{"objects":[null,1,"a",{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		objs, fails, err := ParseBundle(b)
		if err != nil {
			return
		}
		for _, o := range objs {
			if o.id == "" || o.typ == "" {
				t.Fatalf("accepted object without id/type: %v", o.m)
			}
			for _, x := range PatternIndicators(o.str("pattern")) {
				_, _ = NormalizeIOC(x.Type, x.Value)
			}
		}
		for _, x := range fails {
			if x.ID == "" || x.Message == "" {
				t.Fatalf("failure without id/reason")
			}
		}
	})
}

func FuzzParseMISP(f *testing.F) {
	for _, name := range []string{"circl-osint-regin-event.json"} {
		if b, err := os.ReadFile(filepath.Join(dataDir, "misp", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"Event":{"info":"x","Attribute":[{"type":"ip-dst","value":"1.2.3.4"},{"type":"","value":""}]}}`))
	f.Add([]byte(`{"info":"x","uuid":"nope"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, _, err := ParseMISP(b)
		if err != nil {
			return
		}
		var in PostInput
		for _, a := range ev.Attribute {
			mispIndicators(a, &in)
		}
		for _, x := range in.Indicators {
			if _, err := NormalizeIOC(x.Type, x.Value); err != nil {
				t.Fatalf("accepted indicator %v: %v", x, err)
			}
		}
	})
}

func init() {
	matrixReads = append(matrixReads, matrixRead{"TAXII collections", func(t *testing.T, d *db.DB, v Viewer, p *Post) bool {
		if !v.Member() {
			return p.TLP == TLPClear
		}
		cs := must[[]Collection](t)(Collections(context.Background(), d, v))
		for i := range cs {
			page := must[*ObjectPage](t)(ListObjects(context.Background(), d, v, &cs[i], ObjectQuery{IDs: []string{p.StixID}}, true))
			if len(page.Records) > 0 {
				return true
			}
		}
		return false
	}})
}

func TestSTIXExportOfOnePost(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w, p := commentedAmberPost(t, d)
		otherPost := matrixPost(t, d, w, TLPGreen)
		anon := must[*Post](t)(CreatePost(ctx, d, w.author, PostInput{Kind: KindIncident, TLP: TLPGreen, Anonymous: true,
			Title: "受付端末でランサムウェア", Indicators: []IndicatorInput{{Value: "evil[.]example.net"}}}, t0))
		must[*Comment](t)(AddComment(ctx, d, w.author, anon.ID, "復旧しました。", t0))

		bundle := func(v Viewer, id string) (map[string]int, []byte) {
			out := must[[]byte](t)(ExportPostSTIX(ctx, d, v, id))
			var b struct {
				Type    string           `json:"type"`
				Objects []map[string]any `json:"objects"`
			}
			if err := json.Unmarshal(out, &b); err != nil || b.Type != "bundle" {
				t.Fatalf("not a bundle: %v %s", err, out)
			}
			types := map[string]int{}
			for _, o := range b.Objects {
				types[o["type"].(string)]++
			}
			return types, out
		}
		types, out := bundle(w.recipient, p.ID)
		for _, want := range []string{"report", "indicator", "vulnerability", "identity", "relationship", "note", "marking-definition"} {
			if types[want] == 0 {
				t.Errorf("post export lacks a %s", want)
			}
		}
		if types["report"] != 1 || strings.Contains(string(out), otherPost.StixID) {
			t.Errorf("post export holds other posts: %v", types)
		}
		checkBundleAgainstSchemas(t, out)

		// The anonymous report names nobody, its reporter's comment neither.
		types, out = bundle(w.other, anon.ID)
		if types["identity"] != 0 || strings.Contains(string(out), "created_by_ref") || types["note"] != 1 {
			t.Errorf("anonymous report export: %v\n%s", types, out)
		}

		for _, c := range []struct {
			name string
			v    Viewer
			id   string
		}{
			{"member not named on AMBER", w.other, p.ID},
			{"the public", Viewer{}, p.ID},
			{"missing post", w.recipient, db.NewID()},
		} {
			if b, err := ExportPostSTIX(ctx, d, c.v, c.id); err != db.ErrNotFound {
				t.Errorf("%s: %v, %d bytes; want not found", c.name, err, len(b))
			}
		}
	})
}
