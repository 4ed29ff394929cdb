package vuln

import (
	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
)

// The operator checks of the vulnerability watch, shared by the web pages
// and the API: each asks the permission table with its row's action and
// keeps the watch's own message for a refusal.

// AuthorizeAliasChange refuses a change of the product-name table unless
// the table allows p (ISAC operator admins).
func AuthorizeAliasChange(p *auth.Principal) error {
	return authorizeService(p, "vuln.aliases.change", "vulnalias.err.operators_only", "vulnalias.err.admins_only")
}

// AuthorizeImport refuses a feed import unless the table allows p (ISAC
// operator admins).
func AuthorizeImport(p *auth.Principal) error {
	return authorizeService(p, "vuln.import", "vuln.api.operators_only", "error_page.read_only")
}

// AuthorizeWebhook refuses a change of orgID's notification webhook unless
// the table allows p (the organisation's admins); another organisation's
// settings, and an operator's, look missing.
func AuthorizeWebhook(p *auth.Principal, orgID string) error {
	err := auth.AuthorizeMember(p, "vuln.webhook", orgID)
	if err != nil && apperr.Is(err, apperr.Forbidden) {
		return apperr.New(apperr.Forbidden, "error_page.read_only")
	}
	return err
}

func authorizeService(p *auth.Principal, action, notOperator, notAllowed string) error {
	err := auth.Authorize(p, action, auth.Target{})
	switch {
	case err == nil:
		return nil
	case !p.IsOperator():
		return apperr.New(apperr.Forbidden, notOperator)
	case apperr.Is(err, apperr.Forbidden):
		return apperr.New(apperr.Forbidden, notAllowed)
	}
	return err
}
