package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/inventory"
)

// Reads of single assets, connections, segments, vendors, systems and
// contracts are not written to the audit log: the register is the
// organisation's working data that every member uses daily, and an entry per
// page view would bury the entries that matter. What takes data out of
// medisac or concerns people is recorded: exports (data.export), document
// downloads and every read of the account inventory, which names people
// (record.read).

// invRefusal is the refusal of action to m (nil when the permission table
// allows it): an early answer before a form or an upload is read, which
// the inventory service checks again. Members who may not write are told
// so.
func invRefusal(m *member, action string) error {
	err := auth.Authorize(m.P, action, auth.Target{OrgID: m.P.OrgID})
	if apperr.Is(err, apperr.Forbidden) && !m.P.CanWrite() {
		return apperr.New(apperr.Forbidden, "error_page.read_only")
	}
	return err
}

// invOrg returns the organisation whose register the principal works on.
// ISAC operators manage organisation records but never read a register.
func invOrg(p *auth.Principal) (string, error) {
	if p == nil || p.OrgID == "" || p.IsOperator() {
		return "", apperr.New(apperr.NotFound, "error.not_found")
	}
	return p.OrgID, nil
}

func (s *Server) today() inventory.Date { return inventory.DateOf(s.Now()) }

// invField describes one input of the generic record form.
type invField struct {
	Name, Label, Hint string
	// Type is text, textarea, date, select, multi (check boxes) or check.
	Type     string
	Required bool
	Options  []option
	Checked  bool
}

// invFormView is the data of inventory_form.html.
type invFormView struct {
	Heading, Intro, Action, Back, DeleteAction, DeleteConfirm string
	Fields                                                    []invField
	CanWrite                                                  bool
}

// invKind is one kind of record edited with the generic form.
type invKind struct {
	path, objType, titleKey string
	// back is where the list of this kind is.
	back func(id string) string
	// form returns the form values of record id.
	form func(ctx context.Context, q db.Querier, orgID, id string) (url.Values, error)
	// fields lists the inputs, with menus filled for the organisation.
	fields func(ctx context.Context, pg *page, orgID string, f url.Values) ([]invField, error)
	// save creates (id "") or updates the record through the inventory
	// service and returns its id.
	save func(ctx context.Context, s *Server, p *auth.Principal, orgID, id string, f url.Values) (string, error)
	del  func(ctx context.Context, s *Server, p *auth.Principal, orgID, id string) error
	// afterSave is where to go after a save (the list by default).
	afterSave func(id string) string
}

// routes are the pages of records of kind k: the new and edit forms, and
// creating, saving and deleting a record.
func (k *invKind) routes(s *Server) []route {
	with := func(h func(http.ResponseWriter, *http.Request, *invKind, *member) error) http.Handler {
		return s.members(func(w http.ResponseWriter, r *http.Request, m *member) error { return h(w, r, k, m) })
	}
	base := "/inventory/" + k.path
	return []route{
		{"GET " + base + "/new", with(s.invNewForm)},
		{"POST " + base, with(s.invCreate)},
		{"GET " + base + "/{id}/edit", with(s.invEditForm)},
		{"POST " + base + "/{id}", with(s.invUpdate)},
		{"POST " + base + "/{id}/delete", with(s.invDelete)},
	}
}

// storeRecord creates x (id "") or replaces record id with x through the
// inventory service's create and update, and returns the record's id.
func storeRecord[T any](ctx context.Context, s *Server, p *auth.Principal, orgID, id string, x T,
	create func(*inventory.Service, context.Context, *auth.Principal, string, T) (T, error),
	update func(*inventory.Service, context.Context, *auth.Principal, string, string, inventory.Change[T]) (T, error),
	idOf func(T) string) (string, error) {
	if id == "" {
		x, err := create(s.Inventory, ctx, p, orgID, x)
		return idOf(x), err
	}
	_, err := update(s.Inventory, ctx, p, orgID, id, inventory.Replace(x))
	return id, err
}

