package vuln

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/vuln/match"
	"github.com/medisac/medisac/internal/vuln/version"
)

// Actions recorded with each stored version of the alias table.
const (
	AliasEdit    = "edit"
	AliasUpload  = "upload"
	AliasRestore = "restore"
	AliasReset   = "reset"
	AliasImport  = "import"
)

// TaskAliasReload names the periodic check, on every node, for a newer
// stored alias table (the node id is appended so that each node runs it).
const TaskAliasReload = "vuln.alias_reload"

// AliasReloadInterval is how often a node looks for a newer stored alias
// table.
const AliasReloadInterval = 30 * time.Second

// maxAliasNote bounds the note of a version, in characters.
const maxAliasNote = 500

// AliasVersion is one stored version of the alias table. The newest is in
// force; with none stored, the shipped table is.
type AliasVersion struct {
	ID      string `json:"id"`
	Seq     int64  `json:"seq"`
	Version string `json:"version"`
	// Action is AliasEdit, AliasUpload, AliasRestore, AliasReset or
	// AliasImport.
	Action      string    `json:"action"`
	Note        string    `json:"note"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedByID string    `json:"created_by_id,omitempty"`
	CreatedBy   string    `json:"created_by"`
	// Shipped says the content is the table shipped with medisac.
	Shipped bool `json:"shipped"`
	InForce bool `json:"in_force"`
}

// AliasSave is a change of the alias table.
type AliasSave struct {
	// Body is the whole table in the AliasFile JSON shape.
	Body   []byte
	Action string
	Note   string
	// ActorID and Actor say who made the change (user id and e-mail, or
	// "cli" and the operating-system user).
	ActorID, Actor string
}

// AliasChange says what a save did.
type AliasChange struct {
	// Old and New are the table versions before and after.
	Old string `json:"old_version"`
	New string `json:"new_version"`
	// Changed is false when the table was already in force (nothing is
	// stored then).
	Changed bool   `json:"changed"`
	ID      string `json:"id,omitempty"`
	Seq     int64  `json:"seq,omitempty"`
}

var shippedVersion = sync.OnceValue(func() string { return match.DefaultAliases().Version() })

// ShippedAliasesVersion returns the version of the table shipped with
// medisac.
func ShippedAliasesVersion() string { return shippedVersion() }

const aliasVersionCols = `id, seq, version, action, note, created_at, created_by_id, created_by`

func scanAliasVersion(sc interface{ Scan(...any) error }) (AliasVersion, error) {
	var v AliasVersion
	err := sc.Scan(&v.ID, &v.Seq, &v.Version, &v.Action, &v.Note, &v.CreatedAt, &v.CreatedByID, &v.CreatedBy)
	v.CreatedAt = v.CreatedAt.UTC()
	v.Shipped = v.Version == shippedVersion()
	return v, err
}

// AliasHistory returns the stored versions of the alias table, newest
// (the one in force) first, at most limit (0: all).
func AliasHistory(ctx context.Context, q db.Querier, limit int) ([]AliasVersion, error) {
	sql := `SELECT ` + aliasVersionCols + ` FROM vuln_alias_versions ORDER BY seq DESC`
	var args []any
	if limit > 0 {
		sql += ` LIMIT ?`
		args = append(args, limit)
	}
	out, err := db.QueryAll(ctx, q, scanAliasVersion, sql, args...)
	if len(out) > 0 {
		out[0].InForce = true
	}
	return out, err
}

// AliasVersionBody returns a stored version of the alias table and its
// file; db.ErrNotFound when there is none with that id.
func AliasVersionBody(ctx context.Context, q db.Querier, id string) (AliasVersion, []byte, error) {
	if !db.ValidID(id) {
		return AliasVersion{}, nil, db.ErrNotFound
	}
	var body string
	var v AliasVersion
	row := q.QueryRow(ctx, `SELECT `+aliasVersionCols+`, body, (SELECT MAX(seq) FROM vuln_alias_versions) FROM vuln_alias_versions WHERE id = ?`, id)
	var newest int64
	err := db.ScanErr(row.Scan(&v.ID, &v.Seq, &v.Version, &v.Action, &v.Note, &v.CreatedAt, &v.CreatedByID, &v.CreatedBy, &body, &newest))
	if err != nil {
		return AliasVersion{}, nil, err
	}
	v.CreatedAt = v.CreatedAt.UTC()
	v.Shipped = v.Version == shippedVersion()
	v.InForce = v.Seq == newest
	return v, []byte(body), nil
}

// newestAlias returns the seq and version of the stored table in force;
// ok is false when none is stored.
func newestAlias(ctx context.Context, q db.Querier) (seq int64, ver string, ok bool, err error) {
	err = db.ScanErr(q.QueryRow(ctx, `SELECT seq, version FROM vuln_alias_versions ORDER BY seq DESC LIMIT 1`).Scan(&seq, &ver))
	if errors.Is(err, db.ErrNotFound) {
		return 0, "", false, nil
	}
	return seq, ver, err == nil, err
}

// CurrentAliases loads the alias table in force: the newest stored
// version, else the shipped table. A stored table that no longer loads
// (written by another release) gives an error.
func CurrentAliases(ctx context.Context, q db.Querier, reg *version.Registry) (*match.Aliases, error) {
	if reg == nil {
		reg = version.Default()
	}
	var body string
	err := db.ScanErr(q.QueryRow(ctx, `SELECT body FROM vuln_alias_versions ORDER BY seq DESC LIMIT 1`).Scan(&body))
	if errors.Is(err, db.ErrNotFound) {
		return match.LoadAliases(bytes.NewReader(match.ShippedAliasesJSON()), reg)
	}
	if err != nil {
		return nil, err
	}
	return match.LoadAliases(strings.NewReader(body), reg)
}

// SaveAliases checks in.Body with LoadAliases and, when it differs from
// the table in force, stores it as the newest version, calls record (to
// write the audit entry) and enqueues the full re-match, all in one
// transaction; then this node uses the new table at once (the others
// within AliasReloadInterval). A table that does not load changes
// nothing. Without a queue the re-match runs before SaveAliases returns.
func (w *Watch) SaveAliases(ctx context.Context, in AliasSave, record func(ctx context.Context, tx *db.Tx, ch AliasChange) error) (AliasChange, error) {
	w.init()
	if !utf8.Valid(in.Body) {
		return AliasChange{}, apperr.New(apperr.Invalid, "vulnalias.err.json", 1, "not UTF-8 text")
	}
	a, err := match.LoadAliases(bytes.NewReader(in.Body), w.Reg)
	if err != nil {
		return AliasChange{}, err
	}
	note := strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(note) > maxAliasNote {
		return AliasChange{}, apperr.Field("note", "vulnalias.err.note_long", maxAliasNote)
	}
	if in.Action == "" {
		in.Action = AliasEdit
	}
	ch := AliasChange{New: a.Version()}
	err = w.DB.InTx(ctx, func(tx *db.Tx) error {
		ch.Changed = false
		if err := tx.Lock(ctx, "vuln.aliases"); err != nil {
			return err
		}
		seq, old, ok, err := newestAlias(ctx, tx)
		if err != nil {
			return err
		}
		if !ok {
			old = shippedVersion()
		}
		ch.Old = old
		if old == ch.New {
			return nil
		}
		ch.Changed, ch.ID, ch.Seq = true, db.NewID(), seq+1
		if _, err := tx.Exec(ctx, `INSERT INTO vuln_alias_versions (id, seq, version, body, action, note, created_at, created_by_id, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, ch.ID, ch.Seq, ch.New, string(in.Body), in.Action, note, w.now(),
			clipText(in.ActorID, 100), clipText(in.Actor, 320)); err != nil {
			return err
		}
		if w.Queue != nil {
			if _, err := w.Queue.Enqueue(ctx, tx, JobMatchAll, nil); err != nil {
				return err
			}
		}
		if record != nil {
			return record(ctx, tx, ch)
		}
		return nil
	})
	if err != nil || !ch.Changed {
		return ch, err
	}
	w.Aliases.Replace(a)
	if w.Queue == nil {
		if _, err := w.MatchAll(ctx); err != nil {
			return ch, err
		}
	}
	return ch, nil
}

