package auth_test

import (
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/permissions.md from the permission table")

// TestPermissionsDoc keeps docs/permissions.md equal to the table.
func TestPermissionsDoc(t *testing.T) {
	const path = "../../docs/permissions.md"
	want := auth.PermissionsMarkdown()
	if *updateDocs {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("docs/permissions.md differs from the permission table; run go test ./internal/auth -run TestPermissionsDoc -update")
	}
}

// policyPrincipals are the principals the authorization walks use, all
// aimed at objects of organisation "A" (a hospital).
func policyPrincipals() map[string]*auth.Principal {
	pr := func(user, org string, kind auth.OrgKind, role auth.Role) *auth.Principal {
		return &auth.Principal{UserID: user, OrgID: org, OrgKind: kind, Role: role}
	}
	ro := pr("a-admin", "A", auth.KindHospital, auth.RoleAdmin)
	ro.TokenID, ro.TokenWrite = "tok", false
	return map[string]*auth.Principal{
		"member admin":    pr("a-admin", "A", auth.KindHospital, auth.RoleAdmin),
		"member staff":    pr("a-staff", "A", auth.KindHospital, auth.RoleStaff),
		"member auditor":  pr("a-auditor", "A", auth.KindHospital, auth.RoleAuditor),
		"read-only token": ro,
		"other member":    pr("b-admin", "B", auth.KindClinic, auth.RoleAdmin),
		"vendor":          pr("v-admin", "V", auth.KindVendor, auth.RoleAdmin),
		"ISAC admin":      pr("i-admin", "I", auth.KindISAC, auth.RoleAdmin),
		"ISAC staff":      pr("i-staff", "I", auth.KindISAC, auth.RoleStaff),
		"ISAC auditor":    pr("i-auditor", "I", auth.KindISAC, auth.RoleAuditor),
	}
}

// TestPolicyInvariants walks every action of the table with every
// principal and checks the rules that hold whatever a row says.
func TestPolicyInvariants(t *testing.T) {
	rules := auth.Rules()
	if len(rules) < 40 {
		t.Fatalf("the table has %d rules; every audited action needs one", len(rules))
	}
	target := auth.Target{OrgID: "A", AuthorID: "a-staff"}
	for _, r := range rules {
		for name, p := range policyPrincipals() {
			ok := auth.Allowed(p, r.Action, target)
			err := auth.Authorize(p, r.Action, target)
			if ok != (err == nil) {
				t.Errorf("%s / %s: Allowed %v but Authorize %v", r.Action, name, ok, err)
			}
			if r.Writes && !r.OwnSafety && !p.CanWrite() && ok {
				t.Errorf("%s / %s: a read-only principal may change data", r.Action, name)
			}
			if r.Writes && p.TokenID != "" && !p.TokenWrite && ok {
				t.Errorf("%s / %s: a read-only token may change data", r.Action, name)
			}
			// Another member organisation never learns that A's object exists.
			if name == "other member" || name == "vendor" {
				hasSelf := false
				for _, g := range r.Grants {
					hasSelf = hasSelf || g.Scope == auth.ScopeSelf
				}
				if !hasSelf && !errors.Is(err, db.ErrNotFound) {
					t.Errorf("%s / %s: want not found for another organisation's object, got %v", r.Action, name, err)
				}
			}
			// An operator never learns of a member's object through a rule
			// without a service grant: it looks missing, as to anyone else.
			if strings.HasPrefix(name, "ISAC") && !ok {
				svc := false
				for _, g := range r.Grants {
					svc = svc || g.Scope == auth.ScopeService || g.Scope == auth.ScopeSelf
				}
				if !svc && !errors.Is(err, db.ErrNotFound) {
					t.Errorf("%s / %s: want not found for a member's object, got %v", r.Action, name, err)
				}
			}
			// Operators never change a member's data except service records.
			if strings.HasPrefix(name, "ISAC") && ok {
				svc := false
				for _, g := range r.Grants {
					svc = svc || g.Scope == auth.ScopeService || g.Scope == auth.ScopeSelf
				}
				if !svc {
					t.Errorf("%s / %s: an operator reaches a member's data", r.Action, name)
				}
			}
			if err != nil && !errors.Is(err, db.ErrNotFound) {
				if ae := apperr.From(err); ae.Code != apperr.Forbidden {
					t.Errorf("%s / %s: want forbidden, got %v", r.Action, name, err)
				}
			}
		}
	}
	if auth.Allowed(policyPrincipals()["member admin"], "no.such.action", target) {
		t.Fatal("an action missing from the table is allowed")
	}
}

// TestPolicyFindings pins the rows behind the review's findings.
func TestPolicyFindings(t *testing.T) {
	ps := policyPrincipals()
	a := auth.Target{OrgID: "A"}
	cases := []struct {
		who, action string
		t           auth.Target
		want        bool
	}{
		{"ISAC staff", "org.update.kind", a, false},
		{"ISAC staff", "org.update", a, false},
		{"ISAC staff", "org.update.mfa_policy", a, false},
		{"ISAC admin", "org.update.kind", a, true},
		{"ISAC admin", "org.update.mfa_policy", a, false},
		{"member admin", "org.update.kind", a, false},
		{"member admin", "org.update", a, true},
		{"member staff", "org.update", a, false},
		{"ISAC admin", "org.invite", a, false},
		{"ISAC admin", "org.member.role", a, false},
		{"ISAC admin", "org.member.remove", a, false},
		{"member admin", "org.invite", a, true},
		{"ISAC admin", "org.invite.first", a, true},
		{"ISAC staff", "org.invite.first", a, false},
		{"ISAC admin", "org.proposal", a, true},
		{"ISAC staff", "org.proposal", a, false},
		{"member admin", "org.proposal", a, false},
		{"ISAC admin", "org.proposal.answer", a, false},
		{"member admin", "org.proposal.answer", a, true},
		{"member staff", "org.proposal.answer", a, false},
		{"member admin", "org.proposal.read", a, true},
		{"member staff", "org.proposal.read", a, false},
		{"ISAC admin", "org.proposal.read", a, false},
		{"ISAC admin", "record.read.members", a, false},
		{"ISAC admin", "org.invite.revoke", a, false},
		{"member admin", "org.invite.revoke", a, true},
		{"member admin", "org.update.mfa_policy", a, true},
		{"ISAC admin", "org.update", a, true},
		{"ISAC admin", "org.create", auth.Target{}, true},
		{"ISAC staff", "org.create", auth.Target{}, false},
		{"member admin", "org.create", auth.Target{}, false},
		{"member staff", "share.post.recipients", auth.Target{OrgID: "A", AuthorID: "a-admin"}, false},
		{"member staff", "share.post.delete", auth.Target{OrgID: "A", AuthorID: "a-admin"}, false},
		{"member staff", "share.post.delete", auth.Target{OrgID: "A", AuthorID: "a-staff"}, true},
		{"member admin", "share.post.recipients", auth.Target{OrgID: "A", AuthorID: "a-staff"}, true},
	}
	for _, c := range cases {
		if got := auth.Allowed(ps[c.who], c.action, c.t); got != c.want {
			t.Errorf("%s may %s: got %v, want %v", c.who, c.action, got, c.want)
		}
	}
	// An operator's refusal on a member's people looks like a missing
	// object; on a field of the record it may see, it is forbidden.
	for _, action := range []string{"org.member.role", "org.member.remove", "org.invite", "record.read.members", "org.update.mfa_policy"} {
		if err := auth.Authorize(ps["ISAC admin"], action, a); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("ISAC admin %s on A: %v, want not found", action, err)
		}
	}
	if err := auth.Authorize(ps["ISAC staff"], "org.update.kind", a); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("ISAC staff org.update.kind on A: %v, want forbidden", err)
	}
	// An operator refused a member's data finds nothing; refused a
	// service record it may see, it is told so.
	if err := auth.Authorize(ps["ISAC admin"], "org.member.role", a); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("ISAC admin changing A's member role: %v", err)
	}
	if err := auth.Authorize(ps["ISAC admin"], "inventory.write", a); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("ISAC admin writing A's register: %v", err)
	}
	if err := auth.Authorize(ps["ISAC staff"], "org.update.kind", a); apperr.From(err).Code != apperr.Forbidden {
		t.Errorf("ISAC staff changing A's kind: %v", err)
	}
}

