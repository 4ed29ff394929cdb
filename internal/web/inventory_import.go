package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/inventory"
)

// maxPreviewRows bounds the rows an import preview lists (the counts cover
// every row).
const maxPreviewRows = 500

// An uploaded import file waits between the preview and the apply in the
// document store under imports/<org>/<token>; the token is random and the
// organisation comes from the session, so nobody else can apply it.
func importKey(orgID, token string) string { return "imports/" + orgID + "/" + token }

func validToken(t string) bool {
	if len(t) != 32 {
		return false
	}
	_, err := hex.DecodeString(t)
	return err == nil && strings.ToLower(t) == t
}

type importFormView struct {
	CanWrite bool
	MaxMB    int
}

func (s *Server) invImportForm(w http.ResponseWriter, r *http.Request, m *member) error {
	p := m.P
	if _, err := invOrg(p); err != nil {
		return err
	}
	pg := s.newPage(w, r, "inventory.import.title")
	pg.Data = importFormView{CanWrite: p.CanWrite(), MaxMB: inventory.MaxImportSize >> 20}
	s.render(w, r, http.StatusOK, "inventory_import", pg)
	return nil
}

func (s *Server) renderImportError(w http.ResponseWriter, r *http.Request, err error) {
	p := state(r).p
	pg := s.newPage(w, r, "inventory.import.title")
	pg.Data = importFormView{CanWrite: p.CanWrite(), MaxMB: inventory.MaxImportSize >> 20}
	pg.Error = apperr.From(err)
	s.render(w, r, formStatus(err), "inventory_import", pg)
}

// previewError is one problem of an import file as the preview shows it.
type previewError struct {
	Sheet, Column, Message string
	Row                    int
}

type previewRow struct {
	inventory.PreviewRow
	Changes string
}

type importPreviewView struct {
	Token, Filename, Format, Encoding string
	OK                                bool
	Errors                            []previewError
	Rows                              []previewRow
	Hidden                            int
	Counts                            []countRow
	NewSegments                       []string
	Ignored                           []string
	Nmap                              []inventory.NmapProposal
}

type countRow struct {
	Sheet                             string
	New, Changed, Unchanged, ErrorRow int
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// readUpload reads the uploaded import file, at most MaxImportSize bytes.
func readUpload(r *http.Request) ([]byte, string, error) {
	file, hdr, err := r.FormFile("file")
	if err != nil {
		return nil, "", apperr.Field("file", "inventory.error.no_file")
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, inventory.MaxImportSize+1))
	if err != nil {
		return nil, "", err
	}
	if len(data) > inventory.MaxImportSize {
		return nil, "", apperr.New(apperr.TooLarge, "inventory.import.file_too_large", inventory.MaxImportSize>>20)
	}
	if len(data) == 0 {
		return nil, "", apperr.Field("file", "inventory.error.empty_file")
	}
	return data, filepath.Base(strings.ReplaceAll(hdr.Filename, "\\", "/")), nil
}

func (s *Server) invImportPreview(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := invRefusal(m, "inventory.import"); err != nil {
		return err
	}
	ctx := r.Context()
	orgID, err := invOrg(m.P)
	if err != nil {
		return err
	}
	if s.Documents == nil {
		s.renderImportError(w, r, apperr.New(apperr.Unavailable, "inventory.error.documents_off"))
		return nil
	}
	release, err := s.Imports.Acquire(orgID)
	if err != nil {
		s.renderImportError(w, r, err)
		return nil
	}
	defer release()
	data, filename, err := readUpload(r)
	if err != nil {
		s.renderImportError(w, r, err)
		return nil
	}
	v := importPreviewView{Token: newToken(), Filename: filename, Format: inventory.DetectFormat(filename, data)}
	pg := s.newPage(w, r, "inventory.import.preview_title")
	if v.Format == "nmap" {
		scan, err := inventory.ParseNmap(bytes.NewReader(data), inventory.MaxNmapSize)
		if err != nil {
			s.renderImportError(w, r, inventory.NmapError(err))
			return nil
		}
		if v.Nmap, err = s.Inventory.PreviewNmap(ctx, m.P, orgID, scan); err != nil {
			return err
		}
		v.OK = true
	} else {
		pv, err := s.Inventory.PreviewImport(ctx, m.P, orgID, filename, data)
		if err != nil {
			return err
		}
		fillPreview(pg, &v, pv)
	}
	if v.OK {
		if err := s.Documents.Blobs.Put(ctx, importKey(orgID, v.Token), data); err != nil {
			return err
		}
	}
	pg.Data = v
	status := http.StatusOK
	if !v.OK {
		status = http.StatusUnprocessableEntity
	}
	s.render(w, r, status, "inventory_preview", pg)
	return nil
}

