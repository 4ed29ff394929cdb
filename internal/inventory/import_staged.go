package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/db"
)

// A register import is applied in short write transactions, never one
// long one (on SQLite a long write holds the database's only write lock
// and every other organisation's writes wait for it):
//
//  1. the file is parsed and compared with the register outside any write
//     transaction (PreviewImport);
//  2. the import claims its organisation (a row of inv_imports in state
//     'staging'; one per organisation) and writes every change it will
//     make as a staged row (inv_import_rows), in chunks: nobody reads
//     them;
//  3. one short transaction checks that the register did not change since
//     step 1 and marks the import 'applying';
//  4. the staged rows are applied to the register in chunks of at most
//     stagedBudget each, every chunk deleting the rows it applied in its
//     own transaction; the last chunk removes the import row and writes
//     the import's one audit entry.
//
// A process that dies in step 2 leaves a 'staging' import that the next
// import of the organisation (or the next start) discards, with the
// register untouched. One that dies in step 4 leaves an 'applying' import
// that is finished from its remaining rows (rolled forward) by the next
// start or the next import of the organisation. So the register is
// either entirely the old one or, after recovery, entirely the new one.
// While an import is applying the inventory pages say so, and other
// writes to the organisation's register wait for it (ErrImportApplying).

// stagedBudget is how long one import transaction writes before it
// commits; a transaction stops after the batch that passes it.
const stagedBudget = 30 * time.Millisecond

// stagedBatch is how many staged rows one statement reads or writes.
const stagedBatch = 100

// staleStaging is how long a 'staging' import may go untouched before
// another import of its organisation takes it for dead and discards it.
// A live import touches its row with every chunk.
const staleStaging = 30 * time.Second

// Import row kinds, in the order they are applied.
const (
	opSegment   = "segment"
	opVendorNew = "vendor_new"
	opVendorUpd = "vendor_upd"
	opAssetTmp  = "asset_tmp"
	opAssetNew  = "asset_new"
	opAssetUpd  = "asset_upd"
	opConnNew   = "conn_new"
	opConnUpd   = "conn_upd"
)

// stagedOp is one change of a staged import, written as JSON.
type stagedOp struct {
	ID      string        `json:"id,omitempty"`
	Name    string        `json:"name,omitempty"`
	Vendor  *Vendor       `json:"vendor,omitempty"`
	Asset   *Asset        `json:"asset,omitempty"`
	Changes []FieldChange `json:"changes,omitempty"`
	Conn    *Connection   `json:"conn,omitempty"`
}

type stagedRow struct {
	kind string
	op   stagedOp
}

// ApplyStats describes how an import was written: the number of write
// transactions and the longest of them, and the staged rows.
type ApplyStats struct {
	Transactions int
	Longest      time.Duration
	// LongestStep names the step of the longest transaction: claim,
	// staging, start, applying or discard.
	LongestStep string
	Rows        int
}

func (s *ApplyStats) took(step string, d time.Duration) {
	s.Transactions++
	if d > s.Longest {
		s.Longest, s.LongestStep = d, step
	}
}

// ErrImportApplying is returned by writes to a register while one of its
// imports is being applied.
var ErrImportApplying = apperr.New(apperr.Conflict, "inventory.import.in_progress")

// errCrash is what a test hook returns to stop an import as a killed
// process would: without cleaning up.
var errCrash = errors.New("inventory: import stopped (test)")

// stagedEntry is the audit entry an import writes when it completes.
type stagedEntry struct {
	// History is the actor id the asset history records.
	History string `json:"history"`
	// Audit says whether the entry is written (the package-level import
	// functions write none: their callers do).
	Audit bool        `json:"audit"`
	Actor audit.Actor `json:"actor"`
	Event audit.Event `json:"event"`
}

// fingerprint summarises the organisation's register, to notice a change
// between the preview and the apply.
func fingerprint(ctx context.Context, q db.Querier, orgID string) (string, error) {
	var b strings.Builder
	for _, table := range []string{"inv_assets", "inv_vendors", "inv_connections", "inv_segments"} {
		var n int64
		var last string
		if err := q.QueryRow(ctx, "SELECT COUNT(*), COALESCE(CAST(MAX(updated_at) AS TEXT), '') FROM "+table+" WHERE org_id = ?", orgID).Scan(&n, &last); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s:%d@%s;", table, n, last)
	}
	return b.String(), nil
}

