package web

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/inventory"
)

// Segments and allowed communications.

var segmentKind = &invKind{
	path: "segments", objType: "segment", titleKey: "inventory.segment",
	back: func(string) string { return "/inventory/segments" },
	form: func(ctx context.Context, q db.Querier, orgID, id string) (url.Values, error) {
		sg, err := inventory.GetSegment(ctx, q, orgID, id)
		return url.Values{"name": {sg.Name}, "kind": {string(sg.Kind)}, "cidr": {sg.CIDR}, "description": {sg.Description}}, err
	},
	fields: func(ctx context.Context, pg *page, orgID string, f url.Values) ([]invField, error) {
		return []invField{textField(pg, "name", true), enumField(pg, "kind", "inventory.segment_kind.", inventory.SegmentKinds, f, false),
			textField(pg, "cidr", false), typedField(pg, "description", "textarea")}, nil
	},
	save: func(ctx context.Context, s *Server, p *auth.Principal, orgID, id string, f url.Values) (string, error) {
		sg := inventory.Segment{ID: id, Name: f.Get("name"), Kind: inventory.SegmentKind(f.Get("kind")), CIDR: toHalfWidth(f.Get("cidr")), Description: f.Get("description")}
		return storeRecord(ctx, s, p, orgID, id, sg, (*inventory.Service).CreateSegment, (*inventory.Service).UpdateSegment, func(x inventory.Segment) string { return x.ID })
	},
	del: removeBy((*inventory.Service).DeleteSegment),
}

var protocols = []string{"tcp", "udp", "icmp", "any"}

var commKind = &invKind{
	path: "communications", objType: "communication", titleKey: "inventory.comm",
	back: func(string) string { return "/inventory/segments" },
	form: func(ctx context.Context, q db.Querier, orgID, id string) (url.Values, error) {
		c, err := inventory.GetCommunication(ctx, q, orgID, id)
		return url.Values{"from_segment_id": {c.FromSegmentID}, "to_segment_id": {c.ToSegmentID}, "asset_id": {c.AssetID}, "peer": {c.Peer},
			"port": {c.Port}, "protocol": {c.Protocol}, "reason": {c.Reason}, "reviewed_on": {string(c.ReviewedOn)}, "reviewed_by": {c.ReviewedBy}}, err
	},
	fields: func(ctx context.Context, pg *page, orgID string, f url.Values) ([]invField, error) {
		segs, err := segmentOptions(ctx, pg.s.DB, orgID)
		if err != nil {
			return nil, err
		}
		assets, err := assetMenu(ctx, pg.s.DB, orgID, f.Get("asset_id"))
		if err != nil {
			return nil, err
		}
		if f.Get("protocol") == "" {
			f.Set("protocol", "tcp")
		}
		proto := enumField(pg, "protocol", "inventory.protocol.", protocols, f, false)
		return []invField{refField(pg, "asset_id", assets, f), refField(pg, "from_segment_id", segs, f), refField(pg, "to_segment_id", segs, f),
			textField(pg, "peer", false), textField(pg, "port", false), proto, typedField(pg, "reason", "textarea"),
			typedField(pg, "reviewed_on", "date"), textField(pg, "reviewed_by", false)}, nil
	},
	save: func(ctx context.Context, s *Server, p *auth.Principal, orgID, id string, f url.Values) (string, error) {
		d, err := parseDateField(f, "reviewed_on")
		if err != nil {
			return "", err
		}
		c := inventory.Communication{ID: id, FromSegmentID: f.Get("from_segment_id"), ToSegmentID: f.Get("to_segment_id"), AssetID: f.Get("asset_id"),
			Peer: f.Get("peer"), Port: toHalfWidth(f.Get("port")), Protocol: f.Get("protocol"), Reason: f.Get("reason"), ReviewedOn: d, ReviewedBy: f.Get("reviewed_by")}
		return storeRecord(ctx, s, p, orgID, id, c, (*inventory.Service).CreateCommunication, (*inventory.Service).UpdateCommunication, func(x inventory.Communication) string { return x.ID })
	},
	del: removeBy((*inventory.Service).DeleteCommunication),
}

