package vuln

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/match"
)

// AssetIdentity is how medisac identifies one registered asset for
// matching: the candidate CPE identities derived from its inventory fields
// (with how each was derived), an override a person set, and the exposure
// facts that drive priority.
type AssetIdentity struct {
	AssetID    string            `json:"asset_id"`
	OrgID      string            `json:"-"`
	Vendor     string            `json:"vendor"`
	Product    string            `json:"product"`
	Model      string            `json:"model"`
	Version    string            `json:"version"`
	CPE        string            `json:"cpe,omitempty"`
	Candidates []match.Candidate `json:"candidates"`
	// Override lists the CPE names a person confirmed or entered; when set
	// it replaces the candidates.
	Override    []string  `json:"override,omitempty"`
	ConfirmedBy string    `json:"confirmed_by,omitempty"`
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
	// External is set when the asset terminates an external connection of
	// the inventory; VPN when one of those is an IPsec or SSL VPN.
	External bool `json:"external"`
	VPN      bool `json:"vpn"`
	// Exposed is the inventory's "reachable from the internet".
	Exposed bool `json:"exposed"`
	Retired bool `json:"retired"`
}

// Names returns the identities used for matching: the override when a
// person set one, else the candidates; none for a retired asset.
func (a *AssetIdentity) Names() []string {
	if a.Retired {
		return nil
	}
	if len(a.Override) > 0 {
		return a.Override
	}
	out := make([]string, 0, len(a.Candidates))
	for _, c := range a.Candidates {
		out = append(out, c.CPE)
	}
	return out
}

// assetIndex is the watch's in-memory index of every asset's identities,
// loaded from vuln_asset_identity and kept current by the rows changed
// since the last load.
type assetIndex struct {
	// matchMu runs one matching at a time on this node.
	matchMu sync.Mutex
	mu      sync.Mutex
	x       *match.Index
	orgs    map[string]string
	// exposure holds each asset's exposure facts (shared values).
	exposure map[string]*exposureFacts
	loaded   time.Time
	count    int
}

// identityInput is what an asset identity is derived from, with what is
// stored for it.
type identityInput struct {
	id, org, vendor, product, model, version, cpe, exposed, lifecycle string
	external, vpn                                                     bool
	oldSig                                                            *string
	stored                                                            struct {
		candidates, names, vendorKey, override, aliases string
		touch                                           bool
	}
}

// sig is what the identity was derived from: the inventory fields and the
// connections the asset terminates. The alias table version is kept in a
// column of its own.
func (in *identityInput) sig() string {
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	return strings.Join([]string{in.vendor, in.product, in.model, in.version, in.cpe, in.exposed, in.lifecycle, b(in.external), b(in.vpn)}, "\x1f")
}

// refreshPage bounds the assets one step of RefreshIdentities holds.
const refreshPage = 20000

