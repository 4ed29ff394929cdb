package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/xlsx"
)

// Sheet names of the register workbook.
const (
	SheetAssets      = "資産"
	SheetConnections = "外部接続"
	SheetVendors     = "事業者"
)

// MaxImportSize is the largest import file accepted (bytes).
const MaxImportSize = 64 << 20

// MaxImportRows is the largest number of rows accepted in one sheet.
const MaxImportRows = 200000

// RowStatus is the outcome of one imported row.
type RowStatus string

// The row statuses of a preview.
const (
	RowNew       RowStatus = "new"
	RowChanged   RowStatus = "changed"
	RowUnchanged RowStatus = "unchanged"
	RowError     RowStatus = "error"
)

// CellError is a problem in an import file. Row is 1-based as the
// spreadsheet shows it (0 for the whole file); Column is the header as
// written in the file ("" when not about one column). Key is a message key
// with Args.
type CellError struct {
	Sheet  string `json:"sheet"`
	Row    int    `json:"row"`
	Column string `json:"column"`
	Key    string `json:"key"`
	Args   []any  `json:"args,omitempty"`
}

// PreviewRow is the outcome of one data row.
type PreviewRow struct {
	Sheet  string    `json:"sheet"`
	Row    int       `json:"row"`
	Name   string    `json:"name"`
	Status RowStatus `json:"status"`
	ID     string    `json:"id,omitempty"`
	// Changes lists the changed fields of a changed row, and the filled
	// fields of a new 外部接続 or 事業者 row (not of a new asset row, to keep
	// previews of large files small).
	Changes []FieldChange `json:"changes,omitempty"`
	Errors  []CellError   `json:"errors,omitempty"`
}

// Preview is what an import would do: per-row outcomes, every error, and
// the counts per sheet and status. Apply changes nothing unless Errors is
// empty.
type Preview struct {
	Format      string                       `json:"format"`
	Encoding    string                       `json:"encoding,omitempty"`
	Rows        []PreviewRow                 `json:"rows"`
	Errors      []CellError                  `json:"errors"`
	NewSegments []string                     `json:"new_segments"`
	Ignored     []string                     `json:"ignored_columns"`
	Counts      map[string]map[RowStatus]int `json:"counts"`
	// Stats says how an applied import was written.
	Stats ApplyStats `json:"-"`
	plan  *importPlan
}

// OK reports whether the preview has no errors and can be applied.
func (p *Preview) OK() bool { return len(p.Errors) == 0 }

func (p *Preview) fileError(sheet, key string, args ...any) {
	p.Errors = append(p.Errors, CellError{Sheet: sheet, Key: key, Args: args})
}

func (p *Preview) addRow(r PreviewRow) {
	if len(r.Errors) > 0 {
		r.Status = RowError
		p.Errors = append(p.Errors, r.Errors...)
	}
	if p.Counts[r.Sheet] == nil {
		p.Counts[r.Sheet] = map[RowStatus]int{}
	}
	p.Counts[r.Sheet][r.Status]++
	p.Rows = append(p.Rows, r)
}

type importPlan struct {
	vendorsNew     []Vendor
	vendorsChanged []Vendor
	segmentsNew    []string
	assetsNew      []Asset
	assetsChanged  []assetChange
	connsNew       []Connection
	connsChanged   []Connection
}

// PreviewImport reads an import file (.csv: the asset sheet; .xlsx: sheets
// 資産, 外部接続, 事業者) and compares it with the organisation's register.
// Problems of the file are reported in the Preview, not as an error; the
// error is for database failures.
//
// Matching rule: a row of 資産 is the existing asset with the same name;
// when no asset has that name, the one existing asset with the same serial
// number, else hostname, else IP address (each only when exactly one asset
// has it and no other row claimed it), which is then renamed. Otherwise the
// row is a new asset. 外部接続 and 事業者 rows match by name only. Columns
// missing from the file leave the stored values unchanged; an unknown
// segment name creates that segment.
func PreviewImport(ctx context.Context, q db.Querier, cat *i18n.Catalog, orgID, filename string, data []byte) (*Preview, error) {
	return previewImport(ctx, q, NewLabels(cat), orgID, filename, data)
}

