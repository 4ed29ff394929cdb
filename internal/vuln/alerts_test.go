package vuln

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/notify"
	"github.com/medisac/medisac/internal/testkit"
)

func addMember(t *testing.T, d *db.DB, org, email, role string) {
	t.Helper()
	id := db.NewID()
	if _, err := d.Exec(context.Background(), `INSERT INTO users (id, email, display_name, created_at, updated_at) VALUES (?, ?, '', ?, ?)`, id, email, t0, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(context.Background(), `INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`, org, id, role, t0); err != nil {
		t.Fatal(err)
	}
}

// TestAlertsThroughQueue imports a feed with a queue, as the server does:
// the matching job is enqueued in the import's transaction, it writes one
// grouped notification per organisation and enqueues its delivery, which
// mails the organisation's admins and staff and posts to its webhook.
func TestAlertsThroughQueue(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c := testkit.NewClock(t0)
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		q := jobs.New(d, c.Now, logger)
		mailer, err := notify.NewMailer(d, q, nil, c.Now)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var hooks []WebhookMessage
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var m WebhookMessage
			if err := json.NewDecoder(r.Body).Decode(&m); err != nil || r.Header.Get("Content-Type") != "application/json" {
				http.Error(w, "bad", http.StatusBadRequest)
				return
			}
			mu.Lock()
			hooks = append(hooks, m)
			mu.Unlock()
		}))
		defer hook.Close()
		w := newWatch(d, c)
		w.Queue, w.Mailer, w.Logger = q, mailer, logger
		w.Register()
		org := newOrg(t, d, "A病院", "東京都")
		addMember(t, d, org, "admin@a-hp.jp", "admin")
		addMember(t, d, org, "staff@a-hp.jp", "staff")
		addMember(t, d, org, "audit@a-hp.jp", "auditor")
		if err := SetWebhook(ctx, d, org, hook.URL+"/hook", t0); err != nil {
			t.Fatal(err)
		}
		if err := SetWebhook(ctx, d, org, "http://example.jp/hook", t0); err == nil {
			t.Error("plain http webhook accepted")
		}
		for i, v := range []string{"7.2.1", "7.0.5", "6.4.9"} {
			mustAsset(t, d, org, inventory.Asset{Name: "FW" + string(rune('A'+i)), Kind: inventory.KindNetwork, Vendor: "Fortinet", Product: "FortiGate", Version: v})
		}
		if _, err := w.MatchAll(ctx); err != nil {
			t.Fatal(err)
		}
		res, err := w.Import(ctx, "CVE-2022-42475.json", mustOpen(t, td("nvd", "CVE-2022-42475.json")))
		if err != nil || res.Changed != 1 {
			t.Fatalf("import: %+v %v", res, err)
		}
		if fs, _ := ListFindings(ctx, d, org, FindingFilter{}); len(fs) != 0 {
			t.Fatal("matching ran inside the import instead of the job")
		}
		for i := 0; i < 3; i++ {
			if _, err := q.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		fs, _ := ListFindings(ctx, d, org, FindingFilter{})
		if len(fs) != 3 {
			t.Fatalf("%d findings", len(fs))
		}
		ns, _ := ListNotifications(ctx, d, org, 10)
		if len(ns) != 1 || ns[0].Findings != 3 {
			t.Fatalf("notifications: %+v", ns)
		}
		mails, err := mailer.Outbox(ctx, org, 10)
		if err != nil || len(mails) != 2 {
			t.Fatalf("mails: %d %v", len(mails), err)
		}
		for _, m := range mails {
			if m.To == "audit@a-hp.jp" || !strings.Contains(m.Subject, "3件") || !strings.Contains(m.Body, "FWA") {
				t.Errorf("mail %s: %s\n%s", m.To, m.Subject, m.Body)
			}
		}
		mu.Lock()
		if len(hooks) != 1 || !strings.Contains(hooks[0].Text, "FWB") {
			t.Errorf("webhook: %+v", hooks)
		}
		mu.Unlock()
		// The daily digest summarises what is still open.
		c.Advance(24 * time.Hour)
		if err := w.Digest(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := q.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		ns, _ = ListNotifications(ctx, d, org, 10)
		if len(ns) != 2 || ns[0].Kind != "digest" || !strings.Contains(ns[0].Body, "3件") {
			t.Errorf("digest: %+v", ns[0])
		}
		if mails, _ := mailer.Outbox(ctx, org, 10); len(mails) != 4 {
			t.Errorf("digest mails: %d", len(mails))
		}
		// Accepted risks come back in the digest on their review date.
		review := c.Now().Add(48 * time.Hour).Format(time.DateOnly)
		for _, f := range fs {
			if _, _, err := SetRemediation(ctx, d, org, "u", f.ID, Remediation{State: StateAccepted, Reason: "更新計画あり", ReviewOn: review}, c.Now()); err != nil {
				t.Fatal(err)
			}
		}
		c.Advance(24 * time.Hour)
		if err := w.Digest(ctx); err != nil {
			t.Fatal(err)
		}
		if ns, _ = ListNotifications(ctx, d, org, 10); len(ns) != 2 {
			t.Errorf("digest sent with nothing open or due: %d notifications", len(ns))
		}
		c.Advance(48 * time.Hour)
		if err := w.Digest(ctx); err != nil {
			t.Fatal(err)
		}
		ns, _ = ListNotifications(ctx, d, org, 10)
		if len(ns) != 3 || !strings.Contains(ns[0].Body, "見直し日") || !strings.Contains(ns[0].Body, "更新計画あり") {
			t.Errorf("review reminder: %+v", ns[0])
		}
	})
}