// RefreshIdentities derives the identities of assets that are new or
// changed in the inventory (or whose connections changed) since their
// identity was last derived, and of every asset when the alias table
// changed (orgID "" for every organisation; assetIDs nil for every such
// asset, non-nil to derive exactly those). It returns the ids of assets
// whose identity or exposure changed, which need matching. Assets are
// read a page at a time; identical inventory fields are derived once, on
// every CPU; only rows whose result changed are written.
func (w *Watch) RefreshIdentities(ctx context.Context, orgID string, assetIDs []string) ([]string, error) {
	w.init()
	al := w.Aliases.Snapshot()
	version := al.Version()
	where := []string{`(i.asset_id IS NULL OR a.updated_at > i.updated_at OR i.aliases <> ?
		OR EXISTS (SELECT 1 FROM inv_connections c WHERE c.asset_id = a.id AND c.updated_at > i.updated_at))`}
	args := []any{version}
	if orgID != "" {
		where = append(where, "a.org_id = ?")
		args = append(args, orgID)
	}
	if assetIDs != nil {
		if len(assetIDs) == 0 {
			return nil, nil
		}
		where[0], args = "TRUE", args[1:]
		where = append(where, "a.id IN ("+db.In(len(assetIDs))+")")
		for _, id := range assetIDs {
			args = append(args, id)
		}
	}
	// Every asset of every organisation: since the last complete pass
	// (less a margin for clocks of other nodes), only assets and
	// connections changed since then are read.
	global := orgID == "" && assetIDs == nil
	start := w.now()
	if global {
		if since, ok, err := w.identitiesChecked(ctx, version); err != nil {
			return nil, err
		} else if ok && w.everyAssetHasIdentity(ctx) {
			since = since.Add(-checkMargin)
			ids, err := w.queryIDs(ctx, `SELECT id FROM inv_assets WHERE updated_at >= ?
				UNION SELECT asset_id FROM inv_connections WHERE updated_at >= ? AND asset_id IS NOT NULL`, since, since)
			if err != nil {
				return nil, err
			}
			var changed []string
			for c := range db.Chunks(ids) {
				ins, err := w.readInputs(ctx, "a.id IN ("+db.In(len(c))+")", db.Args(nil, c), "")
				if err != nil {
					return nil, err
				}
				c, err := w.deriveAndStore(ctx, al, ins)
				if err != nil {
					return nil, err
				}
				changed = append(changed, c...)
			}
			return changed, w.setIdentitiesChecked(ctx, start, version)
		}
	}
	var changed []string
	after := ""
	for {
		ins, err := w.readInputs(ctx, strings.Join(where, " AND "), args, after)
		if err != nil {
			return nil, err
		}
		if len(ins) > 0 {
			after = ins[len(ins)-1].id
			c, err := w.deriveAndStore(ctx, al, ins)
			if err != nil {
				return nil, err
			}
			changed = append(changed, c...)
		}
		if len(ins) < refreshPage {
			break
		}
	}
	if global {
		if err := w.setIdentitiesChecked(ctx, start, version); err != nil {
			return nil, err
		}
	}
	return changed, nil
}

// everyAssetHasIdentity reports whether the inventory and the identity
// table hold as many rows (identities are removed with their asset), so
// that no asset written with an older time than the last pass, such as
// one restored or imported with its own dates, is left without identity.
func (w *Watch) everyAssetHasIdentity(ctx context.Context) bool {
	var assets, identities int
	if err := w.DB.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM inv_assets), (SELECT COUNT(*) FROM vuln_asset_identity)`).Scan(&assets, &identities); err != nil {
		return false
	}
	return assets == identities
}

// checkMargin is how far before the last complete pass RefreshIdentities
// looks again, for rows written with the clock of another node.
const checkMargin = 2 * time.Minute

// identitiesChecked returns when every identity was last brought up to
// date under the alias table version; ok is false when never, or under
// another version.
func (w *Watch) identitiesChecked(ctx context.Context, version string) (time.Time, bool, error) {
	vals := map[string]string{}
	rows, err := w.DB.Query(ctx, `SELECT name, value FROM vuln_state WHERE name IN ('identities.checked', 'identities.aliases')`)
	if err != nil {
		return time.Time{}, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return time.Time{}, false, err
		}
		vals[k] = v
	}
	if err := rows.Err(); err != nil {
		return time.Time{}, false, err
	}
	t, err := time.Parse(time.RFC3339Nano, vals["identities.checked"])
	if err != nil || vals["identities.aliases"] != version {
		return time.Time{}, false, nil
	}
	return t, true, nil
}

func (w *Watch) setIdentitiesChecked(ctx context.Context, at time.Time, version string) error {
	return w.DB.InTx(ctx, func(tx *db.Tx) error {
		for k, v := range map[string]string{"identities.checked": at.UTC().Format(time.RFC3339Nano), "identities.aliases": version} {
			if _, err := tx.Exec(ctx, `INSERT INTO vuln_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (w *Watch) readInputs(ctx context.Context, where string, args []any, after string) ([]identityInput, error) {
	args = append(append([]any{}, args...), after)
	return db.QueryAll(ctx, w.DB, func(r db.Scanner) (identityInput, error) {
		var in identityInput
		st := &in.stored
		err := r.Scan(&in.id, &in.org, &in.vendor, &in.product, &in.model, &in.version, &in.cpe, &in.exposed, &in.lifecycle,
			&in.external, &in.vpn, &in.oldSig, &st.candidates, &st.names, &st.vendorKey, &st.override, &st.aliases, &st.touch)
		return in, err
	}, `SELECT a.id, a.org_id, a.vendor, a.product, a.model, a.version, a.cpe, a.internet_exposed, a.lifecycle,
		EXISTS (SELECT 1 FROM inv_connections c WHERE c.asset_id = a.id AND c.org_id = a.org_id),
		EXISTS (SELECT 1 FROM inv_connections c WHERE c.asset_id = a.id AND c.org_id = a.org_id AND c.type IN ('ipsec_vpn','ssl_vpn')),
		i.input_sig, COALESCE(i.candidates, ''), COALESCE(i.names, ''), COALESCE(i.vendor_key, ''), COALESCE(i.override, ''),
		COALESCE(i.aliases, ''), COALESCE(a.updated_at > i.updated_at, FALSE)
		FROM inv_assets a LEFT JOIN vuln_asset_identity i ON i.asset_id = a.id WHERE `+where+` AND a.id > ? ORDER BY a.id LIMIT `+strconv.Itoa(refreshPage), args...)
}

