// Package inventory is the asset and external-connection register (資産台帳)
// of an organisation: assets and their change history, network segments and
// the communication allowed between them, external connections, vendors,
// systems, maintenance contracts, the responsibility split (責任分界点),
// MDS/SDS documents, the account inventory, CSV/xlsx/nmap import, export,
// the network overview diagram and the three urgent measures.
//
// Every store function takes the tenant as a required argument
// (ctx, q db.Querier, orgID, ...) and adds org_id to each statement itself:
// another organisation's row behaves exactly like a missing one
// (db.ErrNotFound). Store functions take a db.Querier so that callers can run
// them inside a transaction together with an audit-log entry.
package inventory

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
)

// Tri is a yes/no/unknown answer.
type Tri string

// The values of Tri.
const (
	Yes     Tri = "yes"
	No      Tri = "no"
	Unknown Tri = "unknown"
)

// Valid reports whether t is one of Yes, No, Unknown.
func (t Tri) Valid() bool { return t == Yes || t == No || t == Unknown }

func (t Tri) orUnknown() Tri {
	if t == "" {
		return Unknown
	}
	return t
}

// AssetKind classifies an asset.
type AssetKind string

// The asset kinds.
const (
	KindServer  AssetKind = "server"
	KindPC      AssetKind = "pc"
	KindNetwork AssetKind = "network"
	KindMedical AssetKind = "medical"
	KindIoT     AssetKind = "iot"
	KindPrinter AssetKind = "printer"
	KindCloud   AssetKind = "cloud"
	KindOther   AssetKind = "other"
)

// AssetKinds lists every AssetKind in display order.
var AssetKinds = []AssetKind{KindServer, KindPC, KindNetwork, KindMedical, KindIoT, KindPrinter, KindCloud, KindOther}

// Lifecycle is the lifecycle state of an asset.
type Lifecycle string

// The lifecycle states.
const (
	InUse   Lifecycle = "in_use"
	Spare   Lifecycle = "spare"
	Retired Lifecycle = "retired"
)

// Lifecycles lists every Lifecycle in display order.
var Lifecycles = []Lifecycle{InUse, Spare, Retired}

// SegmentKind is the purpose of a network segment.
type SegmentKind string

// The segment kinds.
const (
	SegMedical     SegmentKind = "medical"
	SegBusiness    SegmentKind = "business"
	SegMaintenance SegmentKind = "maintenance"
	SegGuest       SegmentKind = "guest"
	SegDMZ         SegmentKind = "dmz"
	SegOther       SegmentKind = "other"
)

// SegmentKinds lists every SegmentKind in display order.
var SegmentKinds = []SegmentKind{SegMedical, SegBusiness, SegMaintenance, SegGuest, SegDMZ, SegOther}

// ConnType is the type of an external connection.
type ConnType string

// The external connection types.
const (
	ConnInternet      ConnType = "internet"
	ConnIPsecVPN      ConnType = "ipsec_vpn"
	ConnSSLVPN        ConnType = "ssl_vpn"
	ConnMobile        ConnType = "mobile"
	ConnISDN          ConnType = "isdn"
	ConnLeasedLine    ConnType = "leased_line"
	ConnRemoteDesktop ConnType = "remote_desktop"
	ConnCloud         ConnType = "cloud"
	ConnOther         ConnType = "other"
)

// ConnTypes lists every ConnType in display order.
var ConnTypes = []ConnType{ConnInternet, ConnIPsecVPN, ConnSSLVPN, ConnMobile, ConnISDN, ConnLeasedLine, ConnRemoteDesktop, ConnCloud, ConnOther}

// Manager says who manages an external connection.
type Manager string

// The managers of an external connection.
const (
	ManagerIT        Manager = "it"
	ManagerVendor    Manager = "vendor"
	ManagerOtherDept Manager = "other_dept"
	ManagerUnknown   Manager = "unknown"
)

// Managers lists every Manager in display order.
var Managers = []Manager{ManagerIT, ManagerVendor, ManagerOtherDept, ManagerUnknown}

// Date is a calendar date "YYYY-MM-DD", or "" when unknown. Dates compare
// correctly as strings.
type Date string

// DateOf returns the calendar date of t in Japan time.
func DateOf(t time.Time) Date {
	if t.IsZero() {
		return ""
	}
	return Date(t.In(i18n.Tokyo).Format("2006-01-02"))
}

// Time returns the date as midnight Japan time, or the zero time for "".
func (d Date) Time() time.Time {
	t, err := time.ParseInLocation("2006-01-02", string(d), i18n.Tokyo)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Valid reports whether d is "" or a real date in the form YYYY-MM-DD.
func (d Date) Valid() bool {
	if d == "" {
		return true
	}
	t, err := time.Parse("2006-01-02", string(d))
	return err == nil && t.Format("2006-01-02") == string(d)
}

// Before reports whether d is set and earlier than o.
func (d Date) Before(o Date) bool { return d != "" && o != "" && d < o }

func oneOf[T ~string](v T, all []T) bool {
	for _, a := range all {
		if v == a {
			return true
		}
	}
	return false
}

func nullID(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// checkRef fails with an Invalid error on field when id is set but names no
// row of table in the organisation.
func checkRef(ctx context.Context, q db.Querier, orgID, table, field, id string) error {
	if id == "" {
		return nil
	}
	var one int
	err := db.ScanErr(q.QueryRow(ctx, "SELECT 1 FROM "+table+" WHERE org_id = ? AND id = ?", orgID, id).Scan(&one))
	if errors.Is(err, db.ErrNotFound) {
		return apperr.Field(field, "inventory.error.ref_not_found")
	}
	return err
}

func requireRows(n int64, err error) error {
	if err != nil {
		return err
	}
	if n == 0 {
		return db.ErrNotFound
	}
	return nil
}

func affected(res interface{ RowsAffected() (int64, error) }, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	return requireRows(n, err)
}

func trimAll(ss ...*string) {
	for _, s := range ss {
		*s = strings.TrimSpace(*s)
	}
}

func conflictAs(err error, field string) error {
	if errors.Is(err, db.ErrConflict) {
		e := apperr.Wrap(err, apperr.Conflict, "inventory.error.duplicate_name")
		e.Field = field
		return e
	}
	return err
}