// assetMenu lists assets for a menu, keeping the current one even when the
// register is longer than one menu.
func assetMenu(ctx context.Context, q db.Querier, orgID, current string) ([]option, error) {
	opts, err := assetOptions(ctx, q, orgID)
	if err != nil || current == "" {
		return opts, err
	}
	for _, o := range opts {
		if o.Value == current {
			return opts, nil
		}
	}
	if a, err := inventory.GetAsset(ctx, q, orgID, current); err == nil {
		opts = append([]option{{Value: a.ID, Label: a.Name}}, opts...)
	}
	return opts, nil
}

type commRow struct {
	inventory.Communication
	From, To, Asset string
}

type segmentsView struct {
	Segments []inventory.Segment
	Comms    []commRow
	CanWrite bool
}

// commNames maps segment and asset ids to names for the communication
// list.
func (s *Server) commNames(ctx context.Context, orgID string) (map[string]string, error) {
	names := map[string]string{"": ""}
	segs, err := inventory.ListSegments(ctx, s.DB, orgID)
	if err != nil {
		return nil, err
	}
	for _, sg := range segs {
		names[sg.ID] = sg.Name
	}
	comms, err := inventory.ListCommunications(ctx, s.DB, orgID, "")
	if err != nil {
		return nil, err
	}
	for _, c := range comms {
		if c.AssetID != "" && names[c.AssetID] == "" {
			if a, err := inventory.GetAsset(ctx, s.DB, orgID, c.AssetID); err == nil {
				names[c.AssetID] = a.Name
			}
		}
	}
	return names, nil
}

func (s *Server) invSegments(w http.ResponseWriter, r *http.Request, m *member, orgID string) error {
	ctx := r.Context()
	p := m.P
	v := segmentsView{CanWrite: p.CanWrite()}
	var err error
	if v.Segments, err = inventory.ListSegments(ctx, s.DB, orgID); err != nil {
		return err
	}
	names, err := s.commNames(ctx, orgID)
	if err != nil {
		return err
	}
	comms, err := inventory.ListCommunications(ctx, s.DB, orgID, "")
	if err != nil {
		return err
	}
	for _, c := range comms {
		v.Comms = append(v.Comms, commRow{Communication: c, From: names[c.FromSegmentID], To: names[c.ToSegmentID], Asset: names[c.AssetID]})
	}
	return s.view(w, r, "inventory.segments.title", "inventory_segments", v)
}

// External connections.

var connKind = &invKind{
	path: "connections", objType: "connection", titleKey: "inventory.connection",
	back: func(string) string { return "/inventory/connections" },
	form: func(ctx context.Context, q db.Querier, orgID, id string) (url.Values, error) {
		c, err := inventory.GetConnection(ctx, q, orgID, id, "")
		return url.Values{"name": {c.Name}, "type": {string(c.Type)}, "asset_id": {c.AssetID}, "peer": {c.Peer}, "vendor_id": {c.VendorID},
			"purpose": {c.Purpose}, "mfa": {string(c.MFA)}, "manager": {string(c.Manager)}, "last_reviewed_on": {string(c.LastReviewedOn)}, "notes": {c.Notes}}, err
	},
	fields: func(ctx context.Context, pg *page, orgID string, f url.Values) ([]invField, error) {
		assets, err := assetMenu(ctx, pg.s.DB, orgID, f.Get("asset_id"))
		if err != nil {
			return nil, err
		}
		vendors, err := vendorOptions(ctx, pg.s.DB, orgID)
		if err != nil {
			return nil, err
		}
		if f.Get("manager") == "" {
			f.Set("manager", string(inventory.ManagerUnknown))
		}
		return []invField{textField(pg, "name", true), enumField(pg, "type", "inventory.conn_type.", inventory.ConnTypes, f, false),
			refField(pg, "asset_id", assets, f), textField(pg, "peer", false), refField(pg, "vendor_id", vendors, f),
			textField(pg, "purpose", false), triField(pg, "mfa", f), enumField(pg, "manager", "inventory.manager.", inventory.Managers, f, false),
			typedField(pg, "last_reviewed_on", "date"), typedField(pg, "notes", "textarea")}, nil
	},
	save: func(ctx context.Context, s *Server, p *auth.Principal, orgID, id string, f url.Values) (string, error) {
		d, err := parseDateField(f, "last_reviewed_on")
		if err != nil {
			return "", err
		}
		c := inventory.Connection{ID: id, Name: f.Get("name"), Type: inventory.ConnType(f.Get("type")), AssetID: f.Get("asset_id"), Peer: f.Get("peer"),
			VendorID: f.Get("vendor_id"), Purpose: f.Get("purpose"), MFA: inventory.Tri(f.Get("mfa")), Manager: inventory.Manager(f.Get("manager")),
			LastReviewedOn: d, Notes: f.Get("notes")}
		return storeRecord(ctx, s, p, orgID, id, c, (*inventory.Service).CreateConnection, (*inventory.Service).UpdateConnection, func(x inventory.Connection) string { return x.ID })
	},
	del: removeBy((*inventory.Service).DeleteConnection),
}

