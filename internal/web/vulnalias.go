package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/vuln"
	"github.com/medisac/medisac/internal/vuln/match"
)

// vulnAliasWatch is the node's watch: the full re-match after an alias
// change runs in the background when the server has a queue.
func (s *Server) vulnAliasWatch() *vuln.Watch { return s.Vuln }

type vulnAliasView struct {
	Version  string
	Shipped  bool
	File     match.AliasFile
	Use      map[int]int
	History  []vuln.AliasVersion
	Vendors  []string
	Editable bool
}

// AliasUse returns how many registered assets the product alias i
// identifies.
func (v vulnAliasView) AliasUse(i int) int { return v.Use[i] }

// Join joins a list for display.
func (v vulnAliasView) Join(xs []string) string { return strings.Join(xs, ", ") }

func (s *Server) vulnAliasPage(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.renderVulnAlias(w, r, m, http.StatusOK, nil)
}

func (s *Server) renderVulnAlias(w http.ResponseWriter, r *http.Request, m *member, status int, formErr error) error {
	ctx := r.Context()
	vw := s.vulnAliasWatch()
	if err := vw.ReloadAliases(ctx); err != nil {
		return err
	}
	v := vulnAliasView{Version: vw.Aliases.Version(), File: vw.Aliases.File(), Editable: m.P.IsAdmin() && m.P.CanWrite()}
	v.Shipped = v.Version == vuln.ShippedAliasesVersion()
	var err error
	if v.Use, err = vw.AliasUse(ctx); err != nil {
		return err
	}
	if v.History, err = vuln.AliasHistory(ctx, s.DB, 100); err != nil {
		return err
	}
	for _, x := range v.File.Vendors {
		v.Vendors = append(v.Vendors, x.CPE)
	}
	pg := s.newPage(w, r, "vulnalias.web.title")
	pg.Data = v
	if formErr != nil {
		pg.Error = apperr.From(formErr)
		pg.Form = r.PostForm
	}
	s.render(w, r, status, "vulnalias_table", pg)
	return nil
}

// notFound gives a missing row the not-found message.
func notFound(err error) error {
	if errors.Is(err, db.ErrNotFound) {
		return apperr.New(apperr.NotFound, "error.not_found")
	}
	return err
}

func (s *Server) vulnAliasDownload(w http.ResponseWriter, r *http.Request, _ *member) error {
	if id := r.PathValue("id"); id != "" {
		v, b, err := vuln.AliasVersionBody(r.Context(), s.DB, id)
		if err != nil {
			return notFound(err)
		}
		return sendFile(w, "application/json; charset=utf-8", fmt.Sprintf(`attachment; filename="aliases-%d-%s.json"`, v.Seq, v.Version), b)
	}
	vw := s.vulnAliasWatch()
	if err := vw.ReloadAliases(r.Context()); err != nil {
		return err
	}
	return sendFile(w, "application/json; charset=utf-8", `attachment; filename="aliases-`+vw.Aliases.Version()+`.json"`, vw.Aliases.JSON())
}

// vulnAliasChange saves a change made by fn (the table in force is
// given) and answers with the page or its error.
func (s *Server) vulnAliasChange(w http.ResponseWriter, r *http.Request, m *member, do vuln.AliasChanger) error {
	if err := vuln.AuthorizeAliasChange(m.P); err != nil {
		return err
	}
	ch, err := s.Vuln.ChangeAliases(r.Context(), m.P, vuln.AliasSave{Note: r.PostFormValue("note")}, do, nil)
	if err != nil {
		code := apperr.CodeOf(err)
		if code == apperr.Invalid || code == apperr.TooLarge || code == apperr.Conflict {
			return s.renderVulnAlias(w, r, m, http.StatusUnprocessableEntity, err)
		}
		return notFound(err)
	}
	if !ch.Changed {
		s.flash(w, r, "/vuln/aliases", "flash.vulnalias_unchanged")
		return nil
	}
	s.flash(w, r, "/vuln/aliases", "flash.vulnalias_saved")
	return nil
}

