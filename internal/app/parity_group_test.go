package app

import (
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/medisac/medisac/internal/auth"
)

func init() {
	var seq atomic.Int64
	name := func() string { return fmt.Sprintf("同一記録グループ%d", seq.Add(1)) }
	var mu sync.Mutex
	clinics := map[*parityWorld]string{}
	// clinic is one clinic per world, the organisation the hospital's
	// groups invite (the same through every door, so the entries match).
	clinic := func(w *parityWorld) string {
		mu.Lock()
		defer mu.Unlock()
		if id, ok := clinics[w]; ok {
			return id
		}
		o, err := auth.CreateOrg(w.ctx, w.DB(), auth.OrgInput{Kind: auth.KindClinic, Name: "グループ招待先診療所", Prefecture: "東京都"}, w.now)
		if err != nil {
			w.t.Fatal(err)
		}
		clinics[w] = o.ID
		return o.ID
	}
	// owner is the admin of another hospital whose groups invite the
	// parity hospital (made at the world's first use).
	owner := func(w *parityWorld) *auth.Principal {
		mu.Lock()
		defer mu.Unlock()
		if w.users["group_owner"] == nil {
			o, err := auth.CreateOrg(w.ctx, w.DB(), auth.OrgInput{Kind: auth.KindHospital, Name: "本部病院", Prefecture: "大阪府"}, w.now)
			if err != nil {
				w.t.Fatal(err)
			}
			w.addUser("group_owner", "owner@parity-group.jp", o.ID, auth.RoleAdmin)
		}
		return w.principal("group_owner")
	}
	hospital := func(w *parityWorld) *auth.Principal { return w.principal("hospital_admin") }
	ownGroup := func(w *parityWorld) string {
		g, err := auth.CreateGroup(w.ctx, w.DB(), hospital(w), name(), w.now)
		if err != nil {
			w.t.Fatal(err)
		}
		return g.ID
	}
	ownGroupWithClinic := func(w *parityWorld) string {
		id := ownGroup(w)
		if _, err := auth.InviteToGroup(w.ctx, w.DB(), hospital(w), id, clinic(w), w.now); err != nil {
			w.t.Fatal(err)
		}
		return id
	}
	// invitedGroup is another hospital's group the parity hospital is
	// invited to.
	invitedGroup := func(w *parityWorld) string {
		p := owner(w)
		g, err := auth.CreateGroup(w.ctx, w.DB(), p, name(), w.now)
		if err != nil {
			w.t.Fatal(err)
		}
		if _, err := auth.InviteToGroup(w.ctx, w.DB(), p, g.ID, w.Hospital, w.now); err != nil {
			w.t.Fatal(err)
		}
		return g.ID
	}
	joinedGroup := func(w *parityWorld) string {
		id := invitedGroup(w)
		if _, err := auth.AnswerGroupInvite(w.ctx, w.DB(), hospital(w), id, true, w.now); err != nil {
			w.t.Fatal(err)
		}
		return id
	}

	parityCases = append(parityCases,
		parityCase{
			Name: "group.create by a hospital's admin", Rule: "group.create", As: "hospital_admin",
			Web: webCreate("/org/groups", "/org/groups", url.Values{"name": {"同一記録の新しいグループ{n}"}}),
			API: apiCreate("/api/v1/groups", map[string]any{"name": "同一記録の新しいグループ{n}"}),
		},
		parityCase{
			Name: "group.delete by its owner's admin", Rule: "group.delete", As: "hospital_admin",
			Setup: ownGroupWithClinic,
			Web:   webForm("/org/groups/{obj}", "/org/groups/{obj}/delete", nil),
			API:   apiCall("DELETE", "/api/v1/groups/{obj}", nil),
		},
		parityCase{
			Name: "group.invite by its owner's admin", Rule: "group.invite", As: "hospital_admin",
			Setup: ownGroup,
			Web: func(w *parityWorld, obj string) string {
				w.Form("/org/groups/"+obj, "/org/groups/"+obj+"/invites", url.Values{"ref": {clinic(w)}})
				return obj
			},
			API: func(w *parityWorld, obj string) string {
				w.Call("POST", "/api/v1/groups/"+obj+"/invitations", map[string]any{"ref": clinic(w)}, nil)
				return obj
			},
		},
		parityCase{
			Name: "group.remove by its owner's admin", Rule: "group.remove", As: "hospital_admin",
			Setup: ownGroupWithClinic,
			Web: func(w *parityWorld, obj string) string {
				w.Form("/org/groups/"+obj, "/org/groups/"+obj+"/members/"+clinic(w)+"/delete", nil)
				return obj
			},
			API: func(w *parityWorld, obj string) string {
				w.Call("DELETE", "/api/v1/groups/"+obj+"/members/"+clinic(w), nil, nil)
				return obj
			},
		},
		parityCase{
			Name: "group.accept by the invited hospital's admin", Rule: "group.accept", As: "hospital_admin",
			Setup: invitedGroup,
			Web:   webForm("/org/groups", "/org/groups/{obj}/accept", nil),
			API:   apiCall("POST", "/api/v1/groups/{obj}/membership", map[string]any{"accept": true}),
		},
		parityCase{
			Name: "group.decline by the invited hospital's admin", Rule: "group.accept", As: "hospital_admin",
			Setup: invitedGroup,
			Web:   webForm("/org/groups", "/org/groups/{obj}/decline", nil),
			API:   apiCall("POST", "/api/v1/groups/{obj}/membership", map[string]any{"accept": false}),
		},
		parityCase{
			Name: "group.leave by a member hospital's admin", Rule: "group.leave", As: "hospital_admin",
			Setup: joinedGroup,
			Web:   webForm("/org/groups", "/org/groups/{obj}/leave", nil),
			API:   apiCall("DELETE", "/api/v1/groups/{obj}/membership", nil),
		},
	)
}