// RestoreAliases makes the stored version id the table in force again,
// as a new version (in.Body is ignored); see SaveAliases.
func (w *Watch) RestoreAliases(ctx context.Context, id string, in AliasSave, record func(ctx context.Context, tx *db.Tx, ch AliasChange) error) (AliasChange, error) {
	w.init()
	_, body, err := AliasVersionBody(ctx, w.DB, id)
	if err != nil {
		return AliasChange{}, err
	}
	in.Body, in.Action = body, AliasRestore
	return w.SaveAliases(ctx, in, record)
}

// ResetAliases makes the shipped table the one in force, as a new
// version (in.Body is ignored); see SaveAliases.
func (w *Watch) ResetAliases(ctx context.Context, in AliasSave, record func(ctx context.Context, tx *db.Tx, ch AliasChange) error) (AliasChange, error) {
	in.Body, in.Action = match.ShippedAliasesJSON(), AliasReset
	return w.SaveAliases(ctx, in, record)
}

// ReloadAliases makes the watch use the stored table in force when it
// differs from the one in use (another node changed it).
func (w *Watch) ReloadAliases(ctx context.Context) error {
	w.init()
	_, ver, ok, err := newestAlias(ctx, w.DB)
	if err != nil {
		return err
	}
	if !ok {
		ver = shippedVersion()
	}
	old := w.Aliases.Version()
	if ver == old {
		return nil
	}
	a, err := CurrentAliases(ctx, w.DB, w.Reg)
	if err != nil {
		return err
	}
	w.Aliases.Replace(a)
	w.Logger.Info("alias table changed", "old", old, "new", a.Version())
	return nil
}

// AliasUse counts, for each product alias of the table in use (by its
// index in File().Products), the registered assets of every organisation
// it identifies from their vendor, product and model.
func (w *Watch) AliasUse(ctx context.Context) (map[int]int, error) {
	w.init()
	rows, err := w.DB.Query(ctx, `SELECT vendor, product, model, COUNT(*) FROM inv_assets
		WHERE lifecycle <> 'retired' GROUP BY vendor, product, model`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var vendor, product, model string
		var n int
		if err := rows.Scan(&vendor, &product, &model, &n); err != nil {
			return nil, err
		}
		if i := w.Aliases.ProductIndex(vendor, product, model); i >= 0 {
			out[i] += n
		}
	}
	return out, rows.Err()
}

// loadAliases returns the alias table in force in d (the shipped one
// when d holds none or cannot be read). A process builds one Watch, so
// one table is in memory.
func loadAliases(d *db.DB, reg *version.Registry) *match.Aliases {
	if d == nil {
		return match.DefaultAliases()
	}
	a, err := match.LoadAliases(bytes.NewReader(match.ShippedAliasesJSON()), reg)
	if err != nil {
		panic("vuln: embedded aliases: " + err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cur, err := CurrentAliases(ctx, d, reg); err != nil {
		slog.Warn("stored alias table not loaded; using the shipped one", "err", err)
	} else {
		a.Replace(cur)
	}
	return a
}
