package app

import (
	"context"
	"io"
	"testing"

	"github.com/medisac/medisac/internal/auth"
)

// TestSeedDemo: the demo creates the four kinds of organisation and logins
// that sign in, and a second start prints the same logins without
// duplicating anything.
func TestSeedDemo(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.Demo = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n, err := NewNode(ctx, &cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer n.DB.Close()
	logins, err := SeedDemo(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[auth.OrgKind]bool{}
	for _, l := range logins {
		u, err := auth.CheckSignIn(ctx, n.DB, l.Email, l.Password, "127.0.0.1", n.now())
		if err != nil {
			t.Fatalf("demo login %s does not sign in: %v", l.Email, err)
		}
		ms, _ := auth.MembershipsOf(ctx, n.DB, u.ID)
		for _, m := range ms {
			kinds[m.OrgKind] = true
		}
	}
	for _, k := range []auth.OrgKind{auth.KindISAC, auth.KindHospital, auth.KindClinic, auth.KindVendor} {
		if !kinds[k] {
			t.Errorf("no demo login for a %s", k)
		}
	}
	var assets, conns int
	n.DB.QueryRow(ctx, `SELECT COUNT(*) FROM inv_assets`).Scan(&assets)
	n.DB.QueryRow(ctx, `SELECT COUNT(*) FROM inv_connections WHERE type = 'isdn'`).Scan(&conns)
	if assets != 14 || conns != 1 {
		t.Fatalf("demo register: %d assets, %d ISDN lines; want 14 and 1", assets, conns)
	}
	// The demo hospital's FortiGate (FortiOS 7.0.12) is affected by the
	// exploited CVE-2024-21762.
	// Matching and alerts run as background jobs, as in the server.
	for i := 0; i < 20; i++ {
		if ran, err := n.Queue.RunOnce(ctx); err != nil || ran == 0 {
			break
		}
	}
	var findings int
	n.DB.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_findings f JOIN inv_assets a ON a.id = f.asset_id WHERE a.name = '本館ファイアウォール'`).Scan(&findings)
	if findings == 0 {
		t.Fatal("the demo firewall has no vulnerability findings")
	}
	var mails int
	n.DB.QueryRow(ctx, `SELECT COUNT(*) FROM mail_outbox WHERE body LIKE '%本館ファイアウォール%'`).Scan(&mails)
	if mails == 0 {
		t.Fatal("no alert mail names the demo firewall")
	}
	again, err := SeedDemo(ctx, n)
	if err != nil || len(again) != len(logins) || again[0].Password != logins[0].Password {
		t.Fatalf("second seed: %v, %d logins", err, len(again))
	}
	var orgs int
	n.DB.QueryRow(ctx, `SELECT COUNT(*) FROM organizations`).Scan(&orgs)
	if orgs != len(demoOrgs) {
		t.Fatalf("organisations after two seeds: %d, want %d", orgs, len(demoOrgs))
	}
}
