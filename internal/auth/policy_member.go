package auth

import "github.com/medisac/medisac/internal/db"

// AuthorizeMember is Authorize for the data an organisation keeps for
// itself (its register, findings, checklists): a principal acting for
// another organisation, ISAC operators included, finds nothing there
// (db.ErrNotFound, exactly like a missing object); inside the
// organisation the table decides.
func AuthorizeMember(p *Principal, action, orgID string) error {
	if p == nil || p.OrgID == "" || orgID == "" || p.OrgID != orgID {
		return db.ErrNotFound
	}
	return Authorize(p, action, Target{OrgID: orgID})
}