type connectionsView struct {
	Connections []inventory.Connection
	Flagged     int
	CanWrite    bool
}

func (s *Server) invConnections(w http.ResponseWriter, r *http.Request, m *member, orgID string) error {
	p := m.P
	v := connectionsView{CanWrite: p.CanWrite()}
	var err error
	if v.Connections, err = inventory.ListConnections(r.Context(), s.DB, orgID, s.today()); err != nil {
		return err
	}
	for _, c := range v.Connections {
		if len(c.Flags) > 0 {
			v.Flagged++
		}
	}
	return s.view(w, r, "inventory.connections.title", "inventory_connections", v)
}

// Vendors and contracts.

var vendorKind = &invKind{
	path: "vendors", objType: "vendor", titleKey: "inventory.vendor",
	back: func(string) string { return "/inventory/vendors" },
	form: func(ctx context.Context, q db.Querier, orgID, id string) (url.Values, error) {
		v, err := inventory.GetVendor(ctx, q, orgID, id)
		return url.Values{"name": {v.Name}, "medisac_org_id": {v.MedisacOrgID}, "contact": {v.Contact}, "phone": {v.Phone}, "email": {v.Email}, "notes": {v.Notes}}, err
	},
	fields: func(ctx context.Context, pg *page, orgID string, f url.Values) ([]invField, error) {
		return []invField{textField(pg, "name", true), textField(pg, "contact", false), textField(pg, "phone", false), textField(pg, "email", false),
			textField(pg, "medisac_org_id", false), typedField(pg, "notes", "textarea")}, nil
	},
	save: func(ctx context.Context, s *Server, p *auth.Principal, orgID, id string, f url.Values) (string, error) {
		v := inventory.Vendor{ID: id, Name: f.Get("name"), MedisacOrgID: f.Get("medisac_org_id"), Contact: f.Get("contact"), Phone: toHalfWidth(f.Get("phone")),
			Email: f.Get("email"), Notes: f.Get("notes")}
		return storeRecord(ctx, s, p, orgID, id, v, (*inventory.Service).CreateVendor, (*inventory.Service).UpdateVendor, func(x inventory.Vendor) string { return x.ID })
	},
	del: removeBy((*inventory.Service).DeleteVendor),
}

