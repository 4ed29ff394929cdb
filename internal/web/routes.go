package web

import (
	"net/http"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/inventory"
)

// route is one line of the route table: a method and path pattern, and
// what answers it, behind the gate of the people who may reach it.
type route struct {
	pattern string
	h       http.Handler
}

// members, admins and operators adapt h (see act) and put it behind the
// gate of signed-in people, organisation admins or ISAC operators.
func (s *Server) members(h memberHandler) http.Handler   { return s.requireUser(s.act(h)) }
func (s *Server) admins(h memberHandler) http.Handler    { return s.requireAdmin(s.act(h)) }
func (s *Server) operators(h memberHandler) http.Handler { return s.requireOperator(s.act(h)) }

// routeTable is the whole route table of a node.
func (s *Server) routeTable() []route {
	rs := []route{
		// Operations.
		{"GET /healthz", http.HandlerFunc(s.healthz)},
		{"GET /readyz", http.HandlerFunc(s.readyz)},
		{"GET /metrics", http.HandlerFunc(s.metricsHandler)},
		{"GET /static/", s.static},
		{"GET /static/passkey.js", http.HandlerFunc(s.passkeyScript)},

		// Signing in and out.
		{"GET /signin", s.open(s.signinForm)},
		{"POST /signin", s.open(s.signin)},
		{"POST /signout", s.open(s.signout)},
		{"GET /mfa", s.halfway(s.mfaForm)},
		{"POST /mfa", s.halfway(s.mfaVerify)},
		{"POST /mfa/passkey/begin", s.halfwayJSON(s.mfaPasskeyBegin)},
		{"POST /mfa/passkey/finish", s.halfwayJSON(s.mfaPasskeyFinish)},
		{"GET /mfa/setup", s.halfway(s.mfaSetupForm)},
		{"POST /mfa/setup", s.halfway(s.mfaSetupConfirm)},
		{"GET /reset", s.open(s.resetRequestForm)},
		{"POST /reset", s.open(s.resetRequest)},
		{"GET /reset/{token}", s.open(s.resetForm)},
		{"POST /reset/{token}", s.open(s.resetApply)},
		{"GET /invite/{token}", s.open(s.inviteForm)},
		{"POST /invite/{token}", s.open(s.inviteAccept)},
		{"POST /lang", http.HandlerFunc(s.setLang)},

		// Signed in.
		{"GET /{$}", s.members(s.home)},
		{"POST /org/switch", s.members(s.switchOrg)},
		{"GET /account", s.members(s.account)},
		{"POST /account/profile", s.members(s.accountProfile)},
		{"POST /account/password", s.members(s.accountPassword)},
		{"GET /account/totp", s.members(s.totpForm)},
		{"POST /account/totp", s.members(s.totpConfirm)},
		{"POST /account/totp/disable", s.members(s.totpDisable)},
		{"POST /account/recovery", s.members(s.recoveryRegenerate)},
		{"POST /account/passkeys/begin", s.requireUser(s.actJSON(s.passkeyRegisterBegin))},
		{"POST /account/passkeys/finish", s.requireUser(s.actJSON(s.passkeyRegisterFinish))},
		{"POST /account/passkeys/{id}/delete", s.members(s.passkeyDelete)},
		{"POST /account/tokens", s.members(s.tokenCreate)},
		{"POST /account/tokens/{id}/delete", s.members(s.tokenDelete)},
		{"POST /account/signout-everywhere", s.members(s.signoutEverywhere)},

		// The organisation.
		{"GET /org", s.members(formPage(s.renderOrg).show)},
		{"POST /org", s.admins(s.orgUpdate)},
		{"POST /org/invites", s.admins(s.orgInvite)},
		{"POST /org/invites/revoke", s.admins(s.orgInviteRevoke)},
		{"POST /org/proposals/{id}/accept", s.admins(s.orgProposalAnswer(true))},
		{"POST /org/proposals/{id}/decline", s.admins(s.orgProposalAnswer(false))},
		{"POST /org/members/{user}/role", s.admins(s.memberRole)},
		{"POST /org/members/{user}/delete", s.admins(s.memberRemove)},
		// The organisation's groups.
		{"GET /org/groups", s.members(formPage(s.renderGroups).show)},
		{"POST /org/groups", s.members(s.groupCreate)},
		{"GET /org/groups/{id}", s.members(formPage(s.renderGroup).show)},
		{"POST /org/groups/{id}/delete", s.members(s.groupDelete)},
		{"POST /org/groups/{id}/invites", s.members(s.groupInvite)},
		{"POST /org/groups/{id}/members/{org}/delete", s.members(s.groupRemove)},
		{"POST /org/groups/{id}/accept", s.members(s.groupAnswer(true))},
		{"POST /org/groups/{id}/decline", s.members(s.groupAnswer(false))},
		{"POST /org/groups/{id}/leave", s.members(s.groupLeave)},
		{"GET /audit", s.members(s.auditPage)},
		{"GET /audit.csv", s.members(s.auditCSV)},

		// ISAC operators.
		{"GET /admin/orgs", s.operators(formPage(s.renderAdminOrgs).show)},
		{"POST /admin/orgs", s.operators(s.adminOrgCreate)},
		{"GET /admin/orgs/{id}", s.operators(formPage(s.renderAdminOrg).show)},
		{"POST /admin/orgs/{id}", s.operators(s.adminOrgUpdate)},
		{"POST /admin/orgs/{id}/invites", s.operators(s.adminOrgInvite)},
		{"GET /admin/jobs", s.operators(s.adminJobs)},
		{"POST /admin/jobs/{id}/retry", s.operators(s.adminJobRetry)},

		// Demo mode: mail that would have been sent.
		{"GET /outbox", s.members(s.outbox)},

		// The register (the record kinds' own pages are added below).
		{"GET /inventory", s.members(inOrg(s.invAssetList))},
		{"GET /inventory/assets/{id}", s.members(inOrg(s.invAssetPage))},
		{"GET /inventory/segments", s.members(inOrg(s.invSegments))},
		{"GET /inventory/connections", s.members(inOrg(s.invConnections))},
		{"GET /inventory/vendors", s.members(inOrg(s.invVendors))},
		{"GET /inventory/systems", s.members(inOrg(s.invSystems))},
		{"GET /inventory/systems/{id}", s.members(s.invSystemPage)},
		{"POST /inventory/systems/{id}/responsibilities", s.members(s.invResponsibilities)},
		{"POST /inventory/systems/{id}/documents", s.members(s.invDocUpload)},
		{"GET /inventory/documents/{id}", s.members(inOrg(s.invDocDownload))},
		{"POST /inventory/documents/{id}/delete", s.members(s.invDocDelete)},
		{"GET /inventory/accounts", s.members(inOrg(s.invAccounts))},
		{"GET /inventory/import", s.members(s.invImportForm)},
		{"POST /inventory/import", s.members(s.invImportPreview)},
		{"POST /inventory/import/apply", s.members(s.invImportApply)},
		{"POST /inventory/import/nmap", s.members(s.invNmapApply)},
		{"POST /inventory/import/cancel", s.members(s.invImportCancel)},
		{"GET /inventory/template.xlsx", s.members(func(w http.ResponseWriter, r *http.Request, m *member) error {
			return s.invTemplate(w, r, m, inventory.FormatXLSX)
		})},
		{"GET /inventory/template.csv", s.members(func(w http.ResponseWriter, r *http.Request, m *member) error {
			return s.invTemplate(w, r, m, inventory.FormatCSV)
		})},
		{"GET /inventory/export", s.members(s.invExport)},
		{"GET /inventory/overview", s.members(s.invOverview)},
		{"GET /inventory/overview.svg", s.members(s.invOverviewSVG)},
		{"GET /inventory/measures", s.members(s.invMeasures)},

		// Assessments, vendor questionnaires and surveys.
		{"GET /assess", s.members(s.assessList)},
		{"POST /assess/sheets", s.members(s.assessStart)},
		{"GET /assess/sheets/{id}", s.members(s.assessSheet)},
		{"GET /assess/sheets/{id}/compare", s.members(s.assessCompare)},
		{"GET /assess/sheets/{id}/report.pdf", s.members(s.assessReport)},
		{"GET /assess/sheets/{id}/report.xlsx", s.members(s.assessReport)},
		{"POST /assess/sheets/{id}/sign", s.admins(s.assessSign)},
		{"POST /assess/sheets/{id}/reopen", s.admins(s.assessReopen)},
		{"GET /assess/sheets/{id}/items/{item}", s.members(formPage(s.renderAssessItem).show)},
		{"POST /assess/sheets/{id}/items/{item}", s.members(s.assessItemSave)},
		{"POST /assess/sheets/{id}/items/{item}/evidence", s.members(s.assessEvidenceAdd)},
		{"POST /assess/sheets/{id}/items/{item}/hints/{key}", s.members(s.assessHintDecide)},
		{"GET /assess/sheets/{id}/evidence/{ev}", s.members(s.assessEvidenceGet)},
		{"POST /assess/sheets/{id}/evidence/{ev}/delete", s.members(s.assessEvidenceDelete)},
		{"GET /assess/vendors", s.members(formPage(s.renderAssessVendors).show)},
		{"POST /assess/vendors", s.members(s.assessVendorRequest)},
		{"POST /assess/vendors/{id}/remind", s.members(s.assessVendorRemind)},
		{"POST /assess/vendors/{id}/file", s.members(s.assessVendorFile)},
		{"GET /assess/vendors/{id}/file", s.members(s.assessVendorFileGet)},
		{"GET " + assess.InboxPath, s.members(s.assessInbox)},
		{"POST " + assess.InboxPath + "/{id}/answer", s.members(s.assessInboxAnswer)},
		{"GET /vendor-sheet/{token}", http.HandlerFunc(s.assessLinkForm)},
		{"POST /vendor-sheet/{token}", http.HandlerFunc(s.assessLinkSubmit)},
		{"GET /assess/surveys", s.members(formPage(s.renderAssessSurveys).show)},
		{"POST /assess/surveys", s.members(s.assessSurveyCreate)},
		{"GET /assess/surveys/{id}", s.members(formPage(s.renderAssessSurvey).show)},
		{"POST /assess/surveys/{id}/remind", s.members(s.assessSurveyRemind)},
		{"POST /assess/surveys/{id}/close", s.members(s.assessSurveyClose)},
		{"POST /assess/surveys/{id}/respond", s.members(s.assessSurveyRespond)},
		{"GET /assess/overview", s.members(s.assessOverview)},
		{"POST /assess/sheets/{id}/share", s.admins(s.assessShare)},

		// The sharing hub.
		{"GET /share/feed.atom", http.HandlerFunc(s.shareAtom)},
		{"GET /share", s.members(s.shareList)},
		{"GET /share/new", s.members(s.shareNewForm)},
		{"POST /share/new", s.members(s.shareCreate)},
		{"GET /share/posts/{id}", s.members(formPage(s.renderSharePost).show)},
		{"GET /share/posts/{id}/misp.json", s.members(s.sharePostMISP)},
		{"GET /share/posts/{id}/stix.json", s.members(s.sharePostSTIX)},
		{"POST /share/posts/{id}/respond", s.members(s.shareRespond)},
		{"POST /share/posts/{id}/comments", s.members(s.shareComment)},
		{"POST /share/posts/{id}/label", s.members(s.shareLabel)},
		{"POST /share/posts/{id}/recipients", s.members(s.shareRecipients)},
		{"POST /share/posts/{id}/delete", s.members(s.shareDelete)},
		{"POST /share/indicators/{id}/sighting", s.members(s.shareSighting)},
		{"GET /share/lookup", s.members(s.shareLookup)},
		{"GET /share/ops", s.operators(s.shareOps)},
		{"GET /share/groups", s.members(formPage(s.renderShareGroups).show)},
		{"POST /share/groups", s.members(s.shareGroupCreate)},
		{"GET /share/groups/{id}", s.members(s.shareGroup)},
		{"POST /share/groups/{id}/members", s.members(s.shareGroupMember)},
		{"POST /share/groups/{id}/answer", s.members(s.shareGroupAnswer)},
		{"GET /share/warnings", s.operators(formPage(s.renderShareWarnings).show)},
		{"POST /share/warnings", s.operators(s.shareWarningAdd)},
		{"POST /share/warnings/{id}/toggle", s.operators(s.shareWarningToggle)},
		{"POST /share/warnings/{id}/delete", s.operators(s.shareWarningDelete)},
		{"GET /share/settings", s.members(formPage(s.renderShareSettings).show)},
		{"POST /share/settings", s.members(s.shareSettingsSave)},
		{"POST /share/settings/webhook", s.admins(s.shareWebhookSave)},
		{"GET /share/feeds", s.operators(formPage(s.renderShareFeeds).show)},
		{"POST /share/feeds", s.operators(s.shareFeedAdd)},
		{"POST /share/feeds/{id}/delete", s.operators(s.shareFeedDelete)},
		{"GET /share/interop", s.members(s.shareInterop)},
		{"POST /share/import", s.members(s.shareImport)},
		{"GET /share/export", s.members(s.shareExport)},

		// The vulnerability watch.
		{"GET /vuln", s.members(s.vulnDashboard)},
		{"GET /vuln/findings/{id}", s.members(s.vulnFindingPage)},
		{"POST /vuln/findings/{id}/state", s.members(s.vulnSetState)},
		{"GET /vuln/search", s.members(s.vulnSearch)},
		{"GET /vuln/v/{id}", s.members(s.vulnDetail)},
		{"GET /vuln/assets/{id}", s.members(s.vulnAssetPage)},
		{"POST /vuln/assets/{id}/identity", s.members(s.vulnSetIdentity)},
		{"POST /vuln/notifications/read", s.members(s.vulnMarkRead)},
		{"POST /vuln/webhook", s.members(s.vulnSetWebhook)},
		{"GET /vuln/import", s.operators(s.vulnImportForm)},
		{"POST /vuln/import", s.operators(s.vulnImport)},
		{"GET /vuln/aliases", s.operators(s.vulnAliasPage)},
		{"GET /vuln/aliases/download", s.operators(s.vulnAliasDownload)},
		{"GET /vuln/aliases/versions/{id}", s.operators(s.vulnAliasDownload)},
		{"POST /vuln/aliases/vendor", s.operators(s.vulnAliasAddVendor)},
		{"POST /vuln/aliases/product", s.operators(s.vulnAliasAddProduct)},
		{"POST /vuln/aliases/rename", s.operators(s.vulnAliasAddRename)},
		{"POST /vuln/aliases/remove", s.operators(s.vulnAliasRemove)},
		{"POST /vuln/aliases/upload", s.operators(s.vulnAliasUpload)},
		{"POST /vuln/aliases/restore", s.operators(s.vulnAliasRestore)},
		{"POST /vuln/aliases/reset", s.operators(s.vulnAliasReset)},
	}
	for _, k := range s.invKinds() {
		rs = append(rs, k.routes(s)...)
	}
	return rs
}

// routes registers the route table, behind the session and CSRF layers.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routeTable() {
		mux.Handle(rt.pattern, rt.h)
	}

	// Anything else: the error page, not Go's plain-text 404.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, apperr.New(apperr.NotFound, "error.not_found"))
	})

	var h http.Handler = s.checkCSRF(mux)
	h = s.withSession(h)
	// The API and TAXII authenticate with tokens, not cookies, and have their
	// own error shapes; they bypass the session and CSRF layers.
	if s.API != nil || s.TAXII != nil {
		top := http.NewServeMux()
		if s.API != nil {
			top.Handle("/api/", s.API)
		}
		if s.TAXII != nil {
			top.Handle("/taxii2/", s.TAXII)
		}
		top.Handle("/", h)
		h = top
	}
	return s.withNode(s.logAndRecover(secureHeaders(s.Secure, h)))
}
