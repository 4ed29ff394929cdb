package inventory

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// Port is an open port observed on an asset (by nmap or written by hand).
type Port struct {
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
	Service  string `json:"service,omitempty"`
	Product  string `json:"product,omitempty"`
	Version  string `json:"version,omitempty"`
}

// String returns "443/tcp https Apache 2.4".
func (p Port) String() string {
	s := strconv.Itoa(p.Port) + "/" + p.Protocol
	for _, x := range []string{p.Service, p.Product, p.Version} {
		if x != "" {
			s += " " + x
		}
	}
	return s
}

// Asset is one device, system or service in the register. SegmentName is
// filled by reads; writes use SegmentID.
type Asset struct {
	ID                     string    `json:"id"`
	OrgID                  string    `json:"org_id"`
	Name                   string    `json:"name"`
	Kind                   AssetKind `json:"kind"`
	Role                   string    `json:"role"`
	Vendor                 string    `json:"vendor"`
	Product                string    `json:"product"`
	Model                  string    `json:"model"`
	Version                string    `json:"version"`
	Serial                 string    `json:"serial"`
	Hostname               string    `json:"hostname"`
	IP                     string    `json:"ip"`
	MAC                    string    `json:"mac"`
	SegmentID              string    `json:"segment_id"`
	SegmentName            string    `json:"segment"`
	Location               string    `json:"location"`
	Department             string    `json:"department"`
	Maintainer             string    `json:"maintainer"`
	SupportEnd             Date      `json:"support_end"`
	RemoteMaintenance      Tri       `json:"remote_maintenance"`
	DefaultPasswordChanged Tri       `json:"default_password_changed"`
	PasswordShared         Tri       `json:"password_shared"`
	AdminMFA               Tri       `json:"admin_mfa"`
	InternetExposed        Tri       `json:"internet_exposed"`
	CPE                    string    `json:"cpe"`
	OpenPorts              []Port    `json:"open_ports"`
	OSGuess                string    `json:"os_guess"`
	Notes                  string    `json:"notes"`
	Lifecycle              Lifecycle `json:"lifecycle"`
	FirmwareCurrent        Tri       `json:"firmware_current"`
	FirmwareCheckedOn      Date      `json:"firmware_checked_on"`
	// Vulnerable is set by the vulnerability capability (SetAssetVulnerable)
	// when a known vulnerability matches the asset.
	Vulnerable bool      `json:"vulnerable"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// normalize fills defaults and validates a; it returns an Invalid error
// naming the first bad field.
func (a *Asset) normalize() error {
	trimAll(&a.Name, &a.Role, &a.Vendor, &a.Product, &a.Model, &a.Version, &a.Serial, &a.Hostname,
		&a.IP, &a.MAC, &a.Location, &a.Department, &a.Maintainer, &a.CPE, &a.OSGuess, &a.SegmentID)
	a.MAC = normalizeMAC(a.MAC)
	if a.Kind == "" {
		a.Kind = KindOther
	}
	if a.Lifecycle == "" {
		a.Lifecycle = InUse
	}
	for _, t := range []*Tri{&a.RemoteMaintenance, &a.DefaultPasswordChanged, &a.PasswordShared, &a.AdminMFA, &a.InternetExposed, &a.FirmwareCurrent} {
		*t = t.orUnknown()
	}
	if a.OpenPorts == nil {
		a.OpenPorts = []Port{}
	}
	switch {
	case a.Name == "":
		return apperr.Field("name", "inventory.error.required")
	case len(a.Name) > 200:
		return apperr.Field("name", "inventory.error.too_long")
	case !oneOf(a.Kind, AssetKinds):
		return apperr.Field("kind", "inventory.error.bad_choice")
	case !oneOf(a.Lifecycle, Lifecycles):
		return apperr.Field("lifecycle", "inventory.error.bad_choice")
	case !a.SupportEnd.Valid():
		return apperr.Field("support_end", "inventory.error.bad_date")
	case !a.FirmwareCheckedOn.Valid():
		return apperr.Field("firmware_checked_on", "inventory.error.bad_date")
	}
	for f, t := range map[string]Tri{"remote_maintenance": a.RemoteMaintenance, "default_password_changed": a.DefaultPasswordChanged,
		"password_shared": a.PasswordShared, "admin_mfa": a.AdminMFA, "internet_exposed": a.InternetExposed, "firmware_current": a.FirmwareCurrent} {
		if !t.Valid() {
			return apperr.Field(f, "inventory.error.bad_choice")
		}
	}
	sortPorts(a.OpenPorts)
	return nil
}

func sortPorts(ps []Port) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Port != ps[j].Port {
			return ps[i].Port < ps[j].Port
		}
		return ps[i].Protocol < ps[j].Protocol
	})
}

var macReplacer = strings.NewReplacer(":", "", "-", "", ".", "")

func normalizeMAC(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	h := macReplacer.Replace(s)
	if len(h) != 12 {
		return s
	}
	for _, c := range h {
		if !strings.ContainsRune("0123456789ABCDEF", c) {
			return s
		}
	}
	var b strings.Builder
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

const assetSelect = `SELECT a.id, a.org_id, a.name, a.kind, a.role, a.vendor, a.product, a.model, a.version, a.serial,
 a.hostname, a.ip, a.mac, COALESCE(a.segment_id, ''), COALESCE(s.name, ''), a.location, a.department, a.maintainer,
 a.support_end, a.remote_maintenance, a.default_password_changed, a.password_shared, a.admin_mfa, a.internet_exposed,
 a.cpe, a.open_ports, a.os_guess, a.notes, a.lifecycle, a.firmware_current, a.firmware_checked_on, a.vulnerable,
 a.created_at, a.updated_at
 FROM inv_assets a LEFT JOIN inv_segments s ON s.id = a.segment_id`

// scanner reads one row (a *sql.Row or *sql.Rows).
type scanner = db.Scanner

func scanAsset(r scanner) (Asset, error) {
	var a Asset
	var ports string
	err := r.Scan(&a.ID, &a.OrgID, &a.Name, &a.Kind, &a.Role, &a.Vendor, &a.Product, &a.Model, &a.Version, &a.Serial,
		&a.Hostname, &a.IP, &a.MAC, &a.SegmentID, &a.SegmentName, &a.Location, &a.Department, &a.Maintainer,
		&a.SupportEnd, &a.RemoteMaintenance, &a.DefaultPasswordChanged, &a.PasswordShared, &a.AdminMFA, &a.InternetExposed,
		&a.CPE, &ports, &a.OSGuess, &a.Notes, &a.Lifecycle, &a.FirmwareCurrent, &a.FirmwareCheckedOn, &a.Vulnerable,
		&a.CreatedAt, &a.UpdatedAt)
	if err != nil {
		return a, db.ScanErr(err)
	}
	a.OpenPorts = []Port{}
	if ports != "" {
		_ = json.Unmarshal([]byte(ports), &a.OpenPorts)
	}
	return a, nil
}

func portsJSON(ps []Port) string {
	if len(ps) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ps)
	return string(b)
}

// GetAsset returns the organisation's asset id, or db.ErrNotFound.
func GetAsset(ctx context.Context, q db.Querier, orgID, id string) (Asset, error) {
	return scanAsset(q.QueryRow(ctx, assetSelect+" WHERE a.org_id = ? AND a.id = ?", orgID, id))
}

// GetAssetByName returns the organisation's asset with this exact name, or
// db.ErrNotFound.
func GetAssetByName(ctx context.Context, q db.Querier, orgID, name string) (Asset, error) {
	return scanAsset(q.QueryRow(ctx, assetSelect+" WHERE a.org_id = ? AND a.name = ?", orgID, strings.TrimSpace(name)))
}

func assetArgs(a *Asset) []any {
	return []any{a.Name, string(a.Kind), a.Role, a.Vendor, a.Product, a.Model, a.Version, a.Serial, a.Hostname, a.IP, a.MAC,
		nullID(a.SegmentID), a.Location, a.Department, a.Maintainer, string(a.SupportEnd), string(a.RemoteMaintenance),
		string(a.DefaultPasswordChanged), string(a.PasswordShared), string(a.AdminMFA), string(a.InternetExposed),
		a.CPE, portsJSON(a.OpenPorts), a.OSGuess, a.Notes, string(a.Lifecycle), string(a.FirmwareCurrent), string(a.FirmwareCheckedOn)}
}

const assetInsertCols = `name, kind, role, vendor, product, model, version, serial, hostname, ip, mac, segment_id, location,
 department, maintainer, support_end, remote_maintenance, default_password_changed, password_shared, admin_mfa,
 internet_exposed, cpe, open_ports, os_guess, notes, lifecycle, firmware_current, firmware_checked_on`

const assetInsertN = 28

// CreateAsset validates a and stores it as a new asset of the organisation,
// recording a "create" history entry by actorID. A name already used in the
// organisation is a Conflict error.
func CreateAsset(ctx context.Context, q db.Querier, orgID, actorID string, a Asset, now time.Time) (Asset, error) {
	if err := a.normalize(); err != nil {
		return Asset{}, err
	}
	if err := checkRef(ctx, q, orgID, "inv_segments", "segment_id", a.SegmentID); err != nil {
		return Asset{}, err
	}
	a.ID, a.OrgID, a.CreatedAt, a.UpdatedAt = db.NewID(), orgID, now.UTC().Truncate(time.Microsecond), now.UTC().Truncate(time.Microsecond)
	args := append([]any{a.ID, orgID}, assetArgs(&a)...)
	args = append(args, a.CreatedAt, a.UpdatedAt)
	_, err := q.Exec(ctx, "INSERT INTO inv_assets (id, org_id, "+assetInsertCols+", created_at, updated_at) VALUES ("+db.In(assetInsertN+4)+")", args...)
	if err != nil {
		return Asset{}, conflictAs(err, "name")
	}
	created, err := GetAsset(ctx, q, orgID, a.ID)
	if err != nil {
		return Asset{}, err
	}
	if err := addHistory(ctx, q, orgID, a.ID, actorID, "create", diffAssets(&Asset{}, &created), now); err != nil {
		return Asset{}, err
	}
	return created, nil
}

// UpdateAsset replaces the stored fields of asset a.ID (all but Vulnerable
// and the timestamps) and records the changed fields in the asset's history
// by actorID. It returns the asset before and after the change; when nothing
// changed it writes nothing. Another organisation's asset is db.ErrNotFound.
func UpdateAsset(ctx context.Context, q db.Querier, orgID, actorID string, a Asset, now time.Time) (before, after Asset, err error) {
	before, err = GetAsset(ctx, q, orgID, a.ID)
	if err != nil {
		return before, after, err
	}
	if err := a.normalize(); err != nil {
		return before, after, err
	}
	if a.SegmentID != before.SegmentID {
		if err := checkRef(ctx, q, orgID, "inv_segments", "segment_id", a.SegmentID); err != nil {
			return before, after, err
		}
	}
	a.SegmentName = segmentNameOf(ctx, q, orgID, a.SegmentID, before)
	changes := diffAssets(&before, &a)
	if len(changes) == 0 {
		return before, before, nil
	}
	if err := writeAsset(ctx, q, orgID, &a, now); err != nil {
		return before, after, err
	}
	if err := addHistory(ctx, q, orgID, a.ID, actorID, "update", changes, now); err != nil {
		return before, after, err
	}
	after, err = GetAsset(ctx, q, orgID, a.ID)
	return before, after, err
}

var assetUpdateSQL = func() string {
	var assigns []string
	for _, c := range strings.Split(strings.ReplaceAll(assetInsertCols, "\n", ""), ",") {
		assigns = append(assigns, strings.TrimSpace(c)+" = ?")
	}
	return "UPDATE inv_assets SET " + strings.Join(assigns, ", ") + ", updated_at = ? WHERE org_id = ? AND id = ?"
}()

// writeAsset stores the fields of a normalised asset a over row a.ID.
func writeAsset(ctx context.Context, q db.Querier, orgID string, a *Asset, now time.Time) error {
	res, err := q.Exec(ctx, assetUpdateSQL, append(assetArgs(a), now.UTC(), orgID, a.ID)...)
	return affected(res, conflictAs(err, "name"))
}

func segmentNameOf(ctx context.Context, q db.Querier, orgID, id string, before Asset) string {
	if id == before.SegmentID {
		return before.SegmentName
	}
	if id == "" {
		return ""
	}
	var name string
	_ = q.QueryRow(ctx, "SELECT name FROM inv_segments WHERE org_id = ? AND id = ?", orgID, id).Scan(&name)
	return name
}

// DeleteAsset removes the organisation's asset id, returning it as it was,
// and records a "delete" history entry (history outlives the asset).
func DeleteAsset(ctx context.Context, q db.Querier, orgID, actorID, id string, now time.Time) (Asset, error) {
	before, err := GetAsset(ctx, q, orgID, id)
	if err != nil {
		return before, err
	}
	res, err := q.Exec(ctx, "DELETE FROM inv_assets WHERE org_id = ? AND id = ?", orgID, id)
	if err := affected(res, err); err != nil {
		return before, err
	}
	return before, addHistory(ctx, q, orgID, id, actorID, "delete", diffAssets(&before, &Asset{}), now)
}

// SetAssetVulnerable records whether a known vulnerability matches the
// asset. It is the hook the vulnerability capability calls; it writes no
// history. Another organisation's asset is db.ErrNotFound.
func SetAssetVulnerable(ctx context.Context, q db.Querier, orgID, id string, vulnerable bool) error {
	res, err := q.Exec(ctx, "UPDATE inv_assets SET vulnerable = ? WHERE org_id = ? AND id = ?", vulnerable, orgID, id)
	return affected(res, err)
}

// SetAssetsVulnerable sets the vulnerable flag of many assets, by id, in
// statements of up to 500 ids.
func SetAssetsVulnerable(ctx context.Context, q db.Querier, ids []string, vulnerable bool) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := make([]any, 0, n+1)
		args = append(args, vulnerable)
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		ids = ids[n:]
		if _, err := q.Exec(ctx, "UPDATE inv_assets SET vulnerable = ? WHERE id IN ("+db.In(n)+")", args...); err != nil {
			return err
		}
	}
	return nil
}

// AssetFilter narrows ListAssets. Zero fields do not filter. Cursor is the
// NextCursor of the previous page.
type AssetFilter struct {
	Kind      AssetKind
	Lifecycle Lifecycle
	SegmentID string
	// Query matches part of the name, hostname, IP address or serial number.
	Query  string
	Cursor string
	Limit  int
}

// AssetPage is one page of assets in name order. NextCursor is "" on the
// last page.
type AssetPage struct {
	Assets     []Asset `json:"assets"`
	NextCursor string  `json:"next_cursor"`
}

// DefaultPageSize and MaxPageSize bound list limits.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// ListAssets returns a page of the organisation's assets ordered by name,
// using keyset pagination on the unique (org_id, name) index.
func ListAssets(ctx context.Context, q db.Querier, orgID string, f AssetFilter) (AssetPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	if limit > MaxPageSize {
		limit = MaxPageSize
	}
	where := []string{"a.org_id = ?"}
	args := []any{orgID}
	if f.Kind != "" {
		where, args = append(where, "a.kind = ?"), append(args, string(f.Kind))
	}
	if f.Lifecycle != "" {
		where, args = append(where, "a.lifecycle = ?"), append(args, string(f.Lifecycle))
	}
	if f.SegmentID != "" {
		where, args = append(where, "a.segment_id = ?"), append(args, f.SegmentID)
	}
	if s := strings.TrimSpace(f.Query); s != "" {
		like := "%" + escapeLike(s) + "%"
		where = append(where, `(a.name LIKE ? ESCAPE '\' OR a.hostname LIKE ? ESCAPE '\' OR a.ip LIKE ? ESCAPE '\' OR a.serial LIKE ? ESCAPE '\')`)
		args = append(args, like, like, like, like)
	}
	if f.Cursor != "" {
		after, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err != nil {
			return AssetPage{}, apperr.Field("cursor", "inventory.error.bad_cursor")
		}
		where, args = append(where, "a.name > ?"), append(args, string(after))
	}
	args = append(args, limit+1)
	rows, err := q.Query(ctx, assetSelect+" WHERE "+strings.Join(where, " AND ")+" ORDER BY a.name LIMIT ?", args...)
	if err != nil {
		return AssetPage{}, err
	}
	defer rows.Close()
	page := AssetPage{Assets: []Asset{}}
	for rows.Next() {
		a, err := scanAsset(rows)
		if err != nil {
			return page, err
		}
		page.Assets = append(page.Assets, a)
	}
	if err := rows.Err(); err != nil {
		return page, err
	}
	if len(page.Assets) > limit {
		page.Assets = page.Assets[:limit]
		page.NextCursor = encodeCursor(page.Assets[limit-1].Name)
	}
	return page, nil
}