// planRows turns a plan into the ordered staged rows, giving every new
// record its id now so that later rows can name it.
func planRows(ctx context.Context, q db.Querier, orgID string, pl *importPlan) ([]stagedRow, error) {
	var out []stagedRow
	segIDs := map[string]string{}
	segs, err := ListSegments(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	for _, s := range segs {
		segIDs[s.Name] = s.ID
	}
	for _, name := range pl.segmentsNew {
		id := db.NewID()
		segIDs[name] = id
		out = append(out, stagedRow{opSegment, stagedOp{ID: id, Name: name}})
	}
	vendorIDs := map[string]string{}
	vs, err := ListVendors(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		vendorIDs[v.Name] = v.ID
	}
	for i := range pl.vendorsNew {
		v := pl.vendorsNew[i]
		v.ID = db.NewID()
		vendorIDs[v.Name] = v.ID
		out = append(out, stagedRow{opVendorNew, stagedOp{Vendor: &v}})
	}
	for i := range pl.vendorsChanged {
		v := pl.vendorsChanged[i]
		out = append(out, stagedRow{opVendorUpd, stagedOp{Vendor: &v}})
	}
	// The asset names after the import: renamed assets give up their old
	// names first (two assets may swap names within one file).
	assetIDs := map[string]string{}
	if err := eachAssetName(ctx, q, orgID, func(id, name string) { assetIDs[name] = id }); err != nil {
		return nil, err
	}
	for _, ch := range pl.assetsChanged {
		if ch.before.Name != ch.after.Name {
			if assetIDs[ch.before.Name] == ch.after.ID {
				delete(assetIDs, ch.before.Name)
			}
			out = append(out, stagedRow{opAssetTmp, stagedOp{ID: ch.after.ID, Name: "~import~" + ch.after.ID}})
		}
	}
	for i := range pl.assetsNew {
		a := pl.assetsNew[i]
		a.ID = db.NewID()
		a.SegmentID = segIDs[a.SegmentName]
		assetIDs[a.Name] = a.ID
		out = append(out, stagedRow{opAssetNew, stagedOp{Asset: &a, Changes: diffAssets(&Asset{}, &a)}})
	}
	for i := range pl.assetsChanged {
		ch := pl.assetsChanged[i]
		a := ch.after
		a.SegmentID = segIDs[a.SegmentName]
		assetIDs[a.Name] = a.ID
		out = append(out, stagedRow{opAssetUpd, stagedOp{Asset: &a, Changes: diffAssets(&ch.before, &a)}})
	}
	for i := range pl.connsNew {
		c := pl.connsNew[i]
		c.ID = db.NewID()
		c.AssetID, c.VendorID = assetIDs[c.AssetName], vendorIDs[c.VendorName]
		out = append(out, stagedRow{opConnNew, stagedOp{Conn: &c}})
	}
	for i := range pl.connsChanged {
		c := pl.connsChanged[i]
		c.AssetID, c.VendorID = assetIDs[c.AssetName], vendorIDs[c.VendorName]
		out = append(out, stagedRow{opConnUpd, stagedOp{Conn: &c}})
	}
	return out, nil
}

func eachAssetName(ctx context.Context, q db.Querier, orgID string, fn func(id, name string)) error {
	rows, err := q.Query(ctx, "SELECT id, name FROM inv_assets WHERE org_id = ?", orgID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return err
		}
		fn(id, name)
	}
	return rows.Err()
}

// stager writes and applies one staged import.
type stager struct {
	d     *db.DB
	log   *audit.Log
	now   func() time.Time
	lb    *Labels // the labels an import file is read with
	hook  func(stage string, n int) error
	stats ApplyStats
	// chunkRows, when set, ends a transaction after that many rows.
	chunkRows int
}

// more reports whether a transaction that began at began and has written
// n rows may write another batch.
func (s *stager) more(began time.Time, n int) bool {
	if s.chunkRows > 0 {
		return n < s.chunkRows
	}
	return time.Since(began) < stagedBudget
}

// tx runs fn in one write transaction and counts its duration.
func (s *stager) tx(ctx context.Context, step string, fn func(tx *db.Tx) error) error {
	var began time.Time
	err := s.d.InBatchTx(ctx, func(tx *db.Tx) error {
		began = time.Now()
		return fn(tx)
	})
	if !began.IsZero() {
		s.stats.took(step, time.Since(began))
	}
	return err
}

