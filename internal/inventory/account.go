package inventory

import (
	"context"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// AccountKind classifies an account in the account inventory.
type AccountKind string

// The account kinds.
const (
	AccountPersonal AccountKind = "personal"
	AccountShared   AccountKind = "shared"
	AccountVendor   AccountKind = "vendor"
	AccountAdmin    AccountKind = "admin"
	AccountService  AccountKind = "service"
)

// AccountKinds lists every AccountKind.
var AccountKinds = []AccountKind{AccountPersonal, AccountShared, AccountVendor, AccountAdmin, AccountService}

// AccountState is the state of an account.
type AccountState string

// The account states.
const (
	AccountActive   AccountState = "active"
	AccountDisabled AccountState = "disabled"
	AccountRemoved  AccountState = "removed"
)

// AccountStates lists every AccountState.
var AccountStates = []AccountState{AccountActive, AccountDisabled, AccountRemoved}

// Account is one account on a system or device (アカウント棚卸). Admin says
// it has administrator rights; HolderLeft that the person holding it has
// left the institution. Flags is filled by reads.
type Account struct {
	ID             string       `json:"id"`
	OrgID          string       `json:"org_id"`
	SystemID       string       `json:"system_id"`
	AssetID        string       `json:"asset_id"`
	Username       string       `json:"username"`
	Kind           AccountKind  `json:"kind"`
	Admin          bool         `json:"admin"`
	Holder         string       `json:"holder"`
	HolderLeft     bool         `json:"holder_left"`
	ExpiresOn      Date         `json:"expires_on"`
	LastReviewedOn Date         `json:"last_reviewed_on"`
	State          AccountState `json:"state"`
	Notes          string       `json:"notes"`
	CreatedAt      time.Time    `json:"created_at"`
	UpdatedAt      time.Time    `json:"updated_at"`
	Flags          []Flag       `json:"flags"`
}

func (a *Account) prepare(ctx context.Context, q db.Querier, orgID string) error {
	trimAll(&a.SystemID, &a.AssetID, &a.Username, &a.Holder, &a.Notes)
	if a.State == "" {
		a.State = AccountActive
	}
	if a.Kind == AccountAdmin {
		a.Admin = true
	}
	switch {
	case a.Username == "":
		return apperr.Field("username", "inventory.error.required")
	case a.SystemID == "" && a.AssetID == "":
		return apperr.Field("system_id", "inventory.error.account_scope")
	case !oneOf(a.Kind, AccountKinds):
		return apperr.Field("kind", "inventory.error.bad_choice")
	case !oneOf(a.State, AccountStates):
		return apperr.Field("state", "inventory.error.bad_choice")
	case !a.ExpiresOn.Valid():
		return apperr.Field("expires_on", "inventory.error.bad_date")
	case !a.LastReviewedOn.Valid():
		return apperr.Field("last_reviewed_on", "inventory.error.bad_date")
	}
	if err := checkRef(ctx, q, orgID, "inv_systems", "system_id", a.SystemID); err != nil {
		return err
	}
	return checkRef(ctx, q, orgID, "inv_assets", "asset_id", a.AssetID)
}

// AccountFlags returns the flags of an active account: a shared account with
// administrator rights, a vendor account without an expiry date (or past
// it), and an account of a person who has left.
func AccountFlags(a Account, today Date) []Flag {
	out := []Flag{}
	if a.State != AccountActive {
		return out
	}
	if a.Admin && a.Kind == AccountShared {
		out = append(out, flag(FlagSharedAdmin))
	}
	if a.Kind == AccountVendor && (a.ExpiresOn == "" || a.ExpiresOn.Before(today)) {
		out = append(out, flag(FlagVendorNoExpiry))
	}
	if a.HolderLeft {
		out = append(out, flag(FlagLeaver, a.Holder))
	}
	return out
}

const accountSelect = `SELECT id, org_id, COALESCE(system_id, ''), COALESCE(asset_id, ''), username, kind, admin, holder, holder_left,
 expires_on, last_reviewed_on, state, notes, created_at, updated_at FROM inv_accounts`

func scanAccount(r scanner, today Date) (Account, error) {
	var a Account
	err := r.Scan(&a.ID, &a.OrgID, &a.SystemID, &a.AssetID, &a.Username, &a.Kind, &a.Admin, &a.Holder, &a.HolderLeft,
		&a.ExpiresOn, &a.LastReviewedOn, &a.State, &a.Notes, &a.CreatedAt, &a.UpdatedAt)
	a.Flags = AccountFlags(a, today)
	return a, db.ScanErr(err)
}

// CreateAccount stores a new account of the organisation; its system or
// device must belong to the organisation.
func CreateAccount(ctx context.Context, q db.Querier, orgID string, a Account, now time.Time) (Account, error) {
	if err := a.prepare(ctx, q, orgID); err != nil {
		return a, err
	}
	a.ID = db.NewID()
	_, err := q.Exec(ctx, `INSERT INTO inv_accounts (id, org_id, system_id, asset_id, username, kind, admin, holder, holder_left, expires_on,
 last_reviewed_on, state, notes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, orgID, nullID(a.SystemID), nullID(a.AssetID), a.Username, string(a.Kind), a.Admin, a.Holder, a.HolderLeft,
		string(a.ExpiresOn), string(a.LastReviewedOn), string(a.State), a.Notes, now, now)
	if err != nil {
		return a, err
	}
	return GetAccount(ctx, q, orgID, a.ID, DateOf(now))
}

// GetAccount returns the organisation's account id with its flags as of
// today, or db.ErrNotFound.
func GetAccount(ctx context.Context, q db.Querier, orgID, id string, today Date) (Account, error) {
	return scanAccount(q.QueryRow(ctx, accountSelect+" WHERE org_id = ? AND id = ?", orgID, id), today)
}

// UpdateAccount replaces account a.ID and returns it before and after.
func UpdateAccount(ctx context.Context, q db.Querier, orgID string, a Account, now time.Time) (before, after Account, err error) {
	return replaceRow(ctx, q, orgID, a.ID, asOf(GetAccount, DateOf(now)), func() error {
		if err := a.prepare(ctx, q, orgID); err != nil {
			return err
		}
		return affected(q.Exec(ctx, `UPDATE inv_accounts SET system_id = ?, asset_id = ?, username = ?, kind = ?, admin = ?, holder = ?, holder_left = ?,
 expires_on = ?, last_reviewed_on = ?, state = ?, notes = ?, updated_at = ? WHERE org_id = ? AND id = ?`,
			nullID(a.SystemID), nullID(a.AssetID), a.Username, string(a.Kind), a.Admin, a.Holder, a.HolderLeft, string(a.ExpiresOn),
			string(a.LastReviewedOn), string(a.State), a.Notes, now, orgID, a.ID))
	})
}

// DeleteAccount removes the organisation's account id and returns it.
func DeleteAccount(ctx context.Context, q db.Querier, orgID, id string) (Account, error) {
	return deleteRow(ctx, q, "inv_accounts", orgID, id, asOf(GetAccount, ""))
}

// AccountFilter narrows ListAccounts; zero fields do not filter.
type AccountFilter struct {
	SystemID string
	AssetID  string
	// Flagged keeps only accounts with at least one flag.
	Flagged bool
}

// ListAccounts returns the organisation's accounts ordered by user name,
// with their flags as of today.
func ListAccounts(ctx context.Context, q db.Querier, orgID string, f AccountFilter, today Date) ([]Account, error) {
	query, args := accountSelect+" WHERE org_id = ?", []any{orgID}
	if f.SystemID != "" {
		query, args = query+" AND system_id = ?", append(args, f.SystemID)
	}
	if f.AssetID != "" {
		query, args = query+" AND asset_id = ?", append(args, f.AssetID)
	}
	all, err := listRows(ctx, q, func(r scanner) (Account, error) { return scanAccount(r, today) }, query+" ORDER BY username, id", args...)
	if err != nil || !f.Flagged {
		return all, err
	}
	out := []Account{}
	for _, a := range all {
		if len(a.Flags) > 0 {
			out = append(out, a)
		}
	}
	return out, nil
}