func fillPreview(pg *page, v *importPreviewView, pv *inventory.Preview) {
	v.Format, v.Encoding, v.OK = pv.Format, pv.Encoding, pv.OK()
	for _, e := range pv.Errors {
		v.Errors = append(v.Errors, previewError{Sheet: e.Sheet, Row: e.Row, Column: e.Column, Message: pg.T(e.Key, e.Args...)})
	}
	for _, row := range pv.Rows {
		if len(v.Rows) >= maxPreviewRows {
			v.Hidden++
			continue
		}
		pr := previewRow{PreviewRow: row}
		var parts []string
		for _, c := range row.Changes {
			parts = append(parts, pg.FieldLabel(c.Field)+": "+orDash(c.Old)+" → "+orDash(c.New))
		}
		pr.Changes = strings.Join(parts, " / ")
		v.Rows = append(v.Rows, pr)
	}
	for _, sheet := range []string{inventory.SheetAssets, inventory.SheetConnections, inventory.SheetVendors} {
		c, ok := pv.Counts[sheet]
		if !ok {
			continue
		}
		v.Counts = append(v.Counts, countRow{Sheet: sheet, New: c[inventory.RowNew], Changed: c[inventory.RowChanged],
			Unchanged: c[inventory.RowUnchanged], ErrorRow: c[inventory.RowError]})
	}
	v.NewSegments, v.Ignored = pv.NewSegments, pv.Ignored
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// loadImport reads the waiting import file of the form's token.
func (s *Server) loadImport(ctx context.Context, orgID, token string) ([]byte, error) {
	if s.Documents == nil || !validToken(token) {
		return nil, apperr.New(apperr.NotFound, "inventory.import.expired")
	}
	rc, err := s.Documents.Blobs.Open(ctx, importKey(orgID, token))
	if err != nil {
		return nil, apperr.New(apperr.NotFound, "inventory.import.expired")
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, inventory.MaxImportSize+1))
}

func (s *Server) invImportApply(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := invRefusal(m, "inventory.import"); err != nil {
		return err
	}
	ctx := r.Context()
	p := m.P
	orgID, err := invOrg(p)
	if err != nil {
		return err
	}
	token, filename := r.PostForm.Get("token"), filepath.Base(r.PostForm.Get("filename"))
	release, err := s.Imports.Acquire(orgID)
	if err != nil {
		s.renderImportError(w, r, err)
		return nil
	}
	defer release()
	data, err := s.loadImport(ctx, orgID, token)
	if err != nil {
		s.renderImportError(w, r, err)
		return nil
	}
	pv, err := s.Inventory.ApplyImport(ctx, p, orgID, filename, data)
	if err != nil {
		if pv != nil && !pv.OK() {
			pg := s.newPage(w, r, "inventory.import.preview_title")
			v := importPreviewView{Token: token, Filename: filename}
			fillPreview(pg, &v, pv)
			pg.Data = v
			pg.Error = apperr.From(err)
			s.render(w, r, http.StatusUnprocessableEntity, "inventory_preview", pg)
			return nil
		}
		s.renderImportError(w, r, err)
		return nil
	}
	_ = s.Documents.Blobs.Delete(ctx, importKey(orgID, token))
	s.flash(w, r, "/inventory", "flash.inventory_imported")
	return nil
}

func (s *Server) invNmapApply(w http.ResponseWriter, r *http.Request, m *member) error {
	if err := invRefusal(m, "inventory.import"); err != nil {
		return err
	}
	ctx := r.Context()
	p := m.P
	orgID, err := invOrg(p)
	if err != nil {
		return err
	}
	token := r.PostForm.Get("token")
	release, err := s.Imports.Acquire(orgID)
	if err != nil {
		s.renderImportError(w, r, err)
		return nil
	}
	defer release()
	data, err := s.loadImport(ctx, orgID, token)
	if err != nil {
		s.renderImportError(w, r, err)
		return nil
	}
	scan, err := inventory.ParseNmap(bytes.NewReader(data), inventory.MaxNmapSize)
	if err != nil {
		s.renderImportError(w, r, inventory.NmapError(err))
		return nil
	}
	var accept []int
	for _, x := range r.PostForm["accept"] {
		n, err := strconv.Atoi(x)
		if err != nil {
			s.renderImportError(w, r, apperr.Field("accept", "inventory.nmap.bad_index", -1))
			return nil
		}
		accept = append(accept, n)
	}
	if len(accept) == 0 {
		s.renderImportError(w, r, apperr.Field("accept", "inventory.import.nothing_chosen"))
		return nil
	}
	if _, _, err := s.Inventory.ApplyNmap(ctx, p, orgID, scan, accept); err != nil {
		s.renderImportError(w, r, err)
		return nil
	}
	_ = s.Documents.Blobs.Delete(ctx, importKey(orgID, token))
	s.flash(w, r, "/inventory", "flash.inventory_imported")
	return nil
}

