package inventory

import (
	"context"
	"sort"
	"time"

	"github.com/medisac/medisac/internal/db"
)

// MeasureState is the state of one urgent measure on one device.
type MeasureState string

// The measure states: done, something to do, or not known yet.
const (
	MeasureDone    MeasureState = "done"
	MeasureTodo    MeasureState = "todo"
	MeasureUnknown MeasureState = "unknown"
)

// The three urgent measures of the August 2024 notice.
const (
	MeasurePassword      = "password"
	MeasureCommunication = "communication"
	MeasureFirmware      = "firmware"
)

// MeasureOptions tune UrgentMeasures. Zero fields take the defaults.
type MeasureOptions struct {
	// CommReviewDays is how old a communication review may be (365).
	CommReviewDays int
	// FirmwareRecheckDays is how old a firmware check may be (180).
	FirmwareRecheckDays int
}

// DeviceMeasures is the state of the three urgent measures on one device.
type DeviceMeasures struct {
	AssetID           string       `json:"asset_id"`
	AssetName         string       `json:"asset_name"`
	Kind              AssetKind    `json:"kind"`
	Password          MeasureState `json:"password"`
	Communication     MeasureState `json:"communication"`
	CommReviewedOn    Date         `json:"comm_reviewed_on"`
	Firmware          MeasureState `json:"firmware"`
	FirmwareVersion   string       `json:"firmware_version"`
	FirmwareCheckedOn Date         `json:"firmware_checked_on"`
}

// Progress counts devices for which a measure is done.
type Progress struct {
	Done    int `json:"done"`
	Total   int `json:"total"`
	Percent int `json:"percent"`
}

func progress(done, total int) Progress {
	p := Progress{Done: done, Total: total}
	if total > 0 {
		p.Percent = done * 100 / total
	}
	return p
}

// Todo is one next step for one device: Key is a message key in plain
// Japanese whose first argument is the device name.
type Todo struct {
	AssetID   string `json:"asset_id"`
	AssetName string `json:"asset_name"`
	Measure   string `json:"measure"`
	Key       string `json:"key"`
	Args      []any  `json:"args"`
	// Priority orders the list: 1 (a known gap) before 2 (not known yet)
	// before 3 (a check that has gone stale).
	Priority int `json:"priority"`
}

// MeasuresReport is the working screen of the three urgent measures.
type MeasuresReport struct {
	Devices       []DeviceMeasures `json:"devices"`
	Password      Progress         `json:"password"`
	Communication Progress         `json:"communication"`
	Firmware      Progress         `json:"firmware"`
	Overall       Progress         `json:"overall"`
	Todo          []Todo           `json:"todo"`
}