func mustOpen(t *testing.T, path string) io.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestISACStats(t *testing.T) {
	eachWatch(t, func(t *testing.T, d *db.DB, c *clock, w *Watch) {
		ctx := context.Background()
		prefs := []string{"東京都", "神奈川県", "千葉県", "埼玉県", "東京都", "茨城県", "大阪府"}
		var orgs []string
		for i, p := range prefs {
			org := newOrg(t, d, "病院"+string(rune('A'+i)), p)
			orgs = append(orgs, org)
			mustAsset(t, d, org, inventory.Asset{Name: "FW", Kind: inventory.KindNetwork, Vendor: "Fortinet", Product: "FortiGate", Version: "7.2.1"})
		}
		if _, err := w.MatchAll(ctx); err != nil {
			t.Fatal(err)
		}
		importFiles(t, w, td("nvd", "CVE-2022-42475.json"))
		f, _ := ListFindings(ctx, d, orgs[0], FindingFilter{})
		if _, _, err := SetRemediation(ctx, d, orgs[0], "u", f[0].ID, Remediation{State: StateInProgress}, c.Now()); err != nil {
			t.Fatal(err)
		}
		st, err := VulnStats(ctx, d, "CVE-2022-42475")
		if err != nil {
			t.Fatal(err)
		}
		if st.Hidden || st.Orgs != 7 || len(st.ByRegion) != 2 || len(st.ByKind) != 1 {
			t.Fatalf("stats: %+v", st)
		}
		kanto, kinki := st.ByRegion[0], st.ByRegion[1]
		if kanto.Group != "kanto" || kanto.Orgs != 6 || kanto.States[StateInProgress] != 1 || kanto.States[StateOpen] != 5 {
			t.Errorf("kanto: %+v", kanto)
		}
		if kinki.Group != "kinki" || !kinki.Hidden || kinki.Orgs != 0 || kinki.States != nil {
			t.Errorf("a group of one organisation must be hidden: %+v", kinki)
		}
		out, _ := json.Marshal(st)
		for _, o := range orgs {
			if strings.Contains(string(out), o) {
				t.Error("stats name an organisation")
			}
		}
		top, err := TopAffected(ctx, d, 10)
		if err != nil || len(top) != 1 || top[0].Orgs != 7 {
			t.Errorf("top: %+v %v", top, err)
		}
	})
}
