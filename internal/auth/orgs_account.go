package auth

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/db"
)

// The person's own account and the ways into it: accepting an
// invitation, signing in and out, the second step of a sign-in, the
// password (changed or reset), the profile, the second factors' entries,
// and the audited reads of the audit log and the member list. Each is one
// method that writes in its own transaction and records its entry with
// Record; the doors only parse and render.

// Visitor is where a request from somebody not (yet) signed in came from:
// the sign-in, password-reset and invitation pages.
type Visitor struct {
	IP, UserAgent string
	// Via is the door (audit.ViaWeb).
	Via string
}

// as returns the principal a visitor becomes once known as userID (email)
// in orgID, for the entries it leaves.
func (v Visitor) as(userID, email, orgID string) *Principal {
	return &Principal{UserID: userID, Email: email, OrgID: orgID, IP: v.IP, UserAgent: v.UserAgent, Via: v.Via}
}

// NewMember is what a person invited without an account types to create
// it; the address is the invitation's.
type NewMember struct {
	DisplayName, Lang, Password string
}

// AcceptInvite creates the account of the person invited by the link raw,
// adds them to the organisation and opens their session (its MFA step
// still due when the organisation's policy asks a second factor of their
// role): "org.invite.accept", object "user", in the organisation's log.
func (s *Orgs) AcceptInvite(ctx context.Context, v Visitor, raw string, in NewMember, pol SessionPolicy) (sessRaw string, mfaPending bool, err error) {
	if strings.TrimSpace(in.DisplayName) == "" {
		return "", false, apperr.Field("display_name", "invite.name_required")
	}
	now := s.now()
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		l, err := UseLink(ctx, tx, LinkInvite, raw, now)
		if err != nil {
			return err
		}
		u, err := CreateUser(ctx, tx, NewUser{Email: l.Email, DisplayName: in.DisplayName, Lang: in.Lang, Password: in.Password}, now)
		if err != nil {
			return err
		}
		if mfaPending, err = s.joinByInvite(ctx, tx, l, u, now); err != nil {
			return err
		}
		if sessRaw, _, err = CreateSession(ctx, tx, u.ID, l.OrgID, !mfaPending, v.IP, v.UserAgent, pol, now); err != nil {
			return err
		}
		return s.record(ctx, tx, v.as(u.ID, u.Email, l.OrgID), audit.Event{OrgID: l.OrgID, Action: audit.ActionInviteAccept,
			ObjectType: "user", ObjectID: u.ID, Details: map[string]any{"role": string(l.Role), "new_user": true}})
	})
	if err != nil {
		return "", false, err
	}
	return sessRaw, mfaPending, nil
}

// JoinInvite adds the organisation of the invitation link raw to p, the
// signed-in person it was sent to, and moves p's session (sessionHash)
// there unless the organisation asks a second factor p has not set up
// (hasSecondFactor): "org.invite.accept", object "user", in the joined
// organisation's log. It reports whether the session moved.
func (s *Orgs) JoinInvite(ctx context.Context, p *Principal, sessionHash, raw string, hasSecondFactor bool) (switched bool, err error) {
	now := s.now()
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		l, err := UseLink(ctx, tx, LinkInvite, raw, now)
		if err != nil {
			return err
		}
		if !strings.EqualFold(l.Email, p.Email) {
			return apperr.New(apperr.Forbidden, "invite.wrong_account")
		}
		u, err := GetUser(ctx, tx, p.UserID)
		if err != nil {
			return err
		}
		needsMFA, err := s.joinByInvite(ctx, tx, l, u, now)
		if err != nil {
			return err
		}
		if hasSecondFactor || !needsMFA {
			if err := SwitchSessionOrg(ctx, tx, sessionHash, l.OrgID); err != nil {
				return err
			}
			switched = true
		}
		return s.record(ctx, tx, p, audit.Event{OrgID: l.OrgID, Action: audit.ActionInviteAccept, ObjectType: "user", ObjectID: p.UserID,
			Details: map[string]any{"role": string(l.Role), "new_user": false}})
	})
	return switched, err
}

// joinByInvite adds u to the organisation of the invitation l and tells
// whether that organisation asks u for a second factor.
func (s *Orgs) joinByInvite(ctx context.Context, tx *db.Tx, l *EmailLink, u *User, now time.Time) (needsMFA bool, err error) {
	if err := JoinByInvite(ctx, tx, s.Notices, l, u, now); err != nil {
		return false, err
	}
	o, err := getOrg(ctx, tx, l.OrgID)
	if err != nil {
		return false, err
	}
	return NeedsMFA(l.Role, o.MFAPolicy), nil
}

