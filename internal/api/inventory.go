package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/imports"
	"github.com/medisac/medisac/internal/inventory"
)

// The inventory API works on the register of the organisation in the path.
// Only its own members reach it; ISAC operators, who manage organisation
// records, get 404 like everyone else. Single-record reads are not audited
// (see internal/web/inventory.go for the reasoning); reads of the account
// inventory, exports and document downloads are.

const invBase = "/api/v1/orgs/{id}/inventory"

// largeBodies are the routes that take more than MaxBody: import files.
var largeBodies = map[string]int64{
	"POST " + invBase + "/import/preview": inventory.MaxImportSize + 1,
	"POST " + invBase + "/import/apply":   inventory.MaxImportSize + 1,
}

// inventoryRoutes are the inventory entries of the route table.
func (a *API) inventoryRoutes() []route {
	rs := []route{
		{"GET", invBase + "/assets", true, false, a.invListAssets},
		{"POST", invBase + "/assets", true, true, a.invCreateAsset},
		{"GET", invBase + "/assets/{rec}", true, false, a.invGetAsset},
		{"PATCH", invBase + "/assets/{rec}", true, true, a.invUpdateAsset},
		{"DELETE", invBase + "/assets/{rec}", true, true, a.invDeleteAsset},
		{"GET", invBase + "/assets/{rec}/history", true, false, a.invAssetHistory},
	}
	for _, k := range invRecordKinds {
		k := k
		rs = append(rs,
			route{"GET", invBase + "/" + k.path, true, false, func(w http.ResponseWriter, r *http.Request, c *call) error { return a.invList(w, r, c, k) }},
			route{"POST", invBase + "/" + k.path, true, true, func(w http.ResponseWriter, r *http.Request, c *call) error { return a.invCreate(w, r, c, k) }},
			route{"GET", invBase + "/" + k.path + "/{rec}", true, false, func(w http.ResponseWriter, r *http.Request, c *call) error { return a.invGet(w, r, c, k) }},
			route{"PATCH", invBase + "/" + k.path + "/{rec}", true, true, func(w http.ResponseWriter, r *http.Request, c *call) error { return a.invUpdate(w, r, c, k) }},
			route{"DELETE", invBase + "/" + k.path + "/{rec}", true, true, func(w http.ResponseWriter, r *http.Request, c *call) error { return a.invDelete(w, r, c, k) }},
		)
	}
	return append(rs,
		route{"GET", invBase + "/systems/{rec}/responsibilities", true, false, a.invGetResponsibilities},
		route{"PUT", invBase + "/systems/{rec}/responsibilities", true, true, a.invSetResponsibilities},
		route{"GET", invBase + "/systems/{rec}/documents", true, false, a.invListDocuments},
		route{"GET", invBase + "/documents/{rec}", true, false, a.invDownloadDocument},
		route{"DELETE", invBase + "/documents/{rec}", true, true, a.invDeleteDocument},
		route{"POST", invBase + "/import/preview", true, true, a.invImportPreview},
		route{"POST", invBase + "/import/apply", true, true, a.invImportApply},
		route{"GET", invBase + "/export", true, false, a.invExport},
		route{"GET", invBase + "/measures", true, false, a.invMeasures},
	)
}

// invOrg checks that the caller works in the organisation of the path.
func invOrg(r *http.Request, c *call) (string, error) {
	id := r.PathValue("id")
	if c.p == nil || c.p.OrgID != id || c.p.IsOperator() {
		return "", db.ErrNotFound
	}
	return id, nil
}

// invWrite checks that the caller may do action (a row of the permission
// table) to the register of the organisation in the path.
func invWrite(r *http.Request, c *call, action string) (string, error) {
	id := r.PathValue("id")
	return id, auth.AuthorizeMember(c.p, action, id)
}

func (a *API) today() inventory.Date { return inventory.DateOf(a.Now()) }

// recordKind describes one record kind of the generic routes. Records
// travel as JSON through the domain types.
type recordKind struct {
	path, objType, listKey string
	// sensitive reads are recorded in the audit log.
	sensitive bool
	// list reads one page of the kind's list, filtered and paged in SQL.
	list func(ctx context.Context, q db.Querier, orgID string, r *http.Request, today inventory.Date, pq inventory.PageQuery) ([]any, string, error)
	get  func(ctx context.Context, q db.Querier, orgID, id string, today inventory.Date) (any, error)
	// create and update decode the body into the record and store it
	// through the inventory service; del removes it.
	create func(ctx context.Context, a *API, p *auth.Principal, orgID string, body []byte) (any, error)
	update func(ctx context.Context, a *API, p *auth.Principal, orgID, id string, body []byte) (any, error)
	del    func(ctx context.Context, a *API, p *auth.Principal, orgID, id string) error
}

