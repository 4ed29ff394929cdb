package audit

import "github.com/medisac/medisac/internal/i18n"

// Actions recorded by the foundation. Capability packages define their own
// in the same dotted form (for example "asset.read").
const (
	ActionSignIn          = "auth.signin"
	ActionSignInFailed    = "auth.signin.failed"
	ActionSignOut         = "auth.signout"
	ActionLocked          = "auth.locked"
	ActionMFAEnrol        = "auth.mfa.enrol"
	ActionMFARemove       = "auth.mfa.remove"
	ActionMFAFailed       = "auth.mfa.failed"
	ActionPasswordChange  = "auth.password.change"
	ActionPasswordReset   = "auth.password.reset"
	ActionTokenCreate     = "auth.token.create"
	ActionTokenRevoke     = "auth.token.revoke"
	ActionSessionRevoke   = "auth.session.revoke"
	ActionSignOutAll      = "auth.signout_everywhere"
	ActionMFA             = "auth.mfa"
	ActionResetRequest    = "auth.password.reset.request"
	ActionOrgSwitch       = "auth.org.switch"
	ActionJobRetry        = "settings.job.retry"
	ActionUserCreate      = "user.create"
	ActionUserUpdate      = "user.update"
	ActionUserDisable     = "user.disable"
	ActionOrgCreate       = "org.create"
	ActionOrgUpdate       = "org.update"
	ActionMemberAdd       = "org.member.add"
	ActionMemberRole      = "org.member.role"
	ActionMemberRemove    = "org.member.remove"
	ActionInvite          = "org.invite"
	ActionInviteAccept    = "org.invite.accept"
	ActionInviteRevoke    = "org.invite.revoke"
	ActionOrgKind         = "org.update.kind"
	ActionProposal        = "org.proposal"
	ActionProposalAccept  = "org.proposal.accept"
	ActionProposalDecline = "org.proposal.decline"
	ActionAuditRead       = "audit.read"
	ActionAuditExport     = "audit.export"
	ActionAuditVerify     = "audit.verify"
	ActionAccessDenied    = "access.denied"
	ActionSettingsUpdate  = "settings.update"
	ActionDataExport      = "data.export"
	ActionBackupCreate    = "backup.create"
	ActionBackupRestore   = "backup.restore"
	ActionSensitiveRead   = "record.read"
	ActionSensitiveChange = "record.change"
)

// knownActions lists the actions with labels in the audit catalogs, in the
// order a filter menu shows them.
var knownActions = []string{
	ActionSignIn, ActionSignInFailed, ActionSignOut, ActionLocked, ActionMFAEnrol, ActionMFARemove,
	ActionMFAFailed, ActionPasswordChange, ActionPasswordReset, ActionTokenCreate, ActionTokenRevoke,
	ActionSessionRevoke, ActionSignOutAll, ActionMFA, ActionResetRequest, ActionOrgSwitch, ActionUserCreate, ActionUserUpdate, ActionUserDisable, ActionOrgCreate,
	ActionOrgUpdate, ActionMemberAdd, ActionMemberRole, ActionMemberRemove, ActionInvite,
	ActionInviteAccept, ActionInviteRevoke, ActionOrgKind, ActionProposal, ActionProposalAccept, ActionProposalDecline, ActionAuditRead, ActionAuditExport, ActionAuditVerify,
	ActionAccessDenied, ActionSettingsUpdate, ActionJobRetry, ActionDataExport, ActionBackupCreate, ActionBackupRestore,
	ActionSensitiveRead, ActionSensitiveChange,
}

// ActionPrefixes lists the top-level action groups for a filter menu; their
// labels are under ActionLabelKey too.
var ActionPrefixes = []string{"auth", "user", "org", "audit", "access", "settings", "data", "backup", "record"}

// KnownActions returns the foundation's actions, in menu order.
func KnownActions() []string { return append([]string(nil), knownActions...) }

var labelled = func() map[string]bool {
	m := map[string]bool{}
	for _, a := range knownActions {
		m[a] = true
	}
	for _, a := range ActionPrefixes {
		m[a] = true
	}
	return m
}()

// ActionLabelKey returns the message key "audit.action.<action>" of a known
// action or action group, and the raw action otherwise (which the catalog
// shows as it is).
func ActionLabelKey(action string) string {
	if labelled[action] {
		return "audit.action." + action
	}
	return action
}

// ActionLabel returns the label of action in lang: the text of
// "audit.action.<action>" when a catalog has it, else the raw action.
func ActionLabel(c *i18n.Catalog, lang, action string) string {
	if k := "audit.action." + action; c.Has(lang, k) || c.Has(i18n.Default, k) {
		return c.T(lang, k)
	}
	return action
}

// OutcomeLabel returns the label of an outcome in lang
// ("audit.outcome.<outcome>"), else the raw outcome.
func OutcomeLabel(c *i18n.Catalog, lang, outcome string) string {
	if k := "audit.outcome." + outcome; c.Has(i18n.Default, k) {
		return c.T(lang, k)
	}
	return outcome
}
