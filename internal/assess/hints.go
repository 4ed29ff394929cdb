package assess

import (
	"context"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/inventory"
)

// Hint is something medisac's own data says about an item, such as "the
// register holds 42 devices; 3 lack a firmware check date". A person
// accepts it (its text goes into the item's comment) or ignores it; a hint
// never answers an item by itself. Key identifies the hint within the
// item; Msg and Args are a message key and its arguments.
type Hint struct {
	ItemID string `json:"item_id"`
	Key    string `json:"key"`
	Msg    string `json:"msg"`
	Args   []any  `json:"args,omitempty"`
	// Suggest is the answer the data points to ("yes" or "no"), or "".
	Suggest string `json:"suggest,omitempty"`
	// Decision is "", "accepted" or "ignored".
	Decision string `json:"decision,omitempty"`
}

// HintSource computes hints for an organisation's sheet from data kept
// elsewhere in medisac.
type HintSource interface {
	Hints(ctx context.Context, q db.Querier, orgID string, now time.Time) ([]Hint, error)
}

// InventoryHints computes hints from the asset register (資産台帳),
// accounts and vendors of the inventory capability.
type InventoryHints struct{}

// Hints implements HintSource.
func (InventoryHints) Hints(ctx context.Context, q db.Querier, orgID string, now time.Time) ([]Hint, error) {
	assets, err := inventory.AllAssets(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	var out []Hint
	var total, servers, pcs, network, remoteUnknown, remoteYes, fwUnchecked, fwOld, shared, defaultPw, noMFA int
	for _, a := range assets {
		if a.Lifecycle == inventory.Lifecycle("retired") {
			continue
		}
		total++
		switch a.Kind {
		case "server":
			servers++
		case "pc":
			pcs++
		case "network":
			network++
			if a.FirmwareCheckedOn == "" {
				fwUnchecked++
			}
			if a.FirmwareCurrent == inventory.No {
				fwOld++
			}
		}
		switch a.RemoteMaintenance {
		case inventory.Unknown:
			remoteUnknown++
		case inventory.Yes:
			remoteYes++
		}
		if a.PasswordShared == inventory.Yes {
			shared++
		}
		if a.DefaultPasswordChanged == inventory.No {
			defaultPw++
		}
		if a.AdminMFA == inventory.No {
			noMFA++
		}
	}
	if total == 0 {
		out = append(out, Hint{ItemID: "register", Key: "register_empty", Msg: "assess.hint.register_empty", Suggest: AnsNo})
	} else {
		out = append(out, Hint{ItemID: "register", Key: "register", Msg: "assess.hint.register", Args: []any{total, servers, pcs, network}})
		out = append(out, Hint{ItemID: "remote_maintenance", Key: "remote", Msg: "assess.hint.remote", Args: []any{remoteYes, remoteUnknown}})
	}
	if network > 0 {
		h := Hint{ItemID: "patch", Key: "firmware", Msg: "assess.hint.firmware", Args: []any{network, fwUnchecked, fwOld}}
		if fwOld > 0 {
			h.Suggest = AnsNo
		}
		out = append(out, h)
		u := h
		u.ItemID = "urgent_firmware"
		out = append(out, u)
	}
	if shared > 0 || defaultPw > 0 {
		h := Hint{ItemID: "password_reuse", Key: "passwords", Msg: "assess.hint.passwords", Args: []any{shared, defaultPw}, Suggest: AnsNo}
		out = append(out, h)
		u := h
		u.ItemID = "urgent_password"
		out = append(out, u)
	}
	if noMFA > 0 {
		out = append(out, Hint{ItemID: "two_factor", Key: "admin_mfa", Msg: "assess.hint.admin_mfa", Args: []any{noMFA}, Suggest: AnsNo})
	}
	accounts, err := inventory.ListAccounts(ctx, q, orgID, inventory.AccountFilter{}, inventory.DateOf(now))
	if err != nil {
		return nil, err
	}
	leavers := 0
	for _, a := range accounts {
		if a.HolderLeft && a.State == inventory.AccountActive {
			leavers++
		}
	}
	if len(accounts) > 0 {
		h := Hint{ItemID: "unused_accounts", Key: "leavers", Msg: "assess.hint.leavers", Args: []any{len(accounts), leavers}}
		if leavers > 0 {
			h.Suggest = AnsNo
		}
		out = append(out, h)
	}
	vendors, err := inventory.ListVendors(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	if len(vendors) > 0 {
		out = append(out, Hint{ItemID: "mds_sds", Key: "vendors", Msg: "assess.hint.vendors", Args: []any{len(vendors)}})
	}
	return out, nil
}

// HintsFor returns the hints of src for the items of a sheet, with the
// decisions already taken on them.
func HintsFor(ctx context.Context, q db.Querier, src HintSource, e *Edition, orgID, sheetID string, now time.Time) ([]Hint, error) {
	if src == nil {
		return nil, nil
	}
	all, err := src.Hints(ctx, q, orgID, now)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT item_id, hint_key, decision FROM assess_hint_decisions WHERE sheet_id = ? AND org_id = ?`, sheetID, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	dec := map[[2]string]string{}
	for rows.Next() {
		var item, key, d string
		if err := rows.Scan(&item, &key, &d); err != nil {
			return nil, err
		}
		dec[[2]string{item, key}] = d
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []Hint
	for _, h := range all {
		if e.Item(h.ItemID) == nil {
			continue
		}
		h.Decision = dec[[2]string{h.ItemID, h.Key}]
		out = append(out, h)
	}
	return out, nil
}

// DecideHint records that a person accepted or ignored a hint. Accepting
// adds text (the hint as the reader saw it) to the item's comment on
// every cell the item has, within the same validation as SaveAnswers.
func DecideHint(ctx context.Context, q db.Querier, src HintSource, e *Edition, orgID, sheetID, itemID, key, decision, text, actorID string, now time.Time) error {
	if decision != "accepted" && decision != "ignored" {
		return db.ErrNotFound
	}
	hs, err := HintsFor(ctx, q, src, e, orgID, sheetID, now)
	if err != nil {
		return err
	}
	found := false
	for _, h := range hs {
		found = found || (h.ItemID == itemID && h.Key == key)
	}
	if !found {
		return db.ErrNotFound
	}
	if decision == "accepted" && text != "" {
		s, err := GetSheet(ctx, q, orgID, sheetID)
		if err != nil {
			return err
		}
		it := e.Item(itemID)
		a := s.Answers[Key{itemID, it.CellIDs()[0]}]
		a.ItemID, a.Cell = itemID, it.CellIDs()[0]
		if a.Comment != "" {
			a.Comment += "\n"
		}
		a.Comment += text
		if _, err := SaveAnswers(ctx, q, e, orgID, sheetID, actorID, []Answer{a}, now); err != nil {
			return err
		}
	}
	_, err = q.Exec(ctx, `INSERT INTO assess_hint_decisions (sheet_id, org_id, item_id, hint_key, decision, decided_by, decided_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sheet_id, item_id, hint_key) DO UPDATE SET decision = excluded.decision,
		decided_by = excluded.decided_by, decided_at = excluded.decided_at`, sheetID, orgID, itemID, key, decision, actorID, now)
	return err
}