// anys turns a page of records into the items of a list answer.
func anys[T any](p inventory.Page[T], err error) ([]any, string, error) {
	out := make([]any, len(p.Items))
	for i := range p.Items {
		out[i] = p.Items[i]
	}
	return out, p.Next, err
}

// readOnlyKeys are the JSON fields a client cannot set.
var readOnlyKeys = map[string]bool{"id": true, "org_id": true, "created_at": true, "updated_at": true, "flags": true,
	"segment": true, "asset_name": true, "vendor_name": true, "vulnerable": true}

// decodeRecord decodes a create body into dst, refusing unknown and
// read-only fields and NUL characters.
func decodeRecord(body []byte, dst any) error {
	if bytes.Contains(body, []byte(`\u0000`)) {
		return apperr.New(apperr.Invalid, "inventory.error.nul")
	}
	var m map[string]json.RawMessage
	if err := decodeJSON(body, &m); err != nil {
		return err
	}
	for k := range m {
		if readOnlyKeys[k] {
			return apperr.Field(k, "inventory.error.read_only_field", k)
		}
	}
	return decodeJSON(body, dst)
}

// mergePatch lays the fields of body over the JSON of cur and decodes the
// result into dst (a JSON merge patch limited to top-level fields).
func mergePatch(cur any, body []byte, dst any) error {
	if bytes.Contains(body, []byte(`\u0000`)) {
		return apperr.New(apperr.Invalid, "inventory.error.nul")
	}
	var patch map[string]json.RawMessage
	if err := decodeJSON(body, &patch); err != nil {
		return err
	}
	b, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for k, v := range patch {
		if _, ok := m[k]; !ok {
			return apperr.Field(k, "error.unknown_field", k)
		}
		if readOnlyKeys[k] {
			return apperr.Field(k, "inventory.error.read_only_field", k)
		}
		m[k] = v
	}
	for k := range readOnlyKeys {
		delete(m, k)
	}
	merged, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return decodeJSON(merged, dst)
}