func previewImport(ctx context.Context, q db.Querier, lb *Labels, orgID, filename string, data []byte) (*Preview, error) {
	p := &Preview{Rows: []PreviewRow{}, Errors: []CellError{}, NewSegments: []string{}, Ignored: []string{}, Counts: map[string]map[RowStatus]int{}}
	if len(data) > MaxImportSize {
		p.fileError("", "inventory.import.file_too_large", MaxImportSize>>20)
		return p, nil
	}
	var sheets []Sheet
	serial := false
	switch ext := strings.ToLower(filepath.Ext(filename)); {
	case ext == ".xlsx" || (ext != ".csv" && bytes.HasPrefix(data, []byte("PK\x03\x04"))):
		p.Format, serial = "xlsx", true
		s, err := xlsx.Read(data, xlsx.Limits{MaxRows: MaxImportRows + 1})
		if err != nil {
			switch {
			case errors.Is(err, xlsx.ErrCellTooLong):
				p.fileError("", "inventory.import.xlsx_cell_too_long", xlsx.MaxCellChars)
			case errors.Is(err, xlsx.ErrTextTooLarge):
				p.fileError("", "inventory.import.xlsx_text_too_large", xlsx.DefaultLimits.MaxTextBytes>>20)
			case errors.Is(err, xlsx.ErrLimit):
				p.fileError("", "inventory.import.xlsx_limit")
			default:
				p.fileError("", "inventory.import.not_xlsx")
			}
			return p, nil
		}
		sheets = s
	default:
		p.Format = "csv"
		rows, enc, err := ReadCSV(data, MaxImportRows+1)
		p.Encoding = enc
		switch {
		case errors.Is(err, ErrEncoding):
			p.fileError(SheetAssets, "inventory.import.encoding")
			return p, nil
		case errors.Is(err, xlsx.ErrLimit):
			p.fileError(SheetAssets, "inventory.import.too_many_rows", MaxImportRows)
			return p, nil
		case err != nil:
			p.fileError(SheetAssets, "inventory.import.bad_csv", err.Error())
			return p, nil
		}
		sheets = []Sheet{{Name: SheetAssets, Rows: rows}}
	}
	byName := map[string]*Sheet{}
	for i := range sheets {
		byName[strings.TrimSpace(sheets[i].Name)] = &sheets[i]
	}
	if p.Format == "xlsx" && byName[SheetAssets] == nil && byName[SheetConnections] == nil && byName[SheetVendors] == nil {
		if len(sheets) == 1 {
			sheets[0].Name = SheetAssets
			byName[SheetAssets] = &sheets[0]
		} else {
			p.fileError("", "inventory.import.no_sheets")
			return p, nil
		}
	}
	for _, s := range sheets {
		if len(s.Rows) > MaxImportRows+1 {
			p.fileError(s.Name, "inventory.import.too_many_rows", MaxImportRows)
			return p, nil
		}
	}
	p.plan = &importPlan{}
	im := &importer{ctx: ctx, q: q, orgID: orgID, p: p, serial: serial, lb: lb}
	if err := im.load(); err != nil {
		return nil, err
	}
	if s := byName[SheetVendors]; s != nil {
		im.sheetVendors(s)
	}
	if s := byName[SheetAssets]; s != nil {
		im.sheetAssets(s)
	}
	if s := byName[SheetConnections]; s != nil {
		im.sheetConnections(s)
	}
	p.NewSegments = p.plan.segmentsNew
	if p.NewSegments == nil {
		p.NewSegments = []string{}
	}
	return p, nil
}

type importer struct {
	ctx    context.Context
	q      db.Querier
	orgID  string
	p      *Preview
	serial bool
	lb     *Labels

	existing     []Asset
	byName       map[string]int
	bySerial     map[string][]int
	byHost       map[string][]int
	byIP         map[string][]int
	segments     map[string]string // name → id
	vendorByName map[string]*Vendor
	conns        map[string]*Connection
	// names of assets and vendors that will exist after apply
	fileAssets  map[string]bool
	fileVendors map[string]bool
}

