package assess

import (
	"context"
	"embed"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

//go:embed editions/*.yaml
var editionsFS embed.FS

// LoadBuiltin parses every edition file embedded in the program. The
// first broken file stops it with a *FileError naming file, line and
// reason; the server refuses to start on it.
func LoadBuiltin() ([]*Edition, error) { return loadDir(editionsFS, "editions") }

func loadDir(fsys fs.FS, dir string) ([]*Edition, error) {
	names, err := fs.Glob(fsys, dir+"/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []*Edition
	seen := map[string]string{}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		e, err := ParseEdition(path.Base(name), b)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[e.ID]; dup {
			return nil, &FileError{File: path.Base(name), Line: 1, Reason: "edition id " + e.ID + " is also used by " + prev}
		}
		seen[e.ID] = path.Base(name)
		e.Builtin = true
		out = append(out, e)
	}
	return out, nil
}

// Registry is the set of editions: those embedded in the program and
// those operators loaded into the database at run time.
type Registry struct {
	builtin []*Edition
	byID    map[string]*Edition
}

// NewRegistry loads the embedded editions.
func NewRegistry() (*Registry, error) {
	es, err := LoadBuiltin()
	if err != nil {
		return nil, err
	}
	r := &Registry{builtin: es, byID: map[string]*Edition{}}
	for _, e := range es {
		r.byID[e.ID] = e
	}
	return r, nil
}

// MustRegistry is NewRegistry for tests and tools; it panics on a broken
// embedded file.
func MustRegistry() *Registry {
	r, err := NewRegistry()
	if err != nil {
		panic(err)
	}
	return r
}

// Builtin returns the embedded editions.
func (r *Registry) Builtin() []*Edition { return r.builtin }

// Get returns an edition by id: an embedded one, or one stored in the
// database that is global or owned by viewerOrg.
func (r *Registry) Get(ctx context.Context, q db.Querier, viewerOrg, id string) (*Edition, error) {
	if e, ok := r.byID[id]; ok {
		return e, nil
	}
	var src, owner string
	err := db.ScanErr(q.QueryRow(ctx, `SELECT source, owner_org_id FROM assess_editions WHERE id = ?`, id).Scan(&src, &owner))
	if err != nil {
		return nil, err
	}
	if owner != "" && owner != viewerOrg {
		return nil, db.ErrNotFound
	}
	return parseStored(id, src)
}

func parseStored(id, src string) (*Edition, error) {
	e, err := ParseEdition("database:"+id, []byte(src))
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Internal, "error.internal")
	}
	return e, nil
}

// List returns the editions a viewer may use: embedded ones and stored
// ones that are global or owned by viewerOrg, ordered by family and year.
func (r *Registry) List(ctx context.Context, q db.Querier, viewerOrg string) ([]*Edition, error) {
	out := append([]*Edition(nil), r.builtin...)
	stored, err := db.QueryAll(ctx, q, func(r db.Scanner) (*Edition, error) {
		var id, src string
		if err := r.Scan(&id, &src); err != nil {
			return nil, err
		}
		return parseStored(id, src)
	}, `SELECT id, source FROM assess_editions WHERE owner_org_id = '' OR owner_org_id = ? ORDER BY id`, viewerOrg)
	if err != nil {
		return nil, err
	}
	out = append(out, stored...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Family != out[j].Family {
			return out[i].Family < out[j].Family
		}
		return out[i].FiscalYear > out[j].FiscalYear
	})
	return out, nil
}

// SaveEdition checks an edition file and stores it, so that a new edition
// (such as a later fiscal year's sheet) is usable without a release.
// ownerOrg "" makes it visible to everyone; an id of an embedded edition
// is refused, an existing stored one is replaced only when replace is set.
// A broken file is an Invalid error whose first argument names the line.
func (r *Registry) SaveEdition(ctx context.Context, q db.Querier, ownerOrg, actorID, file string, data []byte, replace bool, now time.Time) (*Edition, error) {
	e, err := ParseEdition(file, data)
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "assess.edition.invalid", err.Error())
	}
	if _, ok := r.byID[e.ID]; ok {
		return nil, apperr.Field("file", "assess.edition.builtin_id", e.ID)
	}
	var owner string
	err = db.ScanErr(q.QueryRow(ctx, `SELECT owner_org_id FROM assess_editions WHERE id = ?`, e.ID).Scan(&owner))
	switch {
	case err == nil:
		if !replace || owner != ownerOrg {
			return nil, apperr.Field("file", "assess.edition.exists", e.ID)
		}
		_, err = q.Exec(ctx, `UPDATE assess_editions SET source = ?, created_by = ?, created_at = ? WHERE id = ?`, string(data), actorID, now, e.ID)
	case apperr.Is(err, apperr.NotFound):
		_, err = q.Exec(ctx, `INSERT INTO assess_editions (id, owner_org_id, source, created_by, created_at) VALUES (?, ?, ?, ?, ?)`,
			e.ID, ownerOrg, string(data), actorID, now)
	}
	if err != nil {
		return nil, err
	}
	e.File = "database"
	return e, nil
}

// LatestFor returns the newest edition of a family whose fiscal year is
// not after fy, for choosing the sheet of a year.
func (r *Registry) LatestFor(ctx context.Context, q db.Querier, viewerOrg, family string, fy int) (*Edition, error) {
	es, err := r.List(ctx, q, viewerOrg)
	if err != nil {
		return nil, err
	}
	var best *Edition
	for _, e := range es {
		if e.Family == family && e.FiscalYear <= fy && (best == nil || e.FiscalYear > best.FiscalYear) {
			best = e
		}
	}
	if best == nil {
		return nil, db.ErrNotFound
	}
	return best, nil
}

// FamiliesFor lists the edition families an organisation of a kind fills
// for itself, first the main sheet.
func FamiliesFor(orgKind string) []string {
	switch strings.TrimSpace(orgKind) {
	case "pharmacy":
		return []string{"mhlw-pharmacy", "mhlw-urgent", "online-doctor"}
	case "vendor":
		return []string{"mhlw-vendor", "online-vendor"}
	}
	return []string{"mhlw-institution", "mhlw-urgent", "online-doctor"}
}