var invRecordKinds = []*recordKind{
	{path: "segments", objType: "segment", listKey: "segments",
		list: func(ctx context.Context, q db.Querier, orgID string, r *http.Request, _ inventory.Date, pq inventory.PageQuery) ([]any, string, error) {
			return anys(inventory.PageSegments(ctx, q, orgID, inventory.SegmentKind(r.URL.Query().Get("kind")), pq))
		},
		get: func(ctx context.Context, q db.Querier, orgID, id string, _ inventory.Date) (any, error) {
			return inventory.GetSegment(ctx, q, orgID, id)
		},
		create: createVia((*inventory.Service).CreateSegment),
		update: updateVia((*inventory.Service).UpdateSegment),
		del:    deleteVia((*inventory.Service).DeleteSegment),
	},
	{path: "communications", objType: "communication", listKey: "communications",
		list: func(ctx context.Context, q db.Querier, orgID string, r *http.Request, _ inventory.Date, pq inventory.PageQuery) ([]any, string, error) {
			return anys(inventory.PageCommunications(ctx, q, orgID, r.URL.Query().Get("asset_id"), pq))
		},
		get: func(ctx context.Context, q db.Querier, orgID, id string, _ inventory.Date) (any, error) {
			return inventory.GetCommunication(ctx, q, orgID, id)
		},
		create: createVia((*inventory.Service).CreateCommunication),
		update: updateVia((*inventory.Service).UpdateCommunication),
		del:    deleteVia((*inventory.Service).DeleteCommunication),
	},
	{path: "connections", objType: "connection", listKey: "connections",
		list: func(ctx context.Context, q db.Querier, orgID string, r *http.Request, today inventory.Date, pq inventory.PageQuery) ([]any, string, error) {
			f := r.URL.Query()
			return anys(inventory.PageConnections(ctx, q, orgID, inventory.ConnectionFilter{Type: inventory.ConnType(f.Get("type")),
				Manager: inventory.Manager(f.Get("manager")), Flagged: f.Get("flagged") == "true"}, today, pq))
		},
		get: func(ctx context.Context, q db.Querier, orgID, id string, today inventory.Date) (any, error) {
			return inventory.GetConnection(ctx, q, orgID, id, today)
		},
		create: createVia((*inventory.Service).CreateConnection),
		update: updateVia((*inventory.Service).UpdateConnection),
		del:    deleteVia((*inventory.Service).DeleteConnection),
	},
	{path: "vendors", objType: "vendor", listKey: "vendors",
		list: func(ctx context.Context, q db.Querier, orgID string, r *http.Request, _ inventory.Date, pq inventory.PageQuery) ([]any, string, error) {
			return anys(inventory.PageVendors(ctx, q, orgID, pq))
		},
		get: func(ctx context.Context, q db.Querier, orgID, id string, _ inventory.Date) (any, error) {
			return inventory.GetVendor(ctx, q, orgID, id)
		},
		create: createVia((*inventory.Service).CreateVendor),
		update: updateVia((*inventory.Service).UpdateVendor),
		del:    deleteVia((*inventory.Service).DeleteVendor),
	},
	{path: "systems", objType: "system", listKey: "systems",
		list: func(ctx context.Context, q db.Querier, orgID string, r *http.Request, _ inventory.Date, pq inventory.PageQuery) ([]any, string, error) {
			return anys(inventory.PageSystems(ctx, q, orgID, r.URL.Query().Get("vendor_id"), pq))
		},
		get: func(ctx context.Context, q db.Querier, orgID, id string, _ inventory.Date) (any, error) {
			return inventory.GetSystem(ctx, q, orgID, id)
		},
		create: createVia((*inventory.Service).CreateSystem),
		update: updateVia((*inventory.Service).UpdateSystem),
		del:    deleteVia((*inventory.Service).DeleteSystem),
	},
	{path: "contracts", objType: "contract", listKey: "contracts",
		list: func(ctx context.Context, q db.Querier, orgID string, r *http.Request, _ inventory.Date, pq inventory.PageQuery) ([]any, string, error) {
			return anys(inventory.PageContracts(ctx, q, orgID, r.URL.Query().Get("vendor_id"), pq))
		},
		get: func(ctx context.Context, q db.Querier, orgID, id string, _ inventory.Date) (any, error) {
			return inventory.GetContract(ctx, q, orgID, id)
		},
		create: createVia((*inventory.Service).CreateContract),
		update: updateVia((*inventory.Service).UpdateContract),
		del:    deleteVia((*inventory.Service).DeleteContract),
	},
	{path: "accounts", objType: "account", listKey: "accounts", sensitive: true,
		list: func(ctx context.Context, q db.Querier, orgID string, r *http.Request, today inventory.Date, pq inventory.PageQuery) ([]any, string, error) {
			f := r.URL.Query()
			return anys(inventory.PageAccounts(ctx, q, orgID, inventory.AccountFilter{SystemID: f.Get("system_id"), AssetID: f.Get("asset_id"),
				Flagged: f.Get("flagged") == "true"}, today, pq))
		},
		get: func(ctx context.Context, q db.Querier, orgID, id string, today inventory.Date) (any, error) {
			return inventory.GetAccount(ctx, q, orgID, id, today)
		},
		create: createVia((*inventory.Service).CreateAccount),
		update: updateVia((*inventory.Service).UpdateAccount),
		del:    deleteVia((*inventory.Service).DeleteAccount),
	},
}

func limitParam(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, apperr.Field("limit", "inventory.error.bad_limit")
	}
	return n, nil
}

func (a *API) invList(w http.ResponseWriter, r *http.Request, c *call, k *recordKind) error {
	ctx := r.Context()
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	pq := inventory.PageQuery{Cursor: r.URL.Query().Get("cursor"), Limit: limit}
	var page []any
	var next string
	if k.sensitive {
		ev := audit.Event{Action: audit.ActionSensitiveRead, ObjectType: "inventory_" + k.listKey, ObjectID: orgID}
		err = a.Inventory.Read(ctx, c.p, orgID, ev, func(q db.Querier) (map[string]any, error) {
			var err error
			page, next, err = k.list(ctx, q, orgID, r, a.today(), pq)
			return map[string]any{"count": len(page)}, err
		})
	} else {
		page, next, err = k.list(ctx, a.DB, orgID, r, a.today(), pq)
	}
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, map[string]any{k.listKey: page, "next_cursor": next})
	return nil
}

