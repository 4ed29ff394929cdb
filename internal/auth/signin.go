package auth

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
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

// Attempt is one sign-in attempt.
type Attempt struct {
	Email    string
	Password string
	// IP is the client address (ClientAddr).
	IP string
	// Device is the id of a valid device cookie for Email (Devices.Check),
	// or empty for a browser that never signed in to the account.
	Device string
}

// passwordChecks counts password hash checks, for the tests that prove
// every answer costs one.
var passwordChecks atomic.Int64

// CheckSignIn is SignIn from a browser without a device cookie.
func CheckSignIn(ctx context.Context, q db.Querier, email, password, ip string, now time.Time) (*User, error) {
	return SignIn(ctx, q, Attempt{Email: email, Password: password, IP: ip}, now)
}

// SignIn verifies an e-mail and password under the throttling rules and
// returns the person. Failures are counted in the database, so that every
// node sees them:
//
//   - from a browser with a valid device cookie for the account: per device
//     only (AccountThrottle), exempt from the address and account locks;
//   - from any other browser: per account (AccountThrottle, keyed by a hash
//     of the address whether or not it is registered) and per client
//     address (SourceThrottle).
//
// Known and unknown addresses, wrong passwords and locked keys all cost one
// password hash check and give the same errors, so that neither the answer
// nor its time tells which addresses are registered. A locked key fails with
// LockedError even when the password is right.
func SignIn(ctx context.Context, q db.Querier, a Attempt, now time.Time) (*User, error) {
	email := normEmail(a.Email)
	type keyPol struct {
		key string
		pol ThrottlePolicy
	}
	keys := []keyPol{{AccountKey(email), AccountThrottle}, {"ip:" + a.IP, SourceThrottle}}
	if a.Device != "" {
		keys = []keyPol{{"dev:" + a.Device, AccountThrottle}}
	}
	var locked time.Time
	for _, k := range keys {
		until, err := LockedUntil(ctx, q, k.key, now)
		if err != nil {
			return nil, err
		}
		if until.After(locked) {
			locked = until
		}
	}
	u, err := GetUserByEmail(ctx, q, email)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return nil, err
	}
	hash := dummyHash
	if u != nil && u.PasswordHash != "" && !u.Disabled {
		hash = u.PasswordHash
	}
	passwordChecks.Add(1)
	ok := CheckPassword(hash, a.Password) && hash != dummyHash
	if !locked.IsZero() {
		return u, LockedError(locked, now)
	}
	if !ok {
		for _, k := range keys {
			until, err := RecordFailure(ctx, q, k.key, k.pol, now)
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
	if err := ClearFailures(ctx, q, keys[0].key); err != nil {
		return nil, err
	}
	return u, nil
}

// NeedsMFA reports whether a person must pass a second factor in an
// organisation: admins always, everyone when the organisation says so.
func NeedsMFA(role Role, policy MFAPolicy) bool {
	return role == RoleAdmin || policy == MFAEveryone
}