// TestAuthorizeMember checks the organisation-data form of Authorize:
// anyone outside the organisation, operators included, finds nothing;
// inside, the table decides.
func TestAuthorizeMember(t *testing.T) {
	ps := policyPrincipals()
	for name, want := range map[string]string{
		"member admin": "", "member staff": "", "member auditor": "forbidden", "read-only token": "forbidden",
		"other member": "not found", "vendor": "not found", "ISAC admin": "not found", "ISAC staff": "not found", "ISAC auditor": "not found",
	} {
		err := auth.AuthorizeMember(ps[name], "inventory.write", "A")
		got := ""
		switch {
		case errors.Is(err, db.ErrNotFound):
			got = "not found"
		case err != nil && apperr.From(err).Code == apperr.Forbidden:
			got = "forbidden"
		case err != nil:
			got = err.Error()
		}
		if got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	// The table still decides inside an organisation: ISAC operators have
	// no register of their own.
	if err := auth.AuthorizeMember(ps["ISAC admin"], "inventory.write", "I"); apperr.From(err).Code != apperr.Forbidden {
		t.Errorf("operator in its own organisation: %v", err)
	}
	if err := auth.AuthorizeMember(nil, "inventory.write", "A"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("nobody: %v", err)
	}
}

// TestOwnTokenRevoke: everyone, auditors included, may revoke their own
// API tokens through a session (a safety action, offered on the account
// page to all), but never through a read-only token, and nobody may revoke
// anyone else's.
func TestOwnTokenRevoke(t *testing.T) {
	ps := policyPrincipals()
	for name, p := range ps {
		own := auth.Target{UserID: p.UserID}
		err := auth.Authorize(p, "auth.token.revoke", own)
		if name == "read-only token" {
			if ae := apperr.From(err); err == nil || ae.Code != apperr.Forbidden || ae.Key != "auth.token.revoke_read_only" {
				t.Errorf("%s revoking its owner's token: %v", name, err)
			}
		} else if err != nil {
			t.Errorf("%s revoking its own token: %v", name, err)
		}
		if auth.Allowed(p, "auth.token.revoke", auth.Target{UserID: "someone-else"}) {
			t.Errorf("%s may revoke another person's token", name)
		}
	}
	// The same holds for a write token of an auditor: it is the auditor's
	// own credential.
	a := *ps["member auditor"]
	a.TokenID, a.TokenWrite = "tok", true
	if err := auth.Authorize(&a, "auth.token.revoke", auth.Target{UserID: a.UserID}); err != nil {
		t.Errorf("auditor's token revoking the auditor's token: %v", err)
	}
	a.TokenWrite = false
	if auth.Allowed(&a, "auth.token.revoke", auth.Target{UserID: a.UserID}) {
		t.Error("an auditor's read-only token may revoke tokens")
	}
	// Other changes stay closed to auditors.
	if auth.Allowed(ps["member auditor"], "auth.token.revoke", auth.Target{UserID: "a-admin"}) {
		t.Error("an auditor may revoke the admin's token")
	}
}
