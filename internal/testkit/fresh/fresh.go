// Package fresh makes the records that the authorization walks of the web
// pages and of the API act on: each call makes a new one, n keeps names
// apart.
package fresh

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/share"
	"github.com/medisac/medisac/internal/vuln"
)

// Sheet starts a checklist of edition e for orgID in fiscal year fy, with
// one answer dated date and one evidence item added by staffID; complete
// answers it so that it can be signed, and a non-nil signer signs it. It
// returns the sheet and the evidence item.
func Sheet(t testing.TB, d *db.DB, e *assess.Edition, orgID, staffID string, fy int, date string, n int, complete bool, signer *auth.Principal, now time.Time) (sheet, evidence string) {
	t.Helper()
	ctx := context.Background()
	err := d.InTx(ctx, func(tx *db.Tx) error {
		sh, err := assess.StartSheet(ctx, tx, e, orgID, fy, fmt.Sprintf("対象%d", n), now)
		if err != nil {
			return err
		}
		sheet = sh.ID
		ans := assess.Answer{ItemID: "has_system", Answer1: "yes", Date1: date}
		if complete || signer != nil {
			ans.Answer1 = "no"
		}
		if _, err := assess.SaveAnswers(ctx, tx, e, orgID, sh.ID, staffID, []assess.Answer{ans}, now); err != nil {
			return err
		}
		ev, err := assess.AddEvidence(ctx, tx, e, orgID, sh.ID, "has_system", staffID, assess.EvidenceInput{Name: "証跡.txt", Data: []byte("x\n")}, now)
		if err != nil {
			return err
		}
		evidence = ev.ID
		if signer != nil {
			_, err = assess.Sign(ctx, tx, e, signer, orgID, sh.ID, "院長", now)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return sheet, evidence
}

// FortiGateFinding makes a FortiGate 7.2.2 of orgID and imports
// CVE-2022-42475 from the vulnerability testdata (the path is relative to a
// package directory under internal/), so that the device has one finding.
// It returns the device and the finding.
func FortiGateFinding(t testing.TB, d *db.DB, cat *i18n.Catalog, orgID string, n int, now func() time.Time) (asset, finding string) {
	t.Helper()
	ctx := context.Background()
	as, err := inventory.CreateAsset(ctx, d, orgID, "", inventory.Asset{Name: fmt.Sprintf("FortiGate%d", n), Kind: inventory.KindNetwork,
		Vendor: "Fortinet", Product: "FortiGate", Version: "7.2.2"}, now())
	if err != nil {
		t.Fatal(err)
	}
	w := &vuln.Watch{DB: d, Now: now, Catalog: cat}
	if _, err := w.MatchAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ImportFile(ctx, "../vuln/testdata/nvd/CVE-2022-42475.json"); err != nil {
		t.Fatal(err)
	}
	fs, err := vuln.ListFindings(ctx, d, orgID, vuln.FindingFilter{AssetID: as.ID})
	if err != nil || len(fs) != 1 {
		t.Fatalf("no finding for the fresh device: %v %v", fs, err)
	}
	return as.ID, fs[0].ID
}

// HospitalGroup makes a hospital group owned by owner's organisation, with
// the organisations of invite invited and, of those, the members of join
// having accepted for theirs. It returns the group.
func HospitalGroup(t testing.TB, d *db.DB, owner *auth.Principal, n int, invite []string, join []*auth.Principal, now time.Time) string {
	t.Helper()
	ctx := context.Background()
	g, err := auth.CreateGroup(ctx, d, owner, fmt.Sprintf("グループ%d", n), now)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range invite {
		if _, err := auth.InviteToGroup(ctx, d, owner, g.ID, o, now); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range join {
		if _, err := auth.AnswerGroupInvite(ctx, d, p, g.ID, true, now); err != nil {
			t.Fatal(err)
		}
	}
	return g.ID
}

// IncidentPost makes a TLP:AMBER incident post written by v with one IP
// address indicator; it returns the post and the indicator.
func IncidentPost(t testing.TB, d *db.DB, v share.Viewer, n int, now time.Time) (post, indicator string) {
	t.Helper()
	ctx := context.Background()
	err := d.InTx(ctx, func(tx *db.Tx) error {
		p, err := share.CreatePost(ctx, tx, v, share.PostInput{Kind: share.KindIncident, TLP: share.TLPAmber, Title: fmt.Sprintf("インシデント%d", n),
			Body: "本文", Indicators: []share.IndicatorInput{{Value: fmt.Sprintf("198.51.100.%d", n%250+1)}}}, now)
		if err != nil {
			return err
		}
		post, indicator = p.ID, p.Indicators[0].ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return post, indicator
}
