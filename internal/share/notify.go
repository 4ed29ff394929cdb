package share

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/medisac/medisac/internal/audit"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/notify"
)

// Job kinds and periodic task names of the hub.
const (
	JobFanout    = "share.fanout"
	JobWebhook   = "share.webhook"
	JobTAXIIPull = "share.taxii.pull"
)

// Subscription is how one person in one organisation is told about new
// posts: at once for the labels and kinds they choose, and (ImmediateDevices)
// for posts naming CVEs that affect their organisation's registered
// devices; everything else in one daily digest (or not at all when Digest
// is false).
type Subscription struct {
	ImmediateTLP     []TLP  `json:"immediate_tlp"`
	ImmediateKinds   []Kind `json:"immediate_kinds"`
	ImmediateDevices bool   `json:"immediate_devices"`
	Digest           bool   `json:"digest"`
}

// DefaultSubscription is what a person gets before choosing: at once for
// posts addressed to few (AMBER, AMBER+STRICT, RED) and for posts naming
// their devices, a daily digest of the rest.
var DefaultSubscription = Subscription{ImmediateTLP: []TLP{TLPAmber, TLPAmberStrict, TLPRed}, ImmediateDevices: true, Digest: true}

// devicesChoice marks, in share_subscriptions.immediate_kinds, the choice
// "at once for anything naming our devices"; it is no kind, so the kind
// match of the fan-out never sees it.
const devicesChoice = "@devices"

// GetSubscription returns v's subscription (DefaultSubscription when unset).
func GetSubscription(ctx context.Context, q db.Querier, v Viewer) (Subscription, error) {
	var tlps, kinds string
	var s Subscription
	err := q.QueryRow(ctx, `SELECT immediate_tlp, immediate_kinds, digest FROM share_subscriptions WHERE user_id = ? AND org_id = ?`,
		v.UserID, v.OrgID).Scan(&tlps, &kinds, &s.Digest)
	if errors.Is(db.ScanErr(err), db.ErrNotFound) {
		return DefaultSubscription, nil
	}
	if err != nil {
		return s, err
	}
	for _, t := range strings.Split(tlps, ",") {
		if TLP(t).Valid() {
			s.ImmediateTLP = append(s.ImmediateTLP, TLP(t))
		}
	}
	for _, k := range strings.Split(kinds, ",") {
		if k == devicesChoice {
			s.ImmediateDevices = true
		}
		if Kind(k).Valid() {
			s.ImmediateKinds = append(s.ImmediateKinds, Kind(k))
		}
	}
	return s, nil
}

// SetSubscription stores v's subscription.
func SetSubscription(ctx context.Context, q db.Querier, v Viewer, s Subscription, now time.Time) error {
	if !v.Member() {
		return apperr.New(apperr.Unauthenticated, "share.signin_required")
	}
	if err := v.check("share.subscription", auth.Target{UserID: v.UserID}, ""); err != nil {
		return err
	}
	var tl, kl []string
	for _, t := range s.ImmediateTLP {
		if !t.Valid() {
			return apperr.Field("immediate_tlp", "share.tlp.invalid")
		}
		tl = append(tl, string(t))
	}
	for _, k := range s.ImmediateKinds {
		if !k.Valid() {
			return apperr.Field("immediate_kinds", "share.kind.invalid")
		}
		kl = append(kl, string(k))
	}
	if s.ImmediateDevices {
		kl = append(kl, devicesChoice)
	}
	_, err := q.Exec(ctx, `INSERT INTO share_subscriptions (user_id, org_id, immediate_tlp, immediate_kinds, digest, updated_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, org_id) DO UPDATE SET immediate_tlp = excluded.immediate_tlp, immediate_kinds = excluded.immediate_kinds,
		digest = excluded.digest, updated_at = excluded.updated_at`, v.UserID, v.OrgID, strings.Join(tl, ","), strings.Join(kl, ","), s.Digest, now.UTC())
	return err
}