// claim creates the import row of orgID in state 'staging'. An import of
// the organisation left applying by a stopped process is finished first;
// one left staging is discarded when stale. A live import of the
// organisation is a RateLimited error ("inventory.import.busy").
func (s *stager) claim(ctx context.Context, orgID string, entry stagedEntry) (string, error) {
	b, err := json.Marshal(entry)
	if err != nil {
		return "", err
	}
	for attempt := 0; ; attempt++ {
		id := db.NewID()
		now := time.Now().UTC()
		err := s.tx(ctx, "claim", func(tx *db.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO inv_imports (id, org_id, state, entry, staged, started_at, touched_at) VALUES (?, ?, 'staging', ?, 0, ?, ?)",
				id, orgID, string(b), now, now)
			return err
		})
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, db.ErrConflict) || attempt >= 2 {
			return "", err
		}
		if busy, err := s.recoverOrg(ctx, orgID); err != nil {
			return "", err
		} else if busy {
			return "", apperr.New(apperr.RateLimited, "inventory.import.busy")
		}
	}
}

// stage writes rows under import id in chunks.
func (s *stager) stage(ctx context.Context, id string, rows []stagedRow) error {
	s.stats.Rows = len(rows)
	seq, chunk := 0, 0
	for seq < len(rows) {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.tx(ctx, "staging", func(tx *db.Tx) error {
			began, from := time.Now(), seq
			for seq < len(rows) && s.more(began, seq-from) {
				end := min(seq+stagedBatch, len(rows))
				args := make([]any, 0, (end-seq)*4)
				phs := make([]string, 0, end-seq)
				for i := seq; i < end; i++ {
					data, err := json.Marshal(rows[i].op)
					if err != nil {
						return err
					}
					args = append(args, id, i, rows[i].kind, string(data))
					phs = append(phs, "(?, ?, ?, ?)")
				}
				if _, err := tx.Exec(ctx, "INSERT INTO inv_import_rows (import_id, seq, kind, data) VALUES "+strings.Join(phs, ", "), args...); err != nil {
					return err
				}
				seq = end
			}
			return touch(ctx, tx, id, "staging")
		})
		if err != nil {
			return err
		}
		chunk++
		if s.hook != nil {
			if err := s.hook("staging", chunk); err != nil {
				return err
			}
		}
	}
	return nil
}

// touch marks import id alive; it fails with ErrNotFound when the import
// is gone or not in state.
func touch(ctx context.Context, tx *db.Tx, id, state string) error {
	res, err := tx.Exec(ctx, "UPDATE inv_imports SET touched_at = ? WHERE id = ? AND state = ?", time.Now().UTC(), id, state)
	return affected(res, err)
}

// start turns import id to 'applying' once the register still matches
// the fingerprint taken before the preview.
func (s *stager) start(ctx context.Context, id, orgID, fp string, n int) error {
	return s.tx(ctx, "start", func(tx *db.Tx) error {
		now, err := fingerprint(ctx, tx, orgID)
		if err != nil {
			return err
		}
		if now != fp {
			return apperr.New(apperr.Conflict, "inventory.import.register_changed")
		}
		res, err := tx.Exec(ctx, "UPDATE inv_imports SET state = 'applying', staged = ?, touched_at = ? WHERE id = ? AND state = 'staging'", n, time.Now().UTC(), id)
		if err := affected(res, err); err != nil {
			if errors.Is(err, db.ErrNotFound) {
				return apperr.New(apperr.Conflict, "inventory.import.interrupted")
			}
			return err
		}
		return nil
	})
}

// discard removes import id (unless it is applying) and its staged rows,
// in chunks.
func (s *stager) discard(ctx context.Context, id string) error {
	for {
		var n int64
		err := s.tx(ctx, "discard", func(tx *db.Tx) error {
			var state string
			switch err := db.ScanErr(tx.QueryRow(ctx, "SELECT state FROM inv_imports WHERE id = ?", id).Scan(&state)); {
			case errors.Is(err, db.ErrNotFound):
			case err != nil:
				return err
			case state == "applying":
				return nil
			}
			res, err := tx.Exec(ctx, "DELETE FROM inv_import_rows WHERE import_id = ? AND seq IN (SELECT seq FROM inv_import_rows WHERE import_id = ? ORDER BY seq LIMIT 2000)", id, id)
			if err != nil {
				return err
			}
			if n, err = res.RowsAffected(); err != nil || n > 0 {
				return err
			}
			_, err = tx.Exec(ctx, "DELETE FROM inv_imports WHERE id = ? AND state = 'staging'", id)
			return err
		})
		if err != nil || n == 0 {
			return err
		}
	}
}