// removeBy makes an invKind's del of the inventory service's delete.
func removeBy[T any](del func(*inventory.Service, context.Context, *auth.Principal, string, string) (T, error)) func(context.Context, *Server, *auth.Principal, string, string) error {
	return func(ctx context.Context, s *Server, p *auth.Principal, orgID, id string) error {
		_, err := del(s.Inventory, ctx, p, orgID, id)
		return err
	}
}

func (s *Server) invKinds() []*invKind {
	return []*invKind{assetKind, segmentKind, commKind, connKind, vendorKind, systemKind, contractKind, accountKind}
}

func (s *Server) invKindForm(w http.ResponseWriter, r *http.Request, m *member, k *invKind, id string, f url.Values, prevErr error) error {
	ctx := r.Context()
	orgID, err := invOrg(m.P)
	if err != nil {
		return err
	}
	titleKey := k.titleKey + ".new"
	if id != "" {
		titleKey = k.titleKey + ".edit"
	}
	pg := s.newPage(w, r, titleKey)
	if f == nil {
		f = url.Values{}
		if id != "" {
			if f, err = k.form(ctx, s.DB, orgID, id); err != nil {
				return err
			}
		}
	}
	pg.Form = withForm(f, nil)
	fields, err := k.fields(ctx, pg, orgID, pg.Form)
	if err != nil {
		return err
	}
	v := invFormView{Heading: pg.Title, Fields: fields, Back: k.back(id), CanWrite: m.P.CanWrite(), Action: "/inventory/" + k.path}
	if id != "" {
		v.Action = "/inventory/" + k.path + "/" + id
		v.DeleteAction = v.Action + "/delete"
		v.DeleteConfirm = pg.T("inventory.ui.delete_confirm", pg.Form.Get(nameField(k)))
	}
	pg.Data = v
	return s.renderForm(w, r, "inventory_form", pg, prevErr)
}

func nameField(k *invKind) string {
	switch k {
	case commKind:
		return "peer"
	case contractKind:
		return "title"
	case accountKind:
		return "username"
	}
	return "name"
}

func (s *Server) invNewForm(w http.ResponseWriter, r *http.Request, k *invKind, m *member) error {
	f := url.Values{}
	for _, key := range []string{"system_id", "asset_id", "vendor_id", "segment_id"} {
		if v := r.URL.Query().Get(key); v != "" {
			f.Set(key, v)
		}
	}
	return s.invKindForm(w, r, m, k, "", f, nil)
}

func (s *Server) invEditForm(w http.ResponseWriter, r *http.Request, k *invKind, m *member) error {
	return s.invKindForm(w, r, m, k, r.PathValue("id"), nil, nil)
}

func (s *Server) invCreate(w http.ResponseWriter, r *http.Request, k *invKind, m *member) error {
	return s.invSave(w, r, k, "", m)
}

func (s *Server) invUpdate(w http.ResponseWriter, r *http.Request, k *invKind, m *member) error {
	return s.invSave(w, r, k, r.PathValue("id"), m)
}

func (s *Server) invSave(w http.ResponseWriter, r *http.Request, k *invKind, id string, m *member) error {
	if err := invRefusal(m, "inventory.write"); err != nil {
		return err
	}
	p := m.P
	orgID, err := invOrg(p)
	if err != nil {
		return err
	}
	newID, err := k.save(r.Context(), s, p, orgID, id, r.PostForm)
	if err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return err
		}
		return s.invKindForm(w, r, m, k, id, r.PostForm, err)
	}
	to := k.back(newID)
	if k.afterSave != nil {
		to = k.afterSave(newID)
	}
	s.flash(w, r, to, "flash.inventory_saved")
	return nil
}

func (s *Server) invDelete(w http.ResponseWriter, r *http.Request, k *invKind, m *member) error {
	if err := invRefusal(m, "inventory.write"); err != nil {
		return err
	}
	orgID, err := invOrg(m.P)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := k.del(r.Context(), s, m.P, orgID, id); err != nil {
		return err
	}
	s.flash(w, r, k.back(""), "flash.inventory_deleted")
	return nil
}

// Helpers for the form specifications.

func textField(pg *page, name string, required bool) invField {
	return invField{Name: name, Label: pg.T("inventory.field." + name), Type: "text", Required: required, Hint: hintOf(pg, name)}
}

