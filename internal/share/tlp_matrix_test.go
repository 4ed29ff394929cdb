package share

import (
	"context"
	"errors"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// matrixPost makes a post under label t with the recipients that label can
// name in the world: AMBER the recipient organisation and the group,
// AMBER+STRICT the recipient organisation, RED the named person.
func matrixPost(t *testing.T, d *db.DB, w *world, label TLP) *Post {
	t.Helper()
	in := PostInput{Kind: KindAdvisory, TLP: label, Title: "VPN装置の脆弱性 " + label.Label(),
		Body: "リモート保守用VPN装置の更新をお願いします。", CVEs: []string{"CVE-2024-21762"},
		Indicators: []IndicatorInput{{Type: IOCIP, Value: "203.0.113.7"}}}
	switch label {
	case TLPAmber:
		in.RecipientOrgs, in.RecipientGroups = []string{w.recipientOrg}, []string{w.group}
	case TLPAmberStrict:
		in.RecipientOrgs = []string{w.recipientOrg}
	case TLPRed:
		in.RecipientUsers = []string{w.named.UserID}
	}
	var p *Post
	err := d.InTx(context.Background(), func(tx *db.Tx) error {
		var err error
		p, err = CreatePost(context.Background(), tx, w.author, in, t0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTLPMatrix checks every label against every relation of reader to
// post, through every read path of the store.
func TestTLPMatrix(t *testing.T) {
	relations := []string{"author", "colleague", "recipient org member", "named person", "group member", "other member org", "ISAC operator", "anonymous"}
	// want[label] lists, in the order of relations, who may see the post.
	want := map[TLP][8]bool{
		TLPClear:       {true, true, true, true, true, true, true, true},
		TLPGreen:       {true, true, true, true, true, true, true, false},
		TLPAmber:       {true, true, true, false, true, false, false, false},
		TLPAmberStrict: {true, true, true, false, false, false, false, false},
		TLPRed:         {true, false, false, true, false, false, false, false},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		readers := []Viewer{w.author, w.colleague, w.recipient, w.named, w.groupMember, w.other, w.op, {}}
		posts := map[TLP]*Post{}
		for _, label := range TLPs {
			posts[label] = matrixPost(t, d, w, label)
		}
		for _, label := range TLPs {
			p := posts[label]
			for i, rel := range relations {
				v := readers[i]
				exp := want[label][i]
				t.Run(label.Label()+"/"+rel, func(t *testing.T) {
					_, err := GetPost(ctx, d, v, p.ID)
					if exp && err != nil {
						t.Errorf("get: %v, want visible", err)
					}
					if !exp && !errors.Is(err, db.ErrNotFound) {
						t.Errorf("get: %v, want not found", err)
					}
					has := func(ps []*Post) bool {
						for _, x := range ps {
							if x.ID == p.ID {
								return true
							}
						}
						return false
					}
					list := must[[]*Post](t)(ListPosts(ctx, d, v, Filter{Limit: 100}))
					if has(list) != exp {
						t.Errorf("list shows it: %v, want %v", has(list), exp)
					}
					found := must[[]*Post](t)(ListPosts(ctx, d, v, Filter{Query: "VPN装置 " + label.Label()}))
					if has(found) != exp {
						t.Errorf("search finds it: %v, want %v", has(found), exp)
					}
					corr := must[[]Correlation](t)(LookupIOC(ctx, d, v, IOCIP, "203[.]0.113.7", 100))
					got := false
					for _, c := range corr {
						got = got || c.PostID == p.ID
					}
					if got != exp {
						t.Errorf("indicator lookup finds it: %v, want %v", got, exp)
					}
					for _, fn := range matrixReads {
						if got := fn.seen(t, d, v, p); got != exp {
							t.Errorf("%s shows it: %v, want %v", fn.name, got, exp)
						}
					}
				})
			}
		}
	})
}

// matrixRead is a further read path checked by the TLP matrix (feed,
// export, TAXII), registered by the files that implement them.
type matrixRead struct {
	name string
	seen func(t *testing.T, d *db.DB, v Viewer, p *Post) bool
}

var matrixReads []matrixRead

// TestRecipientRules checks which recipients each label may name, that
// only the author's side changes a label, and that re-sharing never widens
// a post beyond its label.
func TestRecipientRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		bad := []struct {
			name string
			in   PostInput
			key  string
		}{
			{"no label", PostInput{Kind: KindAdvisory, Title: "x"}, "share.tlp.required"},
			{"green with recipients", PostInput{Kind: KindAdvisory, TLP: TLPGreen, Title: "x", RecipientOrgs: []string{w.recipientOrg}}, "share.recipients.not_for_label"},
			{"strict with group", PostInput{Kind: KindAdvisory, TLP: TLPAmberStrict, Title: "x", RecipientGroups: []string{w.group}}, "share.recipients.strict_no_groups"},
			{"red with org", PostInput{Kind: KindAdvisory, TLP: TLPRed, Title: "x", RecipientOrgs: []string{w.recipientOrg}}, "share.recipients.red_people_only"},
			{"amber with person", PostInput{Kind: KindAdvisory, TLP: TLPAmber, Title: "x", RecipientUsers: []string{w.named.UserID}}, "share.recipients.amber_people"},
			{"unknown org", PostInput{Kind: KindAdvisory, TLP: TLPAmber, Title: "x", RecipientOrgs: []string{db.NewID()}}, "share.recipients.unknown"},
			{"anonymous advisory", PostInput{Kind: KindAdvisory, TLP: TLPGreen, Title: "x", Anonymous: true}, "share.anonymous.incident_only"},
			{"bad cve", PostInput{Kind: KindAdvisory, TLP: TLPGreen, Title: "x", CVEs: []string{"CVE-24-1"}}, "share.cve.invalid"},
			{"javascript reference", PostInput{Kind: KindAdvisory, TLP: TLPGreen, Title: "x", References: []string{"javascript:alert(1)"}}, "share.ref.invalid"},
		}
		for _, c := range bad {
			_, err := CreatePost(ctx, d, w.author, c.in, t0)
			if key := errKey(err); key != c.key {
				t.Errorf("%s: error %v (%s), want %s", c.name, err, key, c.key)
			}
		}

		amber := matrixPost(t, d, w, TLPAmber)
		strict := matrixPost(t, d, w, TLPAmberStrict)
		red := matrixPost(t, d, w, TLPRed)

		// Only the author's side may change a label, either way.
		if _, err := ChangeLabel(ctx, d, w.recipient, amber.ID, TLPClear, t0); errKey(err) != "share.label.author_only" {
			t.Errorf("recipient relabels: %v", err)
		}
		if _, err := ChangeLabel(ctx, d, w.op, amber.ID, TLPClear, t0); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("operator relabels a post it cannot see: %v", err)
		}
		staff := newPerson(t, d, w.authorOrg, "staff2@sakura.example.jp", false, false)
		if _, err := ChangeLabel(ctx, d, staff, amber.ID, TLPGreen, t0); errKey(err) != "share.label.author_only" {
			t.Errorf("author's non-admin colleague relabel: %v", err)
		}

		// A recipient may not widen: no other organisations, no groups.
		if _, err := AddRecipients(ctx, d, w.recipient, amber.ID, []string{w.otherOrg}, nil, nil, t0); errKey(err) != "share.reshare.clients_only" {
			t.Errorf("recipient adds a stranger: %v", err)
		}
		if _, err := AddRecipients(ctx, d, w.recipient, strict.ID, []string{w.otherOrg}, nil, nil, t0); errKey(err) != "share.reshare.not_allowed" {
			t.Errorf("recipient relays AMBER+STRICT: %v", err)
		}
		if _, err := AddRecipients(ctx, d, w.named, red.ID, nil, nil, []string{w.other.UserID}, t0); errKey(err) != "share.reshare.not_allowed" {
			t.Errorf("named person forwards RED: %v", err)
		}
		// …but may pass AMBER on to its own clients.
		clients := must[*Group](t)(CreateGroup(ctx, d, w.recipient, "当院の連携クリニック", GroupCustomers, t0))
		joinGroup(t, d, w.recipient, clients.ID, w.otherOrg)
		if _, err := AddRecipients(ctx, d, w.recipient, amber.ID, []string{w.otherOrg}, nil, nil, t0); err != nil {
			t.Fatalf("recipient passes AMBER to its client: %v", err)
		}
		if _, err := GetPost(ctx, d, w.other, amber.ID); err != nil {
			t.Errorf("client cannot read: %v", err)
		}

		// The author downgrades AMBER+STRICT to GREEN: everyone sees it,
		// and its STIX objects get a new version marked GREEN.
		if _, err := ChangeLabel(ctx, d, w.author, strict.ID, TLPGreen, t0.Add(1e9)); err != nil {
			t.Fatal(err)
		}
		if _, err := GetPost(ctx, d, w.other, strict.ID); err != nil {
			t.Errorf("after downgrade: %v", err)
		}
		objs := must[[]map[string]any](t)(latestObjects(ctx, d, strict.ID))
		for _, o := range objs {
			refs, _ := o["object_marking_refs"].([]any)
			if len(refs) == 0 || refs[0] != TLPGreen.MarkingID() {
				t.Errorf("%v still marked %v", o["id"], refs)
			}
		}
		// Tightening to RED drops the organisation recipients.
		if _, err := ChangeLabel(ctx, d, w.colleague, amber.ID, TLPRed, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := GetPost(ctx, d, w.recipient, amber.ID); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("recipient org after RED: %v", err)
		}
	})
}
