package auth

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// ErrBadCredentials is the one message for a wrong e-mail or password: it
// never says which of the two was wrong.
var ErrBadCredentials = apperr.New(apperr.Unauthenticated, "auth.signin.failed")

// LockedError returns the error shown while an account or address is
// locked, saying for how many minutes.
func LockedError(until, now time.Time) error {
	mins := int(math.Ceil(until.Sub(now).Minutes()))
	if mins < 1 {
		mins = 1
	}
	return apperr.New(apperr.RateLimited, "auth.signin.locked", mins)
}

// CheckSignIn verifies an e-mail and password under the throttling rules and
// returns the person. Failures are counted per account and per source
// address in the database, so that every node sees them; a locked key fails
// with LockedError before the password is even checked.
func CheckSignIn(ctx context.Context, q db.Querier, email, password, ip string, now time.Time) (*User, error) {
	email, _ = NormalizeEmail(email)
	acctKey, ipKey := "acct:"+email, "ip:"+ip
	for _, k := range []string{acctKey, ipKey} {
		until, err := LockedUntil(ctx, q, k, now)
		if err != nil {
			return nil, err
		}
		if !until.IsZero() {
			return nil, LockedError(until, now)
		}
	}
	u, err := GetUserByEmail(ctx, q, email)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return nil, err
	}
	ok := false
	if u != nil && u.PasswordHash != "" && !u.Disabled {
		ok = CheckPassword(u.PasswordHash, password)
	} else {
		CheckPassword(dummyHash, password)
	}
	if !ok {
		var locked time.Time
		for k, pol := range map[string]ThrottlePolicy{acctKey: AccountThrottle, ipKey: SourceThrottle} {
			until, err := RecordFailure(ctx, q, k, pol, now)
			if err != nil {
				return nil, err
			}
			if until.After(locked) {
				locked = until
			}
		}
		if !locked.IsZero() {
			return u, LockedError(locked, now)
		}
		return u, ErrBadCredentials
	}
	if err := ClearFailures(ctx, q, acctKey); err != nil {
		return nil, err
	}
	return u, nil
}

// NeedsMFA reports whether a person must pass a second factor in an
// organisation: admins always, everyone when the organisation says so.
func NeedsMFA(role Role, policy MFAPolicy) bool {
	return role == RoleAdmin || policy == MFAEveryone
}
