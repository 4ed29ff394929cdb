package inventory

import (
	"context"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
)

// Service is the inventory capability: every use case that changes a
// register is one method that asks the permission table, runs its
// transaction(s) and writes the one audit entry of the action, whichever
// door (web, API, command line) it came through. It is built once per
// node.
type Service struct {
	DB    *db.DB
	Audit *audit.Log
	Now   func() time.Time
	// Documents keeps document files; nil turns documents off.
	Documents *Documents
	// labels are the words of choices in the node's catalog, for import
	// and export.
	labels *Labels

	// hook, when set (tests), is called after each staged-import chunk
	// commits; an error stops the import there.
	hook func(stage string, n int) error
	// chunkRows, when set (tests), ends an import transaction after that
	// many rows instead of after stagedBudget.
	chunkRows int
}

// NewService returns the inventory service of a node; cat is the node's
// message catalog (the labels of choices on import and export).
func NewService(d *db.DB, log *audit.Log, cat *i18n.Catalog, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{DB: d, Audit: log, Now: now, labels: NewLabels(cat)}
}

func (s *Service) stager() *stager {
	return &stager{d: s.DB, log: s.Audit, now: s.Now, lb: s.labels, hook: s.hook, chunkRows: s.chunkRows}
}

// ActionImport is the audit action (and permission rule) of an import.
const ActionImport = "inventory.import"

// Recover finishes the imports that a stopped process left applying and
// discards the ones it left staging (the node calls it at start). It
// returns the number of imports it dealt with.
func (s *Service) Recover(ctx context.Context) (int, error) {
	return s.stager().recoverAll(ctx)
}

// PreviewImport compares an import file with the organisation's register
// (see the package function); it writes nothing.
func (s *Service) PreviewImport(ctx context.Context, p *auth.Principal, orgID, filename string, data []byte) (*Preview, error) {
	if err := auth.Authorize(p, ActionImport, auth.Target{OrgID: orgID}); err != nil {
		return nil, err
	}
	return previewImport(ctx, s.DB, s.labels, orgID, filename, data)
}

// ApplyImport previews the file again and, when it has no errors, writes
// every new and changed row in short transactions (see import_staged.go),
// then records one inventory.import entry. With errors it writes nothing
// and returns the preview with an Invalid error (key
// inventory.import.has_errors).
func (s *Service) ApplyImport(ctx context.Context, p *auth.Principal, orgID, filename string, data []byte) (*Preview, error) {
	if err := auth.Authorize(p, ActionImport, auth.Target{OrgID: orgID}); err != nil {
		return nil, err
	}
	return applyFile(ctx, s.stager(), orgID, filename, data, func(pv *Preview) stagedEntry {
		return stagedEntry{History: historyActor(p.Actor()), Audit: true, Actor: p.Actor(), Event: audit.Event{
			OrgID: orgID, Action: ActionImport, ObjectType: "inventory", ObjectID: orgID, Details: ImportDetails(filename, pv)}}
	})
}

// ImportDetails are the details of an import's audit entry.
func ImportDetails(filename string, pv *Preview) map[string]any {
	counts := map[string]any{}
	for sheet, c := range pv.Counts {
		m := map[string]int{}
		for st, n := range c {
			m[string(st)] = n
		}
		counts[sheet] = m
	}
	return map[string]any{"filename": filename, "format": pv.Format, "counts": counts, "new_segments": len(pv.NewSegments)}
}

// PreviewNmap compares a scan with the organisation's register; it writes
// nothing.
func (s *Service) PreviewNmap(ctx context.Context, p *auth.Principal, orgID string, scan *NmapScan) ([]NmapProposal, error) {
	if err := auth.Authorize(p, ActionImport, auth.Target{OrgID: orgID}); err != nil {
		return nil, err
	}
	return PreviewNmap(ctx, s.DB, orgID, scan)
}

// ApplyNmap applies the proposals of the scan whose Index is in accept
// (nil: every new and changed one) in short transactions and records one
// inventory.import entry. It returns every proposal and the applied ones.
func (s *Service) ApplyNmap(ctx context.Context, p *auth.Principal, orgID string, scan *NmapScan, accept []int) (props, applied []NmapProposal, err error) {
	if err := auth.Authorize(p, ActionImport, auth.Target{OrgID: orgID}); err != nil {
		return nil, nil, err
	}
	return applyNmap(ctx, s.stager(), orgID, scan, accept, func(props, applied []NmapProposal) stagedEntry {
		n, c := 0, 0
		for _, a := range applied {
			if a.Status == RowNew {
				n++
			} else {
				c++
			}
		}
		details := map[string]any{"format": "nmap", "hosts": len(scan.Hosts), "new": n, "changed": c}
		return stagedEntry{History: historyActor(p.Actor()), Audit: true, Actor: p.Actor(), Event: audit.Event{
			OrgID: orgID, Action: ActionImport, ObjectType: "inventory", ObjectID: orgID, Details: details}}
	})
}