func (im *importer) load() error {
	var err error
	if im.existing, err = AllAssets(im.ctx, im.q, im.orgID); err != nil {
		return err
	}
	im.byName = make(map[string]int, len(im.existing))
	im.bySerial, im.byHost, im.byIP = map[string][]int{}, map[string][]int{}, map[string][]int{}
	for i, a := range im.existing {
		im.byName[a.Name] = i
		if a.Serial != "" {
			im.bySerial[a.Serial] = append(im.bySerial[a.Serial], i)
		}
		if a.Hostname != "" {
			im.byHost[strings.ToLower(a.Hostname)] = append(im.byHost[strings.ToLower(a.Hostname)], i)
		}
		if a.IP != "" {
			im.byIP[a.IP] = append(im.byIP[a.IP], i)
		}
	}
	segs, err := ListSegments(im.ctx, im.q, im.orgID)
	if err != nil {
		return err
	}
	im.segments = map[string]string{}
	for _, s := range segs {
		im.segments[s.Name] = s.ID
	}
	vs, err := ListVendors(im.ctx, im.q, im.orgID)
	if err != nil {
		return err
	}
	im.vendorByName = map[string]*Vendor{}
	for i := range vs {
		im.vendorByName[vs[i].Name] = &vs[i]
	}
	cs, err := ListConnections(im.ctx, im.q, im.orgID, "")
	if err != nil {
		return err
	}
	im.conns = map[string]*Connection{}
	for i := range cs {
		im.conns[cs[i].Name] = &cs[i]
	}
	im.fileAssets, im.fileVendors = map[string]bool{}, map[string]bool{}
	return nil
}

var headerReplacer = strings.NewReplacer(" ", "", "　", "", "_", "", "-", "")

func normHeader(s string) string {
	return strings.ToLower(headerReplacer.Replace(toHalfWidth(strings.TrimSpace(s))))
}

// header maps the columns of the first row to fields. It reports unknown
// headers as ignored, repeated ones and missing required ones as errors.
func header[T any](p *Preview, sheet string, rows [][]Cell, fields []field[T]) (cols map[int]int, names map[int]string, ok bool) {
	if len(rows) == 0 {
		p.fileError(sheet, "inventory.import.empty_sheet")
		return nil, nil, false
	}
	lookup := map[string]int{}
	for i, f := range fields {
		lookup[normHeader(f.JA)] = i
		lookup[normHeader(f.Key)] = i
	}
	cols, names = map[int]int{}, map[int]string{}
	seen := map[int]string{}
	ok = true
	for c, cell := range rows[0] {
		h := strings.TrimSpace(cell.V)
		if h == "" {
			continue
		}
		fi, known := lookup[normHeader(h)]
		if !known {
			p.Ignored = append(p.Ignored, sheet+": "+h)
			continue
		}
		if prev, dup := seen[fi]; dup {
			p.Errors = append(p.Errors, CellError{Sheet: sheet, Row: 1, Column: h, Key: "inventory.import.duplicate_column", Args: []any{prev}})
			ok = false
			continue
		}
		seen[fi] = h
		cols[c], names[c] = fi, h
	}
	for i, f := range fields {
		if _, has := seen[i]; f.Required && !has {
			p.Errors = append(p.Errors, CellError{Sheet: sheet, Row: 1, Column: f.JA, Key: "inventory.import.missing_column", Args: []any{f.JA, f.Key}})
			ok = false
		}
	}
	return cols, names, ok
}

func emptyRow(r []Cell) bool {
	for _, c := range r {
		if strings.TrimSpace(c.V) != "" {
			return false
		}
	}
	return true
}

// setCells fills rec from the row; it returns the errors per column.
func setCells[T any](rec *T, fields []field[T], cols map[int]int, names map[int]string, row []Cell, sheet string, rowNum int, serial bool, lb *Labels) []CellError {
	var errs []CellError
	for c, fi := range cols {
		v := ""
		num := false
		if c < len(row) {
			v, num = strings.TrimSpace(row[c].V), row[c].Num
		}
		if key := fields[fi].set(rec, v, serial && num, lb); key != "" {
			key = "inventory.import." + strings.TrimPrefix(key, "inventory.error.")
			errs = append(errs, CellError{Sheet: sheet, Row: rowNum, Column: names[c], Key: key, Args: []any{v}})
		}
	}
	return errs
}