var contractKind = &invKind{
	path: "contracts", objType: "contract", titleKey: "inventory.contract",
	back: func(string) string { return "/inventory/vendors" },
	form: func(ctx context.Context, q db.Querier, orgID, id string) (url.Values, error) {
		c, err := inventory.GetContract(ctx, q, orgID, id)
		return url.Values{"vendor_id": {c.VendorID}, "title": {c.Title}, "system_ids": c.SystemIDs, "start_on": {string(c.StartOn)}, "end_on": {string(c.EndOn)},
			"remote_maintenance": {string(c.RemoteMaintenance)}, "contact": {c.Contact}, "notes": {c.Notes}}, err
	},
	fields: func(ctx context.Context, pg *page, orgID string, f url.Values) ([]invField, error) {
		vendors, err := vendorOptions(ctx, pg.s.DB, orgID)
		if err != nil {
			return nil, err
		}
		systems, err := systemOptions(ctx, pg.s.DB, orgID)
		if err != nil {
			return nil, err
		}
		vf := refField(pg, "vendor_id", vendors, f)
		vf.Required = true
		vf.Options[0].Label = pg.T("common.choose")
		sf := typedField(pg, "system_ids", "multi")
		for _, o := range systems {
			for _, cur := range f["system_ids"] {
				o.Selected = o.Selected || cur == o.Value
			}
			sf.Options = append(sf.Options, o)
		}
		return []invField{textField(pg, "title", true), vf, sf, typedField(pg, "start_on", "date"), typedField(pg, "end_on", "date"),
			triField(pg, "remote_maintenance", f), textField(pg, "contact", false), typedField(pg, "notes", "textarea")}, nil
	},
	save: func(ctx context.Context, s *Server, p *auth.Principal, orgID, id string, f url.Values) (string, error) {
		ds, err := parseDates(f, "start_on", "end_on")
		if err != nil {
			return "", err
		}
		c := inventory.Contract{ID: id, VendorID: f.Get("vendor_id"), Title: f.Get("title"), SystemIDs: f["system_ids"], StartOn: ds["start_on"], EndOn: ds["end_on"],
			RemoteMaintenance: inventory.Tri(f.Get("remote_maintenance")), Contact: f.Get("contact"), Notes: f.Get("notes")}
		return storeRecord(ctx, s, p, orgID, id, c, (*inventory.Service).CreateContract, (*inventory.Service).UpdateContract, func(x inventory.Contract) string { return x.ID })
	},
	del: removeBy((*inventory.Service).DeleteContract),
}

type contractRow struct {
	inventory.Contract
	Vendor  string
	Systems []string
	Expired bool
}

type vendorsView struct {
	Vendors   []inventory.Vendor
	Contracts []contractRow
	CanWrite  bool
}

func (s *Server) invVendors(w http.ResponseWriter, r *http.Request, m *member, orgID string) error {
	ctx := r.Context()
	p := m.P
	v := vendorsView{CanWrite: p.CanWrite()}
	var err error
	if v.Vendors, err = inventory.ListVendors(ctx, s.DB, orgID); err != nil {
		return err
	}
	systems, err := inventory.ListSystems(ctx, s.DB, orgID)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, x := range v.Vendors {
		names[x.ID] = x.Name
	}
	for _, x := range systems {
		names[x.ID] = x.Name
	}
	cs, err := inventory.ListContracts(ctx, s.DB, orgID, "")
	if err != nil {
		return err
	}
	for _, c := range cs {
		row := contractRow{Contract: c, Vendor: names[c.VendorID], Expired: c.EndOn.Before(s.today())}
		for _, id := range c.SystemIDs {
			row.Systems = append(row.Systems, names[id])
		}
		v.Contracts = append(v.Contracts, row)
	}
	return s.view(w, r, "inventory.vendors.title", "inventory_vendors", v)
}

// Systems, the responsibility split and documents.

var systemKind = &invKind{
	path: "systems", objType: "system", titleKey: "inventory.system",
	back: func(id string) string {
		if id != "" {
			return "/inventory/systems/" + id
		}
		return "/inventory/systems"
	},
	form: func(ctx context.Context, q db.Querier, orgID, id string) (url.Values, error) {
		x, err := inventory.GetSystem(ctx, q, orgID, id)
		return url.Values{"name": {x.Name}, "vendor_id": {x.VendorID}, "description": {x.Description}}, err
	},
	fields: func(ctx context.Context, pg *page, orgID string, f url.Values) ([]invField, error) {
		vendors, err := vendorOptions(ctx, pg.s.DB, orgID)
		if err != nil {
			return nil, err
		}
		return []invField{textField(pg, "name", true), refField(pg, "vendor_id", vendors, f), typedField(pg, "description", "textarea")}, nil
	},
	save: func(ctx context.Context, s *Server, p *auth.Principal, orgID, id string, f url.Values) (string, error) {
		x := inventory.System{ID: id, Name: f.Get("name"), VendorID: f.Get("vendor_id"), Description: f.Get("description")}
		return storeRecord(ctx, s, p, orgID, id, x, (*inventory.Service).CreateSystem, (*inventory.Service).UpdateSystem, func(x inventory.System) string { return x.ID })
	},
	del: removeBy((*inventory.Service).DeleteSystem),
}