// SetWebhook sets (url "" removes) the webhook of v's organisation. New
// posts are POSTed there as JSON, grouped, with an HMAC-SHA256 signature of
// the body in X-Medisac-Signature. TLP:RED posts are never sent to
// webhooks: they are for named people only.
func SetWebhook(ctx context.Context, q db.Querier, v Viewer, rawURL, secret string, now time.Time) error {
	if err := v.check("share.webhook", v.own(), "share.webhook.admins_only"); err != nil {
		return err
	}
	if rawURL == "" {
		_, err := q.Exec(ctx, `DELETE FROM share_webhooks WHERE org_id = ?`, v.OrgID)
		return err
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return apperr.Field("url", "share.webhook.https_only")
	}
	if len(secret) < 16 {
		return apperr.Field("secret", "share.webhook.secret_short", 16)
	}
	_, err = q.Exec(ctx, `INSERT INTO share_webhooks (org_id, url, secret, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (org_id) DO UPDATE SET url = excluded.url, secret = excluded.secret`, v.OrgID, u.String(), secret, now.UTC())
	return err
}

type fanoutPayload struct {
	PostID string `json:"post_id"`
}

// EnqueueFanout asks, in the caller's transaction, for the notifications of
// a new post to be written. Without a queue the fan-out runs at once.
func EnqueueFanout(ctx context.Context, tx db.Querier, q *jobs.Queue, c AffectedChecker, postID string, now time.Time) error {
	if q == nil {
		_, err := Fanout(ctx, tx, c, postID, now)
		return err
	}
	_, err := q.Enqueue(ctx, tx, JobFanout, fanoutPayload{PostID: postID}, jobs.UniqueKey("share.fanout:"+postID))
	return err
}