// SignInFailed records a refused sign-in of the address email (userID
// when the address is known): auth.signin, outcome failure, with the
// reason's message key.
func (s *Orgs) SignInFailed(ctx context.Context, v Visitor, email, userID string, reason error, knownDevice bool) error {
	if s.Audit == nil {
		return nil
	}
	a := v.as(userID, strings.ToLower(email), "").Actor()
	_, err := s.Audit.Append(ctx, s.DB, a.Entry(audit.Event{Action: audit.ActionSignIn, Outcome: audit.Failure,
		Details: map[string]any{"reason": apperr.From(reason).Key, "known_device": knownDevice}}))
	return err
}

// OpenSession opens the session of u, whose password was right, in orgID
// (one of their organisations); mfaPassed is false while a second factor
// is still due. auth.signin, in orgID's log.
func (s *Orgs) OpenSession(ctx context.Context, v Visitor, u *User, orgID string, mfaPassed bool, pol SessionPolicy) (string, *Session, error) {
	var raw string
	var sess *Session
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if raw, sess, err = CreateSession(ctx, tx, u.ID, orgID, mfaPassed, v.IP, v.UserAgent, pol, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, v.as(u.ID, u.Email, orgID), audit.Event{OrgID: orgID, Action: audit.ActionSignIn,
			Details: map[string]any{"mfa_pending": !sess.MFAPassed}})
	})
	if err != nil {
		return "", nil, err
	}
	return raw, sess, nil
}

// PassMFA replaces the partial session sessionHash of p with a full one
// (a new id, so the pre-MFA id is worth nothing) and records the second
// step done with method (auth.mfa).
func (s *Orgs) PassMFA(ctx context.Context, p *Principal, sessionHash, method string, pol SessionPolicy) (string, error) {
	var raw string
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := DeleteSession(ctx, tx, sessionHash); err != nil {
			return err
		}
		var err error
		if raw, _, err = CreateSession(ctx, tx, p.UserID, p.OrgID, true, p.IP, p.UserAgent, pol, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, p, audit.Event{Action: audit.ActionMFA, Details: map[string]any{"method": method}})
	})
	return raw, err
}

// MFAFailed records a refused second step of p's sign-in (auth.mfa,
// outcome failure).
func (s *Orgs) MFAFailed(ctx context.Context, p *Principal, details map[string]any) error {
	return s.record(ctx, s.DB, p, audit.Event{Action: audit.ActionMFA, Outcome: audit.Failure, Details: details})
}

// SecondFactorEntry is the audit entry of p adding (enrol) or removing one
// of their second factors, for the MFA store to write in the transaction
// of the change (mfa.Also): auth.mfa.enrol or auth.mfa.remove, object the
// person ("user") or, for a removed passkey, the passkey.
func (s *Orgs) SecondFactorEntry(p *Principal, enrol bool, method, name, passkeyID string) func(context.Context, db.Querier) error {
	ev := audit.Event{Action: audit.ActionMFAEnrol, ObjectType: "user", ObjectID: p.UserID, Details: map[string]any{"method": method}}
	if enrol && method == "passkey" {
		ev.Details["name"] = name
	}
	if !enrol {
		ev.Action = audit.ActionMFARemove
		if passkeyID != "" {
			ev.ObjectType, ev.ObjectID = "passkey", passkeyID
		}
	}
	return func(ctx context.Context, tx db.Querier) error { return s.record(ctx, tx, p, ev) }
}

// SignOut ends the session sessionHash of userID in orgID
// (auth.signout).
func (s *Orgs) SignOut(ctx context.Context, v Visitor, sessionHash, userID, orgID string) error {
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := DeleteSession(ctx, tx, sessionHash); err != nil {
			return err
		}
		return s.record(ctx, tx, v.as(userID, "", orgID), audit.Event{Action: audit.ActionSignOut})
	})
}