func (a *API) invGet(w http.ResponseWriter, r *http.Request, c *call, k *recordKind) error {
	ctx := r.Context()
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	var rec any
	if k.sensitive {
		err = a.Inventory.Read(ctx, c.p, orgID, audit.Event{Action: audit.ActionSensitiveRead, ObjectType: k.objType, ObjectID: r.PathValue("rec")}, func(q db.Querier) (map[string]any, error) {
			var err error
			rec, err = k.get(ctx, q, orgID, r.PathValue("rec"), a.today())
			return nil, err
		})
	} else {
		rec, err = k.get(ctx, a.DB, orgID, r.PathValue("rec"), a.today())
	}
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, rec)
	return nil
}

func (a *API) invCreate(w http.ResponseWriter, r *http.Request, c *call, k *recordKind) error {
	ctx := r.Context()
	orgID, err := invWrite(r, c, "inventory.write")
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	rec, err := k.create(ctx, a, c.p, orgID, body)
	return a.send(w, http.StatusCreated, rec, err)
}

func (a *API) invUpdate(w http.ResponseWriter, r *http.Request, c *call, k *recordKind) error {
	ctx := r.Context()
	orgID, err := invWrite(r, c, "inventory.write")
	if err != nil {
		return err
	}
	id := r.PathValue("rec")
	if _, err := k.get(ctx, a.DB, orgID, id, a.today()); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	rec, err := k.update(ctx, a, c.p, orgID, id, body)
	return a.send(w, http.StatusOK, rec, err)
}

func (a *API) invDelete(w http.ResponseWriter, r *http.Request, c *call, k *recordKind) error {
	ctx := r.Context()
	orgID, err := invWrite(r, c, "inventory.write")
	if err != nil {
		return err
	}
	if err := k.del(ctx, a, c.p, orgID, r.PathValue("rec")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Assets: keyset pagination in the database and history.

func (a *API) invListAssets(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := inventory.ListAssets(r.Context(), a.DB, orgID, inventory.AssetFilter{Kind: inventory.AssetKind(q.Get("kind")),
		Lifecycle: inventory.Lifecycle(q.Get("lifecycle")), SegmentID: q.Get("segment_id"), Query: q.Get("q"), Cursor: q.Get("cursor"), Limit: limit})
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, page)
	return nil
}

func (a *API) invGetAsset(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	x, err := inventory.GetAsset(r.Context(), a.DB, orgID, r.PathValue("rec"))
	return a.send(w, http.StatusOK, x, err)
}

func (a *API) invAssetHistory(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	id := r.PathValue("rec")
	if _, err := inventory.GetAsset(r.Context(), a.DB, orgID, id); err != nil {
		return err
	}
	hs, err := inventory.AssetHistory(r.Context(), a.DB, orgID, id)
	return a.send(w, http.StatusOK, map[string]any{"history": hs}, err)
}

func (a *API) invCreateAsset(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID, err := invWrite(r, c, "inventory.write")
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in inventory.Asset
	if err := decodeRecord(body, &in); err != nil {
		return err
	}
	out, err := a.Inventory.CreateAsset(ctx, c.p, orgID, in)
	return a.send(w, http.StatusCreated, out, err)
}

func (a *API) invUpdateAsset(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID, err := invWrite(r, c, "inventory.write")
	if err != nil {
		return err
	}
	id := r.PathValue("rec")
	if _, err := inventory.GetAsset(ctx, a.DB, orgID, id); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	_, after, err := a.Inventory.UpdateAsset(ctx, c.p, orgID, id, func(cur inventory.Asset) (inventory.Asset, error) {
		var in inventory.Asset
		err := mergePatch(cur, body, &in)
		return in, err
	})
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, after)
	return nil
}