func typedField(pg *page, name, typ string) invField {
	f := textField(pg, name, false)
	f.Type = typ
	return f
}

func hintOf(pg *page, name string) string {
	k := "inventory.hint." + name
	if pg.s.Catalog.Has(pg.Lang, k) || pg.s.Catalog.Has("ja", k) {
		return pg.T(k)
	}
	return ""
}

func enumField[E ~string](pg *page, name, prefix string, all []E, f url.Values, blank bool) invField {
	fl := textField(pg, name, false)
	fl.Type = "select"
	if blank {
		fl.Options = append(fl.Options, option{Value: "", Label: pg.T("common.choose"), Selected: f.Get(name) == ""})
	}
	for _, v := range all {
		fl.Options = append(fl.Options, option{Value: string(v), Label: pg.T(prefix + string(v)), Selected: f.Get(name) == string(v)})
	}
	return fl
}

var triValues = []inventory.Tri{inventory.Unknown, inventory.Yes, inventory.No}

func triField(pg *page, name string, f url.Values) invField {
	if f.Get(name) == "" {
		f.Set(name, string(inventory.Unknown))
	}
	return enumField(pg, name, "inventory.tri.", triValues, f, false)
}

// refField is a menu of the organisation's records of one kind.
func refField(pg *page, name string, opts []option, f url.Values) invField {
	fl := textField(pg, name, false)
	fl.Type = "select"
	fl.Options = append([]option{{Value: "", Label: pg.T("inventory.ui.none")}}, opts...)
	for i := range fl.Options {
		fl.Options[i].Selected = f.Get(name) == fl.Options[i].Value
	}
	return fl
}

// optionsOf makes the menu entries of a list read with err.
func optionsOf[T any](list []T, err error, opt func(T) (value, label string)) ([]option, error) {
	var out []option
	for _, x := range list {
		v, l := opt(x)
		out = append(out, option{Value: v, Label: l})
	}
	return out, err
}

func segmentOptions(ctx context.Context, q db.Querier, orgID string) ([]option, error) {
	segs, err := inventory.ListSegments(ctx, q, orgID)
	return optionsOf(segs, err, func(x inventory.Segment) (string, string) { return x.ID, x.Name })
}

func vendorOptions(ctx context.Context, q db.Querier, orgID string) ([]option, error) {
	vs, err := inventory.ListVendors(ctx, q, orgID)
	return optionsOf(vs, err, func(x inventory.Vendor) (string, string) { return x.ID, x.Name })
}

func systemOptions(ctx context.Context, q db.Querier, orgID string) ([]option, error) {
	ss, err := inventory.ListSystems(ctx, q, orgID)
	return optionsOf(ss, err, func(x inventory.System) (string, string) { return x.ID, x.Name })
}

// assetOptions lists assets for a menu; a register too large for a menu
// gives none, and the form then takes the asset's name.
func assetOptions(ctx context.Context, q db.Querier, orgID string) ([]option, error) {
	page, err := inventory.ListAssets(ctx, q, orgID, inventory.AssetFilter{Limit: inventory.MaxPageSize})
	return optionsOf(page.Assets, err, func(x inventory.Asset) (string, string) { return x.ID, x.Name })
}

func parseDateField(f url.Values, name string) (inventory.Date, error) {
	d, err := inventory.ParseDate(toHalfWidth(strings.TrimSpace(f.Get(name))))
	if err != nil {
		return "", apperr.Field(name, "inventory.error.bad_date")
	}
	return d, nil
}

func parseDates(f url.Values, names ...string) (map[string]inventory.Date, error) {
	out := map[string]inventory.Date{}
	for _, n := range names {
		d, err := parseDateField(f, n)
		if err != nil {
			return nil, err
		}
		out[n] = d
	}
	return out, nil
}

