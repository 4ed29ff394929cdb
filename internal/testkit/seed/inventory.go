package seed

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/inventory"
)

// Devices registers n devices of kind in org, named name with their
// number (a format such as "機器%d"), and returns their ids.
func Devices(t testing.TB, d *db.DB, org, name string, kind inventory.AssetKind, n int, now time.Time) []string {
	t.Helper()
	var ids []string
	for i := range n {
		a, err := inventory.CreateAsset(context.Background(), d, org, "", inventory.Asset{Name: fmt.Sprintf(name, i), Kind: kind}, now)
		if err != nil {
			t.Fatalf("seed device %d: %v", i, err)
		}
		ids = append(ids, a.ID)
	}
	return ids
}

// InventoryRecords makes one register record of every kind in org through
// q, their names numbered n so that each call's are new (the asset is
// registered by userID). It returns their ids by the register's path
// ("assets", "segments", "communications", "connections", "vendors",
// "systems", "contracts", "accounts").
func InventoryRecords(ctx context.Context, q db.Querier, orgID, userID string, n int, now time.Time) (map[string]string, error) {
	seg, err := inventory.CreateSegment(ctx, q, orgID, inventory.Segment{Name: fmt.Sprintf("系%d", n), Kind: inventory.SegMedical}, now)
	if err != nil {
		return nil, err
	}
	as, err := inventory.CreateAsset(ctx, q, orgID, userID, inventory.Asset{Name: fmt.Sprintf("装置%d", n), Kind: inventory.KindNetwork, SegmentID: seg.ID}, now)
	if err != nil {
		return nil, err
	}
	cm, err := inventory.CreateCommunication(ctx, q, orgID, inventory.Communication{AssetID: as.ID, Peer: "保守センター", Port: "443", Reason: "保守"}, now)
	if err != nil {
		return nil, err
	}
	v, err := inventory.CreateVendor(ctx, q, orgID, inventory.Vendor{Name: fmt.Sprintf("保守会社%d", n)}, now)
	if err != nil {
		return nil, err
	}
	cn, err := inventory.CreateConnection(ctx, q, orgID, inventory.Connection{Name: fmt.Sprintf("回線%d", n), Type: inventory.ConnSSLVPN, AssetID: as.ID, VendorID: v.ID}, now)
	if err != nil {
		return nil, err
	}
	sy, err := inventory.CreateSystem(ctx, q, orgID, inventory.System{Name: fmt.Sprintf("電子カルテ%d", n), VendorID: v.ID}, now)
	if err != nil {
		return nil, err
	}
	ct, err := inventory.CreateContract(ctx, q, orgID, inventory.Contract{VendorID: v.ID, Title: fmt.Sprintf("保守契約%d", n), SystemIDs: []string{sy.ID}}, now)
	if err != nil {
		return nil, err
	}
	ac, err := inventory.CreateAccount(ctx, q, orgID, inventory.Account{SystemID: sy.ID, Username: fmt.Sprintf("user%d", n), Kind: inventory.AccountShared}, now)
	if err != nil {
		return nil, err
	}
	return map[string]string{"assets": as.ID, "segments": seg.ID, "communications": cm.ID, "connections": cn.ID, "vendors": v.ID,
		"systems": sy.ID, "contracts": ct.ID, "accounts": ac.ID}, nil
}