// SignOutEverywhere ends every session of p, the current one included
// (auth.signout_everywhere, object "user").
func (s *Orgs) SignOutEverywhere(ctx context.Context, p *Principal) error {
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		n, err := DeleteUserSessions(ctx, tx, p.UserID, "")
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, p.UserID); err != nil {
			return err
		}
		return s.record(ctx, tx, p, audit.Event{Action: audit.ActionSignOutAll, ObjectType: "user", ObjectID: p.UserID, Details: map[string]any{"sessions": n}})
	})
}

// UpdateProfile changes p's display name and language ("user.update",
// object "user").
func (s *Orgs) UpdateProfile(ctx context.Context, p *Principal, name, lang string) error {
	name = strings.TrimSpace(name)
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := UpdateProfile(ctx, tx, p.UserID, name, lang, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, p, audit.Event{Action: audit.ActionUserUpdate, ObjectType: "user", ObjectID: p.UserID,
			Details: map[string]any{"display_name": name, "lang": lang}})
	})
}

// ChangePassword sets p's password to pw (typed twice: confirm) when
// current is right, and ends p's other sessions (auth.password.change,
// object "user"). A wrong current password is recorded as a failure; ten
// tries in a quarter of an hour are the most.
func (s *Orgs) ChangePassword(ctx context.Context, p *Principal, current, pw, confirm string) error {
	ok, err := Allow(ctx, s.DB, "pwchange:"+p.UserID, 10, 15*time.Minute, s.now())
	if err != nil {
		return err
	}
	if !ok {
		return apperr.New(apperr.RateLimited, "error.rate_limited")
	}
	u, err := GetUser(ctx, s.DB, p.UserID)
	if err != nil {
		return err
	}
	if !CheckPassword(u.PasswordHash, current) {
		_ = s.record(ctx, s.DB, p, audit.Event{Action: audit.ActionPasswordChange, ObjectType: "user", ObjectID: p.UserID,
			Outcome: audit.Failure, Details: map[string]any{"reason": "current_password"}})
		return apperr.Field("current_password", "account.password.current_wrong")
	}
	if pw != confirm {
		return apperr.Field("password_confirm", "account.password.mismatch")
	}
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := SetPassword(ctx, tx, u, pw, s.now()); err != nil {
			return err
		}
		ended, err := DeleteUserSessions(ctx, tx, p.UserID, p.SessionID)
		if err != nil {
			return err
		}
		return s.record(ctx, tx, p, audit.Event{Action: audit.ActionPasswordChange, ObjectType: "user", ObjectID: p.UserID,
			Details: map[string]any{"other_sessions_ended": ended}})
	})
}

// The limits of password-reset requests per hour.
const (
	ResetPerIP    = 20
	ResetPerEmail = 3
)

// ResetMailer queues the mail with the reset link raw to u, in q's
// transaction.
type ResetMailer func(ctx context.Context, q db.Querier, u *User, raw string) error

// RequestReset mails a password-reset link to the account of email, if
// one exists and may sign in (auth.password.reset.request, object
// "user"); an unknown address, a disabled account or too many requests
// for the address do nothing, so the answer tells nothing. Too many
// requests from one address (v.IP) are refused.
func (s *Orgs) RequestReset(ctx context.Context, v Visitor, email string, mail ResetMailer) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	now := s.now()
	ok, err := Allow(ctx, s.DB, "reset-ip:"+v.IP, ResetPerIP, time.Hour, now)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.New(apperr.RateLimited, "reset.rate_limited")
	}
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		ok, err := Allow(ctx, tx, "reset-email:"+email, ResetPerEmail, time.Hour, now)
		if err != nil || !ok {
			return err
		}
		u, err := GetUserByEmail(ctx, tx, email)
		if errors.Is(err, db.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if u.Disabled {
			return nil
		}
		raw, err := CreateLink(ctx, tx, EmailLink{Kind: LinkReset, Email: u.Email, UserID: u.ID}, ResetTTL, now)
		if err != nil {
			return err
		}
		if err := mail(ctx, tx, u, raw); err != nil {
			return err
		}
		return s.record(ctx, tx, v.as(u.ID, u.Email, ""), audit.Event{Action: audit.ActionResetRequest, ObjectType: "user", ObjectID: u.ID})
	})
}