func nameCell(row []Cell, cols map[int]int) string {
	for c, fi := range cols {
		if fi == 0 && c < len(row) {
			return strings.TrimSpace(row[c].V)
		}
	}
	return ""
}

func columnOf[T any](fields []field[T], names map[int]string, cols map[int]int, key string) string {
	for c, fi := range cols {
		if fields[fi].Key == key {
			return names[c]
		}
	}
	for _, f := range fields {
		if f.Key == key {
			return f.JA
		}
	}
	return key
}

func (im *importer) sheetAssets(s *Sheet) {
	p := im.p
	cols, names, ok := header(p, SheetAssets, s.Rows, assetFields)
	if !ok {
		return
	}
	firstRow := map[string]int{}
	claimed := map[int]int{} // existing index → file row
	for i := 1; i < len(s.Rows); i++ {
		row := s.Rows[i]
		if emptyRow(row) {
			continue
		}
		rowNum := i + 1
		pr := PreviewRow{Sheet: SheetAssets, Row: rowNum, Name: nameCell(row, cols)}
		nameCol := columnOf(assetFields, names, cols, "name")
		if pr.Name == "" {
			pr.Errors = append(pr.Errors, CellError{Sheet: SheetAssets, Row: rowNum, Column: nameCol, Key: "inventory.import.required"})
			p.addRow(pr)
			continue
		}
		if prev, dup := firstRow[pr.Name]; dup {
			pr.Errors = append(pr.Errors, CellError{Sheet: SheetAssets, Row: rowNum, Column: nameCol, Key: "inventory.import.duplicate_name", Args: []any{pr.Name, prev}})
			p.addRow(pr)
			continue
		}
		firstRow[pr.Name] = rowNum
		var rec Asset
		var before *Asset
		idx := im.matchAsset(row, cols, pr.Name)
		if idx >= 0 {
			if other, taken := claimed[idx]; taken {
				pr.Errors = append(pr.Errors, CellError{Sheet: SheetAssets, Row: rowNum, Column: nameCol, Key: "inventory.import.same_asset", Args: []any{other}})
				p.addRow(pr)
				continue
			}
			claimed[idx] = rowNum
			before = &im.existing[idx]
			rec = *before
			rec.OpenPorts = append([]Port(nil), before.OpenPorts...)
		}
		pr.Errors = append(pr.Errors, setCells(&rec, assetFields, cols, names, row, SheetAssets, rowNum, im.serial, im.lb)...)
		if len(pr.Errors) == 0 {
			check := rec
			if err := check.normalize(); err != nil {
				ae := apperr.From(err)
				pr.Errors = append(pr.Errors, CellError{Sheet: SheetAssets, Row: rowNum, Column: columnOf(assetFields, names, cols, ae.Field), Key: ae.Key})
			} else {
				rec = check
			}
		}
		if len(pr.Errors) > 0 {
			p.addRow(pr)
			continue
		}
		im.fileAssets[rec.Name] = true
		if rec.SegmentName != "" {
			if id, ok := im.segments[rec.SegmentName]; ok {
				rec.SegmentID = id
			} else {
				im.segments[rec.SegmentName] = ""
				p.plan.segmentsNew = append(p.plan.segmentsNew, rec.SegmentName)
				rec.SegmentID = ""
			}
		} else {
			rec.SegmentID = ""
		}
		if before == nil {
			pr.Status = RowNew
			p.plan.assetsNew = append(p.plan.assetsNew, rec)
		} else {
			pr.ID = before.ID
			pr.Changes = diffAssets(before, &rec)
			if len(pr.Changes) == 0 {
				pr.Status = RowUnchanged
			} else {
				pr.Status = RowChanged
				p.plan.assetsChanged = append(p.plan.assetsChanged, assetChange{before: *before, after: rec})
			}
		}
		p.addRow(pr)
	}
	// A renamed asset must not take the name of another existing asset that
	// stays.
	for _, ch := range p.plan.assetsChanged {
		a := ch.after
		if i, ok := im.byName[a.Name]; ok && im.existing[i].ID != a.ID {
			if _, alsoInFile := claimed[i]; !alsoInFile {
				p.Errors = append(p.Errors, CellError{Sheet: SheetAssets, Row: firstRow[a.Name], Column: columnOf(assetFields, names, cols, "name"), Key: "inventory.import.name_taken", Args: []any{a.Name}})
			}
		}
	}
}