func (s *Server) invImportCancel(w http.ResponseWriter, r *http.Request, m *member) error {
	orgID, err := invOrg(m.P)
	if err != nil {
		return err
	}
	if t := r.PostForm.Get("token"); s.Documents != nil && validToken(t) {
		_ = s.Documents.Blobs.Delete(r.Context(), importKey(orgID, t))
	}
	http.Redirect(w, r, "/inventory/import", http.StatusSeeOther)
	return nil
}

var exportTypes = map[string]string{
	inventory.FormatXLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	inventory.FormatCSV:  "text/csv; charset=utf-8",
	inventory.FormatJSON: "application/json; charset=utf-8",
}

func (s *Server) invTemplate(w http.ResponseWriter, r *http.Request, m *member, format string) error {
	if _, err := invOrg(m.P); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := inventory.Template(format, &buf); err != nil {
		return err
	}
	serveAttachment(w, exportTypes[format], "資産台帳テンプレート."+format, int64(buf.Len()))
	_, _ = buf.WriteTo(w)
	return nil
}

func (s *Server) invExport(w http.ResponseWriter, r *http.Request, m *member) error {
	orgID, err := invOrg(m.P)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if _, ok := exportTypes[format]; !ok {
		return apperr.Field("format", "inventory.error.bad_format")
	}
	var buf bytes.Buffer
	if err := s.Inventory.Export(r.Context(), m.P, orgID, format, &buf); err != nil {
		return err
	}
	name := "資産台帳-" + strings.ReplaceAll(string(s.today()), "-", "") + "." + format
	serveAttachment(w, exportTypes[format], name, int64(buf.Len()))
	_, _ = buf.WriteTo(w)
	return nil
}

type overviewView struct {
	Connections, Flagged, Segments, Assets int
}

func (s *Server) invOverview(w http.ResponseWriter, r *http.Request, m *member) error {
	orgID, err := invOrg(m.P)
	if err != nil {
		return err
	}
	conns, err := inventory.ListConnections(r.Context(), s.DB, orgID, s.today())
	if err != nil {
		return err
	}
	v := overviewView{Connections: len(conns)}
	for _, c := range conns {
		if len(c.Flags) > 0 {
			v.Flagged++
		}
	}
	return s.view(w, r, "inventory.overview_page.title", "inventory_overview", v)
}

// invOverviewSVG serves the diagram as an image: the page shows it with
// <img>, where an SVG cannot run script, and the policy header forbids
// script when it is opened on its own.
func (s *Server) invOverviewSVG(w http.ResponseWriter, r *http.Request, m *member) error {
	p := m.P
	orgID, err := invOrg(p)
	if err != nil {
		return err
	}
	lang := state(r).lang
	var buf bytes.Buffer
	err = inventory.RenderOverview(r.Context(), s.DB, orgID, &buf, inventory.OverviewOptions{OrgName: p.OrgName, Today: s.today(),
		T: func(key string, args ...any) string { return s.Catalog.T(lang, key, args...) }})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", `inline; filename="network-overview.svg"`)
	_, _ = buf.WriteTo(w)
	return nil
}

type measuresView struct {
	Report  *inventory.MeasuresReport
	Names   map[string]string
	More    int
	HasTodo bool
}

// maxTodo bounds the to-do list shown at once.
const maxTodo = 200

func (s *Server) invMeasures(w http.ResponseWriter, r *http.Request, m *member) error {
	orgID, err := invOrg(m.P)
	if err != nil {
		return err
	}
	rep, err := inventory.UrgentMeasures(r.Context(), s.DB, orgID, s.today(), inventory.MeasureOptions{})
	if err != nil {
		return err
	}
	v := measuresView{Report: rep, HasTodo: len(rep.Todo) > 0}
	if len(rep.Todo) > maxTodo {
		v.More = len(rep.Todo) - maxTodo
		rep.Todo = rep.Todo[:maxTodo]
	}
	return s.view(w, r, "inventory.measures.title", "inventory_measures", v)
}

// TodoText translates a to-do entry.
func (p *page) TodoText(t inventory.Todo) string { return p.T(t.Key, t.Args...) }

// MeasureClass is the status colour of a measure state.
func (p *page) MeasureClass(st inventory.MeasureState) string {
	switch st {
	case inventory.MeasureDone:
		return "ok"
	case inventory.MeasureTodo:
		return "failure"
	}
	return "todo"
}
