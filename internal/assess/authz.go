package assess

import (
	"context"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// The checks of the checklist actions aimed at one object, shared by the
// web pages and the API: an object p's organisation does not have is not
// found, whoever asks; for one it has, the permission table decides.

// AuthorizeOwnedSurvey checks that p may do action (assess.survey.remind
// or assess.survey.close) to survey id, owned by orgID.
func AuthorizeOwnedSurvey(ctx context.Context, q db.Querier, p *auth.Principal, action, orgID, id string) error {
	if p == nil || p.OrgID == "" || p.OrgID != orgID {
		return db.ErrNotFound
	}
	if _, err := OwnedSurvey(ctx, q, orgID, id); err != nil {
		return err
	}
	return auth.Authorize(p, action, auth.Target{OrgID: orgID})
}

// AuthorizeInboxAnswer checks that p may answer request id, addressed to
// the vendor organisation orgID.
func AuthorizeInboxAnswer(ctx context.Context, q db.Querier, p *auth.Principal, orgID, id string) error {
	if p == nil || p.OrgID == "" || p.OrgID != orgID {
		return db.ErrNotFound
	}
	if _, err := InboxRequest(ctx, q, orgID, id); err != nil {
		return err
	}
	return auth.AuthorizeMember(p, "assess.vendor.answer", orgID)
}