type systemRow struct {
	inventory.System
	Vendor    string
	Undecided int
	Documents int
}

type systemsView struct {
	Systems  []systemRow
	CanWrite bool
}

func (s *Server) invSystems(w http.ResponseWriter, r *http.Request, m *member, orgID string) error {
	ctx := r.Context()
	p := m.P
	reg, err := inventory.LoadRegister(ctx, s.DB, orgID, s.today())
	if err != nil {
		return err
	}
	vendors := map[string]string{}
	for _, x := range reg.Vendors {
		vendors[x.ID] = x.Name
	}
	v := systemsView{CanWrite: p.CanWrite()}
	for _, x := range reg.Systems {
		row := systemRow{System: x, Vendor: vendors[x.VendorID]}
		for _, resp := range reg.Responsibilities[x.ID] {
			if resp.Holder == inventory.HolderUndecided {
				row.Undecided++
			}
		}
		for _, d := range reg.Documents {
			if d.SystemID == x.ID {
				row.Documents++
			}
		}
		v.Systems = append(v.Systems, row)
	}
	return s.view(w, r, "inventory.systems.title", "inventory_systems", v)
}

type systemPageView struct {
	System           inventory.System
	Vendor           string
	Responsibilities []inventory.Responsibility
	Holders          []inventory.Holder
	Documents        []inventory.Document
	DocKinds         []inventory.DocumentKind
	Accounts         []inventory.Account
	Contracts        []inventory.Contract
	CanWrite         bool
	DocsEnabled      bool
	MaxDocMB         int64
}

func (s *Server) invSystemPage(w http.ResponseWriter, r *http.Request, m *member) error {
	s.renderSystemPage(w, r, nil, nil)
	return nil
}

func (s *Server) renderSystemPage(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) {
	ctx := r.Context()
	p := state(r).p
	orgID, err := invOrg(p)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	x, err := inventory.GetSystem(ctx, s.DB, orgID, r.PathValue("id"))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := systemPageView{System: x, Holders: inventory.Holders, DocKinds: inventory.DocumentKinds, CanWrite: p.CanWrite(), DocsEnabled: s.Documents != nil}
	if s.Documents != nil {
		v.MaxDocMB = s.Documents.MaxSize >> 20
	}
	if x.VendorID != "" {
		if vd, err := inventory.GetVendor(ctx, s.DB, orgID, x.VendorID); err == nil {
			v.Vendor = vd.Name
		}
	}
	if v.Responsibilities, err = inventory.Responsibilities(ctx, s.DB, orgID, x.ID); err != nil {
		s.renderError(w, r, err)
		return
	}
	if v.Documents, err = inventory.ListDocuments(ctx, s.DB, orgID, x.ID); err != nil {
		s.renderError(w, r, err)
		return
	}
	cs, err := inventory.ListContracts(ctx, s.DB, orgID, "")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	for _, c := range cs {
		for _, id := range c.SystemIDs {
			if id == x.ID {
				v.Contracts = append(v.Contracts, c)
			}
		}
	}
	err = s.Inventory.Read(ctx, p, orgID, audit.Event{Action: audit.ActionSensitiveRead, ObjectType: "inventory_accounts", ObjectID: x.ID}, func(q db.Querier) (map[string]any, error) {
		var err error
		if v.Accounts, err = inventory.ListAccounts(ctx, q, orgID, inventory.AccountFilter{SystemID: x.ID}, s.today()); err != nil {
			return nil, err
		}
		if len(v.Accounts) == 0 {
			return nil, inventory.ErrNothingRead
		}
		return map[string]any{"system": x.Name, "count": len(v.Accounts)}, nil
	})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	pg := s.newPage(w, r, "inventory.system.title")
	pg.Title = x.Name
	pg.Form = withForm(url.Values{}, submitted)
	pg.Data = v
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
	}
	s.render(w, r, status, "inventory_system", pg)
}