func (a *API) invDeleteAsset(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID, err := invWrite(r, c, "inventory.write")
	if err != nil {
		return err
	}
	id := r.PathValue("rec")
	if _, err := a.Inventory.DeleteAsset(ctx, c.p, orgID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// The responsibility split and documents.

func (a *API) invGetResponsibilities(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	rs, err := inventory.Responsibilities(r.Context(), a.DB, orgID, r.PathValue("rec"))
	return a.send(w, http.StatusOK, map[string]any{"responsibilities": rs}, err)
}

func (a *API) invSetResponsibilities(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID, err := invWrite(r, c, "inventory.write")
	if err != nil {
		return err
	}
	id := r.PathValue("rec")
	if _, err := inventory.GetSystem(ctx, a.DB, orgID, id); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Responsibilities []inventory.Responsibility `json:"responsibilities"`
	}
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	_, after, err := a.Inventory.SetResponsibilities(ctx, c.p, orgID, id, in.Responsibilities)
	return a.send(w, http.StatusOK, map[string]any{"responsibilities": after}, err)
}

func (a *API) invListDocuments(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	id := r.PathValue("rec")
	if _, err := inventory.GetSystem(r.Context(), a.DB, orgID, id); err != nil {
		return err
	}
	ds, err := inventory.ListDocuments(r.Context(), a.DB, orgID, id)
	return a.send(w, http.StatusOK, map[string]any{"documents": ds}, err)
}

func (a *API) invDownloadDocument(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	if a.Documents == nil {
		return db.ErrNotFound
	}
	d, rc, err := a.Inventory.OpenDocument(ctx, c.p, orgID, r.PathValue("rec"))
	if err != nil {
		return err
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", d.ContentType)
	h.Set("Content-Disposition", `attachment; filename="`+asciiName(d.Filename)+`"`)
	h.Set("Content-Length", strconv.FormatInt(d.Size, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
	return nil
}

func asciiName(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == ';' {
			return '_'
		}
		return r
	}, s)
}

func (a *API) invDeleteDocument(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID, err := invWrite(r, c, "inventory.write")
	if err != nil {
		return err
	}
	if a.Documents == nil {
		return db.ErrNotFound
	}
	if _, err := a.Inventory.DeleteDocument(ctx, c.p, orgID, r.PathValue("rec")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Import and export.

// cellError is an import problem with its message in the caller's
// language.
type cellError struct {
	inventory.CellError
	Message string `json:"message"`
}

type previewBody struct {
	*inventory.Preview
	OK     bool        `json:"ok"`
	Errors []cellError `json:"errors"`
}

type nmapBody struct {
	Format    string                   `json:"format"`
	Proposals []inventory.NmapProposal `json:"proposals"`
	Applied   int                      `json:"applied"`
}

func (a *API) previewBody(c *call, p *inventory.Preview) previewBody {
	out := previewBody{Preview: p, OK: p.OK(), Errors: []cellError{}}
	for _, e := range p.Errors {
		out.Errors = append(out.Errors, cellError{CellError: e, Message: a.Catalog.T(c.lang, e.Key, e.Args...)})
	}
	return out
}

// readImport reads an import file from the request body.
func readImport(r *http.Request) ([]byte, string, error) {
	data, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, "", apperr.New(apperr.TooLarge, "inventory.import.file_too_large", inventory.MaxImportSize>>20)
	}
	if err != nil {
		return nil, "", apperr.Wrap(err, apperr.Invalid, "api.bad_json.read")
	}
	if len(data) == 0 {
		return nil, "", apperr.Field("file", "inventory.error.empty_file")
	}
	return data, importName(r), nil
}

// importName is the file name of an import: ?filename=, else one that
// ?format= or the Content-Type names.
func importName(r *http.Request) string {
	name := r.URL.Query().Get("filename")
	if name == "" {
		switch r.URL.Query().Get("format") {
		case "xlsx":
			name = "import.xlsx"
		case "nmap":
			name = "import.xml"
		case "csv":
			name = "import.csv"
		default:
			ct := r.Header.Get("Content-Type")
			switch {
			case strings.Contains(ct, "spreadsheetml"):
				name = "import.xlsx"
			case strings.Contains(ct, "xml"):
				name = "import.xml"
			default:
				name = "import.csv"
			}
		}
	}
	return name
}

func (a *API) invImportPreview(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID := r.PathValue("id")
	if err := auth.AuthorizeMember(c.p, inventory.ActionImport, orgID); err != nil {
		return err
	}
	release, err := a.Imports.Acquire(orgID)
	if err != nil {
		return err
	}
	defer release()
	data, name, err := readImport(r)
	if err != nil {
		return err
	}
	if inventory.DetectFormat(name, data) == "nmap" {
		scan, err := inventory.ParseNmap(bytes.NewReader(data), inventory.MaxNmapSize)
		if err != nil {
			return inventory.NmapError(err)
		}
		props, err := a.Inventory.PreviewNmap(ctx, c.p, orgID, scan)
		if err != nil {
			return err
		}
		a.reply(w, http.StatusOK, nmapBody{Format: "nmap", Proposals: props})
		return nil
	}
	p, err := a.Inventory.PreviewImport(ctx, c.p, orgID, name, data)
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, a.previewBody(c, p))
	return nil
}

func (a *API) invImportApply(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID := r.PathValue("id")
	in := imports.RegisterInput{FileName: importName(r), Accept: r.URL.Query().Get("accept")}
	// The import runs as a job of the node: a long one answers 202 and
	// goes on (GET /api/v1/imports/{id}).
	run, err := a.ImportJobs.ImportRegister(r.Context(), c.p, orgID, in, r.Body)
	if err != nil {
		return err
	}
	v, accepted, err := a.awaitImport(w, r, c, run)
	if accepted || err != nil {
		return err
	}
	if n, ok := v.(*imports.NmapOutcome); ok {
		a.reply(w, http.StatusOK, nmapBody{Format: "nmap", Proposals: n.Proposals, Applied: len(n.Applied)})
		return nil
	}
	a.reply(w, http.StatusOK, a.previewBody(c, v.(*inventory.Preview)))
	return nil
}

var exportTypes = map[string]string{
	inventory.FormatXLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	inventory.FormatCSV:  "text/csv; charset=utf-8",
	inventory.FormatJSON: "application/json; charset=utf-8",
}

func (a *API) invExport(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = inventory.FormatJSON
	}
	if _, ok := exportTypes[format]; !ok {
		return apperr.Field("format", "inventory.error.bad_format")
	}
	var buf bytes.Buffer
	if err := a.Inventory.Export(ctx, c.p, orgID, format, &buf); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", exportTypes[format])
	h.Set("Content-Disposition", `attachment; filename="inventory-`+strings.ReplaceAll(string(a.today()), "-", "")+`.`+format+`"`)
	w.WriteHeader(http.StatusOK)
	_, _ = buf.WriteTo(w)
	return nil
}

func (a *API) invMeasures(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	rep, err := inventory.UrgentMeasures(r.Context(), a.DB, orgID, a.today(), inventory.MeasureOptions{})
	if err != nil {
		return err
	}
	type todo struct {
		inventory.Todo
		Message string `json:"message"`
	}
	todos := make([]todo, len(rep.Todo))
	for i, t := range rep.Todo {
		todos[i] = todo{Todo: t, Message: a.Catalog.T(c.lang, t.Key, t.Args...)}
	}
	a.reply(w, http.StatusOK, map[string]any{"devices": rep.Devices, "password": rep.Password, "communication": rep.Communication,
		"firmware": rep.Firmware, "overall": rep.Overall, "todo": todos})
	return nil
}

// createRecord is the create step of a record kind whose store functions
// have the common shape: decode the body, create, answer with the record.
// createVia is the POST step of a record kind: decode the body, create
// through the service.
func createVia[T any](create func(*inventory.Service, context.Context, *auth.Principal, string, T) (T, error)) func(context.Context, *API, *auth.Principal, string, []byte) (any, error) {
	return func(ctx context.Context, a *API, p *auth.Principal, orgID string, body []byte) (any, error) {
		var v T
		if err := decodeRecord(body, &v); err != nil {
			return nil, err
		}
		return create(a.Inventory, ctx, p, orgID, v)
	}
}

// updateVia is the PATCH step of a record kind: the service loads the
// record, the body's fields are merged into it, and the service stores it
// and answers with the record after the change.
func updateVia[T any](update func(*inventory.Service, context.Context, *auth.Principal, string, string, inventory.Change[T]) (T, error)) func(context.Context, *API, *auth.Principal, string, string, []byte) (any, error) {
	return func(ctx context.Context, a *API, p *auth.Principal, orgID, id string, body []byte) (any, error) {
		return update(a.Inventory, ctx, p, orgID, id, func(cur T) (T, error) {
			var v T
			err := mergePatch(cur, body, &v)
			return v, err
		})
	}
}

// deleteVia is the DELETE step of a record kind.
func deleteVia[T any](del func(*inventory.Service, context.Context, *auth.Principal, string, string) (T, error)) func(context.Context, *API, *auth.Principal, string, string) error {
	return func(ctx context.Context, a *API, p *auth.Principal, orgID, id string) error {
		_, err := del(a.Inventory, ctx, p, orgID, id)
		return err
	}
}