func checked(f url.Values, name string) bool {
	v := f.Get(name)
	return v == "1" || v == "on" || v == "true"
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// Assets.

var assetKind = &invKind{
	path: "assets", objType: "asset", titleKey: "inventory.asset",
	back: func(id string) string {
		if id != "" {
			return "/inventory/assets/" + id
		}
		return "/inventory"
	},
	form: func(ctx context.Context, q db.Querier, orgID, id string) (url.Values, error) {
		a, err := inventory.GetAsset(ctx, q, orgID, id)
		if err != nil {
			return nil, err
		}
		return assetValues(a), nil
	},
	fields: func(ctx context.Context, pg *page, orgID string, f url.Values) ([]invField, error) {
		segs, err := segmentOptions(ctx, pg.s.DB, orgID)
		if err != nil {
			return nil, err
		}
		return []invField{
			textField(pg, "name", true),
			enumField(pg, "kind", "inventory.kind.", inventory.AssetKinds, f, false),
			textField(pg, "role", false),
			textField(pg, "vendor", false),
			textField(pg, "product", false),
			textField(pg, "model", false),
			textField(pg, "version", false),
			textField(pg, "serial", false),
			textField(pg, "hostname", false),
			textField(pg, "ip", false),
			textField(pg, "mac", false),
			refField(pg, "segment_id", segs, f),
			textField(pg, "location", false),
			textField(pg, "department", false),
			textField(pg, "maintainer", false),
			typedField(pg, "support_end", "date"),
			triField(pg, "remote_maintenance", f),
			triField(pg, "default_password_changed", f),
			triField(pg, "password_shared", f),
			triField(pg, "admin_mfa", f),
			triField(pg, "internet_exposed", f),
			triField(pg, "firmware_current", f),
			typedField(pg, "firmware_checked_on", "date"),
			textField(pg, "cpe", false),
			textField(pg, "open_ports", false),
			enumField(pg, "lifecycle", "inventory.lifecycle.", inventory.Lifecycles, f, false),
			typedField(pg, "notes", "textarea"),
		}, nil
	},
	save: func(ctx context.Context, s *Server, p *auth.Principal, orgID, id string, f url.Values) (string, error) {
		if id == "" {
			a, err := assetFromForm(f, inventory.Asset{})
			if err != nil {
				return "", err
			}
			a, err = s.Inventory.CreateAsset(ctx, p, orgID, a)
			return a.ID, err
		}
		_, _, err := s.Inventory.UpdateAsset(ctx, p, orgID, id, func(old inventory.Asset) (inventory.Asset, error) { return assetFromForm(f, old) })
		return id, err
	},
	del: removeBy((*inventory.Service).DeleteAsset),
}

func assetValues(a inventory.Asset) url.Values {
	v := url.Values{}
	set := func(k, s string) { v.Set(k, s) }
	set("name", a.Name)
	set("kind", string(a.Kind))
	set("role", a.Role)
	set("vendor", a.Vendor)
	set("product", a.Product)
	set("model", a.Model)
	set("version", a.Version)
	set("serial", a.Serial)
	set("hostname", a.Hostname)
	set("ip", a.IP)
	set("mac", a.MAC)
	set("segment_id", a.SegmentID)
	set("location", a.Location)
	set("department", a.Department)
	set("maintainer", a.Maintainer)
	set("support_end", string(a.SupportEnd))
	set("remote_maintenance", string(a.RemoteMaintenance))
	set("default_password_changed", string(a.DefaultPasswordChanged))
	set("password_shared", string(a.PasswordShared))
	set("admin_mfa", string(a.AdminMFA))
	set("internet_exposed", string(a.InternetExposed))
	set("firmware_current", string(a.FirmwareCurrent))
	set("firmware_checked_on", string(a.FirmwareCheckedOn))
	set("cpe", a.CPE)
	set("open_ports", inventory.FormatPorts(a.OpenPorts))
	set("lifecycle", string(a.Lifecycle))
	set("notes", a.Notes)
	return v
}

// assetFromForm reads the asset form over old (which keeps what the form
// does not show: the OS guess, port services, the vulnerability mark).
func assetFromForm(f url.Values, old inventory.Asset) (inventory.Asset, error) {
	a := old
	a.Name = f.Get("name")
	a.Kind = inventory.AssetKind(f.Get("kind"))
	a.Role, a.Vendor, a.Product, a.Model = f.Get("role"), f.Get("vendor"), f.Get("product"), f.Get("model")
	a.Version, a.Serial, a.Hostname = f.Get("version"), f.Get("serial"), f.Get("hostname")
	a.IP, a.MAC = toHalfWidth(strings.TrimSpace(f.Get("ip"))), f.Get("mac")
	a.SegmentID = f.Get("segment_id")
	a.Location, a.Department, a.Maintainer = f.Get("location"), f.Get("department"), f.Get("maintainer")
	a.RemoteMaintenance = inventory.Tri(f.Get("remote_maintenance"))
	a.DefaultPasswordChanged = inventory.Tri(f.Get("default_password_changed"))
	a.PasswordShared = inventory.Tri(f.Get("password_shared"))
	a.AdminMFA = inventory.Tri(f.Get("admin_mfa"))
	a.InternetExposed = inventory.Tri(f.Get("internet_exposed"))
	a.FirmwareCurrent = inventory.Tri(f.Get("firmware_current"))
	a.CPE, a.Notes = f.Get("cpe"), f.Get("notes")
	a.Lifecycle = inventory.Lifecycle(f.Get("lifecycle"))
	ds, err := parseDates(f, "support_end", "firmware_checked_on")
	if err != nil {
		return a, err
	}
	a.SupportEnd, a.FirmwareCheckedOn = ds["support_end"], ds["firmware_checked_on"]
	ps, ok := inventory.ParsePorts(toHalfWidth(f.Get("open_ports")), old.OpenPorts)
	if !ok {
		return a, apperr.Field("open_ports", "inventory.error.bad_ports")
	}
	a.OpenPorts = ps
	for _, k := range []string{"name", "role", "vendor", "product", "model", "version", "serial", "hostname", "ip", "mac", "location", "department", "maintainer", "cpe"} {
		if len(f.Get(k)) > 400 {
			return a, apperr.Field(k, "inventory.error.too_long")
		}
	}
	if len(a.Notes) > 4000 {
		return a, apperr.Field("notes", "inventory.error.too_long")
	}
	return a, nil
}

// assetRow is one asset on the list with its flags.
type assetRow struct {
	inventory.Asset
	Flags []inventory.Flag
}

type assetListView struct {
	Rows                        []assetRow
	Kinds                       []option
	Lifecycles                  []option
	Segments                    []option
	Query                       string
	NextURL, FirstURL           string
	CanWrite, Filtered, IsFirst bool
	// Applying says that an import is being applied to the register.
	Applying bool
}

func (s *Server) invAssetList(w http.ResponseWriter, r *http.Request, m *member, orgID string) error {
	ctx := r.Context()
	p := m.P
	q := r.URL.Query()
	f := inventory.AssetFilter{Kind: inventory.AssetKind(q.Get("kind")), Lifecycle: inventory.Lifecycle(q.Get("lifecycle")),
		SegmentID: q.Get("segment"), Query: q.Get("q"), Cursor: q.Get("after")}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		f.Limit = n
	}
	pg := s.newPage(w, r, "inventory.assets.title")
	res, err := inventory.ListAssets(ctx, s.DB, orgID, f)
	if err != nil {
		return err
	}
	flags, err := inventory.FlagsForAssets(ctx, s.DB, orgID, res.Assets, s.today())
	if err != nil {
		return err
	}
	v := assetListView{Query: f.Query, CanWrite: p.CanWrite(), IsFirst: f.Cursor == "",
		Filtered: f.Kind != "" || f.Lifecycle != "" || f.SegmentID != "" || f.Query != ""}
	if v.Applying, err = inventory.ImportApplying(ctx, s.DB, orgID); err != nil {
		return err
	}
	for _, a := range res.Assets {
		v.Rows = append(v.Rows, assetRow{Asset: a, Flags: flags[a.ID]})
	}
	fv := url.Values{"kind": {string(f.Kind)}, "lifecycle": {string(f.Lifecycle)}, "segment": {f.SegmentID}}
	v.Kinds = enumField(pg, "kind", "inventory.kind.", inventory.AssetKinds, fv, true).Options
	v.Lifecycles = enumField(pg, "lifecycle", "inventory.lifecycle.", inventory.Lifecycles, fv, true).Options
	segs, err := segmentOptions(ctx, s.DB, orgID)
	if err != nil {
		return err
	}
	v.Segments = refField(pg, "segment", segs, fv).Options
	v.Segments[0].Label = pg.T("common.choose")
	keep := url.Values{}
	for _, k := range []string{"kind", "lifecycle", "segment", "q", "limit"} {
		if x := q.Get(k); x != "" {
			keep.Set(k, x)
		}
	}
	if res.NextCursor != "" {
		next := url.Values{}
		for k, x := range keep {
			next[k] = x
		}
		next.Set("after", res.NextCursor)
		v.NextURL = "/inventory?" + next.Encode()
	}
	if f.Cursor != "" {
		v.FirstURL = "/inventory?" + keep.Encode()
	}
	pg.Data = v
	s.render(w, r, http.StatusOK, "inventory_assets", pg)
	return nil
}

