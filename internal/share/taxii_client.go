package share

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/jobs"
)

// TAXIIMediaType is the media type of TAXII 2.1 bodies.
const TAXIIMediaType = "application/taxii+json;version=2.1"

// Feed is a TAXII 2.1 collection that an organisation pulls on a schedule.
type Feed struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	ObjectsURL string    `json:"objects_url"`
	Username   string    `json:"username,omitempty"`
	TLP        TLP       `json:"tlp"`
	Interval   int       `json:"interval_minutes"`
	AddedAfter string    `json:"added_after"`
	NextRunAt  time.Time `json:"next_run_at"`
	LastError  string    `json:"last_error"`
}

// AddFeed registers a collection to pull: objectsURL is the collection's
// …/objects/ address, username/secret Basic credentials (username empty:
// secret is a Bearer token). Imported objects without a marking get label t.
func AddFeed(ctx context.Context, q db.Querier, v Viewer, title, objectsURL, username, secret string, t TLP, interval int, now time.Time) (*Feed, error) {
	if err := v.check("share.feed.add", v.own(), "share.feed.admins_only"); err != nil {
		return nil, err
	}
	u, err := url.Parse(objectsURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || !strings.HasSuffix(u.Path, "/objects/") {
		return nil, apperr.Field("objects_url", "share.feed.bad_url")
	}
	if !t.Valid() {
		t = TLPAmber
	}
	if interval < 5 {
		interval = 60
	}
	title = strings.TrimSpace(title)
	if title == "" {
		title = u.Host
	}
	f := &Feed{ID: db.NewID(), Title: truncateRunes(title, 100), ObjectsURL: u.String(), Username: username, TLP: t, Interval: interval, NextRunAt: now.UTC()}
	_, err = q.Exec(ctx, `INSERT INTO share_taxii_feeds (id, org_id, user_id, title, objects_url, username, secret, tlp, interval_minutes, next_run_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, f.ID, v.OrgID, v.UserID, f.Title, f.ObjectsURL, username, secret, t, interval, f.NextRunAt, now.UTC())
	return f, err
}

// ListFeeds lists v's organisation's feeds.
func ListFeeds(ctx context.Context, q db.Querier, v Viewer) ([]Feed, error) {
	return db.QueryAll(ctx, q, func(r db.Scanner) (Feed, error) {
		var f Feed
		err := r.Scan(&f.ID, &f.Title, &f.ObjectsURL, &f.Username, &f.TLP, &f.Interval, &f.AddedAfter, &f.NextRunAt, &f.LastError)
		return f, err
	}, `SELECT id, title, objects_url, username, tlp, interval_minutes, added_after, next_run_at, last_error
		FROM share_taxii_feeds WHERE org_id = ? ORDER BY title, id`, v.OrgID)
}

type pullPayload struct {
	FeedID string `json:"feed_id"`
}

// scheduleFeeds enqueues a pull of every feed that is due.
func (h *Hub) scheduleFeeds(ctx context.Context) error {
	now := h.Now()
	ids, err := db.QueryStrings(ctx, h.DB, `SELECT id FROM share_taxii_feeds WHERE next_run_at <= ?`, now.UTC())
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := h.DB.InTx(ctx, func(tx *db.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE share_taxii_feeds SET next_run_at = ? WHERE id = ?`, now.Add(time.Minute).UTC(), id); err != nil {
				return err
			}
			_, err := h.Queue.Enqueue(ctx, tx, JobTAXIIPull, pullPayload{FeedID: id}, jobs.UniqueKey("share.taxii.pull:"+id))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (h *Hub) pullJob(ctx context.Context, payload []byte) error {
	var p pullPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return jobs.Permanent(err)
	}
	_, err := h.Pull(ctx, p.FeedID)
	if apperr.Is(err, apperr.Forbidden) {
		// Recorded on the feed (last_error); retrying changes nothing.
		return nil
	}
	return err
}

// Pull fetches the new objects of one feed, page by page (following
// "next", or added_after from X-TAXII-Date-Added-Last), and imports them as
// the person who registered the feed. It returns the number of objects
// stored.
func (h *Hub) Pull(ctx context.Context, feedID string) (int, error) {
	var f Feed
	var orgID, userID, secret string
	if err := h.DB.QueryRow(ctx, `SELECT org_id, user_id, objects_url, username, secret, tlp, interval_minutes, added_after FROM share_taxii_feeds WHERE id = ?`, feedID).
		Scan(&orgID, &userID, &f.ObjectsURL, &f.Username, &secret, &f.TLP, &f.Interval, &f.AddedAfter); err != nil {
		return 0, db.ScanErr(err)
	}
	var kind string
	if err := h.DB.QueryRow(ctx, `SELECT kind FROM organizations WHERE id = ?`, orgID).Scan(&kind); err != nil {
		return 0, db.ScanErr(err)
	}
	// The feed is pulled as the person who registered it, only while they
	// may still: a demoted or removed admin's feed stops.
	var role string
	if err := h.DB.QueryRow(ctx, `SELECT role FROM memberships WHERE org_id = ? AND user_id = ?`, orgID, userID).Scan(&role); err != nil && !errors.Is(db.ScanErr(err), db.ErrNotFound) {
		return 0, err
	}
	v := Viewer{OrgID: orgID, UserID: userID, Operator: kind == "isac", Admin: role == "admin", Write: role == "admin" || role == "staff"}
	if role == "" {
		v.Write = false
	}
	total := 0
	next := ""
	addedAfter := f.AddedAfter
	var pullErr error
	if err := v.check("share.feed.pull", v.own(), "share.feed.admins_only"); err != nil {
		pullErr := err
		_, uerr := h.DB.Exec(ctx, `UPDATE share_taxii_feeds SET last_error = ?, next_run_at = ? WHERE id = ?`,
			"the person who registered this feed is no longer an admin of the organisation", h.Now().Add(time.Duration(f.Interval)*time.Minute).UTC(), feedID)
		if uerr != nil {
			return 0, uerr
		}
		return 0, pullErr
	}
	for page := 0; page < 100; page++ {
		u, _ := url.Parse(f.ObjectsURL)
		qs := u.Query()
		qs.Set("limit", "500")
		if next != "" {
			qs.Set("next", next)
		} else if addedAfter != "" {
			qs.Set("added_after", addedAfter)
		}
		u.RawQuery = qs.Encode()
		env, last, err := h.fetch(ctx, u.String(), f.Username, secret)
		if err != nil {
			pullErr = err
			break
		}
		res, err := ImportSTIX(ctx, h.DB, v, bytes.NewReader(env.raw), ImportOptions{Default: f.TLP, Source: "taxii"}, h.Now())
		if err != nil {
			pullErr = err
			break
		}
		total += res.Objects
		if last != "" {
			addedAfter = last
		}
		if !env.More {
			break
		}
		next = env.Next
		if next == "" && last == "" {
			break
		}
	}
	msg := ""
	if pullErr != nil {
		msg = truncateRunes(pullErr.Error(), 500)
	}
	_, err := h.DB.Exec(ctx, `UPDATE share_taxii_feeds SET added_after = ?, last_error = ?, next_run_at = ? WHERE id = ?`,
		addedAfter, msg, h.Now().Add(time.Duration(f.Interval)*time.Minute).UTC(), feedID)
	if err != nil {
		return total, err
	}
	return total, pullErr
}

type envelope struct {
	More bool   `json:"more"`
	Next string `json:"next"`
	raw  []byte
}

func (h *Hub) fetch(ctx context.Context, u, user, secret string) (*envelope, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", TAXIIMediaType)
	if user != "" {
		req.SetBasicAuth(user, secret)
	} else if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	c := h.HTTP
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("TAXII server answered %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/taxii+json") {
		return nil, "", fmt.Errorf("TAXII server answered with content type %q", ct)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxImport+1))
	if err != nil {
		return nil, "", err
	}
	env := &envelope{raw: body}
	if err := json.Unmarshal(body, env); err != nil {
		return nil, "", fmt.Errorf("TAXII envelope: %w", err)
	}
	return env, resp.Header.Get("X-TAXII-Date-Added-Last"), nil
}