// ResetPassword sets a new password (typed twice: confirm) through the
// reset link raw, uses the link up, ends every session of the person and
// clears their failed sign-ins, in one transaction: a password the policy
// refuses leaves the link usable for another try (auth.password.reset,
// object "user").
func (s *Orgs) ResetPassword(ctx context.Context, v Visitor, raw, pw, confirm string) error {
	if pw != confirm {
		return apperr.Field("password_confirm", "account.password.mismatch")
	}
	now := s.now()
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		l, err := UseLink(ctx, tx, LinkReset, raw, now)
		if err != nil {
			return err
		}
		u, err := GetUser(ctx, tx, l.UserID)
		if err != nil {
			return err
		}
		if !strings.EqualFold(u.Email, l.Email) {
			return apperr.New(apperr.Invalid, "auth.link.invalid")
		}
		if err := SetPassword(ctx, tx, u, pw, now); err != nil {
			return err
		}
		n, err := DeleteUserSessions(ctx, tx, u.ID, "")
		if err != nil {
			return err
		}
		if err := ClearFailures(ctx, tx, "acct:"+u.Email); err != nil {
			return err
		}
		return s.record(ctx, tx, v.as(u.ID, u.Email, ""), audit.Event{Action: audit.ActionPasswordReset, ObjectType: "user", ObjectID: u.ID,
			Details: map[string]any{"sessions_ended": n}})
	})
}

// ReadAuditLog returns the entries of p's organisation's log that f
// selects ("audit.read": its admins and auditors) and records the read
// with extra details (the filter and the page).
func (s *Orgs) ReadAuditLog(ctx context.Context, p *Principal, f audit.Filter, details map[string]any) ([]audit.Entry, error) {
	if err := Authorize(p, "audit.read", Target{OrgID: p.OrgID}); err != nil {
		return nil, err
	}
	if s.Audit == nil {
		return nil, apperr.New(apperr.Unavailable, "error.unavailable")
	}
	entries, err := s.Audit.List(ctx, p.OrgID, f)
	if err != nil {
		return nil, err
	}
	if details == nil {
		details = map[string]any{}
	}
	if _, ok := details["count"]; !ok {
		details["count"] = len(entries)
	}
	if err := s.record(ctx, s.DB, p, audit.Event{Action: audit.ActionAuditRead, ObjectType: "audit_log", ObjectID: p.OrgID, Details: details}); err != nil {
		return nil, err
	}
	return entries, nil
}

// ExportAuditLog records the export of p's organisation's log that f
// selects ("audit.export", under the "audit.read" rule, with details) and
// writes it to w as CSV.
func (s *Orgs) ExportAuditLog(ctx context.Context, p *Principal, f audit.Filter, details map[string]any, w io.Writer) error {
	if err := Authorize(p, "audit.read", Target{OrgID: p.OrgID}); err != nil {
		return err
	}
	if s.Audit == nil {
		return apperr.New(apperr.Unavailable, "error.unavailable")
	}
	if err := s.record(ctx, s.DB, p, audit.Event{Action: audit.ActionAuditExport, ObjectType: "audit_log", ObjectID: p.OrgID,
		Details: details}); err != nil {
		return err
	}
	return s.Audit.WriteCSV(ctx, w, p.OrgID, f)
}

// ReadMembers returns orgID's members (personal data: names, addresses)
// and records the read ("record.sensitive_read", object "members").
func (s *Orgs) ReadMembers(ctx context.Context, p *Principal, orgID string) ([]Membership, error) {
	ms, _, err := s.ReadMembersPage(ctx, p, orgID, All)
	return ms, err
}

// ReadMembersPage is ReadMembers one page at a time; each page read is
// recorded, with the number of members it showed.
func (s *Orgs) ReadMembersPage(ctx context.Context, p *Principal, orgID string, pg Page) ([]Membership, string, error) {
	var ms []Membership
	var next string
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if ms, next, err = PageMembers(ctx, tx, p, orgID, pg); err != nil {
			return err
		}
		return s.record(ctx, tx, p, audit.Event{OrgID: orgID, Action: audit.ActionSensitiveRead, ObjectType: "members", ObjectID: orgID,
			Details: map[string]any{"count": len(ms)}})
	})
	return ms, next, err
}

// Denied records that p was refused a request (access.denied, outcome
// denied, object kind doorKind such as "api") in p's own organisation's
// log, with what was asked in details.
func (s *Orgs) Denied(ctx context.Context, p *Principal, doorKind string, details map[string]any) error {
	return s.record(ctx, s.DB, p, audit.Event{Action: audit.ActionAccessDenied, ObjectType: doorKind,
		Outcome: audit.Denied, Details: details})
}