// Fanout writes one pending notification per person who may see the post
// (except its author), deciding per person whether it goes out at once or
// in the digest. It is one INSERT … SELECT over memberships filtered by the
// same visibility predicate as every read, so a post reaches exactly its
// audience; running it twice adds nothing. Then, for a post naming CVEs,
// the people who chose "anything naming our devices" are moved to the
// immediate e-mail when c (the hub's AffectedChecker, may be nil) finds
// their organisation affected (see promoteAffected).
//
// A post deleted (or an import abandoned) before its fan-out ran has no
// audience: the job ends quietly, with nothing to retry or report.
func Fanout(ctx context.Context, q db.Querier, c AffectedChecker, postID string, now time.Time) (int64, error) {
	var n0 int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM share_posts WHERE id = ?`, postID).Scan(&n0); err != nil {
		return 0, err
	}
	if n0 == 0 {
		return 0, nil
	}
	n, err := fanoutRows(ctx, q, postID, now)
	if err != nil {
		return n, err
	}
	return n, promoteAffected(ctx, q, c, postID)
}

func fanoutRows(ctx context.Context, q db.Querier, postID string, now time.Time) (int64, error) {
	pred := visibleFor("m.org_id", "m.user_id", "(o.kind = 'isac')")
	res, err := q.Exec(ctx, `INSERT INTO share_notifications (user_id, post_id, org_id, mode, created_at)
		SELECT m.user_id, p.id, MIN(m.org_id),
			CASE WHEN MAX(CASE WHEN (',' || COALESCE(s.immediate_tlp, 'amber,amber_strict,red') || ',') LIKE ('%,' || p.tlp || ',%')
				OR (',' || COALESCE(s.immediate_kinds, '') || ',') LIKE ('%,' || p.kind || ',%') THEN 1 ELSE 0 END) = 1 THEN 'immediate'
			WHEN MAX(CASE WHEN COALESCE(s.digest, TRUE) THEN 1 ELSE 0 END) = 1 THEN 'digest' ELSE 'none' END, ?
		FROM share_posts p
		JOIN memberships m ON m.user_id <> p.author_user_id
		JOIN organizations o ON o.id = m.org_id
		JOIN users u ON u.id = m.user_id AND NOT u.disabled
		LEFT JOIN share_subscriptions s ON s.user_id = m.user_id AND s.org_id = m.org_id
		WHERE p.id = ? AND `+pred+`
		GROUP BY m.user_id, p.id, p.tlp, p.kind
		ON CONFLICT (user_id, post_id) DO NOTHING`, now.UTC(), postID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// OrgsAffectedChecker is an optional, set-based form of AffectedChecker:
// of the given organisations, those with registered devices affected by
// any of the CVEs. The fan-out uses it, when the installed checker has it,
// instead of asking organisation by organisation.
type OrgsAffectedChecker interface {
	OrgsAffected(ctx context.Context, q db.Querier, orgIDs, cves []string) ([]string, error)
}

// promoteAffected moves to the immediate e-mail the pending notifications
// of a post naming CVEs for the people who chose ImmediateDevices (or have
// not chosen yet: it is in DefaultSubscription) in an organisation that
// may see the post and that the checker c finds affected. Without
// a checker, or for a post naming no CVE, nothing changes: nothing is
// guessed. The checker is asked once per such organisation, not per
// person; e-mails stay grouped per person by Dispatch.
func promoteAffected(ctx context.Context, q db.Querier, c AffectedChecker, postID string) error {
	if c == nil {
		return nil
	}
	var raw string
	if err := q.QueryRow(ctx, `SELECT cves FROM share_posts WHERE id = ?`, postID).Scan(&raw); err != nil {
		if errors.Is(db.ScanErr(err), db.ErrNotFound) {
			return nil
		}
		return err
	}
	var cves []string
	if err := json.Unmarshal([]byte(raw), &cves); err != nil || len(cves) == 0 {
		return nil
	}
	pred := visibleFor("m.org_id", "m.user_id", "(o.kind = 'isac')")
	candidates := `FROM share_notifications n
		JOIN share_posts p ON p.id = n.post_id
		JOIN memberships m ON m.user_id = n.user_id
		JOIN organizations o ON o.id = m.org_id
		LEFT JOIN share_subscriptions s ON s.user_id = m.user_id AND s.org_id = m.org_id
		WHERE n.post_id = ? AND n.sent_at IS NULL AND n.mode <> 'immediate'
		AND (s.user_id IS NULL OR (',' || s.immediate_kinds || ',') LIKE '%,` + devicesChoice + `,%') AND ` + pred
	orgs, err := db.QueryStrings(ctx, q, `SELECT DISTINCT m.org_id `+candidates+` ORDER BY m.org_id`, postID)
	if err != nil {
		return err
	}
	if len(orgs) == 0 {
		return nil
	}
	var affected []string
	if oc, ok := c.(OrgsAffectedChecker); ok {
		if affected, err = oc.OrgsAffected(ctx, q, orgs, cves); err != nil {
			return err
		}
	} else {
		for _, o := range orgs {
			r, err := c.Affected(ctx, q, o, cves)
			if err != nil {
				return err
			}
			if r.State == AffectedYes {
				affected = append(affected, o)
			}
		}
	}
	for _, o := range affected {
		// The notification names the affected organisation, so that the
		// e-mail is filed under it.
		if _, err := q.Exec(ctx, `UPDATE share_notifications SET mode = 'immediate', org_id = ?
			WHERE post_id = ? AND sent_at IS NULL AND mode <> 'immediate' AND user_id IN (SELECT m.user_id `+
			strings.Replace(candidates, "WHERE n.post_id = ?", "WHERE n.post_id = ? AND m.org_id = ?", 1)+`)`,
			o, postID, postID, o); err != nil {
			return err
		}
	}
	return nil
}

// Hub is the sharing hub's service, built once when the node is wired and
// handed to the web pages, the API and the command line: its methods are
// the hub's use cases (service.go), and it runs the hub's background work:
// fan-out, grouped e-mail (immediate and daily digest), webhooks and TAXII
// pulls.
type Hub struct {
	DB      *db.DB
	Queue   *jobs.Queue
	Mailer  *notify.Mailer
	Catalog *i18n.Catalog
	BaseURL string
	Now     func() time.Time
	// HTTP is the client for webhooks and TAXII pulls.
	HTTP *http.Client
	// Audit is the log the hub's use cases record their changes in.
	Audit *audit.Log
	// Affected answers "are we affected?" from an organisation's
	// registered devices (the vulnerability capability's checker, set when
	// the node is wired); nil answers "unknown".
	Affected AffectedChecker
}

var registered sync.Map

// Register installs the hub's job handlers and periodic tasks on its queue,
// once per queue: immediate notifications every minute (one e-mail per
// person per run, however many posts), the digest once a day, due TAXII
// pulls every minute.
func (h *Hub) Register() {
	if h.Queue == nil {
		return
	}
	if _, dup := registered.LoadOrStore(h.Queue, true); dup {
		return
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.HTTP == nil {
		h.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	h.Queue.Register(JobFanout, func(ctx context.Context, payload []byte) error {
		var p fanoutPayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return jobs.Permanent(err)
		}
		_, err := Fanout(ctx, h.DB, h.Affected, p.PostID, h.Now())
		return err
	})
	h.Queue.Register(JobWebhook, h.webhookJob)
	h.Queue.Register(JobTAXIIPull, h.pullJob)
	h.Queue.Every("share.notify.immediate", time.Minute, func(ctx context.Context) error {
		_, err := h.Dispatch(ctx, "immediate")
		return err
	})
	h.Queue.Every("share.notify.digest", 24*time.Hour, func(ctx context.Context) error {
		_, err := h.Dispatch(ctx, "digest")
		return err
	})
	h.Queue.Every("share.taxii.schedule", time.Minute, h.scheduleFeeds)
	// Imports whose process died leave staged rows nobody sees; they are
	// removed here (the first run comes soon after start).
	h.Queue.Every("share.import.cleanup", 5*time.Minute, func(ctx context.Context) error {
		_, err := CleanupImports(ctx, h.DB, time.Now().Add(-ImportStale))
		return err
	})
}

type pending struct {
	userID, orgID, email, lang string
	postID, title              string
	tlp                        TLP
	kind                       Kind
}

// Dispatch sends the pending notifications of one mode: one e-mail per
// person listing all their new posts, and one webhook call per
// organisation; it returns the number of e-mails.
func (h *Hub) Dispatch(ctx context.Context, mode string) (int, error) {
	now := h.Now()
	pred := visibleFor("n.org_id", "n.user_id", "(o.kind = 'isac')")
	all, err := db.QueryAll(ctx, h.DB, func(r db.Scanner) (pending, error) {
		var x pending
		err := r.Scan(&x.userID, &x.orgID, &x.email, &x.lang, &x.postID, &x.title, &x.tlp, &x.kind)
		return x, err
	}, `SELECT n.user_id, n.org_id, u.email, u.lang, p.id, p.title, p.tlp, p.kind
		FROM share_notifications n JOIN users u ON u.id = n.user_id JOIN share_posts p ON p.id = n.post_id
		JOIN organizations o ON o.id = n.org_id
		WHERE n.mode = ? AND n.sent_at IS NULL AND `+pred+`
		ORDER BY n.user_id, p.created_at LIMIT 50000`, mode)
	if err != nil {
		return 0, err
	}
	byUser := map[string][]pending{}
	var order []string
	byOrg := map[string][]string{}
	for _, x := range all {
		if _, ok := byUser[x.userID]; !ok {
			order = append(order, x.userID)
		}
		byUser[x.userID] = append(byUser[x.userID], x)
		if mode == "immediate" && x.tlp != TLPRed {
			byOrg[x.orgID] = append(byOrg[x.orgID], x.postID)
		}
	}
	sent := 0
	for _, uid := range order {
		items := byUser[uid]
		err := h.DB.InTx(ctx, func(tx *db.Tx) error {
			if h.Mailer != nil {
				if _, err := h.Mailer.Send(ctx, tx, h.mail(items, mode)); err != nil {
					return err
				}
			}
			for _, x := range items {
				if _, err := tx.Exec(ctx, `UPDATE share_notifications SET sent_at = ? WHERE user_id = ? AND post_id = ?`, now.UTC(), uid, x.postID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return sent, err
		}
		sent++
	}
	for org, ids := range byOrg {
		var n int
		if err := h.DB.QueryRow(ctx, `SELECT COUNT(*) FROM share_webhooks WHERE org_id = ?`, org).Scan(&n); err != nil {
			return sent, err
		}
		if n > 0 {
			if _, err := h.Queue.Enqueue(ctx, nil, JobWebhook, webhookPayload{OrgID: org, PostIDs: dedupe(ids)}); err != nil {
				return sent, err
			}
		}
	}
	return sent, nil
}

func (h *Hub) t(lang, key string, args ...any) string {
	if h.Catalog == nil {
		return key
	}
	return h.Catalog.T(lang, key, args...)
}

// mail builds one person's notification: the narrowest label first in the
// subject (as FIRST asks), each post with its label, kind and link.
func (h *Hub) mail(items []pending, mode string) notify.Message {
	lang := items[0].lang
	narrow := TLPClear
	for _, x := range items {
		if narrow.Wider(x.tlp) {
			narrow = x.tlp
		}
	}
	var b strings.Builder
	b.WriteString(h.t(lang, "share.mail.intro."+mode, len(items)) + "\n\n")
	for _, x := range items {
		fmt.Fprintf(&b, "%s［%s］%s\n%s/share/posts/%s\n%s\n\n", x.tlp.Label(), h.t(lang, "share.kind."+string(x.kind)), x.title,
			strings.TrimRight(h.BaseURL, "/"), x.postID, h.t(lang, x.tlp.MeaningKey()))
	}
	b.WriteString(h.t(lang, "share.mail.footer"))
	return notify.Message{OrgID: items[0].orgID, To: items[0].email,
		Subject: narrow.Label() + " " + h.t(lang, "share.mail.subject."+mode, len(items)), Body: b.String()}
}

type webhookPayload struct {
	OrgID   string   `json:"org_id"`
	PostIDs []string `json:"post_ids"`
}

// webhookJob POSTs a group of new posts to an organisation's webhook. Only
// the label, kind, title and link travel; the reader opens the post signed
// in.
func (h *Hub) webhookJob(ctx context.Context, payload []byte) error {
	var p webhookPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return jobs.Permanent(err)
	}
	var hookURL, secret string
	if err := h.DB.QueryRow(ctx, `SELECT url, secret FROM share_webhooks WHERE org_id = ?`, p.OrgID).Scan(&hookURL, &secret); err != nil {
		if errors.Is(db.ScanErr(err), db.ErrNotFound) {
			return nil
		}
		return err
	}
	v := Viewer{OrgID: p.OrgID}
	type item struct {
		ID    string `json:"id"`
		TLP   string `json:"tlp"`
		Kind  Kind   `json:"kind"`
		Title string `json:"title"`
		URL   string `json:"url"`
	}
	var out []item
	for _, id := range p.PostIDs {
		post, err := GetPost(ctx, h.DB, v, id)
		if err != nil || post.TLP == TLPRed {
			continue
		}
		out = append(out, item{ID: post.ID, TLP: post.TLP.Label(), Kind: post.Kind, Title: post.Title,
			URL: strings.TrimRight(h.BaseURL, "/") + "/share/posts/" + post.ID})
	}
	if len(out) == 0 {
		return nil
	}
	body, _ := json.Marshal(map[string]any{"posts": out})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hookURL, bytes.NewReader(body))
	if err != nil {
		return jobs.Permanent(err)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Medisac-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := h.HTTP.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}
