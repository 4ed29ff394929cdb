package inventory

import (
	"context"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// Connection is an external connection (外部接続): a line or service through
// which the institution's network meets the outside. Flags is filled by
// ListConnections and GetConnection.
type Connection struct {
	ID    string   `json:"id"`
	OrgID string   `json:"org_id"`
	Name  string   `json:"name"`
	Type  ConnType `json:"type"`
	// AssetID is the terminating device (an asset), or "".
	AssetID        string    `json:"asset_id"`
	AssetName      string    `json:"asset_name"`
	Peer           string    `json:"peer"`
	VendorID       string    `json:"vendor_id"`
	VendorName     string    `json:"vendor_name"`
	Purpose        string    `json:"purpose"`
	MFA            Tri       `json:"mfa"`
	Manager        Manager   `json:"manager"`
	LastReviewedOn Date      `json:"last_reviewed_on"`
	Notes          string    `json:"notes"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Flags          []Flag    `json:"flags"`
}

func (c *Connection) normalize() error {
	trimAll(&c.Name, &c.AssetID, &c.Peer, &c.VendorID, &c.Purpose, &c.Notes)
	c.MFA = c.MFA.orUnknown()
	if c.Manager == "" {
		c.Manager = ManagerUnknown
	}
	if c.Type == "" {
		c.Type = ConnOther
	}
	switch {
	case c.Name == "":
		return apperr.Field("name", "inventory.error.required")
	case !oneOf(c.Type, ConnTypes):
		return apperr.Field("type", "inventory.error.bad_choice")
	case !c.MFA.Valid():
		return apperr.Field("mfa", "inventory.error.bad_choice")
	case !oneOf(c.Manager, Managers):
		return apperr.Field("manager", "inventory.error.bad_choice")
	case !c.LastReviewedOn.Valid():
		return apperr.Field("last_reviewed_on", "inventory.error.bad_date")
	}
	return nil
}

func (c *Connection) checkRefs(ctx context.Context, q db.Querier, orgID string) error {
	if err := checkRef(ctx, q, orgID, "inv_assets", "asset_id", c.AssetID); err != nil {
		return err
	}
	return checkRef(ctx, q, orgID, "inv_vendors", "vendor_id", c.VendorID)
}

const connSelect = `SELECT c.id, c.org_id, c.name, c.type, COALESCE(c.asset_id, ''), COALESCE(a.name, ''), c.peer,
 COALESCE(c.vendor_id, ''), COALESCE(v.name, ''), c.purpose, c.mfa, c.manager, c.last_reviewed_on, c.notes, c.created_at, c.updated_at
 FROM inv_connections c LEFT JOIN inv_assets a ON a.id = c.asset_id LEFT JOIN inv_vendors v ON v.id = c.vendor_id`

func scanConn(r scanner) (Connection, error) {
	var c Connection
	err := r.Scan(&c.ID, &c.OrgID, &c.Name, &c.Type, &c.AssetID, &c.AssetName, &c.Peer, &c.VendorID, &c.VendorName,
		&c.Purpose, &c.MFA, &c.Manager, &c.LastReviewedOn, &c.Notes, &c.CreatedAt, &c.UpdatedAt)
	c.Flags = []Flag{}
	return c, db.ScanErr(err)
}

// CreateConnection stores a new external connection of the organisation.
// Its terminating device and vendor must belong to the organisation; a name
// already used is a Conflict error.
func CreateConnection(ctx context.Context, q db.Querier, orgID string, c Connection, now time.Time) (Connection, error) {
	if err := c.normalize(); err != nil {
		return c, err
	}
	if err := c.checkRefs(ctx, q, orgID); err != nil {
		return c, err
	}
	c.ID = db.NewID()
	_, err := q.Exec(ctx, `INSERT INTO inv_connections (id, org_id, name, type, asset_id, peer, vendor_id, purpose, mfa, manager,
 last_reviewed_on, notes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, orgID, c.Name, string(c.Type), nullID(c.AssetID), c.Peer, nullID(c.VendorID), c.Purpose, string(c.MFA),
		string(c.Manager), string(c.LastReviewedOn), c.Notes, now, now)
	if err != nil {
		return c, conflictAs(err, "name")
	}
	return GetConnection(ctx, q, orgID, c.ID, DateOf(now))
}

// GetConnection returns the organisation's external connection id with its
// flags as of today, or db.ErrNotFound.
func GetConnection(ctx context.Context, q db.Querier, orgID, id string, today Date) (Connection, error) {
	c, err := scanConn(q.QueryRow(ctx, connSelect+" WHERE c.org_id = ? AND c.id = ?", orgID, id))
	if err != nil {
		return c, err
	}
	var dev *Asset
	if c.AssetID != "" {
		a, err := GetAsset(ctx, q, orgID, c.AssetID)
		if err != nil {
			return c, err
		}
		dev = &a
	}
	c.Flags = ConnectionFlags(c, dev, today)
	return c, nil
}

// UpdateConnection replaces external connection c.ID and returns it before
// and after.
func UpdateConnection(ctx context.Context, q db.Querier, orgID string, c Connection, now time.Time) (before, after Connection, err error) {
	return replaceRow(ctx, q, orgID, c.ID, asOf(GetConnection, DateOf(now)), func() error {
		if err := c.normalize(); err != nil {
			return err
		}
		if err := c.checkRefs(ctx, q, orgID); err != nil {
			return err
		}
		res, err := q.Exec(ctx, `UPDATE inv_connections SET name = ?, type = ?, asset_id = ?, peer = ?, vendor_id = ?, purpose = ?, mfa = ?,
 manager = ?, last_reviewed_on = ?, notes = ?, updated_at = ? WHERE org_id = ? AND id = ?`,
			c.Name, string(c.Type), nullID(c.AssetID), c.Peer, nullID(c.VendorID), c.Purpose, string(c.MFA), string(c.Manager),
			string(c.LastReviewedOn), c.Notes, now, orgID, c.ID)
		return affected(res, conflictAs(err, "name"))
	})
}

// DeleteConnection removes the organisation's external connection id and
// returns it.
func DeleteConnection(ctx context.Context, q db.Querier, orgID, id string) (Connection, error) {
	return deleteRow(ctx, q, "inv_connections", orgID, id, func(ctx context.Context, q db.Querier, orgID, id string) (Connection, error) {
		return scanConn(q.QueryRow(ctx, connSelect+" WHERE c.org_id = ? AND c.id = ?", orgID, id))
	})
}

// ListConnections returns the organisation's external connections in name
// order with their flags as of today.
func ListConnections(ctx context.Context, q db.Querier, orgID string, today Date) ([]Connection, error) {
	out, err := listRows(ctx, q, scanConn, connSelect+" WHERE c.org_id = ? ORDER BY c.name", orgID)
	if err != nil {
		return nil, err
	}
	devices := map[string]*Asset{}
	for i := range out {
		id := out[i].AssetID
		if id == "" {
			continue
		}
		if _, ok := devices[id]; !ok {
			a, err := GetAsset(ctx, q, orgID, id)
			if err != nil {
				return nil, err
			}
			devices[id] = &a
		}
		out[i].Flags = ConnectionFlags(out[i], devices[id], today)
	}
	for i := range out {
		if out[i].AssetID == "" {
			out[i].Flags = ConnectionFlags(out[i], nil, today)
		}
	}
	return out, nil
}