func (im *importer) matchAsset(row []Cell, cols map[int]int, name string) int {
	if i, ok := im.byName[name]; ok {
		return i
	}
	val := func(key string) string {
		for c, fi := range cols {
			if assetFields[fi].Key == key && c < len(row) {
				return strings.TrimSpace(row[c].V)
			}
		}
		return ""
	}
	for _, m := range []struct {
		key   string
		index map[string][]int
		norm  func(string) string
	}{{"serial", im.bySerial, nil}, {"hostname", im.byHost, strings.ToLower}, {"ip", im.byIP, nil}} {
		v := val(m.key)
		if v == "" {
			continue
		}
		if m.norm != nil {
			v = m.norm(v)
		}
		if hits := m.index[v]; len(hits) == 1 {
			return hits[0]
		}
	}
	return -1
}

var vendorFields = []field[Vendor]{
	func() field[Vendor] {
		f := text("name", "名称", func(v *Vendor) *string { return &v.Name })
		f.Required = true
		return f
	}(),
	text("contact", "担当者", func(v *Vendor) *string { return &v.Contact }),
	text("phone", "電話番号", func(v *Vendor) *string { return &v.Phone }),
	text("email", "メール", func(v *Vendor) *string { return &v.Email }),
	text("notes", "備考", func(v *Vendor) *string { return &v.Notes }),
}

func diffFields[T any](fields []field[T], a, b *T) []FieldChange {
	out := []FieldChange{}
	for _, f := range fields {
		if o, n := f.get(a), f.get(b); o != n {
			out = append(out, FieldChange{Field: f.Key, Old: o, New: n})
		}
	}
	return out
}

func (im *importer) sheetVendors(s *Sheet) {
	readNamedSheet(im, s, namedSheet[Vendor]{name: SheetVendors, fields: vendorFields, existing: im.vendorByName,
		id: func(v *Vendor) string { return v.ID }, normalize: (*Vendor).normalize,
		accept: func(v Vendor, st RowStatus) {
			im.fileVendors[v.Name] = true
			switch st {
			case RowNew:
				im.p.plan.vendorsNew = append(im.p.plan.vendorsNew, v)
			case RowChanged:
				im.p.plan.vendorsChanged = append(im.p.plan.vendorsChanged, v)
			}
		}})
}

// namedSheet is a sheet whose rows are records matched by name (事業者,
// 外部接続): how to read, check and plan its records.
type namedSheet[T any] struct {
	name      string
	fields    []field[T]
	existing  map[string]*T // by name
	id        func(*T) string
	normalize func(*T) error
	// check returns the errors of a read record beyond its own values
	// (references to other rows); col gives the column of a field key.
	check func(rec *T, col func(key string) string) []CellError
	// accept takes a record without errors: new, changed or unchanged.
	accept func(rec T, st RowStatus)
}