// editAliases returns a change that applies fn to the table in force,
// refusing when the form was made from another version.
func editAliases(r *http.Request, fn func(f *match.AliasFile) (string, error)) func(context.Context, *vuln.Watch, vuln.AliasSave, func(context.Context, *db.Tx, vuln.AliasChange) error) (vuln.AliasChange, error) {
	return func(ctx context.Context, vw *vuln.Watch, in vuln.AliasSave, record func(context.Context, *db.Tx, vuln.AliasChange) error) (vuln.AliasChange, error) {
		if v := r.PostFormValue("version"); v != "" && v != vw.Aliases.Version() {
			return vuln.AliasChange{}, apperr.New(apperr.Conflict, "vulnalias.err.stale")
		}
		f := vw.Aliases.File()
		note, err := fn(&f)
		if err != nil {
			return vuln.AliasChange{}, err
		}
		if strings.TrimSpace(in.Note) == "" {
			in.Note = note
		}
		in.Body, in.Action = match.EncodeAliases(f), vuln.AliasEdit
		return vw.SaveAliases(ctx, in, record)
	}
}

// splitList splits a form list on commas, 、 and line breaks.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '、' || r == '，' || r == '\n' || r == '\r' }) {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func (s *Server) vulnAliasAddVendor(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.vulnAliasChange(w, r, m, editAliases(r, func(f *match.AliasFile) (string, error) {
		spelling := strings.TrimSpace(r.PostFormValue("spelling"))
		cpeVendor := strings.ToLower(strings.TrimSpace(r.PostFormValue("cpe")))
		if spelling == "" {
			return "", apperr.Field("spelling", "vulnalias.err.spelling_required")
		}
		if cpeVendor == "" {
			return "", apperr.Field("cpe", "vulnalias.err.cpe_required")
		}
		added := false
		for i := range f.Vendors {
			if f.Vendors[i].CPE == cpeVendor {
				f.Vendors[i].Names = append(f.Vendors[i].Names, spelling)
				added = true
				break
			}
		}
		if !added {
			f.Vendors = append(f.Vendors, match.VendorAlias{CPE: cpeVendor, Names: []string{spelling}})
		}
		return s.Catalog.T("ja", "vulnalias.note.add_vendor", spelling, cpeVendor), nil
	}))
}

func (s *Server) vulnAliasAddProduct(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.vulnAliasChange(w, r, m, editAliases(r, func(f *match.AliasFile) (string, error) {
		p := match.ProductAlias{
			Vendor:        strings.ToLower(strings.TrimSpace(r.PostFormValue("vendor"))),
			Names:         splitList(r.PostFormValue("names")),
			ModelPrefixes: splitList(r.PostFormValue("model_prefixes")),
		}
		for _, l := range strings.Split(r.PostFormValue("identities"), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				p.Identities = append(p.Identities, l)
			}
		}
		switch {
		case p.Vendor == "":
			return "", apperr.Field("vendor", "vulnalias.err.cpe_required")
		case len(p.Names) == 0:
			return "", apperr.Field("names", "vulnalias.err.names_required")
		case len(p.Identities) == 0:
			return "", apperr.Field("identities", "vulnalias.err.identities_required")
		}
		f.Products = append(f.Products, p)
		return s.Catalog.T("ja", "vulnalias.note.add_product", p.Vendor, strings.Join(p.Names, ", ")), nil
	}))
}

