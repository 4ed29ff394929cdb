package share

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/notify"
)

// markedReport is a bundle of one report whose description carries a
// granular marking (granular) narrower than its object marking (object);
// extra objects (marking definitions) come first.
func markedReport(n int, object, granular string, extra ...string) string {
	objs := append([]string{}, extra...)
	objs = append(objs, fmt.Sprintf(`{"type":"report","spec_version":"2.1","id":"report--%08d-1111-4000-8000-000000000000",
		"created":"2026-04-01T09:00:00.000Z","modified":"2026-04-01T09:00:00.000Z","name":"公開の注意喚起 %d",
		"description":"限定情報: 侵入元は 203.0.113.99 の保守端末","published":"2026-04-01T09:00:00.000Z",
		"object_marking_refs":["%s"],"granular_markings":[{"marking_ref":"%s","selectors":["description"]}],
		"object_refs":["indicator--%08d-1111-4000-8000-000000000000"]}`, n, n, object, granular, n),
		fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08d-1111-4000-8000-000000000000",
		"created":"2026-04-01T09:00:00.000Z","modified":"2026-04-01T09:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.%d']",
		"pattern_type":"stix","valid_from":"2026-04-01T09:00:00.000Z","object_marking_refs":["%s"]}`, n, n, object))
	return `{"type":"bundle","id":"bundle--00000000-1111-4000-8000-000000000000","objects":[` + strings.Join(objs, ",") + `]}`
}

// TestGranularMarkingsRaiseLabel imports reports marked CLEAR (or GREEN)
// whose description is marked narrower: the whole post takes the
// narrowest marking and says so, and the public never sees it.
func TestGranularMarkingsRaiseLabel(t *testing.T) {
	const (
		tlp1White = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
		tlp1Red   = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
		customV1  = "marking-definition--0a1b2c3d-0000-4000-8000-00000000a001"
		customV2  = "marking-definition--0a1b2c3d-0000-4000-8000-00000000a002"
	)
	defV1 := `{"type":"marking-definition","spec_version":"2.1","id":"` + customV1 + `","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","name":"restricted","definition":{"tlp":"amber"}}`
	defV2 := `{"type":"marking-definition","spec_version":"2.1","id":"` + customV2 + `","created":"2022-10-01T00:00:00.000Z","name":"partner label",
		"extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"amber+strict"}}}`
	cases := []struct {
		name           string
		bundle         string
		want, raisedOf TLP
	}{
		{"TLP 2.0 ids", markedReport(1, TLPClear.MarkingID(), TLPRed.MarkingID()), TLPRed, TLPClear},
		{"TLP 1.0 ids", markedReport(2, tlp1White, tlp1Red), TLPRed, TLPClear},
		{"TLP 1.0 definition in the bundle", markedReport(3, TLPGreen.MarkingID(), customV1, defV1), TLPAmber, TLPGreen},
		{"TLP 2.0 extension in the bundle", markedReport(4, TLPClear.MarkingID(), customV2, defV2), TLPAmberStrict, TLPClear},
		{"granular wider than the object", markedReport(5, TLPRed.MarkingID(), TLPClear.MarkingID()), TLPRed, ""},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		for _, c := range cases {
			res, err := ImportSTIX(ctx, d, w.author, strings.NewReader(c.bundle), ImportOptions{}, t0)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if len(res.Posts) != 1 || res.Posts[0].TLP != c.want {
				t.Errorf("%s: posts %+v, want one %s", c.name, res.Posts, c.want)
				continue
			}
			p := must[*Post](t)(GetPost(ctx, d, w.author, res.Posts[0].ID))
			if p.LabelRaisedFrom != c.raisedOf {
				t.Errorf("%s: label raised from %q, want %q", c.name, p.LabelRaisedFrom, c.raisedOf)
			}
			if !strings.Contains(p.Body, "203.0.113.99") {
				t.Errorf("%s: the marked description was dropped", c.name)
			}
			// The exported objects carry the post's label.
			out := string(must[[]byte](t)(ExportPostSTIX(ctx, d, w.author, p.ID)))
			if !strings.Contains(out, c.want.MarkingID()) {
				t.Errorf("%s: export not marked %s", c.name, c.want)
			}
		}
		// Nothing of it reaches the public or a member outside it.
		for _, v := range []Viewer{{}, w.other} {
			for _, p := range must[[]*Post](t)(ListPosts(ctx, d, v, Filter{Limit: 500})) {
				if strings.Contains(p.Body, "203.0.113.99") {
					t.Errorf("reader %q sees the marked description in %s post %q", v.OrgID, p.TLP, p.Title)
				}
			}
		}

		// MISP: an attribute tagged narrower than its event, or
		// distributed to "your organisation only", raises the event.
		ev := `{"Event":{"uuid":"5e1d0a1c-0000-4000-8000-0000000000%s","info":"MISP %s","Tag":[{"name":"tlp:clear"}],
			"Attribute":[{"type":"ip-dst","value":"192.0.2.%s","to_ids":true},%s]}}`
		for _, c := range []struct {
			n, attr string
			want    TLP
		}{
			{"01", `{"type":"domain","value":"secret.example.net","to_ids":true,"Tag":[{"name":"tlp:red"}]}`, TLPRed},
			{"02", `{"type":"domain","value":"inner.example.net","to_ids":true,"distribution":"0"}`, TLPAmberStrict},
		} {
			res, _, err := ImportMISP(ctx, d, w.author, []byte(fmt.Sprintf(ev, c.n, c.n, c.n, c.attr)), ImportOptions{}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Posts) != 1 || res.Posts[0].TLP != c.want {
				t.Errorf("MISP %s: posts %+v, want %s", c.n, res.Posts, c.want)
				continue
			}
			if p := must[*Post](t)(GetPost(ctx, d, w.author, res.Posts[0].ID)); p.LabelRaisedFrom != TLPClear {
				t.Errorf("MISP %s: raised from %q", c.n, p.LabelRaisedFrom)
			}
			if hits := must[[]Correlation](t)(LookupIOC(ctx, d, Viewer{}, "", "192.0.2."+c.n, 0)); len(hits) != 0 {
				t.Errorf("MISP %s: the public finds the raised event", c.n)
			}
		}
	})
}

