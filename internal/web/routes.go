package web

import (
	"net/http"

	"github.com/medisac/medisac/internal/apperr"
)

// routes is the whole route table of a node.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()

	// Operations.
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /metrics", s.metricsHandler)
	mux.Handle("GET /static/", s.static)
	mux.HandleFunc("GET /static/passkey.js", s.passkeyScript)

	// Signing in and out.
	mux.HandleFunc("GET /signin", s.open(s.signinForm))
	mux.HandleFunc("POST /signin", s.open(s.signin))
	mux.HandleFunc("POST /signout", s.open(s.signout))
	mux.HandleFunc("GET /mfa", s.halfway(s.mfaForm))
	mux.HandleFunc("POST /mfa", s.halfway(s.mfaVerify))
	mux.HandleFunc("POST /mfa/passkey/begin", s.mfaPasskeyBegin)
	mux.HandleFunc("POST /mfa/passkey/finish", s.mfaPasskeyFinish)
	mux.HandleFunc("GET /mfa/setup", s.halfway(s.mfaSetupForm))
	mux.HandleFunc("POST /mfa/setup", s.halfway(s.mfaSetupConfirm))
	mux.HandleFunc("GET /reset", s.open(s.resetRequestForm))
	mux.HandleFunc("POST /reset", s.open(s.resetRequest))
	mux.HandleFunc("GET /reset/{token}", s.open(s.resetForm))
	mux.HandleFunc("POST /reset/{token}", s.open(s.resetApply))
	mux.HandleFunc("GET /invite/{token}", s.open(s.inviteForm))
	mux.HandleFunc("POST /invite/{token}", s.open(s.inviteAccept))
	mux.HandleFunc("POST /lang", s.setLang)

	// Signed in.
	mux.Handle("GET /{$}", s.requireUser(s.home))
	mux.Handle("POST /org/switch", s.requireUser(s.switchOrg))
	mux.Handle("GET /account", s.requireUser(s.act(s.account)))
	mux.Handle("POST /account/profile", s.requireUser(s.act(s.accountProfile)))
	mux.Handle("POST /account/password", s.requireUser(s.act(s.accountPassword)))
	mux.Handle("GET /account/totp", s.requireUser(s.act(s.totpForm)))
	mux.Handle("POST /account/totp", s.requireUser(s.act(s.totpConfirm)))
	mux.Handle("POST /account/totp/disable", s.requireUser(s.act(s.totpDisable)))
	mux.Handle("POST /account/recovery", s.requireUser(s.act(s.recoveryRegenerate)))
	mux.Handle("POST /account/passkeys/begin", s.requireUser(s.passkeyRegisterBegin))
	mux.Handle("POST /account/passkeys/finish", s.requireUser(s.passkeyRegisterFinish))
	mux.Handle("POST /account/passkeys/{id}/delete", s.requireUser(s.act(s.passkeyDelete)))
	mux.Handle("POST /account/tokens", s.requireUser(s.act(s.tokenCreate)))
	mux.Handle("POST /account/tokens/{id}/delete", s.requireUser(s.act(s.tokenDelete)))
	mux.Handle("POST /account/signout-everywhere", s.requireUser(s.act(s.signoutEverywhere)))

	// The organisation.
	mux.Handle("GET /org", s.requireUser(s.act(formPage(s.renderOrg).show)))
	mux.Handle("POST /org", s.requireAdmin(s.act(s.orgUpdate)))
	mux.Handle("POST /org/invites", s.requireAdmin(s.act(s.orgInvite)))
	mux.Handle("POST /org/invites/revoke", s.requireAdmin(s.act(s.orgInviteRevoke)))
	mux.Handle("POST /org/proposals/{id}/accept", s.requireAdmin(s.act(s.orgProposalAnswer(true))))
	mux.Handle("POST /org/proposals/{id}/decline", s.requireAdmin(s.act(s.orgProposalAnswer(false))))
	mux.Handle("POST /org/members/{user}/role", s.requireAdmin(s.act(s.memberRole)))
	mux.Handle("POST /org/members/{user}/delete", s.requireAdmin(s.act(s.memberRemove)))
	s.groupRoutes(mux)
	mux.Handle("GET /audit", s.requireUser(s.auditPage))
	mux.Handle("GET /audit.csv", s.requireUser(s.auditCSV))

	// ISAC operators.
	mux.Handle("GET /admin/orgs", s.requireOperator(s.act(formPage(s.renderAdminOrgs).show)))
	mux.Handle("POST /admin/orgs", s.requireOperator(s.act(s.adminOrgCreate)))
	mux.Handle("GET /admin/orgs/{id}", s.requireOperator(s.act(formPage(s.renderAdminOrg).show)))
	mux.Handle("POST /admin/orgs/{id}", s.requireOperator(s.act(s.adminOrgUpdate)))
	mux.Handle("POST /admin/orgs/{id}/invites", s.requireOperator(s.act(s.adminOrgInvite)))
	mux.Handle("GET /admin/jobs", s.requireOperator(s.act(s.adminJobs)))
	mux.Handle("POST /admin/jobs/{id}/retry", s.requireOperator(s.act(s.adminJobRetry)))

	// Demo mode: mail that would have been sent.
	mux.Handle("GET /outbox", s.requireUser(s.outbox))

	s.inventoryRoutes(mux)

	s.assessRoutes(mux)

	s.shareRoutes(mux)

	s.vulnRoutes(mux)
	s.vulnAliasRoutes(mux)

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