// renameNameRe is one side of a rename: "vendor:product" as NVD writes
// them.
var renameNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_.\-]*:[^\s:]+$`)

func (s *Server) vulnAliasAddRename(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.vulnAliasChange(w, r, m, editAliases(r, func(f *match.AliasFile) (string, error) {
		from := strings.ToLower(strings.TrimSpace(r.PostFormValue("from")))
		to := strings.ToLower(strings.TrimSpace(r.PostFormValue("to")))
		switch {
		case !renameNameRe.MatchString(from):
			return "", apperr.Field("from", "vulnalias.err.rename_form")
		case !renameNameRe.MatchString(to):
			return "", apperr.Field("to", "vulnalias.err.rename_form")
		case from == to:
			return "", apperr.Field("to", "vulnalias.err.rename_same")
		}
		for _, rn := range f.Renames {
			if rn.From == from && rn.To == to {
				return "", apperr.Field("to", "vulnalias.err.rename_exists", from, to)
			}
		}
		f.Renames = append(f.Renames, match.RenameAlias{From: from, To: to})
		return s.Catalog.T("ja", "vulnalias.note.add_rename", from, to), nil
	}))
}

func (s *Server) vulnAliasRemove(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.vulnAliasChange(w, r, m, editAliases(r, func(f *match.AliasFile) (string, error) {
		i, err := strconv.Atoi(r.PostFormValue("index"))
		bad := apperr.New(apperr.Conflict, "vulnalias.err.stale")
		if err != nil || i < 0 {
			return "", bad
		}
		var what string
		switch r.PostFormValue("kind") {
		case "vendor":
			if i >= len(f.Vendors) {
				return "", bad
			}
			what = f.Vendors[i].CPE + " (" + strings.Join(f.Vendors[i].Names, ", ") + ")"
			f.Vendors = append(f.Vendors[:i], f.Vendors[i+1:]...)
		case "product":
			if i >= len(f.Products) {
				return "", bad
			}
			what = f.Products[i].Vendor + ": " + strings.Join(f.Products[i].Names, ", ")
			f.Products = append(f.Products[:i], f.Products[i+1:]...)
		case "rename":
			if i >= len(f.Renames) {
				return "", bad
			}
			what = f.Renames[i].From + " → " + f.Renames[i].To
			f.Renames = append(f.Renames[:i], f.Renames[i+1:]...)
		default:
			return "", bad
		}
		return s.Catalog.T("ja", "vulnalias.note.remove", what), nil
	}))
}

func (s *Server) vulnAliasUpload(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.vulnAliasChange(w, r, m, func(ctx context.Context, vw *vuln.Watch, in vuln.AliasSave, record func(context.Context, *db.Tx, vuln.AliasChange) error) (vuln.AliasChange, error) {
		file, _, err := r.FormFile("file")
		if err != nil {
			return vuln.AliasChange{}, apperr.Field("file", "vulnalias.err.no_file")
		}
		defer file.Close()
		b, err := io.ReadAll(io.LimitReader(file, 4<<20+1))
		if err != nil {
			return vuln.AliasChange{}, apperr.Wrap(err, apperr.Invalid, "vulnalias.err.read", err.Error())
		}
		in.Body, in.Action = b, vuln.AliasUpload
		return vw.SaveAliases(ctx, in, record)
	})
}

func (s *Server) vulnAliasRestore(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.vulnAliasChange(w, r, m, func(ctx context.Context, vw *vuln.Watch, in vuln.AliasSave, record func(context.Context, *db.Tx, vuln.AliasChange) error) (vuln.AliasChange, error) {
		id := r.PostFormValue("id")
		v, _, err := vuln.AliasVersionBody(ctx, s.DB, id)
		if err != nil {
			return vuln.AliasChange{}, err
		}
		if strings.TrimSpace(in.Note) == "" {
			in.Note = s.Catalog.T("ja", "vulnalias.note.restore", v.Seq)
		}
		return vw.RestoreAliases(ctx, id, in, record)
	})
}

func (s *Server) vulnAliasReset(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.vulnAliasChange(w, r, m, func(ctx context.Context, vw *vuln.Watch, in vuln.AliasSave, record func(context.Context, *db.Tx, vuln.AliasChange) error) (vuln.AliasChange, error) {
		return vw.ResetAliases(ctx, in, record)
	})
}
