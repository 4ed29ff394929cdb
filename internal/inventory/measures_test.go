package inventory

import (
	"context"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
)

func TestUrgentMeasuresFor(t *testing.T) {
	today := Date("2026-04-01")
	assets := []Asset{
		{ID: "a1", Name: "完了した機器", Kind: KindNetwork, Lifecycle: InUse, SegmentID: "s1", DefaultPasswordChanged: Yes, PasswordShared: No,
			FirmwareCurrent: Yes, FirmwareCheckedOn: "2026-03-01", OpenPorts: []Port{{Port: 443, Protocol: "tcp"}}},
		{ID: "a2", Name: "CT", Kind: KindMedical, Lifecycle: InUse, DefaultPasswordChanged: No, PasswordShared: Unknown,
			FirmwareCurrent: No, OpenPorts: []Port{{Port: 104, Protocol: "tcp"}, {Port: 23, Protocol: "tcp"}}},
		{ID: "a3", Name: "未確認の機器", Kind: KindPC, Lifecycle: InUse, SegmentID: "s2", FirmwareCurrent: Yes, FirmwareCheckedOn: "2025-01-01"},
		{ID: "a4", Name: "廃棄した機器", Kind: KindPC, Lifecycle: Retired},
		{ID: "a5", Name: "クラウド", Kind: KindCloud, Lifecycle: InUse},
	}
	comms := []Communication{
		{AssetID: "a1", Port: "443", Protocol: "tcp", Reason: "管理画面", ReviewedOn: "2026-02-01"},
		{AssetID: "a2", Port: "104", Protocol: "tcp", Reason: "DICOM", ReviewedOn: "2024-01-01"},
		{FromSegmentID: "s9", ToSegmentID: "s2", Port: "any", Protocol: "any", Reason: "", ReviewedOn: ""},
	}
	r := UrgentMeasuresFor(assets, comms, today, MeasureOptions{})
	if len(r.Devices) != 3 {
		t.Fatalf("devices %+v", r.Devices)
	}
	want := map[string][3]MeasureState{
		"完了した機器": {MeasureDone, MeasureDone, MeasureDone},
		"CT":     {MeasureTodo, MeasureTodo, MeasureTodo},
		"未確認の機器": {MeasureUnknown, MeasureTodo, MeasureTodo},
	}
	for _, d := range r.Devices {
		got := [3]MeasureState{d.Password, d.Communication, d.Firmware}
		if got != want[d.AssetName] {
			t.Errorf("%s: %v, want %v", d.AssetName, got, want[d.AssetName])
		}
	}
	if r.Password != (Progress{1, 3, 33}) || r.Communication != (Progress{1, 3, 33}) || r.Overall != (Progress{3, 9, 33}) {
		t.Errorf("progress %+v %+v %+v", r.Password, r.Communication, r.Overall)
	}
	var keys []string
	for _, td := range r.Todo {
		keys = append(keys, td.AssetName+":"+strings.TrimPrefix(td.Key, "inventory.todo."))
	}
	wantKeys := []string{
		"CT:password_default", "CT:comm_unexplained", "CT:firmware_old",
		"CT:password_shared_unknown", "未確認の機器:password_unknown", "未確認の機器:password_shared_unknown", "未確認の機器:comm_none",
		"CT:comm_stale", "未確認の機器:firmware_stale",
	}
	if strings.Join(keys, ",") != strings.Join(wantKeys, ",") {
		t.Errorf("todo\n got %v\nwant %v", keys, wantKeys)
	}
	cat := i18n.MustLoad()
	for _, td := range r.Todo {
		for _, lang := range i18n.Languages {
			s := cat.T(lang, td.Key, td.Args...)
			if !strings.Contains(s, td.AssetName) || strings.Contains(s, "%!") || strings.HasPrefix(s, "inventory.") {
				t.Errorf("%s %s: %q", lang, td.Key, s)
			}
		}
	}
	if s := cat.T("ja", r.Todo[1].Key, r.Todo[1].Args...); !strings.Contains(s, "23/tcp") {
		t.Errorf("port todo %q", s)
	}
}

func TestUrgentMeasuresStore(t *testing.T) {
	eachTwoOrgs(t, func(t *testing.T, d *db.DB, org, other string) {
		ctx := context.Background()
		a := must[Asset](t)(CreateAsset(ctx, d, org, "", Asset{Name: "VPN", DefaultPasswordChanged: Yes, PasswordShared: No}, t0))
		must[Asset](t)(CreateAsset(ctx, d, other, "", Asset{Name: "他院の機器"}, t0))
		must[Communication](t)(CreateCommunication(ctx, d, org, Communication{AssetID: a.ID, Reason: "保守", ReviewedOn: "2026-03-01", ReviewedBy: "情報システム課 佐藤"}, t0))
		r := must[*MeasuresReport](t)(UrgentMeasures(ctx, d, org, "2026-04-01", MeasureOptions{}))
		if len(r.Devices) != 1 || r.Devices[0].Password != MeasureDone || r.Devices[0].Communication != MeasureDone || r.Devices[0].Firmware != MeasureUnknown {
			t.Errorf("report %+v", r.Devices)
		}
		if len(r.Todo) != 1 || r.Todo[0].Key != "inventory.todo.firmware_unknown" {
			t.Errorf("todo %+v", r.Todo)
		}
	})
}
