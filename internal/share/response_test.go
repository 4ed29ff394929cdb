package share

import (
	"context"
	"testing"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

type fakeChecker struct{}

func (fakeChecker) Affected(ctx context.Context, q db.Querier, orgID string, cves []string) (AffectedResult, error) {
	return AffectedResult{State: AffectedYes, Assets: []string{"VPN装置"}}, nil
}

func TestAnonymousReportAndResponses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		p := must[*Post](t)(CreatePost(ctx, d, w.author, PostInput{Kind: KindIncident, TLP: TLPGreen, Anonymous: true,
			Title: "電子カルテ端末でランサムウェア", Body: "受付端末の画面に脅迫文が表示されました。", CVEs: []string{"cve-2024-21762"},
			Indicators: []IndicatorInput{{Value: "evil[.]example.net"}}}, t0))

		// Members do not learn who reported; operators and the reporter do.
		for name, c := range map[string]struct {
			v    Viewer
			seen bool
		}{"other member": {w.other, false}, "recipient": {w.recipient, false}, "operator": {w.op, true}, "colleague": {w.colleague, true}} {
			got := must[*Post](t)(GetPost(ctx, d, c.v, p.ID))
			if (got.AuthorOrgName != "") != c.seen || (got.AuthorOrgID != "") != c.seen {
				t.Errorf("%s sees reporter %q/%q, want shown=%v", name, got.AuthorOrgID, got.AuthorOrgName, c.seen)
			}
			list := must[[]*Post](t)(ListPosts(ctx, d, c.v, Filter{}))
			for _, x := range list {
				if x.ID == p.ID && (x.AuthorOrgName != "") != c.seen {
					t.Errorf("%s list shows reporter %q", name, x.AuthorOrgName)
				}
			}
		}
		// The STIX objects do not name the reporter either.
		for _, o := range must[[]map[string]any](t)(latestObjects(ctx, d, p.ID)) {
			if o["type"] == "identity" || o["created_by_ref"] != nil {
				t.Errorf("anonymous report's STIX names its author: %v", o)
			}
		}
		// An anonymous AMBER report reaches the operators as well.
		amber := must[*Post](t)(CreatePost(ctx, d, w.author, PostInput{Kind: KindIncident, TLP: TLPAmber, Anonymous: true,
			Title: "不審なリモート接続", RecipientOrgs: []string{w.recipientOrg}}, t0))
		if _, err := GetPost(ctx, d, w.op, amber.ID); err != nil {
			t.Errorf("operator cannot read an anonymous AMBER report: %v", err)
		}

		// Comments by the reporter stay anonymous.
		must[*Comment](t)(AddComment(ctx, d, w.author, p.ID, "復旧しました。", t0))
		must[*Comment](t)(AddComment(ctx, d, w.other, p.ID, "当院でも同じ脅迫文を確認しました。", t0))
		cs := must[[]Comment](t)(ListComments(ctx, d, w.recipient, p.ID))
		if len(cs) != 2 || cs[0].OrgName != "" || !cs[0].ByAuthor || cs[1].OrgName != "ひかり薬局" {
			t.Errorf("comments as the recipient sees them: %+v", cs)
		}

		// One-click answers and rates.
		for _, v := range []Viewer{w.recipient, w.other} {
			if err := Respond(ctx, d, v, p.ID, RespAffected, t0); err != nil {
				t.Fatal(err)
			}
		}
		if err := Respond(ctx, d, w.other, p.ID, RespNotAffected, t0); err != nil {
			t.Fatal(err)
		}
		if err := Respond(ctx, d, w.other, p.ID, "maybe", t0); errKey(err) != "share.response.invalid" {
			t.Errorf("bad answer: %v", err)
		}
		if _, err := ResponseRates(ctx, d, w.other, p.ID); errKey(err) != "share.response.rates_forbidden" {
			t.Errorf("member reads rates: %v", err)
		}
		r := must[*ResponseRate](t)(ResponseRates(ctx, d, w.op, p.ID))
		// Audience: every non-operator member organisation (5).
		if r.Audience != 5 || r.Affected != 1 || r.NotAffected != 1 || r.Percent() != 40 {
			t.Errorf("rates %+v", r)
		}
		if s := must[ResponseStatus](t)(MyResponse(ctx, d, w.other, p.ID)); s != RespNotAffected {
			t.Errorf("my response %q", s)
		}

		// Sightings count once per organisation.
		ind := p.Indicators[0].ID
		for range 2 {
			if err := AddSighting(ctx, d, w.other, ind, t0); err != nil {
				t.Fatal(err)
			}
		}
		got := must[*Post](t)(GetPost(ctx, d, w.recipient, p.ID))
		if got.Indicators[0].Sightings != 1 {
			t.Errorf("sightings %d", got.Indicators[0].Sightings)
		}
		if err := AddSighting(ctx, d, Viewer{}, ind, t0); err == nil {
			t.Error("the public reports a sighting on a GREEN post")
		}

		// "Are we affected?" stays unknown until a checker exists.
		if a := must[AffectedResult](t)((&Hub{DB: d}).CheckAffected(ctx, d, w.other, got)); a.State != AffectedUnknown {
			t.Errorf("without checker: %v", a.State)
		}
		hub := &Hub{DB: d, Affected: fakeChecker{}}
		if a := must[AffectedResult](t)(hub.CheckAffected(ctx, d, w.other, got)); a.State != AffectedYes {
			t.Errorf("with checker: %v", a.State)
		}
	})
}

func TestMyResponseOnlyOnVisiblePosts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		amber := matrixPost(t, d, w, TLPAmber)
		if err := Respond(ctx, d, w.recipient, amber.ID, RespInvestigating, t0); err != nil {
			t.Fatal(err)
		}
		// A response row of an organisation that may not see the post
		// (written behind the store's back) must not leak either.
		if _, err := d.Exec(ctx, `INSERT INTO share_responses (post_id, org_id, user_id, status, updated_at) VALUES (?, ?, ?, ?, ?)`,
			amber.ID, w.otherOrg, w.other.UserID, RespAffected, t0); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name    string
			v       Viewer
			id      string
			want    ResponseStatus
			missing bool
		}{
			{"recipient that answered", w.recipient, amber.ID, RespInvestigating, false},
			{"author's colleague, no answer", w.colleague, amber.ID, "", false},
			{"member not named on AMBER", w.other, amber.ID, "", true},
			{"the public", Viewer{}, amber.ID, "", true},
			{"missing post", w.recipient, db.NewID(), "", true},
		}
		for _, c := range cases {
			got, err := MyResponse(ctx, d, c.v, c.id)
			if c.missing {
				if err != db.ErrNotFound {
					t.Errorf("%s: %q, %v; want not found", c.name, got, err)
				}
				continue
			}
			if err != nil || got != c.want {
				t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
			}
		}
	})
}

func TestErrHelpersOnNil(t *testing.T) {
	cases := []struct {
		err        error
		field, key string
	}{
		{nil, "", ""},
		{db.ErrNotFound, "", "error.not_found"},
		{apperr.Field("org_id", "share.group.bad_org"), "org_id", "share.group.bad_org"},
	}
	for _, c := range cases {
		if f, k := ErrField(c.err), ErrKey(c.err); f != c.field || k != c.key {
			t.Errorf("%v: field %q key %q, want %q %q", c.err, f, k, c.field, c.key)
		}
	}
	if asField("value", nil) != nil {
		t.Error("asField(nil) is not nil")
	}
}