func encodeCursor(name string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(name))
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// AllAssets returns every asset of the organisation in name order (for
// export, import matching, the overview and the urgent measures).
func AllAssets(ctx context.Context, q db.Querier, orgID string) ([]Asset, error) {
	return listRows(ctx, q, scanAsset, assetSelect+" WHERE a.org_id = ? ORDER BY a.name", orgID)
}

// FieldChange is one changed field: its key (as in the import columns) and
// the old and new values as text.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// HistoryEntry is one recorded change of an asset.
type HistoryEntry struct {
	ID      string        `json:"id"`
	AssetID string        `json:"asset_id"`
	ActorID string        `json:"actor_id"`
	At      time.Time     `json:"at"`
	Action  string        `json:"action"`
	Changes []FieldChange `json:"changes"`
}

func addHistory(ctx context.Context, q db.Querier, orgID, assetID, actorID, action string, changes []FieldChange, now time.Time) error {
	b, _ := json.Marshal(changes)
	_, err := q.Exec(ctx, "INSERT INTO inv_asset_history (id, org_id, asset_id, actor_id, at, action, changes) VALUES (?, ?, ?, ?, ?, ?, ?)",
		db.NewID(), orgID, assetID, actorID, now, action, string(b))
	return err
}

// AssetHistory returns the recorded changes of the organisation's asset id,
// newest first (also after the asset was deleted). An unknown id gives an
// empty list.
func AssetHistory(ctx context.Context, q db.Querier, orgID, assetID string) ([]HistoryEntry, error) {
	return listRows(ctx, q, func(r scanner) (HistoryEntry, error) {
		var h HistoryEntry
		var ch string
		if err := r.Scan(&h.ID, &h.AssetID, &h.ActorID, &h.At, &h.Action, &ch); err != nil {
			return h, err
		}
		return h, json.Unmarshal([]byte(ch), &h.Changes)
	}, "SELECT id, asset_id, actor_id, at, action, changes FROM inv_asset_history WHERE org_id = ? AND asset_id = ? ORDER BY at DESC, id DESC", orgID, assetID)
}

// diffAssets compares the recorded fields of two assets.
func diffAssets(a, b *Asset) []FieldChange {
	out := []FieldChange{}
	for _, f := range assetFields {
		if f.get == nil {
			continue
		}
		o, n := f.get(a), f.get(b)
		if f.Key == "open_ports" {
			o, n = portsDetail(a.OpenPorts), portsDetail(b.OpenPorts)
		}
		if o != n {
			out = append(out, FieldChange{Field: f.Key, Old: o, New: n})
		}
	}
	return out
}

// portsDetail writes ports with their services, for history.
func portsDetail(ps []Port) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}