// deriveAndStore derives the identities of ins and writes those whose
// result changed; the others get the alias table version (and, when the
// asset row changed in other fields, the time they were checked).
func (w *Watch) deriveAndStore(ctx context.Context, al *match.Aliases, ins []identityInput) ([]string, error) {
	version := al.Version()
	inputs := map[string]*derived{}
	for i := range ins {
		inputs[deriveKey(&ins[i])] = nil
	}
	deriveInputs(al, inputs)
	now := w.now()
	var changed, touch, stamp []string
	err := w.inWriteTx(ctx, func(tx *db.Tx) error {
		b := newBatch(tx, "vuln_asset_identity", identityCols, identityUpsert, 250)
		for i := range ins {
			in := &ins[i]
			d := inputs[deriveKey(in)]
			retired := in.lifecycle == "retired"
			names := d.names
			switch {
			case retired:
				names = ""
			case in.stored.override != "":
				names = in.stored.override
			}
			sig := in.sig()
			if in.oldSig != nil && *in.oldSig == sig && in.stored.candidates == d.candidates && in.stored.vendorKey == d.vendorKey &&
				in.stored.names == names {
				if in.stored.aliases != version && !in.stored.touch {
					stamp = append(stamp, in.id)
				} else {
					touch = append(touch, in.id)
				}
				continue
			}
			changed = append(changed, in.id)
			if err := b.add(ctx, in.id, in.id, in.org, sig, in.vendor, in.product, in.model, in.version, d.vendorKey, in.cpe,
				d.candidates, names, retired, in.external, in.vpn, in.exposed == "yes", now, version); err != nil {
				return err
			}
		}
		if err := b.flush(ctx); err != nil {
			return err
		}
		for _, set := range []struct {
			ids  []string
			stmt string
			args []any
		}{
			{touch, `UPDATE vuln_asset_identity SET updated_at = ?, aliases = ? WHERE asset_id IN (`, []any{now, version}},
			{stamp, `UPDATE vuln_asset_identity SET aliases = ? WHERE asset_id IN (`, []any{version}},
		} {
			for c := range db.Chunks(set.ids) {
				if _, err := tx.Exec(ctx, set.stmt+db.In(len(c))+`)`, db.Args(set.args, c)...); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return changed, err
}

const identitySelect = `SELECT asset_id, org_id, vendor, product, model, version, cpe, candidates, override, confirmed_by, confirmed_at,
	external, vpn, exposed, retired FROM vuln_asset_identity`

func scanIdentity(s scanner) (AssetIdentity, error) {
	var a AssetIdentity
	var cands, override string
	var at *time.Time
	err := s.Scan(&a.AssetID, &a.OrgID, &a.Vendor, &a.Product, &a.Model, &a.Version, &a.CPE, &cands, &override, &a.ConfirmedBy, &at,
		&a.External, &a.VPN, &a.Exposed, &a.Retired)
	if err != nil {
		return a, err
	}
	_ = json.Unmarshal([]byte(cands), &a.Candidates)
	a.Override = strings.Fields(strings.ReplaceAll(override, "\n", " "))
	if at != nil {
		a.ConfirmedAt = *at
	}
	return a, nil
}

// GetIdentity returns the identity of an asset of the organisation.
func GetIdentity(ctx context.Context, q db.Querier, orgID, assetID string) (AssetIdentity, error) {
	a, err := scanIdentity(q.QueryRow(ctx, identitySelect+` WHERE org_id = ? AND asset_id = ?`, orgID, assetID))
	if err := db.ScanErr(err); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return a, apperr.New(apperr.NotFound, "error.not_found")
		}
		return a, err
	}
	return a, nil
}

// SetIdentity stores a person's confirmation or correction of an asset's
// identity: names are CPE 2.3 names (or 2.2 URIs); nil names removes the
// override so the derived candidates are used again. The asset is matched
// again by the caller (MatchAssets).
func SetIdentity(ctx context.Context, q db.Querier, orgID, assetID, actorID string, names []string, now time.Time) (AssetIdentity, error) {
	var canon []string
	for i, s := range names {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		n, err := match.ParseCPE(s)
		if err != nil {
			return AssetIdentity{}, apperr.Field("cpe", "vuln.identity.bad_cpe", s, i+1)
		}
		if n[cpe.Vendor].Kind != cpe.Str || n[cpe.Product].Kind != cpe.Str {
			return AssetIdentity{}, apperr.Field("cpe", "vuln.identity.need_product", s)
		}
		canon = append(canon, n.FormatFS())
	}
	a, err := GetIdentity(ctx, q, orgID, assetID)
	if err != nil {
		return a, err
	}
	a.Override = canon
	override := strings.Join(canon, "\n")
	var at any
	by := ""
	if len(canon) > 0 {
		at, by = now.UTC(), actorID
	}
	a.ConfirmedBy = by
	if _, err := q.Exec(ctx, `UPDATE vuln_asset_identity SET override = ?, names = ?, confirmed_by = ?, confirmed_at = ?, updated_at = ?
		WHERE org_id = ? AND asset_id = ?`, override, strings.Join(a.Names(), "\n"), by, at, now.UTC(), orgID, assetID); err != nil {
		return a, err
	}
	return a, nil
}

// index returns the asset index, loading the identities changed since the
// last call (and everything on the first call, or when assets were
// removed).
func (w *Watch) index(ctx context.Context) (*match.Index, map[string]string, error) {
	w.init()
	ai := w.idx
	ai.mu.Lock()
	defer ai.mu.Unlock()
	var count int
	var latest *time.Time
	if err := w.DB.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_asset_identity`).Scan(&count); err != nil {
		return nil, nil, err
	}
	var l time.Time
	if err := w.DB.QueryRow(ctx, `SELECT updated_at FROM vuln_asset_identity ORDER BY updated_at DESC LIMIT 1`).Scan(&l); err == nil {
		latest = &l
	} else if !errors.Is(db.ScanErr(err), db.ErrNotFound) {
		return nil, nil, err
	}
	full := ai.x == nil
	since := ai.loaded
	if !full && latest != nil && !latest.After(since) && count == ai.count {
		return ai.x, ai.orgs, nil
	}
	// A full load takes the newest time read above rather than reading a
	// time per row; a row written meanwhile is newer and read next time.
	q := `SELECT asset_id, org_id, names, external, vpn, exposed FROM vuln_asset_identity`
	var args []any
	if !full {
		q = `SELECT asset_id, org_id, names, external, vpn, exposed, updated_at FROM vuln_asset_identity WHERE updated_at >= ?`
		args = append(args, since)
	}
	rows, err := w.DB.Query(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	x, orgs, exposure := ai.x, ai.orgs, ai.exposure
	if full {
		x, orgs, exposure = match.NewIndexSize(w.Reg, count), make(map[string]string, count), make(map[string]*exposureFacts, count)
	}
	var max time.Time
	if full && latest != nil {
		max = *latest
	}
	max, err = loadIdentityRows(rows, full, x, orgs, exposure, max)
	if err != nil {
		return nil, nil, err
	}
	if !full && len(orgs) != count {
		have := map[string]bool{}
		r2, err := w.DB.Query(ctx, `SELECT asset_id FROM vuln_asset_identity`)
		if err != nil {
			return nil, nil, err
		}
		for r2.Next() {
			var id string
			if err := r2.Scan(&id); err != nil {
				r2.Close()
				return nil, nil, err
			}
			have[id] = true
		}
		r2.Close()
		for id := range orgs {
			if !have[id] {
				x.Delete(id)
				delete(orgs, id)
				delete(exposure, id)
			}
		}
	}
	ai.x, ai.orgs, ai.exposure, ai.count = x, orgs, exposure, len(orgs)
	if max.After(ai.loaded) {
		ai.loaded = max
	}
	return x, orgs, nil
}

// identityRows is a batch of identity rows read for the index, their
// organisations and names copied into one buffer.
type identityRows struct {
	ids   []string
	info  []uint8
	ends  []int // end of row i's organisation, then of its names, in buf
	buf   []byte
	users atomic.Int32
}

func (b *identityRows) org(i int) []byte {
	start := 0
	if i > 0 {
		start = b.ends[2*i-1]
	}
	return b.buf[start:b.ends[2*i]]
}

func (b *identityRows) names(i int) []byte { return b.buf[b.ends[2*i]:b.ends[2*i+1]] }

// loadIdentityRows puts the rows (asset_id, org_id, names, external, vpn,
// exposed, and updated_at unless full) into the index and the maps, and
// returns the newest updated_at seen (at least max). Rows are read on
// this goroutine while the index and the maps are filled on two others,
// a batch at a time. The organisation and the names are read as raw
// bytes: most repeat, and only new ones are copied as strings (a million
// rows otherwise allocate two strings each for the garbage collector to
// chase).
func loadIdentityRows(rows *sql.Rows, full bool, x *match.Index, orgs map[string]string, exposure map[string]*exposureFacts, max time.Time) (time.Time, error) {
	const batchRows = 2048
	free := make(chan *identityRows, 8)
	toIndex := make(chan *identityRows, 4)
	toMaps := make(chan *identityRows, 4)
	release := func(b *identityRows) {
		if b.users.Add(-1) == 0 {
			select {
			case free <- b:
			default:
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for b := range toIndex {
			for i, id := range b.ids {
				x.PutTextInfo(id, b.names(i), b.info[i])
			}
			release(b)
		}
	}()
	go func() {
		defer wg.Done()
		intern := map[string]string{}
		for _, o := range orgs {
			intern[o] = o
		}
		for b := range toMaps {
			for i, id := range b.ids {
				exposure[id] = &exposureValues[b.info[i]&7]
				ob := b.org(i)
				org, ok := intern[string(ob)]
				if !ok {
					org = string(ob)
					intern[org] = org
				}
				orgs[id] = org
			}
			release(b)
		}
	}()
	send := func(b *identityRows) {
		b.users.Store(2)
		toIndex <- b
		toMaps <- b
	}
	var cur *identityRows
	var err error
	var orgRaw, namesRaw sql.RawBytes
	for rows.Next() {
		if cur == nil {
			select {
			case cur = <-free:
				cur.ids, cur.info, cur.ends, cur.buf = cur.ids[:0], cur.info[:0], cur.ends[:0], cur.buf[:0]
			default:
				cur = &identityRows{}
			}
		}
		var id string
		var external, vpn, exposed bool
		var at time.Time
		dst := []any{&id, &orgRaw, &namesRaw, &external, &vpn, &exposed, &at}
		if full {
			dst = dst[:6]
		}
		if err = rows.Scan(dst...); err != nil {
			break
		}
		if at.After(max) {
			max = at
		}
		cur.ids = append(cur.ids, id)
		// Results carry the asset's exposure, so summing them up needs no
		// lookup per asset.
		cur.info = append(cur.info, infoKnown|exposureOf(external, vpn, exposed).class())
		cur.buf = append(cur.buf, orgRaw...)
		cur.ends = append(cur.ends, len(cur.buf))
		cur.buf = append(cur.buf, namesRaw...)
		cur.ends = append(cur.ends, len(cur.buf))
		if len(cur.ids) == batchRows {
			send(cur)
			cur = nil
		}
	}
	if cur != nil && err == nil {
		send(cur)
	}
	close(toIndex)
	close(toMaps)
	wg.Wait()
	if err != nil {
		return max, err
	}
	return max, rows.Err()
}
