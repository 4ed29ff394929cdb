package api

// route is one entry of the route table. The table is the single source of
// the mux, of the OpenAPI check and of the tenant-isolation test.
type route struct {
	Method  string
	Pattern string
	// Auth requires a valid bearer token.
	Auth bool
	// Write refuses read-only tokens and auditors with 403 before the
	// handler runs.
	Write  bool
	Handle handlerFunc
}

// routes is the whole route table of the API.
func (a *API) routes() []route {
	rs := []route{
		{"GET", "/api/v1/openapi.json", false, false, a.openAPI},

		{"GET", "/api/v1/me", true, false, a.me},

		{"GET", "/api/v1/orgs", true, false, a.listOrgs},
		{"POST", "/api/v1/orgs", true, true, a.createOrg},
		{"GET", "/api/v1/orgs/{id}", true, false, a.getOrg},
		{"PATCH", "/api/v1/orgs/{id}", true, true, a.updateOrg},

		{"GET", "/api/v1/orgs/{id}/members", true, false, a.listMembers},
		{"PATCH", "/api/v1/orgs/{id}/members/{user}", true, true, a.changeRole},
		{"DELETE", "/api/v1/orgs/{id}/members/{user}", true, true, a.removeMember},
		{"GET", "/api/v1/orgs/{id}/invitations", true, false, a.listInvitations},
		{"POST", "/api/v1/orgs/{id}/invitations", true, true, a.invite},
		{"DELETE", "/api/v1/orgs/{id}/invitations/{email}", true, true, a.revokeInvitation},
		{"GET", "/api/v1/orgs/{id}/proposals", true, false, a.listProposals},
		{"POST", "/api/v1/orgs/{id}/proposals/{proposal}/accept", true, true, a.acceptProposal},
		{"POST", "/api/v1/orgs/{id}/proposals/{proposal}/decline", true, true, a.declineProposal},
		{"GET", "/api/v1/orgs/{id}/audit", true, false, a.orgAudit},

		{"GET", "/api/v1/tokens", true, false, a.listTokens},
		// Revoking one's own token is open to auditors too (the table's
		// own-safety rule); the use case refuses read-only tokens.
		{"DELETE", "/api/v1/tokens/{id}", true, false, a.revokeToken},

		{"GET", "/api/v1/audit", true, false, a.ownAudit},
	}
	rs = append(rs, a.assessRoutes()...)
	rs = append(rs, a.shareRoutes()...)
	rs = append(rs, a.groupRoutes()...)
	rs = append(rs, a.vulnRoutes()...)
	rs = append(rs, a.vulnAliasRoutes()...)
	rs = append(rs, a.importRoutes()...)
	return append(rs, a.inventoryRoutes()...)
}