// TestCountsOnlyVisiblePosts: a member who posts (and deletes) a
// throwaway with another organisation's hidden value learns nothing of it
// from any count, correlation or lookup.
func TestCountsOnlyVisiblePosts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		const secret = "203.0.113.250"
		for _, tl := range []TLP{TLPRed, TLPAmber, TLPAmberStrict} {
			in := PostInput{Kind: KindIncident, TLP: tl, Title: "秘密の通信先 " + string(tl), Indicators: []IndicatorInput{{Value: secret}}}
			if tl == TLPRed {
				in.RecipientUsers = []string{w.colleague.UserID}
			} else {
				in.RecipientOrgs = []string{w.recipientOrg}
			}
			must[*Post](t)(CreatePost(ctx, d, w.author, in, t0))
		}
		probe := must[*Post](t)(CreatePost(ctx, d, w.other, PostInput{Kind: KindQuestion, TLP: TLPGreen, Title: "確認",
			Indicators: []IndicatorInput{{Value: secret}}}, t0))
		if n := probe.Indicators[0].PostCount; n != 1 {
			t.Errorf("the probe's own answer counts %d posts", n)
		}
		if n := must[*Post](t)(GetPost(ctx, d, w.other, probe.ID)).Indicators[0].PostCount; n != 1 {
			t.Errorf("the probe counts %d posts", n)
		}
		if cs := must[[]Correlation](t)(Correlations(ctx, d, w.other, probe.ID, 0)); len(cs) != 0 {
			t.Errorf("the probe correlates with %+v", cs)
		}
		if hits := must[[]Correlation](t)(LookupIOC(ctx, d, w.other, "", secret, 0)); len(hits) != 1 || hits[0].PostID != probe.ID {
			t.Errorf("lookup finds %+v", hits)
		}
		// The recipient of the AMBER posts counts what it may see.
		if n := must[*Post](t)(GetPost(ctx, d, w.recipient, probe.ID)).Indicators[0].PostCount; n != 3 {
			t.Errorf("the recipient counts %d posts, want 3 (the probe, AMBER, AMBER+STRICT)", n)
		}
	})
}

// TestFanoutOfDeletedPostIsQuiet: a fan-out job whose post is gone ends
// without error (so the queue neither retries nor reports it), also with
// an affected-devices checker installed.
func TestFanoutOfDeletedPostIsQuiet(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		c := &orgChecker{affected: map[string]bool{}, calls: map[string]int{}}
		p := must[*Post](t)(CreatePost(ctx, d, w.author, PostInput{Kind: KindVulnNote, TLP: TLPGreen, Title: "削除される投稿", CVEs: []string{"CVE-2024-21762"}}, t0))
		if err := DeletePost(ctx, d, w.author, p.ID); err != nil {
			t.Fatal(err)
		}
		if n, err := Fanout(ctx, d, c, p.ID, t0); err != nil || n != 0 {
			t.Errorf("fan-out of a deleted post: %d, %v", n, err)
		}
	})
}