// readNamedSheet previews the rows of sheet s as ns describes.
func readNamedSheet[T any](im *importer, s *Sheet, ns namedSheet[T]) {
	p := im.p
	cols, names, ok := header(p, ns.name, s.Rows, ns.fields)
	if !ok {
		return
	}
	col := func(key string) string { return columnOf(ns.fields, names, cols, key) }
	firstRow := map[string]int{}
	for i := 1; i < len(s.Rows); i++ {
		row := s.Rows[i]
		if emptyRow(row) {
			continue
		}
		rowNum := i + 1
		pr := PreviewRow{Sheet: ns.name, Row: rowNum, Name: nameCell(row, cols)}
		nameCol := col("name")
		if pr.Name == "" {
			pr.Errors = append(pr.Errors, CellError{Sheet: ns.name, Row: rowNum, Column: nameCol, Key: "inventory.import.required"})
		} else if prev, dup := firstRow[pr.Name]; dup {
			pr.Errors = append(pr.Errors, CellError{Sheet: ns.name, Row: rowNum, Column: nameCol, Key: "inventory.import.duplicate_name", Args: []any{pr.Name, prev}})
		}
		if len(pr.Errors) > 0 {
			p.addRow(pr)
			continue
		}
		firstRow[pr.Name] = rowNum
		var rec T
		before := ns.existing[pr.Name]
		if before != nil {
			rec = *before
		}
		pr.Errors = setCells(&rec, ns.fields, cols, names, row, ns.name, rowNum, im.serial, im.lb)
		if len(pr.Errors) == 0 {
			if err := ns.normalize(&rec); err != nil {
				ae := apperr.From(err)
				pr.Errors = append(pr.Errors, CellError{Sheet: ns.name, Row: rowNum, Column: col(ae.Field), Key: ae.Key})
			}
		}
		if ns.check != nil {
			for _, e := range ns.check(&rec, col) {
				e.Sheet, e.Row = ns.name, rowNum
				pr.Errors = append(pr.Errors, e)
			}
		}
		if len(pr.Errors) > 0 {
			p.addRow(pr)
			continue
		}
		if before == nil {
			var zero T
			pr.Status = RowNew
			pr.Changes = diffFields(ns.fields, &zero, &rec)
		} else {
			pr.ID = ns.id(before)
			pr.Changes = diffFields(ns.fields, before, &rec)
			pr.Status = RowUnchanged
			if len(pr.Changes) > 0 {
				pr.Status = RowChanged
			}
		}
		ns.accept(rec, pr.Status)
		p.addRow(pr)
	}
}

var connectionFields = []field[Connection]{
	func() field[Connection] {
		f := text("name", "名称", func(c *Connection) *string { return &c.Name })
		f.Required = true
		return f
	}(),
	choice("type", "種別", "inventory.conn_type.", func(c *Connection) *ConnType { return &c.Type }, (*Labels).connType),
	text("device", "終端機器", func(c *Connection) *string { return &c.AssetName }),
	text("peer", "接続先", func(c *Connection) *string { return &c.Peer }),
	text("vendor", "事業者", func(c *Connection) *string { return &c.VendorName }),
	text("purpose", "目的", func(c *Connection) *string { return &c.Purpose }),
	tri("mfa", "多要素認証", func(c *Connection) *Tri { return &c.MFA }),
	choice("manager", "管理者", "inventory.manager.", func(c *Connection) *Manager { return &c.Manager }, (*Labels).manager),
	date("last_reviewed", "最終確認日", func(c *Connection) *Date { return &c.LastReviewedOn }),
	text("notes", "備考", func(c *Connection) *string { return &c.Notes }),
}

func (im *importer) sheetConnections(s *Sheet) {
	readNamedSheet(im, s, namedSheet[Connection]{name: SheetConnections, fields: connectionFields, existing: im.conns,
		id: func(c *Connection) string { return c.ID }, normalize: (*Connection).normalize,
		check: func(c *Connection, col func(string) string) []CellError {
			var errs []CellError
			if c.AssetName != "" {
				if _, ok := im.byName[c.AssetName]; !ok && !im.fileAssets[c.AssetName] {
					errs = append(errs, CellError{Column: col("device"), Key: "inventory.import.unknown_device", Args: []any{c.AssetName}})
				}
			}
			if c.VendorName != "" {
				if _, ok := im.vendorByName[c.VendorName]; !ok && !im.fileVendors[c.VendorName] {
					errs = append(errs, CellError{Column: col("vendor"), Key: "inventory.import.unknown_vendor", Args: []any{c.VendorName}})
				}
			}
			return errs
		},
		accept: func(c Connection, st RowStatus) {
			switch st {
			case RowNew:
				im.p.plan.connsNew = append(im.p.plan.connsNew, c)
			case RowChanged:
				im.p.plan.connsChanged = append(im.p.plan.connsChanged, c)
			}
		}})
}

type assetChange struct {
	before, after Asset
}

func historyJSON(ch []FieldChange) string {
	b, _ := json.Marshal(ch)
	return string(b)
}
