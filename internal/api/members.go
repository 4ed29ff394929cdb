package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// memberList is the body of GET /api/v1/orgs/{id}/members.
type memberList struct {
	Members []auth.Membership `json:"members"`
}

// listMembers lists an organisation's members. The list holds personal
// data (names, addresses), so every read is recorded.
func (a *API) listMembers(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	id := r.PathValue("id")
	var ms []auth.Membership
	err := a.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		ms, err = auth.ListMembers(ctx, tx, c.p, id)
		if err != nil {
			return err
		}
		return a.record(ctx, tx, c, id, audit.ActionSensitiveRead, "members", id, map[string]any{"count": len(ms)})
	})
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, memberList{Members: nonNil(ms)})
	return nil
}

func (a *API) changeRole(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID, userID := r.PathValue("id"), r.PathValue("user")
	if _, err := auth.GetMember(ctx, a.DB, c.p, orgID, userID); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	in, err := decodeRole(body)
	if err != nil {
		return err
	}
	var m *auth.Membership
	err = a.DB.InTx(ctx, func(tx *db.Tx) error {
		before, err := auth.GetMember(ctx, tx, c.p, orgID, userID)
		if err != nil {
			return err
		}
		m, err = auth.ChangeRole(ctx, tx, c.p, orgID, userID, in.Role)
		if err != nil {
			return err
		}
		return a.record(ctx, tx, c, orgID, audit.ActionMemberRole, "member", userID,
			map[string]any{"email": m.Email, "role": []any{before.Role, m.Role}})
	})
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, m)
	return nil
}

func (a *API) removeMember(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID, userID := r.PathValue("id"), r.PathValue("user")
	err := a.DB.InTx(ctx, func(tx *db.Tx) error {
		m, err := auth.RemoveMember(ctx, tx, c.p, orgID, userID)
		if err != nil {
			return err
		}
		return a.record(ctx, tx, c, orgID, audit.ActionMemberRemove, "member", userID,
			map[string]any{"email": m.Email, "role": m.Role})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// invitationList is the body of GET /api/v1/orgs/{id}/invitations.
type invitationList struct {
	Invitations []invitation `json:"invitations"`
}

func (a *API) listInvitations(w http.ResponseWriter, r *http.Request, c *call) error {
	ls, err := auth.PendingInvites(r.Context(), a.DB, c.p, r.PathValue("id"), a.Now())
	if err != nil {
		return err
	}
	out := invitationList{Invitations: []invitation{}}
	for _, l := range ls {
		out.Invitations = append(out.Invitations, invitation{Email: l.Email, OrgID: l.OrgID, Role: l.Role, CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt})
	}
	a.reply(w, http.StatusOK, out)
	return nil
}

func (a *API) invite(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID := r.PathValue("id")
	org, err := auth.GetOrg(ctx, a.DB, c.p, orgID)
	if err != nil {
		return err
	}
	if !c.p.CanManageMembers(orgID) {
		return apperr.New(apperr.Forbidden, "api.forbidden.manage_members")
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	in, err := decodeInvite(body)
	if err != nil {
		return err
	}
	var inv *invitation
	err = a.DB.InTx(ctx, func(tx *db.Tx) error {
		u, err := auth.GetUserByEmail(ctx, tx, in.Email)
		switch {
		case err == nil:
			if _, err := auth.GetMember(ctx, tx, c.p, orgID, u.ID); err == nil {
				return &apperr.Error{Code: apperr.Conflict, Key: "api.invite.already_member", Field: "email"}
			} else if !errors.Is(err, db.ErrNotFound) {
				return err
			}
		case !errors.Is(err, db.ErrNotFound):
			return err
		}
		inv, err = a.createInvite(ctx, tx, c, org, in.Email, in.Role, a.Now())
		return err
	})
	if err != nil {
		return err
	}
	a.reply(w, http.StatusCreated, inv)
	return nil
}

// createInvite stores an invitation link for email into org with role,
// queues its mail and records it, all in tx.
func (a *API) createInvite(ctx context.Context, tx *db.Tx, c *call, org *auth.Org, email string, role auth.Role, now time.Time) (*invitation, error) {
	raw, err := auth.CreateLink(ctx, tx, auth.EmailLink{Kind: auth.LinkInvite, Email: email, OrgID: org.ID, Role: role, CreatedBy: c.p.UserID}, auth.InviteTTL, now)
	if err != nil {
		return nil, err
	}
	inv := &invitation{Email: email, OrgID: org.ID, Role: role, CreatedAt: now.UTC(), ExpiresAt: now.Add(auth.InviteTTL).UTC()}
	if err := a.sendInvite(ctx, tx, c, org, inv, raw); err != nil {
		return nil, err
	}
	return inv, a.record(ctx, tx, c, org.ID, audit.ActionInvite, "invitation", email, map[string]any{"email": email, "role": role})
}