// TestPostChangesAuthorOrAdminOnly: a colleague of the author who is not
// an admin may neither widen a TLP:RED or AMBER+STRICT post nor delete
// it; the author and the organisation's admin may, within the label.
func TestPostChangesAuthorOrAdminOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		staff := newPerson(t, d, w.authorOrg, "staff3@sakura.example.jp", false, false)
		// The colleague is one of the people the RED post names, so reads it.
		red := must[*Post](t)(CreatePost(ctx, d, w.author, PostInput{Kind: KindIncident, TLP: TLPRed, Title: "RED", RecipientUsers: []string{w.named.UserID, staff.UserID}}, t0))
		strict := must[*Post](t)(CreatePost(ctx, d, w.author, PostInput{Kind: KindIncident, TLP: TLPAmberStrict, Title: "STRICT"}, t0))
		if _, err := AddRecipients(ctx, d, staff, red.ID, nil, nil, []string{w.other.UserID}, t0); errKey(err) != "share.recipients.author_only" {
			t.Errorf("colleague widens RED: %v", err)
		}
		if _, err := AddRecipients(ctx, d, staff, strict.ID, []string{w.otherOrg}, nil, nil, t0); errKey(err) != "share.recipients.author_only" {
			t.Errorf("colleague widens AMBER+STRICT: %v", err)
		}
		if err := DeletePost(ctx, d, staff, red.ID); errKey(err) != "share.post.author_only" {
			t.Errorf("colleague deletes RED: %v", err)
		}
		if err := DeletePost(ctx, d, staff, strict.ID); errKey(err) != "share.post.author_only" {
			t.Errorf("colleague deletes AMBER+STRICT: %v", err)
		}
		if _, err := ChangeLabel(ctx, d, staff, strict.ID, TLPClear, t0); errKey(err) != "share.label.author_only" {
			t.Errorf("colleague relabels: %v", err)
		}
		if _, err := GetPost(ctx, d, w.other, strict.ID); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("after the refusals another organisation reads AMBER+STRICT: %v", err)
		}
		// Within the label only: RED names people, AMBER+STRICT no groups.
		if _, err := AddRecipients(ctx, d, w.author, red.ID, []string{w.otherOrg}, nil, nil, t0); errKey(err) != "share.recipients.red_people_only" {
			t.Errorf("author names an organisation on RED: %v", err)
		}
		if _, err := AddRecipients(ctx, d, w.colleague, strict.ID, nil, []string{w.group}, nil, t0); errKey(err) != "share.recipients.strict_no_groups" {
			t.Errorf("admin names a group on AMBER+STRICT: %v", err)
		}
		// The admin of the author's organisation is not named on the RED
		// post: it does not exist for them.
		if _, err := AddRecipients(ctx, d, w.colleague, red.ID, nil, nil, []string{w.other.UserID}, t0); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("admin not named on RED: %v", err)
		}
		if _, err := AddRecipients(ctx, d, w.author, red.ID, nil, nil, []string{w.other.UserID}, t0); err != nil {
			t.Errorf("author adds a person to RED: %v", err)
		}
		if _, err := AddRecipients(ctx, d, w.colleague, strict.ID, []string{w.recipientOrg}, nil, nil, t0); err != nil {
			t.Errorf("admin names an organisation on AMBER+STRICT: %v", err)
		}
		if err := DeletePost(ctx, d, w.author, red.ID); err != nil {
			t.Errorf("author deletes: %v", err)
		}
		if err := DeletePost(ctx, d, w.colleague, strict.ID); err != nil {
			t.Errorf("admin deletes: %v", err)
		}
		// A read-only person of the author's organisation changes nothing.
		ro := w.author
		ro.Write = false
		other := must[*Post](t)(CreatePost(ctx, d, w.author, PostInput{Kind: KindIncident, TLP: TLPAmberStrict, Title: "STRICT 2"}, t0))
		if _, err := AddRecipients(ctx, d, ro, other.ID, []string{w.recipientOrg}, nil, nil, t0); errKey(err) != "share.read_only" {
			t.Errorf("read-only: %v", err)
		}
	})
}

