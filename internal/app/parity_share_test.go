package app

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/medisac/medisac/internal/share"
	"github.com/medisac/medisac/internal/testkit/seed"
)

// Parity cases of the sharing hub: every change is one method of
// share.Hub, which the pages, the API and the command line call.

// shareViewer is the viewer of one of the world's admins, for setups.
func (w *parityWorld) shareViewer(who string) share.Viewer {
	u := w.users[who]
	return share.Viewer{OrgID: u.OrgID, UserID: u.ID, Admin: true, Write: true, Operator: u.OrgID == w.ISAC}
}

// sharePost makes a post of who's organisation and returns its id.
func (w *parityWorld) sharePost(who string, in share.PostInput) *share.Post {
	w.t.Helper()
	if in.Kind == "" {
		in.Kind = share.KindAdvisory
	}
	if in.Title == "" {
		in.Title = "同一記録の確認用の投稿"
	}
	p, err := share.CreatePost(w.ctx, w.DB(), w.shareViewer(who), in, time.Now())
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// shareGroup makes a sharing group of owner's organisation and, when
// member is not empty, has member's organisation invited and accept.
func (w *parityWorld) shareGroup(owner string, kind share.GroupKind, member string) string {
	w.t.Helper()
	var invite []string
	if member != "" {
		invite = append(invite, w.users[member].OrgID)
	}
	id := seed.Group(w.t, w.DB(), w.shareViewer(owner), fmt.Sprintf("確認用グループ %d", w.lastSeq()), kind, time.Now(), invite...)
	if member != "" {
		if err := share.AnswerGroupInvite(w.ctx, w.DB(), w.shareViewer(member), id, true); err != nil {
			w.t.Fatal(err)
		}
	}
	return id
}

var shareBundleN = 0

// shareBundle is a small STIX bundle of one report and one indicator,
// different at every call.
func shareBundle() []byte {
	shareBundleN++
	n := shareBundleN
	return fmt.Appendf(nil, `{"type":"bundle","id":"bundle--00000000-0000-4000-8000-%012d","objects":[
{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","created":"2026-04-01T09:00:00.000Z","modified":"2026-04-01T09:00:00.000Z","name":"C2","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-04-01T09:00:00.000Z"},
{"type":"report","spec_version":"2.1","id":"report--00000000-0000-4000-8000-%012d","created":"2026-04-01T09:00:00.000Z","modified":"2026-04-01T09:00:00.000Z","name":"取り込み確認 %d","published":"2026-04-01T09:00:00.000Z","object_refs":["indicator--00000000-0000-4000-8000-%012d"]}]}`,
		n, n, n%250+1, n, n, n)
}

func init() {
	ownPost := func(tlp share.TLP) func(w *parityWorld) string {
		return func(w *parityWorld) string { return w.sharePost("hospital_admin", share.PostInput{TLP: tlp}).ID }
	}
	// operatorPost is a TLP:GREEN advisory of the ISAC operator.
	operatorPost := func(w *parityWorld) string {
		return w.sharePost("isac_admin", share.PostInput{TLP: share.TLPGreen}).ID
	}

	parityCases = append(parityCases,
		parityCase{
			Name: "share.post.create by the member's admin", Rule: "share.post.create", As: "hospital_admin",
			Web: webCreate("/share/new", "/share/new", url.Values{"kind": {"advisory"}, "tlp": {"green"},
				"title": {"VPN装置の脆弱性について"}, "body": {"更新してください。"}}),
			API: apiCreate("/api/v1/share/posts", map[string]any{"kind": "advisory", "tlp": "green",
				"title": "VPN装置の脆弱性について", "body": "更新してください。"}),
		},
		parityCase{
			Name: "share.post.label by the author's admin", Rule: "share.post.label", As: "hospital_admin",
			Setup: ownPost(share.TLPClear),
			Web:   webForm("/share/posts/{obj}", "/share/posts/{obj}/label", url.Values{"tlp": {"green"}}),
			API:   apiCall("PATCH", "/api/v1/share/posts/{obj}", map[string]any{"tlp": "green"}),
		},
		parityCase{
			Name: "share.post.recipients by the author's admin", Rule: "share.post.recipients", As: "hospital_admin",
			Setup: ownPost(share.TLPAmber),
			Web:   webForm("/share/posts/{obj}", "/share/posts/{obj}/recipients", url.Values{"recipient_orgs": {"{isac}"}}),
			API:   apiCall("POST", "/api/v1/share/posts/{obj}/recipients", map[string]any{"orgs": []string{"{isac}"}}),
		},
		parityCase{
			// The operator, named on the hospital's TLP:AMBER post, passes
			// it on to a client of its own (here the hospital, which
			// accepted the operator's customers group).
			Name: "share.post.reshare by a named organisation", Rule: "share.post.reshare", As: "isac_admin",
			Setup: func(w *parityWorld) string {
				w.shareGroup("isac_admin", share.GroupCustomers, "hospital_admin")
				return w.sharePost("hospital_admin", share.PostInput{TLP: share.TLPAmber, RecipientOrgs: []string{w.ISAC}}).ID
			},
			Web: webForm("/share/posts/{obj}", "/share/posts/{obj}/recipients", url.Values{"recipient_orgs": {"{hospital}"}}),
			API: apiCall("POST", "/api/v1/share/posts/{obj}/recipients", map[string]any{"orgs": []string{"{hospital}"}}),
		},
		parityCase{
			Name: "share.post.delete by the author's admin", Rule: "share.post.delete", As: "hospital_admin",
			Setup: ownPost(share.TLPGreen),
			Web:   webForm("/share/posts/{obj}", "/share/posts/{obj}/delete", nil),
			API:   apiCall("DELETE", "/api/v1/share/posts/{obj}", nil),
		},
		parityCase{
			Name: "share.comment on another organisation's post", Rule: "share.comment", As: "hospital_admin",
			Setup: operatorPost,
			Web:   webForm("/share/posts/{obj}", "/share/posts/{obj}/comments", url.Values{"body": {"当院でも確認しました。"}}),
			API:   apiCall("POST", "/api/v1/share/posts/{obj}/comments", map[string]any{"body": "当院でも確認しました。"}),
		},
		parityCase{
			Name: "share.response to the operator's advisory", Rule: "share.response", As: "hospital_admin",
			Setup: operatorPost,
			Web:   webForm("/share/posts/{obj}", "/share/posts/{obj}/respond", url.Values{"status": {"not_affected"}}),
			API:   apiCall("PUT", "/api/v1/share/posts/{obj}/response", map[string]any{"status": "not_affected"}),
		},
		parityCase{
			Name: "share.sighting of an indicator", Rule: "share.sighting", As: "hospital_admin",
			Setup: func(w *parityWorld) string {
				p := w.sharePost("isac_admin", share.PostInput{Kind: share.KindIndicatorSet, TLP: share.TLPGreen,
					Indicators: []share.IndicatorInput{{Value: fmt.Sprintf("198.51.100.%d", w.lastSeq()%250+1)}}})
				return p.Indicators[0].ID
			},
			Web: webForm("/share/settings", "/share/indicators/{obj}/sighting", nil),
			API: apiCall("POST", "/api/v1/share/indicators/{obj}/sightings", nil),
		},
		parityCase{
			Name: "share.subscription of the admin", Rule: "share.subscription", As: "hospital_admin",
			Setup: func(w *parityWorld) string { return w.As().ID },
			Web:   webForm("/share/settings", "/share/settings", url.Values{"immediate_tlp": {"red"}, "digest": {"1"}}),
			API:   apiCall("PUT", "/api/v1/share/subscription", map[string]any{"immediate_tlp": []string{"red"}, "digest": true}),
		},
		parityCase{
			Name: "share.group.create by the member's admin", Rule: "share.group.create", As: "hospital_admin",
			Web: webCreate("/share/groups", "/share/groups", url.Values{"name": {"取引先の病院"}, "kind": {"customers"}}),
			API: apiCreate("/api/v1/share/groups", map[string]any{"name": "取引先の病院", "kind": "customers"}),
		},
		parityCase{
			Name: "share.group.create of a regional network by the operator", Rule: "share.group.create.regional", As: "isac_admin",
			Web: webCreate("/share/groups", "/share/groups", url.Values{"name": {"東京都地域医療ネットワーク"}, "kind": {"regional"}}),
			API: apiCreate("/api/v1/share/groups", map[string]any{"name": "東京都地域医療ネットワーク", "kind": "regional"}),
		},
		parityCase{
			Name: "share.group.member invited by the group's owner", Rule: "share.group.member", As: "hospital_admin",
			Setup: func(w *parityWorld) string { return w.shareGroup("hospital_admin", share.GroupCustomers, "") },
			Web:   webForm("/share/groups/{obj}", "/share/groups/{obj}/members", url.Values{"org_id": {"{isac}"}}),
			API:   apiCall("PUT", "/api/v1/share/groups/{obj}/members/{isac}", nil),
		},
		parityCase{
			Name: "share.group.accept by the invited organisation's admin", Rule: "share.group.accept", As: "hospital_admin",
			Setup: func(w *parityWorld) string {
				return seed.Group(w.t, w.DB(), w.shareViewer("isac_admin"), fmt.Sprintf("招待の確認 %d", w.lastSeq()), share.GroupOther, time.Now(), w.Hospital)
			},
			Web: webForm("/share/groups", "/share/groups/{obj}/answer", url.Values{"answer": {"accept"}}),
			API: apiCall("POST", "/api/v1/share/group-invites/{obj}/accept", nil),
		},
		parityCase{
			Name: "share.webhook set by the member's admin", Rule: "share.webhook", As: "hospital_admin",
			Setup: parityHospital,
			Web:   webForm("/share/settings", "/share/settings/webhook", url.Values{"url": {"https://hooks.example.jp/medisac"}, "secret": {"0123456789abcdef0123"}}),
			API:   apiCall("PUT", "/api/v1/share/webhook", map[string]any{"url": "https://hooks.example.jp/medisac", "secret": "0123456789abcdef0123"}),
		},
		parityCase{
			Name: "share.import of a STIX bundle", Rule: "share.import", As: "hospital_admin",
			Web: func(w *parityWorld, _ string) string {
				w.Form("/share/interop", "/share/import", url.Values{"data": {string(shareBundle())}, "tlp": {"green"}})
				return w.Hospital
			},
			API: func(w *parityWorld, _ string) string {
				var bundle map[string]any
				if err := json.Unmarshal(shareBundle(), &bundle); err != nil {
					w.t.Fatal(err)
				}
				w.Call("POST", "/api/v1/share/import?tlp=green", bundle, nil)
				return w.Hospital
			},
			CLI: func(w *parityWorld, _ string) string {
				w.CLI("share", "import", "--org", w.Hospital, w.File("bundle.json", shareBundle()))
				return w.Hospital
			},
		},
	)
}
