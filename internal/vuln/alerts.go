package vuln

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/notify"
)

// maxAlertLines caps the findings written out in one message; the rest
// are counted.
const maxAlertLines = 15

type alertPayload struct {
	NotificationID string `json:"notification_id"`
}

// Notification is one in-app message to an organisation: new or changed
// findings of one import or inventory change, or the daily digest.
type Notification struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	CreatedAt   time.Time `json:"created_at"`
	Findings    int       `json:"findings"`
	TopPriority int       `json:"top_priority"`
	Subject     string    `json:"subject"`
	Body        string    `json:"body"`
	Read        bool      `json:"read"`
}

func (w *Watch) catalog() *i18n.Catalog {
	if w.Catalog == nil {
		w.Catalog = i18n.MustLoad()
	}
	return w.Catalog
}

func (w *Watch) t(key string, args ...any) string { return w.catalog().T(i18n.Default, key, args...) }

// Alert writes one notification per organisation that has new or changed
// findings not yet alerted (so one import never sends a storm), marks the
// findings alerted and, in the same transaction, enqueues the delivery of
// the notification by e-mail and webhook. A finding that was alerted
// before at a less urgent priority says why it is more urgent now.
func (w *Watch) Alert(ctx context.Context) error {
	w.init()
	orgs, err := w.queryIDs(ctx, `SELECT DISTINCT org_id FROM vuln_findings WHERE alert_pending AND active AND state IN ('open','in_progress')`)
	if err != nil {
		return err
	}
	// Organisations are alerted 50 to a transaction: a feed update that
	// concerns every member writes thousands of notifications.
	for rest := orgs; len(rest) > 0; {
		batch := rest[:min(len(rest), 50)]
		rest = rest[len(batch):]
		var nids []string
		err := w.inWriteTx(ctx, func(tx *db.Tx) error {
			nids = nids[:0]
			for _, org := range batch {
				nid, err := w.alertOrg(ctx, tx, org)
				if err != nil {
					return err
				}
				if nid != "" {
					nids = append(nids, nid)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if w.Queue == nil {
			for _, nid := range nids {
				if err := w.deliver(ctx, nid); err != nil {
					w.Logger.Warn("vuln: alert delivery", "notification", nid, "err", err)
				}
			}
		}
	}
	if w.Queue != nil && len(orgs) > 0 {
		w.Queue.Notify()
	}
	return nil
}

func (w *Watch) alertOrg(ctx context.Context, tx *db.Tx, orgID string) (string, error) {
	now := w.now()
	const pending = ` f.org_id = ? AND f.alert_pending AND f.active AND f.state IN ('open','in_progress')`
	pendingIDs, err := db.QueryStrings(ctx, tx, `SELECT f.id FROM vuln_findings f WHERE`+pending, orgID)
	if err != nil || len(pendingIDs) == 0 {
		return "", err
	}
	ids := db.Args(nil, pendingIDs)
	// The message lists the most urgent findings; the rest are counted.
	fs, err := db.QueryAll(ctx, tx, scanFinding, findingSelect+` WHERE`+pending+` ORDER BY f.priority, f.rank, a.name, f.id LIMIT `+strconv.Itoa(maxAlertLines), orgID)
	if err != nil || len(fs) == 0 {
		return "", err
	}
	contacts, err := vendorContacts(ctx, tx, orgID)
	if err != nil {
		return "", err
	}
	total := len(ids)
	told, err := lastAlerted(ctx, tx, orgID)
	if err != nil {
		return "", err
	}
	whys := make([]string, len(fs))
	raised := 0
	for i := range fs {
		if whys[i] = w.raisedWhy(&fs[i], told[fs[i].ID]); whys[i] != "" {
			raised++
		}
	}
	subject := w.t("vuln.alert.subject", total, priorityLabel(w, fs[0].Priority))
	intro := w.t("vuln.alert.intro", total)
	if raised == total {
		subject = w.t("vulndigest.alert.subject_raised", total, priorityLabel(w, fs[0].Priority))
		intro = w.t("vulndigest.alert.intro_raised", total)
	}
	var b strings.Builder
	b.WriteString(intro)
	b.WriteString("\n\n")
	for i := range fs {
		b.WriteString(w.findingText(&fs[i], contacts, whys[i]))
		b.WriteString("\n")
	}
	if total > len(fs) {
		b.WriteString(w.t("vuln.alert.more", total-len(fs)))
		b.WriteString("\n\n")
	}
	b.WriteString(w.t("vuln.alert.footer", strings.TrimRight(w.BaseURL, "/")+"/vuln"))
	id := db.NewID()
	if _, err := tx.Exec(ctx, `INSERT INTO vuln_notifications (id, org_id, kind, created_at, findings, top_priority, subject, body) VALUES (?, ?, 'new', ?, ?, ?, ?, ?)`,
		id, orgID, now, total, fs[0].Priority, subject, b.String()); err != nil {
		return "", err
	}
	for chunk := range db.Chunks(ids) {
		if _, err := tx.Exec(ctx, `UPDATE vuln_findings SET alert_pending = FALSE, alerted_priority = priority,
			alerted_kev = EXISTS (SELECT 1 FROM vuln_kev k WHERE k.cve = vuln_findings.vuln_id),
			alerted_epss = COALESCE((SELECT e.score FROM vuln_epss e WHERE e.cve = vuln_findings.vuln_id), 0)
			WHERE id IN (`+db.In(len(chunk))+`)`, chunk...); err != nil {
			return "", err
		}
	}
	if w.Queue != nil {
		if _, err := w.Queue.Enqueue(ctx, tx, JobAlert, alertPayload{NotificationID: id}, jobs.UniqueKey(JobAlert+":"+id)); err != nil {
			return "", err
		}
	}
	return id, nil
}

func priorityLabel(w *Watch, p int) string { return w.t(fmt.Sprintf("vuln.priority.%d", p)) }

// alerted is what the organisation was last told about a finding.
type alerted struct {
	priority int // 0: never alerted
	kev      bool
	epss     float64
}

// lastAlerted returns what was last told about the organisation's findings
// waiting for an alert.
func lastAlerted(ctx context.Context, q db.Querier, orgID string) (map[string]alerted, error) {
	return db.QueryMap(ctx, q, func(r db.Scanner) (string, alerted, error) {
		var id string
		var a alerted
		err := r.Scan(&id, &a.priority, &a.kev, &a.epss)
		return id, a, err
	}, `SELECT id, alerted_priority, alerted_kev, alerted_epss FROM vuln_findings
		WHERE org_id = ? AND active AND alert_pending`, orgID)
}

// raisedWhy says, in plain words, why a finding told before at a less
// urgent priority is more urgent now: it became known exploited (KEV), its
// EPSS score rose, or something else changed (such as the device now
// facing the internet). A fact counts as the reason when putting back its
// old value would make the priority less urgent again. It returns "" for
// findings never told and for those not more urgent.
func (w *Watch) raisedWhy(f *Finding, before alerted) string {
	if before.priority == 0 || f.Priority >= before.priority {
		return ""
	}
	in := PriorityInput{KEV: f.KEV, Ransomware: f.Ransomware, CVSS: f.CVSS, EPSS: f.EPSS, External: f.External, Exposed: f.Exposed, Exact: f.Exact()}
	now, was := priorityLabel(w, f.Priority), priorityLabel(w, before.priority)
	if f.KEV && !before.kev {
		alt := in
		alt.KEV, alt.Ransomware = false, false
		if p, _ := Priority(alt); p > f.Priority {
			return w.t("vulndigest.raised.kev", now, was)
		}
	}
	if f.EPSS > before.epss {
		alt := in
		alt.EPSS = before.epss
		if p, _ := Priority(alt); p > f.Priority {
			return w.t("vulndigest.raised.epss", now, was, percent(before.epss), percent(f.EPSS))
		}
	}
	return w.t("vulndigest.raised.other", now, was)
}

// percent writes a probability as a percentage for people.
func percent(p float64) string {
	s := strconv.FormatFloat(p*100, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + "%"
}

// vendorContact is how to reach a maintenance vendor of the inventory.
type vendorContact struct{ name, contact, phone, email string }

func vendorContacts(ctx context.Context, q db.Querier, orgID string) (map[string]vendorContact, error) {
	return db.QueryMap(ctx, q, func(r db.Scanner) (string, vendorContact, error) {
		var v vendorContact
		err := r.Scan(&v.name, &v.contact, &v.phone, &v.email)
		return strings.TrimSpace(v.name), v, err
	}, `SELECT name, contact, phone, email FROM inv_vendors WHERE org_id = ?`, orgID)
}

// Device names the device of a finding as people know it: name, place,
// maker, model and version.
func (f Finding) Device() string {
	parts := []string{}
	for _, s := range []string{f.Vendor, f.Product, f.Model} {
		if s != "" && !slices.Contains(parts, s) {
			parts = append(parts, s)
		}
	}
	d := strings.Join(parts, " ")
	if f.Version != "" {
		d += " " + f.Version
	}
	return strings.TrimSpace(d)
}

// Impact returns the catalog key of the plain words for what can happen.
func (f Finding) Impact() string {
	switch {
	case f.KEV && f.Ransomware:
		return "vuln.impact.ransomware"
	case f.KEV:
		return "vuln.impact.exploited"
	case f.CVSS >= 9:
		return "vuln.impact.critical"
	case f.CVSS >= 7:
		return "vuln.impact.high"
	}
	return "vuln.impact.other"
}

// FindingText is the plain-Japanese paragraph of one finding: which
// device, what can happen, what to do and whom to call.
func (w *Watch) FindingText(f *Finding, contacts map[string]vendorContact) string {
	return w.findingText(f, contacts, "")
}

// findingText is FindingText with why, when not "", saying why the
// finding is told again.
func (w *Watch) findingText(f *Finding, contacts map[string]vendorContact, why string) string {
	var b strings.Builder
	where := f.AssetName
	if f.Location != "" {
		where = w.t("vuln.text.device_at", f.AssetName, f.Location)
	}
	fmt.Fprintf(&b, "■ [%s] %s\n", priorityLabel(w, f.Priority), where)
	if why != "" {
		b.WriteString("  " + why + "\n")
	}
	if d := f.Device(); d != "" {
		b.WriteString("  " + w.t("vuln.text.device", d) + "\n")
	}
	b.WriteString("  " + w.t("vuln.text.vuln", f.VulnID, clipText(f.Title, 200)) + "\n")
	b.WriteString("  " + w.t("vuln.text.what", w.t(f.Impact())) + "\n")
	if f.External || f.Exposed {
		b.WriteString("  " + w.t("vuln.text.edge") + "\n")
	}
	b.WriteString("  " + w.t("vuln.text.todo", w.todo(f)) + "\n")
	if !f.Exact() {
		why := ""
		if len(f.Reasons) > 0 {
			why = w.t("vuln.reason." + f.Reasons[0])
		}
		b.WriteString("  " + w.t("vuln.text.confirm", why) + "\n")
	}
	if f.Maintainer != "" {
		c := contacts[strings.TrimSpace(f.Maintainer)]
		tel := strings.TrimSpace(strings.Join([]string{c.contact, c.phone, c.email}, " "))
		if tel != "" {
			b.WriteString("  " + w.t("vuln.text.call_with", f.Maintainer, tel) + "\n")
		} else {
			b.WriteString("  " + w.t("vuln.text.call", f.Maintainer) + "\n")
		}
	} else {
		b.WriteString("  " + w.t("vuln.text.call_unknown") + "\n")
	}
	return b.String()
}

func (w *Watch) todo(f *Finding) string {
	if len(f.Fixed) > 0 {
		return w.t("vuln.todo.update", strings.Join(f.Fixed, "、"))
	}
	return w.t("vuln.todo.vendor")
}

// deliver sends a notification by e-mail to the organisation's admins and
// staff and to its webhook.
func (w *Watch) deliver(ctx context.Context, notificationID string) error {
	var org, subject, body string
	err := w.DB.QueryRow(ctx, `SELECT org_id, subject, body FROM vuln_notifications WHERE id = ?`, notificationID).Scan(&org, &subject, &body)
	if err := db.ScanErr(err); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return nil
		}
		return err
	}
	if w.Mailer != nil {
		err := w.DB.InTx(ctx, func(tx *db.Tx) error {
			rows, err := tx.Query(ctx, `SELECT u.email, u.display_name FROM memberships m JOIN users u ON u.id = m.user_id
				WHERE m.org_id = ? AND m.role IN ('admin','staff') AND NOT u.disabled ORDER BY u.email`, org)
			if err != nil {
				return err
			}
			var to []string
			for rows.Next() {
				var email, name string
				if err := rows.Scan(&email, &name); err != nil {
					rows.Close()
					return err
				}
				to = append(to, email)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, addr := range to {
				if _, err := w.Mailer.Send(ctx, tx, notify.Message{OrgID: org, To: addr, Subject: subject, Body: body}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return w.postWebhook(ctx, org, subject, body)
}

// WebhookMessage is the JSON posted to an organisation's webhook: "text"
// is what Slack and Teams incoming webhooks show.
type WebhookMessage struct {
	Text    string `json:"text"`
	Subject string `json:"subject"`
	Link    string `json:"link,omitempty"`
}

func (w *Watch) postWebhook(ctx context.Context, org, subject, body string) error {
	var u string
	err := w.DB.QueryRow(ctx, `SELECT url FROM vuln_webhooks WHERE org_id = ?`, org).Scan(&u)
	if errors.Is(db.ScanErr(err), db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	msg, _ := json.Marshal(WebhookMessage{Text: subject + "\n\n" + body, Subject: subject, Link: strings.TrimRight(w.BaseURL, "/") + "/vuln"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(msg))
	if err != nil {
		return jobs.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.HTTP.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		err := fmt.Errorf("vuln: webhook answered %s", resp.Status)
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			return jobs.Permanent(err)
		}
		return err
	}
	return nil
}

// SetWebhook sets (rawURL "" removes) the organisation's alert webhook.
// Only https addresses are accepted (http on loopback for testing).
func SetWebhook(ctx context.Context, q db.Querier, orgID, rawURL string, now time.Time) error {
	rawURL = strings.TrimSpace(rawURL)
	if rawURL == "" {
		_, err := q.Exec(ctx, `DELETE FROM vuln_webhooks WHERE org_id = ?`, orgID)
		return err
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost"))) {
		return apperr.Field("url", "vuln.webhook.https_only")
	}
	_, err = q.Exec(ctx, `INSERT INTO vuln_webhooks (org_id, url, created_at) VALUES (?, ?, ?)
		ON CONFLICT (org_id) DO UPDATE SET url = excluded.url`, orgID, u.String(), now.UTC())
	return err
}

// Webhook returns the organisation's alert webhook address, or "".
func Webhook(ctx context.Context, q db.Querier, orgID string) (string, error) {
	var u string
	err := q.QueryRow(ctx, `SELECT url FROM vuln_webhooks WHERE org_id = ?`, orgID).Scan(&u)
	if errors.Is(db.ScanErr(err), db.ErrNotFound) {
		return "", nil
	}
	return u, err
}

// DefaultDigestAt is when the daily digest is written unless
// Watch.DigestAt says otherwise: 07:30 Japan time, before the working day.
const DefaultDigestAt = 7*time.Hour + 30*time.Minute

// digestAt returns the digest's time of day in [0, 24h).
func (w *Watch) digestAt() time.Duration {
	if w.DigestAt <= 0 {
		return DefaultDigestAt
	}
	return w.DigestAt % (24 * time.Hour)
}

// Digest writes today's (Japan time) daily digest; see DigestDay.
func (w *Watch) Digest(ctx context.Context) error {
	w.init()
	return w.DigestDay(ctx, w.now().In(i18n.Tokyo).Format(time.DateOnly))
}

// DigestDay writes the daily digest of day ("2006-01-02", Japan time) to
// every organisation with findings that need work or accepted risks due
// for review: counts by priority, the most urgent findings and the reviews
// due, in-app and by e-mail. An organisation that already has a digest
// written that day is skipped, so a run interrupted midway can be run
// again.
func (w *Watch) DigestDay(ctx context.Context, day string) error {
	w.init()
	start, err := time.ParseInLocation(time.DateOnly, day, i18n.Tokyo)
	if err != nil {
		return fmt.Errorf("vuln: digest day %q: %w", day, err)
	}
	orgs, err := w.queryIDs(ctx, `SELECT DISTINCT f.org_id FROM vuln_findings f WHERE f.active AND (f.state IN ('open','in_progress')
		OR (f.state = 'accepted' AND f.review_on <> '' AND f.review_on <= ?))
		AND NOT EXISTS (SELECT 1 FROM vuln_notifications n WHERE n.org_id = f.org_id AND n.kind = 'digest'
			AND n.created_at >= ? AND n.created_at < ?)`, day, start.UTC(), start.AddDate(0, 0, 1).UTC())
	if err != nil {
		return err
	}
	for _, org := range orgs {
		var nid string
		err := w.DB.InTx(ctx, func(tx *db.Tx) error {
			s, err := Summarise(ctx, tx, org)
			if err != nil {
				return err
			}
			top, err := ListFindings(ctx, tx, org, FindingFilter{Limit: 5})
			if err != nil {
				return err
			}
			due, err := dueReviews(ctx, tx, org, day)
			if err != nil {
				return err
			}
			if len(top) == 0 && len(due) == 0 {
				return nil
			}
			contacts, err := vendorContacts(ctx, tx, org)
			if err != nil {
				return err
			}
			var b strings.Builder
			b.WriteString(w.t("vuln.digest.intro", s.Open+s.InProgress, s.Assets, s.ByPriority[1], s.ByPriority[2], s.ByPriority[3], s.ByPriority[4]))
			b.WriteString("\n\n")
			for i := range top {
				b.WriteString(w.FindingText(&top[i], contacts))
				b.WriteString("\n")
			}
			if len(due) > 0 {
				b.WriteString(w.t("vuln.digest.review_intro", len(due)))
				b.WriteString("\n")
				for _, f := range due {
					b.WriteString(w.t("vuln.digest.review_line", f.AssetName, f.VulnID, f.ReviewOn, f.StateReason))
					b.WriteString("\n")
				}
				b.WriteString("\n")
			}
			top = append(top, due...)
			b.WriteString(w.t("vuln.alert.footer", strings.TrimRight(w.BaseURL, "/")+"/vuln"))
			nid = db.NewID()
			if _, err := tx.Exec(ctx, `INSERT INTO vuln_notifications (id, org_id, kind, created_at, findings, top_priority, subject, body) VALUES (?, ?, 'digest', ?, ?, ?, ?, ?)`,
				nid, org, w.now(), s.Open+s.InProgress, top[0].Priority, w.t("vuln.digest.subject", s.Open+s.InProgress), b.String()); err != nil {
				return err
			}
			if w.Queue != nil {
				_, err = w.Queue.Enqueue(ctx, tx, JobAlert, alertPayload{NotificationID: nid}, jobs.UniqueKey(JobAlert+":"+nid))
			}
			return err
		})
		if err != nil {
			return err
		}
		if nid != "" && w.Queue == nil {
			if err := w.deliver(ctx, nid); err != nil {
				w.Logger.Warn("vuln: digest delivery", "org", org, "err", err)
			}
		}
	}
	return nil
}

// ListNotifications returns the organisation's notifications, newest first.
func ListNotifications(ctx context.Context, q db.Querier, orgID string, limit int) ([]Notification, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	return db.QueryAll(ctx, q, func(r db.Scanner) (Notification, error) {
		var n Notification
		err := r.Scan(&n.ID, &n.Kind, &n.CreatedAt, &n.Findings, &n.TopPriority, &n.Subject, &n.Body, &n.Read)
		return n, err
	}, `SELECT id, kind, created_at, findings, top_priority, subject, body, read_at IS NOT NULL FROM vuln_notifications
		WHERE org_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, orgID, limit)
}

// MarkRead marks the organisation's notifications read.
func MarkRead(ctx context.Context, q db.Querier, orgID string, now time.Time) error {
	_, err := q.Exec(ctx, `UPDATE vuln_notifications SET read_at = ? WHERE org_id = ? AND read_at IS NULL`, now.UTC(), orgID)
	return err
}

// Register installs the watch's job handlers and periodic tasks on its
// queue: matching after imports, alert delivery, the re-match of assets
// changed in the inventory every RematchInterval, the daily digest at
// DigestAt (Japan time, once a day across all nodes) and,
// when URLs are configured, the online sync every Sync.Interval.
func (w *Watch) Register() {
	w.init()
	q := w.Queue
	q.Register(JobMatch, func(ctx context.Context, payload []byte) error {
		var p matchPayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return jobs.Permanent(err)
		}
		_, err := w.MatchChanged(ctx, p.Since)
		return err
	})
	q.Register(JobMatchAll, func(ctx context.Context, _ []byte) error {
		if err := w.ReloadAliases(ctx); err != nil {
			return err
		}
		_, err := w.MatchAll(ctx)
		return err
	})
	q.Register(JobReprioritise, func(ctx context.Context, _ []byte) error { return w.Reprioritise(ctx, "") })
	q.Register(JobMatchAssets, w.runMatchAssets)
	q.Register(JobAlert, func(ctx context.Context, payload []byte) error {
		var p alertPayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return jobs.Permanent(err)
		}
		return w.deliver(ctx, p.NotificationID)
	})
	q.Every(TaskRematch, RematchInterval, func(ctx context.Context) error {
		_, err := w.MatchAssets(ctx, "", nil)
		return err
	})
	q.Daily(TaskDigest, w.digestAt(), i18n.Tokyo, w.DigestDay)
	q.Every(TaskImportRecover, importRecoverEvery, func(ctx context.Context) error {
		_, err := w.RecoverImports(ctx)
		return err
	})
	q.Every(TaskAliasReload+"@"+q.NodeID, AliasReloadInterval, w.ReloadAliases)
	if w.Sync.Enabled() {
		q.Every(TaskSync, w.Sync.interval(), func(ctx context.Context) error {
			_, err := w.SyncOnce(ctx, nil)
			return err
		})
	}
}

// autoCloseAudit records findings closed by matching, one entry per
// organisation.
func (w *Watch) autoCloseAudit(ctx context.Context, q db.Querier, byOrg map[string][]string) error {
	if w.Audit == nil {
		return nil
	}
	for org, ids := range byOrg {
		if len(ids) > 50 {
			ids = ids[:50]
		}
		if _, err := w.Audit.Append(ctx, q, audit.Entry{Actor: "medisac", OrgID: org, Action: "vuln.finding.autoclose",
			ObjectType: "vuln_finding", Outcome: audit.Success, Details: map[string]any{"findings": ids}}); err != nil {
			return err
		}
	}
	return nil
}

// MaintainerContact returns how to reach the inventory vendor named
// maintainer (contact person, phone, e-mail), or "" when the inventory
// does not list it.
func MaintainerContact(ctx context.Context, q db.Querier, orgID, maintainer string) (string, error) {
	if strings.TrimSpace(maintainer) == "" {
		return "", nil
	}
	var c, p, e string
	err := q.QueryRow(ctx, `SELECT contact, phone, email FROM inv_vendors WHERE org_id = ? AND name = ?`, orgID, strings.TrimSpace(maintainer)).Scan(&c, &p, &e)
	if errors.Is(db.ScanErr(err), db.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.Join([]string{c, p, e}, " ")), nil
}

// dueReviews lists the organisation's accepted risks whose review date
// has come.
func dueReviews(ctx context.Context, q db.Querier, orgID, today string) ([]Finding, error) {
	return db.QueryAll(ctx, q, scanFinding, findingSelect+` WHERE f.org_id = ? AND f.active AND f.state = 'accepted' AND f.review_on <> '' AND f.review_on <= ?
		ORDER BY f.review_on, a.name LIMIT 50`, orgID, today)
}