// TestGroupConsent: an organisation added to a group receives nothing
// addressed to it until one of its admins accepts, is told by e-mail, and
// may leave; a recipient cannot relay AMBER through a group of
// organisations that did not accept.
func TestGroupConsent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		mailer := must[*notify.Mailer](t)(notify.NewMailer(d, nil, nil, func() time.Time { return t0 }))
		otherAdmin := newPerson(t, d, w.otherOrg, "admin@hikari.example.jp", true, false)

		// The recipient of an AMBER post lists the other organisation as
		// a client without asking it.
		clients := must[*Group](t)(CreateGroup(ctx, d, w.recipient, "取引先", GroupCustomers, t0))
		invited := must[bool](t)(SetGroupMember(ctx, d, w.recipient, clients.ID, w.otherOrg, false, t0))
		if !invited {
			t.Fatal("no invitation made")
		}
		if err := (InviteMail{Mailer: mailer, Catalog: i18n.MustLoad(), BaseURL: "https://isac.example.jp"}).MailGroupInvite(ctx, d, clients.ID, w.otherOrg); err != nil {
			t.Fatal(err)
		}
		out := must[[]notify.Stored](t)(mailer.Outbox(ctx, w.otherOrg, 10))
		if len(out) != 1 || !strings.Contains(out[0].To, "admin@hikari.example.jp") || !strings.Contains(out[0].Body, "取引先") ||
			!strings.Contains(out[0].Body, "https://isac.example.jp/share/groups") {
			t.Errorf("invitation mail %+v", out)
		}
		amber := matrixPost(t, d, w, TLPAmber)
		if _, err := AddRecipients(ctx, d, w.recipient, amber.ID, []string{w.otherOrg}, nil, nil, t0); errKey(err) != "share.reshare.clients_only" {
			t.Errorf("relay to a client that did not accept: %v", err)
		}
		// A post to the group does not reach a pending member.
		toGroup := must[*Post](t)(CreatePost(ctx, d, w.recipient, PostInput{Kind: KindAdvisory, TLP: TLPAmber, Title: "取引先向け", RecipientGroups: []string{clients.ID}}, t0))
		if _, err := GetPost(ctx, d, w.other, toGroup.ID); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("pending member reads: %v", err)
		}
		if gs := must[[]Group](t)(ListGroups(ctx, d, w.other)); len(gs) == 0 || func() bool {
			for _, g := range gs {
				if g.ID == clients.ID {
					return g.IsMember || g.Members != 0
				}
			}
			return true
		}() {
			t.Errorf("groups before accepting: %+v", gs)
		}
		// Only an admin of the invited organisation answers.
		if err := AnswerGroupInvite(ctx, d, w.other, clients.ID, true); errKey(err) != "share.group.admins_only" {
			t.Errorf("staff accepts: %v", err)
		}
		if err := AnswerGroupInvite(ctx, d, w.author, clients.ID, true); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("uninvited organisation accepts: %v", err)
		}
		invites := must[[]GroupInvite](t)(ListGroupInvites(ctx, d, w.other))
		if len(invites) != 1 || invites[0].State != "pending" || invites[0].OwnerName != "みなと総合病院" {
			t.Errorf("invites %+v", invites)
		}
		if err := AnswerGroupInvite(ctx, d, otherAdmin, clients.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := GetPost(ctx, d, w.other, toGroup.ID); err != nil {
			t.Errorf("accepted member cannot read: %v", err)
		}
		// A client reached by a re-share may not relay further.
		if _, err := AddRecipients(ctx, d, w.recipient, amber.ID, []string{w.otherOrg}, nil, nil, t0); err != nil {
			t.Fatalf("relay to an accepted client: %v", err)
		}
		theirClients := must[*Group](t)(CreateGroup(ctx, d, w.other, "薬局の取引先", GroupCustomers, t0))
		joinGroup(t, d, w.other, theirClients.ID, w.namedOrg)
		if _, err := AddRecipients(ctx, d, w.other, amber.ID, []string{w.namedOrg}, nil, nil, t0); errKey(err) != "share.reshare.not_allowed" {
			t.Errorf("client relays further: %v", err)
		}
		// Leaving stops delivery.
		if err := AnswerGroupInvite(ctx, d, otherAdmin, clients.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := GetPost(ctx, d, w.other, toGroup.ID); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("member that left reads: %v", err)
		}
	})
}