func (s *Server) invResponsibilities(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := invRefusal(m, "inventory.write"); err != nil {
		return err
	}
	orgID, err := invOrg(m.P)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	var rs []inventory.Responsibility
	for _, d := range inventory.Duties {
		h := r.PostForm.Get("holder_" + string(d))
		if h == "" {
			continue
		}
		rs = append(rs, inventory.Responsibility{Duty: d, Holder: inventory.Holder(h), Note: strings.TrimSpace(r.PostForm.Get("note_" + string(d)))})
	}
	if _, _, err := s.Inventory.SetResponsibilities(r.Context(), m.P, orgID, id, rs); err != nil {
		if apperr.From(err).Code == apperr.NotFound {
			return err
		}
		s.renderSystemPage(w, r, err, r.PostForm)
		return nil
	}
	s.flash(w, r, "/inventory/systems/"+id, "flash.inventory_saved")
	return nil
}

func (s *Server) invDocUpload(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := invRefusal(m, "inventory.write"); err != nil {
		return err
	}
	p := m.P
	orgID, err := invOrg(p)
	if err != nil {
		return err
	}
	if s.Documents == nil {
		return apperr.New(apperr.Unavailable, "inventory.error.documents_off")
	}
	id := r.PathValue("id")
	file, hdr, err := r.FormFile("file")
	if err != nil {
		s.renderSystemPage(w, r, apperr.Field("file", "inventory.error.no_file"), r.PostForm)
		return nil
	}
	defer file.Close()
	in := inventory.DocumentInput{SystemID: id, Kind: inventory.DocumentKind(r.PostForm.Get("kind")), Title: r.PostForm.Get("title"), Filename: hdr.Filename}
	if _, err := s.Inventory.UploadDocument(r.Context(), p, orgID, in, file); err != nil {
		s.renderSystemPage(w, r, err, r.PostForm)
		return nil
	}
	s.flash(w, r, "/inventory/systems/"+id+"#documents", "flash.inventory_uploaded")
	return nil
}

func (s *Server) invDocDownload(w http.ResponseWriter, r *http.Request, m *member, orgID string) error {
	if s.Documents == nil {
		return apperr.New(apperr.NotFound, "error.not_found")
	}
	doc, rc, err := s.Inventory.OpenDocument(r.Context(), m.P, orgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	defer rc.Close()
	serveAttachment(w, doc.ContentType, doc.Filename, doc.Size)
	_, _ = io.Copy(w, rc)
	return nil
}

// serveAttachment sets the headers of a download: the stored type, never
// sniffed, and an attachment name in both the plain and the RFC 5987 form.
func serveAttachment(w http.ResponseWriter, contentType, filename string, size int64) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", contentDisposition(filename))
	h.Set("Cache-Control", "no-store")
	if size > 0 {
		h.Set("Content-Length", strconv.FormatInt(size, 10))
	}
}

func contentDisposition(filename string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == ';' {
			return '_'
		}
		return r
	}, filename)
	return `attachment; filename="` + ascii + `"; filename*=UTF-8''` + url.PathEscape(filename)
}