type assetPageView struct {
	Asset       inventory.Asset
	Flags       []inventory.Flag
	History     []inventory.HistoryEntry
	Comms       []commRow
	Connections []inventory.Connection
	Accounts    []inventory.Account
	Actors      map[string]string
	CanWrite    bool
}

func (s *Server) invAssetPage(w http.ResponseWriter, r *http.Request, m *member, orgID string) error {
	ctx := r.Context()
	p := m.P
	a, err := inventory.GetAsset(ctx, s.DB, orgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := assetPageView{Asset: a, CanWrite: p.CanWrite(), Actors: map[string]string{}}
	flags, err := inventory.FlagsForAssets(ctx, s.DB, orgID, []inventory.Asset{a}, s.today())
	if err != nil {
		return err
	}
	v.Flags = flags[a.ID]
	if v.History, err = inventory.AssetHistory(ctx, s.DB, orgID, a.ID); err != nil {
		return err
	}
	for _, h := range v.History {
		if _, ok := v.Actors[h.ActorID]; !ok && h.ActorID != "" {
			v.Actors[h.ActorID] = h.ActorID
			if u, err := auth.GetUser(ctx, s.DB, h.ActorID); err == nil {
				v.Actors[h.ActorID] = u.Email
			}
		}
	}
	comms, err := inventory.ListCommunications(ctx, s.DB, orgID, "")
	if err != nil {
		return err
	}
	names, err := s.commNames(ctx, orgID)
	if err != nil {
		return err
	}
	for _, c := range comms {
		if c.AssetID == a.ID || (a.SegmentID != "" && (c.FromSegmentID == a.SegmentID || c.ToSegmentID == a.SegmentID)) {
			v.Comms = append(v.Comms, commRow{Communication: c, From: names[c.FromSegmentID], To: names[c.ToSegmentID], Asset: names[c.AssetID]})
		}
	}
	conns, err := inventory.ListConnections(ctx, s.DB, orgID, s.today())
	if err != nil {
		return err
	}
	for _, c := range conns {
		if c.AssetID == a.ID {
			v.Connections = append(v.Connections, c)
		}
	}
	if v.Accounts, err = inventory.ListAccounts(ctx, s.DB, orgID, inventory.AccountFilter{AssetID: a.ID}, s.today()); err != nil {
		return err
	}
	pg := s.newPage(w, r, "inventory.asset.title")
	pg.Title = a.Name
	pg.Data = v
	s.render(w, r, http.StatusOK, "inventory_asset", pg)
	return nil
}

// FlagText translates a flag.
func (p *page) FlagText(f inventory.Flag) string { return p.T(f.Key, f.Args...) }

// FieldLabel names a field of the asset sheet (for the change history).
func (p *page) FieldLabel(key string) string {
	k := "inventory.field." + key
	if key == "segment" {
		k = "inventory.field.segment_id"
	}
	if p.s.Catalog.Has("ja", k) {
		return p.T(k)
	}
	return key
}

// DateText shows a register date ("" as a dash).
func (p *page) DateText(d inventory.Date) string {
	if d == "" {
		return "—"
	}
	return p.Date(d.Time())
}