// UrgentMeasures loads the organisation's register and returns
// UrgentMeasuresFor it.
func UrgentMeasures(ctx context.Context, q db.Querier, orgID string, today Date, opt MeasureOptions) (*MeasuresReport, error) {
	assets, err := AllAssets(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	comms, err := ListCommunications(ctx, q, orgID, "")
	if err != nil {
		return nil, err
	}
	return UrgentMeasuresFor(assets, comms, today, opt), nil
}

func daysBefore(d Date, days int) Date {
	t, err := time.Parse("2006-01-02", string(d))
	if err != nil {
		return ""
	}
	return Date(t.AddDate(0, 0, -days).Format("2006-01-02"))
}

// UrgentMeasuresFor computes, for every asset in use except cloud services:
// (1) passwords: done when the default password was changed and the
// password is not shared with other devices; (2) communication control:
// done when a communication record for the device, or for traffic to or
// from its segment, was reviewed within CommReviewDays and every observed
// open port has a recorded reason; (3) firmware: done when the firmware is
// recorded as current and was checked within FirmwareRecheckDays. It also
// returns the progress of each measure and overall, and the to-do list.
func UrgentMeasuresFor(assets []Asset, comms []Communication, today Date, opt MeasureOptions) *MeasuresReport {
	if opt.CommReviewDays <= 0 {
		opt.CommReviewDays = 365
	}
	if opt.FirmwareRecheckDays <= 0 {
		opt.FirmwareRecheckDays = 180
	}
	commLimit := daysBefore(today, opt.CommReviewDays)
	fwLimit := daysBefore(today, opt.FirmwareRecheckDays)
	reviewedByAsset := map[string]Date{}
	reviewedBySegment := map[string]Date{}
	later := func(m map[string]Date, k string, d Date) {
		if k != "" && d > m[k] {
			m[k] = d
		}
	}
	var explaining []Communication
	for _, c := range comms {
		if c.AssetID != "" {
			later(reviewedByAsset, c.AssetID, c.ReviewedOn)
			if _, ok := reviewedByAsset[c.AssetID]; !ok {
				reviewedByAsset[c.AssetID] = ""
			}
		} else {
			for _, s := range []string{c.FromSegmentID, c.ToSegmentID} {
				later(reviewedBySegment, s, c.ReviewedOn)
				if _, ok := reviewedBySegment[s]; !ok && s != "" {
					reviewedBySegment[s] = ""
				}
			}
		}
		explaining = append(explaining, c)
	}
	r := &MeasuresReport{Devices: []DeviceMeasures{}, Todo: []Todo{}}
	var pw, cm, fw int
	for _, a := range assets {
		if a.Lifecycle != InUse || a.Kind == KindCloud {
			continue
		}
		todo := func(measure, key string, prio int, args ...any) {
			r.Todo = append(r.Todo, Todo{AssetID: a.ID, AssetName: a.Name, Measure: measure, Key: "inventory.todo." + key, Args: append([]any{a.Name}, args...), Priority: prio})
		}
		dm := DeviceMeasures{AssetID: a.ID, AssetName: a.Name, Kind: a.Kind, FirmwareVersion: a.Version, FirmwareCheckedOn: a.FirmwareCheckedOn}

		switch {
		case a.DefaultPasswordChanged == Yes && a.PasswordShared == No:
			dm.Password = MeasureDone
			pw++
		case a.DefaultPasswordChanged == No || a.PasswordShared == Yes:
			dm.Password = MeasureTodo
		default:
			dm.Password = MeasureUnknown
		}
		switch a.DefaultPasswordChanged {
		case No:
			todo(MeasurePassword, "password_default", 1)
		case Unknown, "":
			todo(MeasurePassword, "password_unknown", 2)
		}
		switch a.PasswordShared {
		case Yes:
			todo(MeasurePassword, "password_shared", 1)
		case Unknown, "":
			todo(MeasurePassword, "password_shared_unknown", 2)
		}

		reviewed, hasRecord := reviewedByAsset[a.ID]
		if d, ok := reviewedBySegment[a.SegmentID]; ok && a.SegmentID != "" {
			hasRecord = true
			if d > reviewed {
				reviewed = d
			}
		}
		dm.CommReviewedOn = reviewed
		var unexplained []Port
		for _, p := range a.OpenPorts {
			var mine []Communication
			for _, c := range explaining {
				if c.Reason != "" && (c.AssetID == a.ID || (c.AssetID == "" && c.ToSegmentID != "" && c.ToSegmentID == a.SegmentID)) {
					mine = append(mine, c)
				}
			}
			if !portExplained(p, mine) {
				unexplained = append(unexplained, p)
			}
		}
		fresh := reviewed != "" && reviewed >= commLimit
		switch {
		case fresh && len(unexplained) == 0:
			dm.Communication = MeasureDone
			cm++
		case !hasRecord && len(unexplained) == 0:
			dm.Communication = MeasureUnknown
		default:
			dm.Communication = MeasureTodo
		}
		switch {
		case !hasRecord || reviewed == "":
			todo(MeasureCommunication, "comm_none", 2)
		case !fresh:
			todo(MeasureCommunication, "comm_stale", 3, string(reviewed))
		}
		for _, p := range unexplained {
			todo(MeasureCommunication, "comm_unexplained", 1, p.Port, p.Protocol)
		}

		checked := a.FirmwareCheckedOn != "" && a.FirmwareCheckedOn >= fwLimit
		switch {
		case a.FirmwareCurrent == Yes && checked:
			dm.Firmware = MeasureDone
			fw++
		case a.FirmwareCurrent == No:
			dm.Firmware = MeasureTodo
		case a.FirmwareCurrent == Yes:
			dm.Firmware = MeasureTodo
		default:
			dm.Firmware = MeasureUnknown
		}
		switch {
		case a.FirmwareCurrent == No:
			todo(MeasureFirmware, "firmware_old", 1)
		case a.FirmwareCurrent != Yes:
			todo(MeasureFirmware, "firmware_unknown", 2)
		case a.FirmwareCheckedOn == "":
			todo(MeasureFirmware, "firmware_never_checked", 3)
		case !checked:
			todo(MeasureFirmware, "firmware_stale", 3, string(a.FirmwareCheckedOn))
		}
		r.Devices = append(r.Devices, dm)
	}
	n := len(r.Devices)
	r.Password, r.Communication, r.Firmware = progress(pw, n), progress(cm, n), progress(fw, n)
	r.Overall = progress(pw+cm+fw, 3*n)
	sort.SliceStable(r.Todo, func(i, j int) bool {
		if r.Todo[i].Priority != r.Todo[j].Priority {
			return r.Todo[i].Priority < r.Todo[j].Priority
		}
		return r.Todo[i].AssetName < r.Todo[j].AssetName
	})
	return r
}
