package vuln

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/vuln/match"
)

// importText imports a feed file given as text.
func importText(t *testing.T, w *Watch, name, text string) {
	t.Helper()
	if _, err := w.Import(context.Background(), name, strings.NewReader(text)); err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
}

// notes returns an organisation's notifications, newest first.
func notes(t *testing.T, d *db.DB, org string) []Notification {
	t.Helper()
	ns, err := ListNotifications(context.Background(), d, org, 50)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func findingOf(t *testing.T, d *db.DB, org, asset, vuln string) Finding {
	t.Helper()
	fs, err := ListFindings(context.Background(), d, org, FindingFilter{AssetID: asset, VulnID: vuln})
	if err != nil || len(fs) != 1 {
		t.Fatalf("findings of %s/%s: %v %v", asset, vuln, fs, err)
	}
	return fs[0]
}

// TestEPSSRiseAlerts: an EPSS file that makes a finding more urgent sends
// its organisation one grouped alert saying why; other organisations hear
// nothing, and a score that falls, or rises back to what was already told,
// changes the priority quietly.
func TestEPSSRiseAlerts(t *testing.T) {
	eachWatch(t, func(t *testing.T, d *db.DB, c *clock, w *Watch) {
		ctx := context.Background()
		orgA := newOrg(t, d, "A病院", "東京都")
		orgB := newOrg(t, d, "Bクリニック", "大阪府")
		orgC := newOrg(t, d, "C医院", "福岡県")
		vpn := mustAsset(t, d, orgA, inventory.Asset{Name: "VPN-ASA", Kind: inventory.KindNetwork, Vendor: "Cisco", Product: "ASA",
			Model: "ASA5525-X", Version: "9.8(4)15", Location: "サーバ室", InternetExposed: inventory.Yes})
		mustAsset(t, d, orgA, inventory.Asset{Name: "FW-1", Kind: inventory.KindNetwork, Vendor: "Fortinet", Product: "FortiGate", Version: "7.2.1"})
		inner := mustAsset(t, d, orgB, inventory.Asset{Name: "ASA-内部", Kind: inventory.KindNetwork, Vendor: "Cisco", Product: "ASA",
			Model: "ASA5525-X", Version: "9.8(4)15", InternetExposed: inventory.No})
		mustAsset(t, d, orgC, inventory.Asset{Name: "FW-C", Kind: inventory.KindNetwork, Vendor: "Fortinet", Product: "FortiGate", Version: "7.2.1"})
		if _, err := w.MatchAll(ctx); err != nil {
			t.Fatal(err)
		}
		importFiles(t, w, td("nvd", "CVE-2020-3452.json"), td("nvd", "CVE-2022-42475.json"))
		before := map[string]int{}
		for _, org := range []string{orgA, orgB, orgC} {
			if before[org] = len(notes(t, d, org)); before[org] == 0 {
				t.Fatalf("first alerts: org %s has %d notifications", org, before[org])
			}
		}
		if f := findingOf(t, d, orgA, vpn.ID, "CVE-2020-3452"); f.Priority != PrioritySoon {
			t.Fatalf("before EPSS: priority %d", f.Priority)
		}
		cases := []struct {
			name       string
			epss       string
			wantVPN    int
			wantNewFor string // the organisation that gets an alert, or ""
		}{
			{"rise", "CVE-2020-3452,0.62,0.99\nCVE-2022-42475,0.30,0.97\n", PriorityUrgent, orgA},
			{"same", "CVE-2020-3452,0.63,0.99\nCVE-2022-42475,0.31,0.97\n", PriorityUrgent, ""},
			{"fall", "CVE-2020-3452,0.01,0.50\nCVE-2022-42475,0.31,0.97\n", PrioritySoon, ""},
			{"rise back to what was told", "CVE-2020-3452,0.70,0.99\nCVE-2022-42475,0.31,0.97\n", PriorityUrgent, ""},
		}
		for _, tc := range cases {
			c.Advance(time.Hour)
			importText(t, w, "epss.csv", "cve,epss,percentile\n"+tc.epss)
			if f := findingOf(t, d, orgA, vpn.ID, "CVE-2020-3452"); f.Priority != tc.wantVPN {
				t.Errorf("%s: VPN priority %d, want %d", tc.name, f.Priority, tc.wantVPN)
			}
			if f := findingOf(t, d, orgB, inner.ID, "CVE-2020-3452"); f.Priority != PrioritySoon {
				t.Errorf("%s: inner ASA priority %d", tc.name, f.Priority)
			}
			for _, org := range []string{orgA, orgB, orgC} {
				ns := notes(t, d, org)
				want := before[org]
				if org == tc.wantNewFor {
					want++
				}
				if len(ns) != want {
					t.Fatalf("%s: org %s has %d notifications, want %d; newest: %+v", tc.name, org, len(ns), want, ns[0])
				}
				before[org] = want
				if org != tc.wantNewFor {
					continue
				}
				n := ns[0]
				if n.Kind != "new" || n.Findings != 1 || n.TopPriority != PriorityUrgent {
					t.Errorf("%s: notification %+v", tc.name, n)
				}
				for _, s := range []string{"VPN-ASA", "サーバ室", "CVE-2020-3452", "攻撃に使われる可能性の予測値（EPSS）が0%から62%に上がった", "「至急対応」", "「早めに対応」", "優先度が上がりました"} {
					if !strings.Contains(n.Subject+"\n"+n.Body, s) {
						t.Errorf("%s: alert lacks %q:\n%s\n%s", tc.name, s, n.Subject, n.Body)
					}
				}
				if strings.Contains(n.Body, "FW-1") {
					t.Errorf("%s: alert names a finding that did not change:\n%s", tc.name, n.Body)
				}
			}
		}
	})
}

// TestEPSSRiseAlertsThroughQueue: with a queue, as on a server, the EPSS
// import enqueues the re-prioritisation, which writes the alert and
// enqueues its delivery.
func TestEPSSRiseAlertsThroughQueue(t *testing.T) {
	eachWatch(t, func(t *testing.T, d *db.DB, c *clock, w *Watch) {
		ctx := context.Background()
		q := jobs.New(d, c.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
		w.Queue = q
		w.Register()
		org := newOrg(t, d, "A病院", "東京都")
		mustAsset(t, d, org, inventory.Asset{Name: "VPN-ASA", Kind: inventory.KindNetwork, Vendor: "Cisco", Product: "ASA",
			Model: "ASA5525-X", Version: "9.8(4)15", InternetExposed: inventory.Yes})
		run := func() {
			for range 5 {
				if _, err := q.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := w.MatchAll(ctx); err != nil {
			t.Fatal(err)
		}
		importFiles(t, w, td("nvd", "CVE-2020-3452.json"))
		run()
		if n := len(notes(t, d, org)); n != 1 {
			t.Fatalf("%d notifications after the NVD import", n)
		}
		importText(t, w, "epss.csv", "cve,epss\nCVE-2020-3452,0.55\n")
		run()
		ns := notes(t, d, org)
		if len(ns) != 2 || !strings.Contains(ns[0].Body, "EPSS") {
			t.Fatalf("notifications: %+v", ns)
		}
		jl, err := q.List(ctx, jobs.Filter{Kind: JobAlert})
		if err != nil || len(jl) != 2 {
			t.Fatalf("alert deliveries: %d %v", len(jl), err)
		}
		for _, j := range jl {
			if j.State != jobs.Done {
				t.Errorf("delivery %+v", j)
			}
		}
	})
}

// TestKEVRiseAlertSaysWhy: a finding that becomes urgent because its CVE
// is added to KEV is alerted again, saying it is exploited in real attacks.
func TestKEVRiseAlertSaysWhy(t *testing.T) {
	eachWatch(t, func(t *testing.T, d *db.DB, c *clock, w *Watch) {
		ctx := context.Background()
		org := newOrg(t, d, "A病院", "東京都")
		fw := mustAsset(t, d, org, inventory.Asset{Name: "FW-1", Kind: inventory.KindNetwork, Vendor: "Fortinet", Product: "FortiGate", Version: "7.2.1"})
		if _, err := w.MatchAll(ctx); err != nil {
			t.Fatal(err)
		}
		importFiles(t, w, td("nvd", "CVE-2022-42475.json"))
		if f := findingOf(t, d, org, fw.ID, "CVE-2022-42475"); f.Priority != PrioritySoon {
			t.Fatalf("before KEV: priority %d", f.Priority)
		}
		c.Advance(time.Hour)
		importFiles(t, w, td("kev", "kev_trimmed.json"))
		if f := findingOf(t, d, org, fw.ID, "CVE-2022-42475"); f.Priority != PriorityUrgent || !f.KEV {
			t.Fatalf("after KEV: %+v", f)
		}
		ns := notes(t, d, org)
		if len(ns) != 2 || !strings.Contains(ns[0].Body, "実際の攻撃で悪用されていることが確認されたため、優先度が「至急対応」になりました") {
			t.Fatalf("notifications: %+v", ns)
		}
	})
}

func TestRaisedWhy(t *testing.T) {
	w := &Watch{}
	edge := Finding{CVSS: 7.5, External: true, Confidence: string(match.ConfidenceExact)}
	cases := []struct {
		name   string
		f      Finding
		before alerted
		want   string // catalog key, or ""
	}{
		{"never told", with(edge, func(f *Finding) { f.EPSS = 0.6 }), alerted{}, ""},
		{"not more urgent", with(edge, func(f *Finding) { f.EPSS = 0.6 }), alerted{priority: 2}, ""},
		{"epss crossed 0.5", with(edge, func(f *Finding) { f.EPSS = 0.6 }), alerted{priority: 3, epss: 0.2}, "vulndigest.raised.epss"},
		{"kev added", with(edge, func(f *Finding) { f.KEV = true }), alerted{priority: 3}, "vulndigest.raised.kev"},
		{"kev with a higher epss: kev is why", with(edge, func(f *Finding) { f.KEV, f.EPSS = true, 0.6 }), alerted{priority: 3, epss: 0.1}, "vulndigest.raised.kev"},
		{"now exposed, epss unchanged", Finding{CVSS: 5, EPSS: 0.6, Exposed: true}, alerted{priority: 3, epss: 0.6}, "vulndigest.raised.other"},
		{"now exposed, epss rose below the threshold", Finding{CVSS: 9.1, EPSS: 0.2, Exposed: true}, alerted{priority: 3, epss: 0.1}, "vulndigest.raised.other"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.Priority, _ = Priority(PriorityInput{KEV: tc.f.KEV, CVSS: tc.f.CVSS, EPSS: tc.f.EPSS, External: tc.f.External, Exposed: tc.f.Exposed})
			got := w.raisedWhy(&tc.f, tc.before)
			want := ""
			if tc.want != "" {
				raw := w.catalog().T(i18n.Default, tc.want)
				want = raw[:strings.Index(raw, "%")]
			}
			if (want == "") != (got == "") || !strings.HasPrefix(got, want) {
				t.Errorf("got %q, want %s", got, tc.want)
			}
		})
	}
}

func with(f Finding, change func(*Finding)) Finding {
	change(&f)
	return f
}

// TestDigestAtTimeOfDay: the digest is written once a day at DigestAt,
// Japan time, on one of two nodes, also after a node restarts, and a
// repeated run of the same day skips organisations already told.
func TestDigestAtTimeOfDay(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		d2, err := db.Open(ctx, d.Source)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d2.Close() })
		c := testkit.NewClock(time.Date(2026, 4, 1, 7, 0, 0, 0, i18n.Tokyo))
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		node := func(h *db.DB, id string) *jobs.Queue {
			q := jobs.New(h, c.Now, logger)
			q.NodeID = id
			w := newWatch(h, c)
			w.Queue, w.Logger, w.DigestAt = q, logger, 8*time.Hour
			w.Register()
			return q
		}
		a, b := node(d, "a"), node(d2, "b")
		orgs := []string{newOrg(t, d, "A病院", "東京都"), newOrg(t, d, "B病院", "大阪府")}
		w := newWatch(d, c)
		for _, org := range orgs {
			mustAsset(t, d, org, inventory.Asset{Name: "FW", Kind: inventory.KindNetwork, Vendor: "Fortinet", Product: "FortiGate", Version: "7.2.1"})
		}
		if _, err := w.MatchAll(ctx); err != nil {
			t.Fatal(err)
		}
		importFiles(t, w, td("nvd", "CVE-2022-42475.json"))
		digests := func() int {
			n := 0
			for _, org := range orgs {
				for _, x := range notes(t, d, org) {
					if x.Kind == "digest" {
						n++
					}
				}
			}
			return n
		}
		steps := []struct {
			at   time.Time
			node *jobs.Queue
			want int
		}{
			{time.Date(2026, 4, 1, 7, 59, 0, 0, i18n.Tokyo), a, 0},
			{time.Date(2026, 4, 1, 8, 0, 0, 0, i18n.Tokyo), b, 2},
			{time.Date(2026, 4, 1, 8, 1, 0, 0, i18n.Tokyo), a, 2},
			{time.Date(2026, 4, 1, 23, 0, 0, 0, i18n.Tokyo), node(d, "a-restarted"), 2},
			{time.Date(2026, 4, 2, 7, 0, 0, 0, i18n.Tokyo), a, 2},
			{time.Date(2026, 4, 2, 9, 0, 0, 0, i18n.Tokyo), a, 4},
			{time.Date(2026, 4, 2, 9, 0, 0, 0, i18n.Tokyo), b, 4},
		}
		for i, s := range steps {
			c.Set(s.at)
			if _, err := s.node.RunDaily(ctx); err != nil {
				t.Fatal(err)
			}
			if got := digests(); got != s.want {
				t.Fatalf("step %d (%s): %d digests, want %d", i, s.at, got, s.want)
			}
		}
		// A second run of a day (after a crash midway) skips organisations
		// that already have that day's digest.
		if _, err := d.Exec(ctx, `DELETE FROM vuln_notifications WHERE org_id = ? AND kind = 'digest' AND created_at >= ?`,
			orgs[1], time.Date(2026, 4, 2, 0, 0, 0, 0, i18n.Tokyo)); err != nil {
			t.Fatal(err)
		}
		if err := w.DigestDay(ctx, "2026-04-02"); err != nil {
			t.Fatal(err)
		}
		if got := digests(); got != 4 {
			t.Fatalf("rerun of the day: %d digests, want 4", got)
		}
		if err := w.DigestDay(ctx, "2026-4-2"); err == nil {
			t.Error("bad day accepted")
		}
	})
}

func TestDigestAtDefault(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{0, DefaultDigestAt},
		{-time.Hour, DefaultDigestAt},
		{6 * time.Hour, 6 * time.Hour},
		{24 * time.Hour, 0},
	} {
		if got := (&Watch{DigestAt: tc.in}).digestAt(); got != tc.want {
			t.Errorf("DigestAt %v: %v, want %v", tc.in, got, tc.want)
		}
	}
}