// maxRegisterChanged is how often an apply starts again when the register
// changed between its preview and its apply.
const maxRegisterChanged = 3

func registerChanged(err error) bool {
	return apperr.From(err).Key == "inventory.import.register_changed"
}

// applyFile is ApplyImport without the permission check; entry gives the
// import's audit entry from its preview.
func applyFile(ctx context.Context, st *stager, orgID, filename string, data []byte, entry func(*Preview) stagedEntry) (*Preview, error) {
	for attempt := 1; ; attempt++ {
		fp, err := fingerprint(ctx, st.d, orgID)
		if err != nil {
			return nil, err
		}
		p, err := previewImport(ctx, st.d, st.lb, orgID, filename, data)
		if err != nil {
			return nil, err
		}
		if !p.OK() {
			return p, apperr.New(apperr.Invalid, "inventory.import.has_errors", len(p.Errors))
		}
		rows, err := planRows(ctx, st.d, orgID, p.plan)
		if err != nil {
			return nil, err
		}
		p.plan = nil
		err = st.runStaged(ctx, orgID, fp, rows, entry(p))
		p.Stats = st.stats
		if err != nil && registerChanged(err) && attempt < maxRegisterChanged {
			continue
		}
		return p, err
	}
}

func applyNmap(ctx context.Context, st *stager, orgID string, scan *NmapScan, accept []int, entry func(props, applied []NmapProposal) stagedEntry) (props, applied []NmapProposal, err error) {
	for attempt := 1; ; attempt++ {
		fp, err := fingerprint(ctx, st.d, orgID)
		if err != nil {
			return nil, nil, err
		}
		props, err := PreviewNmap(ctx, st.d, orgID, scan)
		if err != nil {
			return nil, nil, err
		}
		chosen := map[int]bool{}
		if accept == nil {
			for _, p := range props {
				if p.Status == RowNew || p.Status == RowChanged {
					chosen[p.Index] = true
				}
			}
		}
		for _, i := range accept {
			if i < 0 || i >= len(props) {
				return nil, nil, apperr.Field("accept", "inventory.nmap.bad_index", i)
			}
			chosen[i] = true
		}
		pl := &importPlan{}
		applied = []NmapProposal{}
		for _, p := range props {
			if !chosen[p.Index] {
				continue
			}
			switch p.Status {
			case RowNew:
				a := p.Proposed
				pl.assetsNew = append(pl.assetsNew, a)
			case RowChanged:
				before, err := GetAsset(ctx, st.d, orgID, p.AssetID)
				if err != nil {
					return nil, nil, err
				}
				a := p.Proposed
				if err := a.normalize(); err != nil {
					return nil, nil, err
				}
				pl.assetsChanged = append(pl.assetsChanged, assetChange{before: before, after: a})
			default:
				continue
			}
			applied = append(applied, p)
		}
		rows, err := planRows(ctx, st.d, orgID, pl)
		if err != nil {
			return nil, nil, err
		}
		// New assets got their ids in planRows, in the order of applied.
		k := 0
		for _, r := range rows {
			if r.kind == opAssetNew {
				for applied[k].Status != RowNew {
					k++
				}
				applied[k].AssetID = r.op.Asset.ID
				k++
			}
		}
		err = st.runStaged(ctx, orgID, fp, rows, entry(props, applied))
		if err != nil && registerChanged(err) && attempt < maxRegisterChanged {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		return props, applied, nil
	}
}

// ImportFile applies an import file in short transactions on d and writes
// no audit entry (the caller does); the asset history records actorID.
// With dryRun it only previews.
func ImportFile(ctx context.Context, d *db.DB, cat *i18n.Catalog, orgID, actorID, filename string, data []byte, dryRun bool, now time.Time) (*Preview, error) {
	if dryRun {
		return PreviewImport(ctx, d, cat, orgID, filename, data)
	}
	st := &stager{d: d, now: fixedClock(now), lb: NewLabels(cat)}
	return applyFile(ctx, st, orgID, filename, data, func(*Preview) stagedEntry { return stagedEntry{History: actorID} })
}

// ApplyNmap applies the proposals of the scan whose Index is in accept in
// short transactions on d, with history by actorID, and writes no audit
// entry. It returns the applied proposals; an index out of range is an
// Invalid error and nothing is written.
func ApplyNmap(ctx context.Context, d *db.DB, orgID, actorID string, scan *NmapScan, accept []int, now time.Time) ([]NmapProposal, error) {
	if accept == nil {
		accept = []int{}
	}
	st := &stager{d: d, now: fixedClock(now)}
	_, applied, err := applyNmap(ctx, st, orgID, scan, accept, func(_, _ []NmapProposal) stagedEntry { return stagedEntry{History: actorID} })
	return applied, err
}

// fixedClock is a clock that always says t.
func fixedClock(t time.Time) func() time.Time {
	return func() time.Time { return t }
}
