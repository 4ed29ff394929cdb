package vuln

import (
	"context"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/vuln/match"
	"runtime"
	"strings"
	"sync"
	"time"
)

// The full re-match (MatchAll) reads every asset once, derives the
// identities whose inputs (inventory fields, connections, alias table
// version) changed, writes only those, matches every vulnerability that
// names a product some asset has and writes only the findings that
// changed. Deriving is memoised by input, since thousands of assets share
// a model and firmware, and spread over the CPUs.

// derived is an identity derived from one set of inventory fields.
type derived struct {
	candidates, names, vendorKey string
}

// exposure flag combinations are shared values, so the map of a million
// assets holds pointers to eight structs rather than a million.
var exposureValues = func() (out [8]exposureFacts) {
	for i := range out {
		out[i] = exposureFacts{external: i&1 != 0, vpn: i&2 != 0, exposed: i&4 != 0}
	}
	return out
}()

// class is the index of the facts' combination in exposureValues.
func (e *exposureFacts) class() uint8 {
	var i uint8
	if e.external {
		i |= 1
	}
	if e.vpn {
		i |= 2
	}
	if e.exposed {
		i |= 4
	}
	return i
}

// infoKnown marks an index member's info byte as holding its exposure
// class (the low three bits) for an asset with an organisation.
const infoKnown = 8

func exposureOf(external, vpn, exposed bool) *exposureFacts {
	i := 0
	if external {
		i |= 1
	}
	if vpn {
		i |= 2
	}
	if exposed {
		i |= 4
	}
	return &exposureValues[i]
}

// MatchAll re-derives every asset identity whose inputs changed (all of
// them after the alias table changed) and matches every vulnerability
// that names a product some asset has (or has findings) against every
// asset: the full re-match. Only findings that changed are written.
func (w *Watch) MatchAll(ctx context.Context) (MatchStats, error) {
	w.init()
	w.idx.matchMu.Lock()
	defer w.idx.matchMu.Unlock()
	start := time.Now()
	if _, err := w.RefreshIdentities(ctx, "", nil); err != nil {
		return MatchStats{}, err
	}
	identities := time.Since(start).Seconds()
	x, orgs, err := w.index(ctx)
	if err != nil {
		return MatchStats{}, err
	}
	keys := map[string]bool{}
	for _, k := range x.Keys() {
		keys[k] = true
	}
	ids, err := w.candidateVulns(ctx, keys)
	if err != nil {
		return MatchStats{}, err
	}
	more, err := w.queryIDs(ctx, `SELECT DISTINCT vuln_id FROM vuln_findings WHERE active UNION SELECT vuln_id FROM vuln_rules WHERE source = 'csaf'`)
	if err != nil {
		return MatchStats{}, err
	}
	indexed := time.Since(start).Seconds() - identities
	st, err := w.matchVulnsWith(ctx, x, orgs, w.idx.exposure, mergeIDs(ids, more))
	st.Seconds.Identities, st.Seconds.Index = identities, indexed
	return st, err
}

var identityCols = []string{"asset_id", "org_id", "input_sig", "vendor", "product", "model", "version",
	"vendor_key", "cpe", "candidates", "names", "retired", "external", "vpn", "exposed", "updated_at", "aliases"}

// identityUpsert keeps a person's override: the names are the override
// unless the asset is retired.
const identityUpsert = `ON CONFLICT (asset_id) DO UPDATE SET input_sig = excluded.input_sig, vendor = excluded.vendor, product = excluded.product,
	model = excluded.model, version = excluded.version, vendor_key = excluded.vendor_key, cpe = excluded.cpe,
	candidates = excluded.candidates, retired = excluded.retired, external = excluded.external, vpn = excluded.vpn,
	exposed = excluded.exposed, updated_at = excluded.updated_at, aliases = excluded.aliases,
	names = CASE WHEN excluded.retired THEN '' WHEN vuln_asset_identity.override <> '' THEN vuln_asset_identity.override ELSE excluded.names END`

func deriveKey(in *identityInput) string {
	return in.vendor + "\x1f" + in.product + "\x1f" + in.model + "\x1f" + in.version + "\x1f" + in.cpe
}

// deriveInputs fills inputs (keyed by deriveKey) with their identities
// under the table al, on every CPU.
func deriveInputs(al *match.Aliases, inputs map[string]*derived) {
	keys := make([]string, 0, len(inputs))
	for k := range inputs {
		keys = append(keys, k)
	}
	out := make([]*derived, len(keys))
	var wg sync.WaitGroup
	var next sync.Mutex
	pos := 0
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				i := pos
				pos += 64
				next.Unlock()
				if i >= len(keys) {
					return
				}
				for j := i; j < min(i+64, len(keys)); j++ {
					f := strings.Split(keys[j], "\x1f")
					cands := al.Identify(f[0], f[1], f[2], f[3], f[4])
					if cands == nil {
						cands = []match.Candidate{}
					}
					ai := AssetIdentity{Candidates: cands}
					out[j] = &derived{candidates: jsonString(cands), names: strings.Join(ai.Names(), "\n"), vendorKey: al.VendorKey(f[0])}
				}
			}
		}()
	}
	wg.Wait()
	for i, k := range keys {
		inputs[k] = out[i]
	}
}

// inWriteTx runs fn in a transaction; on SQLite with a page cache of
// 256 MB for its duration, since matching writes land all over the
// findings and identity B-trees and the default 2 MB cache would reread
// pages for most rows.
func (w *Watch) inWriteTx(ctx context.Context, fn func(tx *db.Tx) error) error {
	return w.DB.InTx(ctx, func(tx *db.Tx) error {
		if tx.Dialect() == db.SQLite {
			if _, err := tx.Exec(ctx, `PRAGMA cache_size = -262144`); err != nil {
				return err
			}
			defer tx.Exec(context.WithoutCancel(ctx), `PRAGMA cache_size = -2000`)
		}
		return fn(tx)
	})
}