// apply applies the staged rows of import id chunk by chunk until none is
// left; the last chunk removes the import and writes its audit entry.
func (s *stager) apply(ctx context.Context, id, orgID string) error {
	var raw string
	if err := s.d.QueryRow(ctx, "SELECT entry FROM inv_imports WHERE id = ?", id).Scan(&raw); err != nil {
		if err := db.ScanErr(err); errors.Is(err, db.ErrNotFound) {
			return nil // finished by another process
		} else if err != nil {
			return err
		}
	}
	var e stagedEntry
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return err
	}
	actorID := e.History
	for chunk := 1; ; chunk++ {
		done := false
		err := s.tx(ctx, "applying", func(tx *db.Tx) error {
			now := s.now()
			// Taking the import row first makes concurrent appliers (a
			// recovery beside a live import) take turns.
			if err := touch(ctx, tx, id, "applying"); err != nil {
				if errors.Is(err, db.ErrNotFound) {
					done = true // finished by another process
					return nil
				}
				return err
			}
			began, n := time.Now(), 0
			for s.more(began, n) {
				rows, last, err := readStaged(ctx, tx, id, stagedBatch)
				if err != nil {
					return err
				}
				if len(rows) == 0 {
					done = true
					return s.finish(ctx, tx, id)
				}
				if err := applyRows(ctx, tx, orgID, actorID, rows, now); err != nil {
					return err
				}
				res, err := tx.Exec(ctx, "DELETE FROM inv_import_rows WHERE import_id = ? AND seq <= ?", id, last)
				if err != nil {
					return err
				}
				if deleted, err := res.RowsAffected(); err != nil {
					return err
				} else if int(deleted) != len(rows) {
					return fmt.Errorf("inventory: import %s: applied %d staged rows but deleted %d", id, len(rows), deleted)
				}
				n += len(rows)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if s.hook != nil {
			if err := s.hook("applying", chunk); err != nil {
				return err
			}
		}
	}
}

// finish removes the applied import and writes its audit entry.
func (s *stager) finish(ctx context.Context, tx *db.Tx, id string) error {
	var raw string
	if err := tx.QueryRow(ctx, "SELECT entry FROM inv_imports WHERE id = ?", id).Scan(&raw); err != nil {
		return db.ScanErr(err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM inv_imports WHERE id = ?", id); err != nil {
		return err
	}
	var e stagedEntry
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return err
	}
	if !e.Audit || s.log == nil {
		return nil
	}
	return s.log.Record(ctx, tx, e.Actor, e.Event)
}

func readStaged(ctx context.Context, q db.Querier, id string, limit int) ([]stagedRow, int, error) {
	rows, err := q.Query(ctx, "SELECT seq, kind, data FROM inv_import_rows WHERE import_id = ? ORDER BY seq LIMIT ?", id, limit)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []stagedRow
	last := -1
	for rows.Next() {
		var r stagedRow
		var data string
		if err := rows.Scan(&last, &r.kind, &data); err != nil {
			return nil, 0, err
		}
		if err := json.Unmarshal([]byte(data), &r.op); err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	return out, last, rows.Err()
}

// applyRows writes staged rows to the register: assets in multi-row
// statements, the rest one by one.
func applyRows(ctx context.Context, q db.Querier, orgID, actorID string, rows []stagedRow, now time.Time) error {
	ts := now.UTC().Truncate(time.Microsecond)
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && rows[j].kind == rows[i].kind {
			j++
		}
		if err := applyGroup(ctx, q, orgID, actorID, rows[i].kind, rows[i:j], ts); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func applyGroup(ctx context.Context, q db.Querier, orgID, actorID, kind string, rows []stagedRow, ts time.Time) error {
	switch kind {
	case opAssetNew, opAssetUpd:
		return upsertAssets(ctx, q, orgID, actorID, rows, kind == opAssetNew, ts)
	}
	for _, r := range rows {
		op := r.op
		var err error
		switch kind {
		case opSegment:
			_, err = q.Exec(ctx, "INSERT INTO inv_segments (id, org_id, name, kind, cidr, description, created_at, updated_at) VALUES (?, ?, ?, ?, '', '', ?, ?)",
				op.ID, orgID, op.Name, string(SegOther), ts, ts)
			err = conflictAs(err, "name")
		case opVendorNew:
			v := op.Vendor
			_, err = q.Exec(ctx, "INSERT INTO inv_vendors (id, org_id, name, medisac_org_id, contact, phone, email, notes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				v.ID, orgID, v.Name, nullID(v.MedisacOrgID), v.Contact, v.Phone, v.Email, v.Notes, ts, ts)
			err = conflictAs(err, "name")
		case opVendorUpd:
			v := op.Vendor
			res, e := q.Exec(ctx, "UPDATE inv_vendors SET name = ?, medisac_org_id = ?, contact = ?, phone = ?, email = ?, notes = ?, updated_at = ? WHERE org_id = ? AND id = ?",
				v.Name, nullID(v.MedisacOrgID), v.Contact, v.Phone, v.Email, v.Notes, ts, orgID, v.ID)
			err = affected(res, conflictAs(e, "name"))
		case opAssetTmp:
			res, e := q.Exec(ctx, "UPDATE inv_assets SET name = ? WHERE org_id = ? AND id = ?", op.Name, orgID, op.ID)
			err = affected(res, e)
		case opConnNew:
			c := op.Conn
			_, err = q.Exec(ctx, `INSERT INTO inv_connections (id, org_id, name, type, asset_id, peer, vendor_id, purpose, mfa, manager,
 last_reviewed_on, notes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				c.ID, orgID, c.Name, string(c.Type), nullID(c.AssetID), c.Peer, nullID(c.VendorID), c.Purpose, string(c.MFA),
				string(c.Manager), string(c.LastReviewedOn), c.Notes, ts, ts)
			err = conflictAs(err, "name")
		case opConnUpd:
			c := op.Conn
			res, e := q.Exec(ctx, `UPDATE inv_connections SET name = ?, type = ?, asset_id = ?, peer = ?, vendor_id = ?, purpose = ?, mfa = ?,
 manager = ?, last_reviewed_on = ?, notes = ?, updated_at = ? WHERE org_id = ? AND id = ?`,
				c.Name, string(c.Type), nullID(c.AssetID), c.Peer, nullID(c.VendorID), c.Purpose, string(c.MFA), string(c.Manager),
				string(c.LastReviewedOn), c.Notes, ts, orgID, c.ID)
			err = affected(res, conflictAs(e, "name"))
		default:
			err = fmt.Errorf("inventory: unknown staged row kind %q", kind)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var assetUpsertSet = func() string {
	var assigns []string
	for _, c := range strings.Split(strings.ReplaceAll(assetInsertCols, "\n", ""), ",") {
		c = strings.TrimSpace(c)
		assigns = append(assigns, c+" = excluded."+c)
	}
	return strings.Join(assigns, ", ") + ", updated_at = excluded.updated_at"
}()

// upsertAssets writes new or changed assets and their history entries,
// up to stagedBatch rows a statement. Changed assets keep their created_at
// and vulnerable flag.
func upsertAssets(ctx context.Context, q db.Querier, orgID, actorID string, rows []stagedRow, isNew bool, ts time.Time) error {
	rowPH := "(" + db.In(assetInsertN+4) + ")"
	histPH := "(?, ?, ?, ?, ?, ?, ?)"
	action := "update"
	if isNew {
		action = "create"
	}
	args := make([]any, 0, len(rows)*(assetInsertN+4))
	hargs := make([]any, 0, len(rows)*7)
	phs := make([]string, len(rows))
	hphs := make([]string, len(rows))
	for i := range rows {
		a := rows[i].op.Asset
		created := ts
		if !isNew && !a.CreatedAt.IsZero() {
			created = a.CreatedAt
		}
		args = append(args, a.ID, orgID)
		args = append(args, assetArgs(a)...)
		args = append(args, created, ts)
		phs[i] = rowPH
		hargs = append(hargs, db.NewID(), orgID, a.ID, actorID, ts, action, historyJSON(rows[i].op.Changes))
		hphs[i] = histPH
	}
	stmt := "INSERT INTO inv_assets (id, org_id, " + assetInsertCols + ", created_at, updated_at) VALUES " + strings.Join(phs, ", ")
	if !isNew {
		stmt += " ON CONFLICT (id) DO UPDATE SET " + assetUpsertSet + " WHERE inv_assets.org_id = excluded.org_id"
	}
	if _, err := q.Exec(ctx, stmt, args...); err != nil {
		return conflictAs(err, "name")
	}
	_, err := q.Exec(ctx, "INSERT INTO inv_asset_history (id, org_id, asset_id, actor_id, at, action, changes) VALUES "+strings.Join(hphs, ", "), hargs...)
	return err
}

// historyActor is the actor id an asset's history records: the person,
// or "" for the command line and the system (as before).
func historyActor(a audit.Actor) string {
	if a.Via == audit.ViaCLI || a.Via == audit.ViaSystem {
		return ""
	}
	return a.UserID
}

// recoverOrg finishes an import of orgID left applying and discards one
// left staging whose row went stale. busy reports a staging import that
// is still alive.
func (s *stager) recoverOrg(ctx context.Context, orgID string) (busy bool, err error) {
	var id, state string
	var touched time.Time
	err = db.ScanErr(s.d.QueryRow(ctx, "SELECT id, state, touched_at FROM inv_imports WHERE org_id = ?", orgID).Scan(&id, &state, &touched))
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if state == "applying" {
		return false, s.apply(context.WithoutCancel(ctx), id, orgID)
	}
	if time.Since(touched) < staleStaging {
		return true, nil
	}
	return false, s.discard(context.WithoutCancel(ctx), id)
}

// recoverAll finishes every import left applying and discards every stale
// staging one, and removes staged rows that no import owns.
func (s *stager) recoverAll(ctx context.Context) (int, error) {
	rows, err := s.d.Query(ctx, "SELECT org_id FROM inv_imports")
	if err != nil {
		return 0, err
	}
	var orgs []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			rows.Close()
			return 0, err
		}
		orgs = append(orgs, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, o := range orgs {
		busy, err := s.recoverOrg(ctx, o)
		if err != nil {
			return n, err
		}
		if !busy {
			n++
		}
	}
	// Rows of imports whose row is gone (an organisation deleted mid-way).
	for {
		var orphan string
		err := db.ScanErr(s.d.QueryRow(ctx, `SELECT r.import_id FROM inv_import_rows r
 WHERE NOT EXISTS (SELECT 1 FROM inv_imports i WHERE i.id = r.import_id) LIMIT 1`).Scan(&orphan))
		if errors.Is(err, db.ErrNotFound) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if err := s.discard(ctx, orphan); err != nil {
			return n, err
		}
	}
}

// ImportApplying reports whether an import of the organisation is being
// applied (the register may show part of it).
func ImportApplying(ctx context.Context, q db.Querier, orgID string) (bool, error) {
	var n int
	err := q.QueryRow(ctx, "SELECT COUNT(*) FROM inv_imports WHERE org_id = ? AND state = 'applying'", orgID).Scan(&n)
	return n > 0, err
}

// checkNotApplying fails with ErrImportApplying while an import of the
// organisation is being applied; writes call it in their transaction.
func checkNotApplying(ctx context.Context, q db.Querier, orgID string) error {
	applying, err := ImportApplying(ctx, q, orgID)
	if err != nil {
		return err
	}
	if applying {
		return ErrImportApplying
	}
	return nil
}

// runStaged stages rows under a new import of orgID and applies them, the
// audit entry written by the last transaction. fp is the register's
// fingerprint taken before the rows were computed. Until the import turns
// applying, ctx ending stops it and discards what was staged; after that
// it runs to the end.
func (s *stager) runStaged(ctx context.Context, orgID, fp string, rows []stagedRow, entry stagedEntry) error {
	id, err := s.claim(ctx, orgID, entry)
	if err != nil {
		return err
	}
	err = s.stage(ctx, id, rows)
	if err == nil {
		err = s.start(ctx, id, orgID, fp, len(rows))
	}
	if err != nil {
		if errors.Is(err, errCrash) {
			return err
		}
		if derr := s.discard(context.WithoutCancel(ctx), id); derr != nil {
			return errors.Join(err, derr)
		}
		return err
	}
	return s.apply(context.WithoutCancel(ctx), id, orgID)
}
