package auth

import "github.com/medisac/medisac/internal/audit"

// Principal is who is acting: a signed-in person in their current
// organisation, or an API token's owner. Handlers get it from the request
// context and pass it to every store call.
type Principal struct {
	UserID      string
	Email       string
	DisplayName string
	Lang        string
	OrgID       string
	OrgName     string
	OrgKind     OrgKind
	Role        Role
	// TokenID is set when the request is authenticated by an API token.
	TokenID string
	// TokenWrite is the token's scope; it is ignored for sessions.
	TokenWrite bool
	// SessionID is the hash of the session id for session requests.
	SessionID string
	// IP, UserAgent and Via (audit.ViaWeb, ViaAPI, ViaCLI) say where the
	// request came from; the door that built the principal sets them.
	IP, UserAgent, Via string
	// System marks the command line and the server's own jobs: whoever
	// runs them holds the database itself, so they pass every permission
	// check; their entries say so (Via).
	System bool
}

// Actor returns who p is for the audit log.
func (p *Principal) Actor() audit.Actor {
	if p == nil {
		return audit.Actor{Via: audit.ViaSystem}
	}
	return audit.Actor{UserID: p.UserID, Email: p.Email, OrgID: p.OrgID, TokenID: p.TokenID,
		IP: p.IP, UserAgent: p.UserAgent, Via: p.Via}
}

// CommandLine returns the principal of a command run on the server by the
// operating-system user user, acting on organisation orgID (may be empty).
func CommandLine(user, orgID string) *Principal {
	if user == "" {
		user = "unknown"
	}
	return &Principal{UserID: "cli:" + user, Email: "cli:" + user, OrgID: orgID, Role: RoleAdmin,
		IP: "local", UserAgent: "medisac-cli", Via: audit.ViaCLI, System: true}
}

// IsOperator reports whether p acts for an ISAC operator organisation.
// Operators manage organisations but do not read their data.
func (p *Principal) IsOperator() bool { return p != nil && p.OrgKind == KindISAC && p.OrgID != "" }

// CanSeeOrg reports whether p may see the organisation record orgID itself
// (not its data): its members and ISAC operators.
func (p *Principal) CanSeeOrg(orgID string) bool {
	return p != nil && (p.OrgID == orgID || p.IsOperator())
}

// CanWrite reports whether p may change anything: auditors read only, and
// read-only tokens cannot write.
func (p *Principal) CanWrite() bool {
	if p == nil || p.Role == RoleAuditor {
		return false
	}
	if p.TokenID != "" && !p.TokenWrite {
		return false
	}
	return true
}

// IsAdmin reports whether p is an admin of its current organisation.
func (p *Principal) IsAdmin() bool { return p != nil && p.Role == RoleAdmin }
