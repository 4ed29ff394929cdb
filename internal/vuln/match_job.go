package vuln

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/jobs"
)

// JobMatchAssets re-matches given assets of one organisation and sends the
// alert for what changed, as after a person corrected a device's identity.
const JobMatchAssets = "vuln.match_assets"

// maxJobAssets bounds the assets of one JobMatchAssets job.
const maxJobAssets = 1000

type matchAssetsPayload struct {
	Org    string   `json:"org"`
	Assets []string `json:"assets"`
}

// QueueMatchAssets enqueues the re-match of the organisation's assets as a
// JobMatchAssets job in q (the caller's transaction, so the job exists
// exactly when the change that needs it commits) and reports whether it
// did; without a queue it does nothing and returns false, and the caller
// runs MatchAssets itself after committing. opts schedule the job
// (jobs.RunAt); the caller wakes the queue (Queue.Notify) after committing
// when the job is due now. Jobs are not merged: one already running may
// have read the identity before the change.
func (w *Watch) QueueMatchAssets(ctx context.Context, q db.Querier, orgID string, assetIDs []string, opts ...jobs.Option) (bool, error) {
	if w.Queue == nil || len(assetIDs) == 0 {
		return false, nil
	}
	ids := slices.Clone(assetIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for len(ids) > 0 {
		n := min(len(ids), maxJobAssets)
		if _, err := w.Queue.Enqueue(ctx, q, JobMatchAssets, matchAssetsPayload{Org: orgID, Assets: ids[:n]}, opts...); err != nil {
			return false, err
		}
		ids = ids[n:]
	}
	return true, nil
}

// runMatchAssets is the JobMatchAssets handler.
func (w *Watch) runMatchAssets(ctx context.Context, payload []byte) error {
	var p matchAssetsPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return jobs.Permanent(err)
	}
	if p.Org == "" {
		return jobs.Permanent(errors.New("vuln: match_assets job without organisation"))
	}
	if len(p.Assets) == 0 {
		return nil
	}
	_, err := w.MatchAssets(ctx, p.Org, p.Assets)
	return err
}
