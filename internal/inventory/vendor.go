package inventory

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// Vendor is a company the institution works with (maker, maintainer,
// system vendor). MedisacOrgID links the vendor's own medisac organisation
// where it has one.
type Vendor struct {
	ID           string    `json:"id"`
	OrgID        string    `json:"org_id"`
	Name         string    `json:"name"`
	MedisacOrgID string    `json:"medisac_org_id"`
	Contact      string    `json:"contact"`
	Phone        string    `json:"phone"`
	Email        string    `json:"email"`
	Notes        string    `json:"notes"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func (v *Vendor) normalize() error {
	trimAll(&v.Name, &v.MedisacOrgID, &v.Contact, &v.Phone, &v.Email, &v.Notes)
	if v.Name == "" {
		return apperr.Field("name", "inventory.error.required")
	}
	if strings.ContainsFunc(v.Email, unicode.IsControl) {
		return apperr.Field("email", "inventory.error.bad_email")
	}
	return nil
}

func checkOrg(ctx context.Context, q db.Querier, id string) error {
	if id == "" {
		return nil
	}
	var one int
	err := db.ScanErr(q.QueryRow(ctx, "SELECT 1 FROM organizations WHERE id = ?", id).Scan(&one))
	if errors.Is(err, db.ErrNotFound) {
		return apperr.Field("medisac_org_id", "inventory.error.ref_not_found")
	}
	return err
}

const vendorSelect = "SELECT id, org_id, name, COALESCE(medisac_org_id, ''), contact, phone, email, notes, created_at, updated_at FROM inv_vendors"

func scanVendor(r scanner) (Vendor, error) {
	var v Vendor
	err := r.Scan(&v.ID, &v.OrgID, &v.Name, &v.MedisacOrgID, &v.Contact, &v.Phone, &v.Email, &v.Notes, &v.CreatedAt, &v.UpdatedAt)
	return v, db.ScanErr(err)
}

// CreateVendor stores a new vendor of the organisation; a name already used
// is a Conflict error.
func CreateVendor(ctx context.Context, q db.Querier, orgID string, v Vendor, now time.Time) (Vendor, error) {
	if err := v.normalize(); err != nil {
		return v, err
	}
	if err := checkOrg(ctx, q, v.MedisacOrgID); err != nil {
		return v, err
	}
	v.ID, v.OrgID, v.CreatedAt, v.UpdatedAt = db.NewID(), orgID, now.UTC().Truncate(time.Microsecond), now.UTC().Truncate(time.Microsecond)
	_, err := q.Exec(ctx, "INSERT INTO inv_vendors (id, org_id, name, medisac_org_id, contact, phone, email, notes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		v.ID, orgID, v.Name, nullID(v.MedisacOrgID), v.Contact, v.Phone, v.Email, v.Notes, v.CreatedAt, v.UpdatedAt)
	return v, conflictAs(err, "name")
}

// GetVendor returns the organisation's vendor id, or db.ErrNotFound.
func GetVendor(ctx context.Context, q db.Querier, orgID, id string) (Vendor, error) {
	return scanVendor(q.QueryRow(ctx, vendorSelect+" WHERE org_id = ? AND id = ?", orgID, id))
}

// UpdateVendor replaces vendor v.ID and returns it before and after.
func UpdateVendor(ctx context.Context, q db.Querier, orgID string, v Vendor, now time.Time) (before, after Vendor, err error) {
	return replaceRow(ctx, q, orgID, v.ID, GetVendor, func() error {
		if err := v.normalize(); err != nil {
			return err
		}
		if err := checkOrg(ctx, q, v.MedisacOrgID); err != nil {
			return err
		}
		res, err := q.Exec(ctx, "UPDATE inv_vendors SET name = ?, medisac_org_id = ?, contact = ?, phone = ?, email = ?, notes = ?, updated_at = ? WHERE org_id = ? AND id = ?",
			v.Name, nullID(v.MedisacOrgID), v.Contact, v.Phone, v.Email, v.Notes, now, orgID, v.ID)
		return affected(res, conflictAs(err, "name"))
	})
}

// DeleteVendor removes the organisation's vendor id (and its contracts) and
// returns it.
func DeleteVendor(ctx context.Context, q db.Querier, orgID, id string) (Vendor, error) {
	return deleteRow(ctx, q, "inv_vendors", orgID, id, GetVendor)
}

// ListVendors returns the organisation's vendors in name order.
func ListVendors(ctx context.Context, q db.Querier, orgID string) ([]Vendor, error) {
	return listRows(ctx, q, scanVendor, vendorSelect+" WHERE org_id = ? ORDER BY name", orgID)
}

// System is an information system of the institution (電子カルテ, PACS,
// 部門システム, ...) to which contracts, the responsibility split, MDS/SDS
// documents and accounts are attached.
type System struct {
	ID          string    `json:"id"`
	OrgID       string    `json:"org_id"`
	Name        string    `json:"name"`
	VendorID    string    `json:"vendor_id"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

const systemSelect = "SELECT id, org_id, name, COALESCE(vendor_id, ''), description, created_at, updated_at FROM inv_systems"

func scanSystem(r scanner) (System, error) {
	var s System
	err := r.Scan(&s.ID, &s.OrgID, &s.Name, &s.VendorID, &s.Description, &s.CreatedAt, &s.UpdatedAt)
	return s, db.ScanErr(err)
}

func (s *System) prepare(ctx context.Context, q db.Querier, orgID string) error {
	trimAll(&s.Name, &s.VendorID, &s.Description)
	if s.Name == "" {
		return apperr.Field("name", "inventory.error.required")
	}
	return checkRef(ctx, q, orgID, "inv_vendors", "vendor_id", s.VendorID)
}

// CreateSystem stores a new system of the organisation; a name already used
// is a Conflict error.
func CreateSystem(ctx context.Context, q db.Querier, orgID string, s System, now time.Time) (System, error) {
	if err := s.prepare(ctx, q, orgID); err != nil {
		return s, err
	}
	s.ID, s.OrgID, s.CreatedAt, s.UpdatedAt = db.NewID(), orgID, now.UTC().Truncate(time.Microsecond), now.UTC().Truncate(time.Microsecond)
	_, err := q.Exec(ctx, "INSERT INTO inv_systems (id, org_id, name, vendor_id, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		s.ID, orgID, s.Name, nullID(s.VendorID), s.Description, s.CreatedAt, s.UpdatedAt)
	return s, conflictAs(err, "name")
}

// GetSystem returns the organisation's system id, or db.ErrNotFound.
func GetSystem(ctx context.Context, q db.Querier, orgID, id string) (System, error) {
	return scanSystem(q.QueryRow(ctx, systemSelect+" WHERE org_id = ? AND id = ?", orgID, id))
}

// UpdateSystem replaces system s.ID and returns it before and after.
func UpdateSystem(ctx context.Context, q db.Querier, orgID string, s System, now time.Time) (before, after System, err error) {
	return replaceRow(ctx, q, orgID, s.ID, GetSystem, func() error {
		if err := s.prepare(ctx, q, orgID); err != nil {
			return err
		}
		res, err := q.Exec(ctx, "UPDATE inv_systems SET name = ?, vendor_id = ?, description = ?, updated_at = ? WHERE org_id = ? AND id = ?",
			s.Name, nullID(s.VendorID), s.Description, now, orgID, s.ID)
		return affected(res, conflictAs(err, "name"))
	})
}

// DeleteSystem removes the organisation's system id with its responsibility
// split, document records and accounts, and returns it. The caller removes
// the document files (DocumentKeys before the delete).
func DeleteSystem(ctx context.Context, q db.Querier, orgID, id string) (System, error) {
	return deleteRow(ctx, q, "inv_systems", orgID, id, GetSystem)
}

// ListSystems returns the organisation's systems in name order.
func ListSystems(ctx context.Context, q db.Querier, orgID string) ([]System, error) {
	return listRows(ctx, q, scanSystem, systemSelect+" WHERE org_id = ? ORDER BY name", orgID)
}

// Contract is a maintenance contract with a vendor covering some systems.
type Contract struct {
	ID                string    `json:"id"`
	OrgID             string    `json:"org_id"`
	VendorID          string    `json:"vendor_id"`
	Title             string    `json:"title"`
	SystemIDs         []string  `json:"system_ids"`
	StartOn           Date      `json:"start_on"`
	EndOn             Date      `json:"end_on"`
	RemoteMaintenance Tri       `json:"remote_maintenance"`
	Contact           string    `json:"contact"`
	Notes             string    `json:"notes"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

func (c *Contract) prepare(ctx context.Context, q db.Querier, orgID string) error {
	trimAll(&c.VendorID, &c.Title, &c.Contact, &c.Notes)
	c.RemoteMaintenance = c.RemoteMaintenance.orUnknown()
	switch {
	case c.Title == "":
		return apperr.Field("title", "inventory.error.required")
	case c.VendorID == "":
		return apperr.Field("vendor_id", "inventory.error.required")
	case !c.StartOn.Valid():
		return apperr.Field("start_on", "inventory.error.bad_date")
	case !c.EndOn.Valid():
		return apperr.Field("end_on", "inventory.error.bad_date")
	case c.EndOn.Before(c.StartOn):
		return apperr.Field("end_on", "inventory.error.end_before_start")
	case !c.RemoteMaintenance.Valid():
		return apperr.Field("remote_maintenance", "inventory.error.bad_choice")
	}
	if err := checkRef(ctx, q, orgID, "inv_vendors", "vendor_id", c.VendorID); err != nil {
		return err
	}
	seen := map[string]bool{}
	ids := []string{}
	for _, id := range c.SystemIDs {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		if err := checkRef(ctx, q, orgID, "inv_systems", "system_ids", id); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	c.SystemIDs = ids
	return nil
}

func (c *Contract) writeSystems(ctx context.Context, q db.Querier, orgID string) error {
	if _, err := q.Exec(ctx, "DELETE FROM inv_contract_systems WHERE org_id = ? AND contract_id = ?", orgID, c.ID); err != nil {
		return err
	}
	for _, id := range c.SystemIDs {
		if _, err := q.Exec(ctx, "INSERT INTO inv_contract_systems (contract_id, system_id, org_id) VALUES (?, ?, ?)", c.ID, id, orgID); err != nil {
			return err
		}
	}
	return nil
}

const contractSelect = "SELECT id, org_id, vendor_id, title, start_on, end_on, remote_maintenance, contact, notes, created_at, updated_at FROM inv_contracts"

func scanContract(r scanner) (Contract, error) {
	var c Contract
	err := r.Scan(&c.ID, &c.OrgID, &c.VendorID, &c.Title, &c.StartOn, &c.EndOn, &c.RemoteMaintenance, &c.Contact, &c.Notes, &c.CreatedAt, &c.UpdatedAt)
	c.SystemIDs = []string{}
	return c, db.ScanErr(err)
}

func (c *Contract) loadSystems(ctx context.Context, q db.Querier, orgID string) error {
	ids, err := db.QueryStrings(ctx, q, "SELECT system_id FROM inv_contract_systems WHERE org_id = ? AND contract_id = ? ORDER BY system_id", orgID, c.ID)
	if err != nil {
		return err
	}
	c.SystemIDs = append([]string{}, ids...)
	return nil
}

// CreateContract stores a new maintenance contract of the organisation; its
// vendor and systems must belong to the organisation.
func CreateContract(ctx context.Context, q db.Querier, orgID string, c Contract, now time.Time) (Contract, error) {
	if err := c.prepare(ctx, q, orgID); err != nil {
		return c, err
	}
	c.ID = db.NewID()
	_, err := q.Exec(ctx, `INSERT INTO inv_contracts (id, org_id, vendor_id, title, start_on, end_on, remote_maintenance, contact, notes,
 created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, orgID, c.VendorID, c.Title, string(c.StartOn), string(c.EndOn), string(c.RemoteMaintenance), c.Contact, c.Notes, now, now)
	if err != nil {
		return c, err
	}
	if err := c.writeSystems(ctx, q, orgID); err != nil {
		return c, err
	}
	return GetContract(ctx, q, orgID, c.ID)
}

// GetContract returns the organisation's contract id, or db.ErrNotFound.
func GetContract(ctx context.Context, q db.Querier, orgID, id string) (Contract, error) {
	c, err := scanContract(q.QueryRow(ctx, contractSelect+" WHERE org_id = ? AND id = ?", orgID, id))
	if err != nil {
		return c, err
	}
	return c, c.loadSystems(ctx, q, orgID)
}

// UpdateContract replaces contract c.ID (and its systems) and returns it
// before and after.
func UpdateContract(ctx context.Context, q db.Querier, orgID string, c Contract, now time.Time) (before, after Contract, err error) {
	return replaceRow(ctx, q, orgID, c.ID, GetContract, func() error {
		if err := c.prepare(ctx, q, orgID); err != nil {
			return err
		}
		res, err := q.Exec(ctx, `UPDATE inv_contracts SET vendor_id = ?, title = ?, start_on = ?, end_on = ?, remote_maintenance = ?, contact = ?,
 notes = ?, updated_at = ? WHERE org_id = ? AND id = ?`,
			c.VendorID, c.Title, string(c.StartOn), string(c.EndOn), string(c.RemoteMaintenance), c.Contact, c.Notes, now, orgID, c.ID)
		if err := affected(res, err); err != nil {
			return err
		}
		return c.writeSystems(ctx, q, orgID)
	})
}

// DeleteContract removes the organisation's contract id and returns it.
func DeleteContract(ctx context.Context, q db.Querier, orgID, id string) (Contract, error) {
	return deleteRow(ctx, q, "inv_contracts", orgID, id, GetContract)
}

// ListContracts returns the organisation's contracts ordered by end date;
// with vendorID set only that vendor's.
func ListContracts(ctx context.Context, q db.Querier, orgID, vendorID string) ([]Contract, error) {
	query, args := contractSelect+" WHERE org_id = ?", []any{orgID}
	if vendorID != "" {
		query, args = query+" AND vendor_id = ?", append(args, vendorID)
	}
	out, err := listRows(ctx, q, scanContract, query+" ORDER BY end_on, title, id", args...)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if err := out[i].loadSystems(ctx, q, orgID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Duty is one duty of the responsibility split (責任分界点).
type Duty string

// The duties of the responsibility split.
const (
	DutyFirmware         Duty = "firmware"
	DutyOSPatch          Duty = "os_patch"
	DutyLogMonitoring    Duty = "log_monitoring"
	DutyBackup           Duty = "backup"
	DutyPassword         Duty = "password"
	DutyIncidentResponse Duty = "incident_first_response"
)

// Duties lists every Duty in display order.
var Duties = []Duty{DutyFirmware, DutyOSPatch, DutyLogMonitoring, DutyBackup, DutyPassword, DutyIncidentResponse}

// Holder says who holds a duty.
type Holder string

// The holders of a duty.
const (
	HolderInstitution Holder = "institution"
	HolderVendor      Holder = "vendor"
	HolderShared      Holder = "shared"
	HolderUndecided   Holder = "undecided"
)

// Holders lists every Holder in display order.
var Holders = []Holder{HolderInstitution, HolderVendor, HolderShared, HolderUndecided}

// Responsibility is one row of a system's responsibility split.
type Responsibility struct {
	Duty   Duty   `json:"duty"`
	Holder Holder `json:"holder"`
	Note   string `json:"note"`
}

// Responsibilities returns the responsibility split of the organisation's
// system: one row per Duty in Duties order, HolderUndecided where nothing
// was recorded. An unknown system is db.ErrNotFound.
func Responsibilities(ctx context.Context, q db.Querier, orgID, systemID string) ([]Responsibility, error) {
	if _, err := GetSystem(ctx, q, orgID, systemID); err != nil {
		return nil, err
	}
	got, err := db.QueryMap(ctx, q, func(sc db.Scanner) (Duty, Responsibility, error) {
		var r Responsibility
		err := sc.Scan(&r.Duty, &r.Holder, &r.Note)
		return r.Duty, r, err
	}, "SELECT duty, holder, note FROM inv_responsibilities WHERE org_id = ? AND system_id = ?", orgID, systemID)
	if err != nil {
		return nil, err
	}
	out := make([]Responsibility, 0, len(Duties))
	for _, d := range Duties {
		r, ok := got[d]
		if !ok {
			r = Responsibility{Duty: d, Holder: HolderUndecided}
		}
		out = append(out, r)
	}
	return out, nil
}

// SetResponsibilities records the given rows of the organisation's system's
// responsibility split (rows not given stay as they were) and returns the
// whole split before and after.
func SetResponsibilities(ctx context.Context, q db.Querier, orgID, systemID string, rs []Responsibility, now time.Time) (before, after []Responsibility, err error) {
	before, err = Responsibilities(ctx, q, orgID, systemID)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range rs {
		if !oneOf(r.Duty, Duties) {
			return nil, nil, apperr.Field("duty", "inventory.error.bad_choice")
		}
		if !oneOf(r.Holder, Holders) {
			return nil, nil, apperr.Field("holder", "inventory.error.bad_choice")
		}
		_, err := q.Exec(ctx, `INSERT INTO inv_responsibilities (org_id, system_id, duty, holder, note, updated_at) VALUES (?, ?, ?, ?, ?, ?)
 ON CONFLICT (system_id, duty) DO UPDATE SET holder = excluded.holder, note = excluded.note, updated_at = excluded.updated_at`,
			orgID, systemID, string(r.Duty), string(r.Holder), r.Note, now)
		if err != nil {
			return nil, nil, err
		}
	}
	after, err = Responsibilities(ctx, q, orgID, systemID)
	return before, after, err
}
