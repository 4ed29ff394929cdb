package inventory

import (
	"context"
	"errors"

	"github.com/medisac/medisac/internal/db"
)

// Flag is a finding about a record that needs someone's attention. Key is a
// message key; Args fill it.
type Flag struct {
	Code string `json:"code"`
	Key  string `json:"key"`
	Args []any  `json:"args,omitempty"`
}

// The flag codes.
const (
	FlagISDN              = "isdn_ended"
	FlagUnknownManager    = "unknown_manager"
	FlagNoMFA             = "no_mfa"
	FlagDevicePastSupport = "device_past_support"
	FlagDeviceVulnerable  = "device_vulnerable"
	FlagMedicalSharesIT   = "medical_shares_segment"
	FlagUnexplainedPort   = "unexplained_port"
	FlagPastSupport       = "past_support"
	FlagSharedAdmin       = "shared_admin"
	FlagVendorNoExpiry    = "vendor_no_expiry"
	FlagLeaver            = "leaver"
)

func flag(code string, args ...any) Flag {
	return Flag{Code: code, Key: "inventory.flag." + code, Args: args}
}

// ConnectionFlags returns the flags of an external connection: ISDN (the
// service has ended), managed by nobody known, no multi-factor
// authentication, and a terminating device past its support end or known to
// be vulnerable. device is the terminating asset or nil.
func ConnectionFlags(c Connection, device *Asset, today Date) []Flag {
	out := []Flag{}
	if c.Type == ConnISDN {
		out = append(out, flag(FlagISDN))
	}
	if c.Manager == ManagerUnknown || c.Manager == "" {
		out = append(out, flag(FlagUnknownManager))
	}
	if c.MFA == No {
		out = append(out, flag(FlagNoMFA))
	}
	if device != nil {
		if device.SupportEnd.Before(today) {
			out = append(out, flag(FlagDevicePastSupport, device.Name, string(device.SupportEnd)))
		}
		if device.Vulnerable {
			out = append(out, flag(FlagDeviceVulnerable, device.Name))
		}
	}
	return out
}

// generalIT are the asset kinds counted as general IT when a segment is
// checked for medical devices sharing it.
var generalIT = map[AssetKind]bool{KindServer: true, KindPC: true, KindPrinter: true}

// AssetFlagsFor computes the flags of assets from the register: a medical
// device in a segment that also holds general IT (servers, PCs, printers) or
// that is a business or guest segment; observed open ports without a
// recorded reason (per device, or for traffic into the device's segment);
// support ended before today. Retired assets get no flags. The result maps
// asset id to its flags (assets without flags are absent).
func AssetFlagsFor(assets []Asset, segments []Segment, comms []Communication, today Date) map[string][]Flag {
	hasIT := map[string]bool{}
	for _, a := range assets {
		if a.Lifecycle != Retired && a.SegmentID != "" && generalIT[a.Kind] {
			hasIT[a.SegmentID] = true
		}
	}
	return assetFlags(assets, segments, comms, hasIT, today)
}

func assetFlags(assets []Asset, segments []Segment, comms []Communication, hasIT map[string]bool, today Date) map[string][]Flag {
	segKind := map[string]SegmentKind{}
	for _, s := range segments {
		segKind[s.ID] = s.Kind
	}
	byAsset := map[string][]Communication{}
	bySegment := map[string][]Communication{}
	for _, c := range comms {
		if c.Reason == "" {
			continue
		}
		if c.AssetID != "" {
			byAsset[c.AssetID] = append(byAsset[c.AssetID], c)
		} else if c.ToSegmentID != "" {
			bySegment[c.ToSegmentID] = append(bySegment[c.ToSegmentID], c)
		}
	}
	out := map[string][]Flag{}
	for _, a := range assets {
		if a.Lifecycle == Retired {
			continue
		}
		var fs []Flag
		if a.Kind == KindMedical && a.SegmentID != "" {
			k := segKind[a.SegmentID]
			if hasIT[a.SegmentID] || k == SegBusiness || k == SegGuest {
				fs = append(fs, flag(FlagMedicalSharesIT, a.SegmentName))
			}
		}
		for _, p := range a.OpenPorts {
			if !portExplained(p, byAsset[a.ID]) && !portExplained(p, bySegment[a.SegmentID]) {
				fs = append(fs, flag(FlagUnexplainedPort, p.Port, p.Protocol))
			}
		}
		if a.SupportEnd.Before(today) {
			fs = append(fs, flag(FlagPastSupport, string(a.SupportEnd)))
		}
		if len(fs) > 0 {
			out[a.ID] = fs
		}
	}
	return out
}

func portExplained(p Port, comms []Communication) bool {
	for _, c := range comms {
		if (c.Protocol == "any" || c.Protocol == p.Protocol) && portCovered(c.Port, p.Port) {
			return true
		}
	}
	return false
}

// AssetFlags loads the organisation's register and returns AssetFlagsFor.
func AssetFlags(ctx context.Context, q db.Querier, orgID string, today Date) (map[string][]Flag, error) {
	assets, err := AllAssets(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	segs, comms, err := network(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	return AssetFlagsFor(assets, segs, comms, today), nil
}

// network reads the organisation's segments and all its allowed
// communications (what the flags of assets look at besides the assets).
func network(ctx context.Context, q db.Querier, orgID string) ([]Segment, []Communication, error) {
	segs, err := ListSegments(ctx, q, orgID)
	if err != nil {
		return nil, nil, err
	}
	comms, err := ListCommunications(ctx, q, orgID, "")
	return segs, comms, err
}

// FlagsForAssets returns the flags of some of the organisation's assets (a
// list page, one asset) as AssetFlagsFor would compute them from the whole
// register, without loading every asset: whether the segment of a medical
// device also holds general IT is asked of the database, per segment.
func FlagsForAssets(ctx context.Context, q db.Querier, orgID string, assets []Asset, today Date) (map[string][]Flag, error) {
	segs, comms, err := network(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	hasIT := map[string]bool{}
	checked := map[string]bool{}
	for _, a := range assets {
		if a.Kind != KindMedical || a.SegmentID == "" || a.Lifecycle == Retired || checked[a.SegmentID] {
			continue
		}
		checked[a.SegmentID] = true
		var one int
		err := db.ScanErr(q.QueryRow(ctx, `SELECT 1 FROM inv_assets WHERE org_id = ? AND segment_id = ? AND lifecycle <> ?
 AND kind IN (?, ?, ?) LIMIT 1`, orgID, a.SegmentID, string(Retired), string(KindServer), string(KindPC), string(KindPrinter)).Scan(&one))
		switch {
		case err == nil:
			hasIT[a.SegmentID] = true
		case !errors.Is(err, db.ErrNotFound):
			return nil, err
		}
	}
	return assetFlags(assets, segs, comms, hasIT, today), nil
}