func (s *Server) invDocDelete(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := invRefusal(m, "inventory.write"); err != nil {
		return err
	}
	orgID, err := invOrg(m.P)
	if err != nil {
		return err
	}
	if s.Documents == nil {
		return apperr.New(apperr.NotFound, "error.not_found")
	}
	doc, err := s.Inventory.DeleteDocument(r.Context(), m.P, orgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.flash(w, r, "/inventory/systems/"+doc.SystemID+"#documents", "flash.inventory_deleted")
	return nil
}

// The account inventory.

var accountKind = &invKind{
	path: "accounts", objType: "account", titleKey: "inventory.account",
	back: func(string) string { return "/inventory/accounts" },
	form: func(ctx context.Context, q db.Querier, orgID, id string) (url.Values, error) {
		a, err := inventory.GetAccount(ctx, q, orgID, id, "")
		return url.Values{"username": {a.Username}, "system_id": {a.SystemID}, "asset_id": {a.AssetID}, "kind": {string(a.Kind)}, "admin": {boolValue(a.Admin)},
			"holder": {a.Holder}, "holder_left": {boolValue(a.HolderLeft)}, "expires_on": {string(a.ExpiresOn)}, "last_reviewed_on": {string(a.LastReviewedOn)},
			"state": {string(a.State)}, "notes": {a.Notes}}, err
	},
	fields: func(ctx context.Context, pg *page, orgID string, f url.Values) ([]invField, error) {
		systems, err := systemOptions(ctx, pg.s.DB, orgID)
		if err != nil {
			return nil, err
		}
		assets, err := assetMenu(ctx, pg.s.DB, orgID, f.Get("asset_id"))
		if err != nil {
			return nil, err
		}
		admin := typedField(pg, "admin", "check")
		admin.Checked = checked(f, "admin")
		left := typedField(pg, "holder_left", "check")
		left.Checked = checked(f, "holder_left")
		return []invField{textField(pg, "username", true), refField(pg, "system_id", systems, f), refField(pg, "asset_id", assets, f),
			enumField(pg, "kind", "inventory.account_kind.", inventory.AccountKinds, f, false), admin, textField(pg, "holder", false), left,
			typedField(pg, "expires_on", "date"), typedField(pg, "last_reviewed_on", "date"),
			enumField(pg, "state", "inventory.account_state.", inventory.AccountStates, f, false), typedField(pg, "notes", "textarea")}, nil
	},
	save: func(ctx context.Context, s *Server, p *auth.Principal, orgID, id string, f url.Values) (string, error) {
		ds, err := parseDates(f, "expires_on", "last_reviewed_on")
		if err != nil {
			return "", err
		}
		a := inventory.Account{ID: id, Username: f.Get("username"), SystemID: f.Get("system_id"), AssetID: f.Get("asset_id"), Kind: inventory.AccountKind(f.Get("kind")),
			Admin: checked(f, "admin"), Holder: f.Get("holder"), HolderLeft: checked(f, "holder_left"), ExpiresOn: ds["expires_on"],
			LastReviewedOn: ds["last_reviewed_on"], State: inventory.AccountState(f.Get("state")), Notes: f.Get("notes")}
		return storeRecord(ctx, s, p, orgID, id, a, (*inventory.Service).CreateAccount, (*inventory.Service).UpdateAccount, func(x inventory.Account) string { return x.ID })
	},
	del: removeBy((*inventory.Service).DeleteAccount),
}

type accountRow struct {
	inventory.Account
	Where string
}

type accountsView struct {
	Accounts []accountRow
	Flagged  bool
	Count    int
	CanWrite bool
}

func (s *Server) invAccounts(w http.ResponseWriter, r *http.Request, m *member, orgID string) error {
	ctx := r.Context()
	p := m.P
	v := accountsView{CanWrite: p.CanWrite(), Flagged: r.URL.Query().Get("flagged") == "1"}
	names := map[string]string{}
	systems, err := inventory.ListSystems(ctx, s.DB, orgID)
	if err != nil {
		return err
	}
	for _, x := range systems {
		names[x.ID] = x.Name
	}
	var accounts []inventory.Account
	err = s.Inventory.Read(ctx, p, orgID, audit.Event{Action: audit.ActionSensitiveRead, ObjectType: "inventory_accounts", ObjectID: orgID}, func(q db.Querier) (map[string]any, error) {
		var err error
		if accounts, err = inventory.ListAccounts(ctx, q, orgID, inventory.AccountFilter{Flagged: v.Flagged}, s.today()); err != nil {
			return nil, err
		}
		return map[string]any{"count": len(accounts), "flagged_only": v.Flagged}, nil
	})
	if err != nil {
		return err
	}
	for _, a := range accounts {
		where := names[a.SystemID]
		if a.AssetID != "" {
			if names[a.AssetID] == "" {
				if x, err := inventory.GetAsset(ctx, s.DB, orgID, a.AssetID); err == nil {
					names[a.AssetID] = x.Name
				}
			}
			where = strings.TrimPrefix(where+" / "+names[a.AssetID], " / ")
		}
		v.Accounts = append(v.Accounts, accountRow{Account: a, Where: where})
	}
	v.Count = len(v.Accounts)
	return s.view(w, r, "inventory.accounts.title", "inventory_accounts", v)
}
