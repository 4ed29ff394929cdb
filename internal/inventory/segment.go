package inventory

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// Segment is a network segment (医療系, 情報系, 保守用, ゲスト, ...).
type Segment struct {
	ID          string      `json:"id"`
	OrgID       string      `json:"org_id"`
	Name        string      `json:"name"`
	Kind        SegmentKind `json:"kind"`
	CIDR        string      `json:"cidr"`
	Description string      `json:"description"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

func (s *Segment) normalize() error {
	trimAll(&s.Name, &s.CIDR, &s.Description)
	if s.Kind == "" {
		s.Kind = SegOther
	}
	switch {
	case s.Name == "":
		return apperr.Field("name", "inventory.error.required")
	case !oneOf(s.Kind, SegmentKinds):
		return apperr.Field("kind", "inventory.error.bad_choice")
	}
	return nil
}

const segmentSelect = "SELECT id, org_id, name, kind, cidr, description, created_at, updated_at FROM inv_segments"

func scanSegment(r scanner) (Segment, error) {
	var s Segment
	err := r.Scan(&s.ID, &s.OrgID, &s.Name, &s.Kind, &s.CIDR, &s.Description, &s.CreatedAt, &s.UpdatedAt)
	return s, db.ScanErr(err)
}

// CreateSegment stores a new segment of the organisation. A name already
// used in the organisation is a Conflict error.
func CreateSegment(ctx context.Context, q db.Querier, orgID string, s Segment, now time.Time) (Segment, error) {
	if err := s.normalize(); err != nil {
		return Segment{}, err
	}
	s.ID, s.OrgID, s.CreatedAt, s.UpdatedAt = db.NewID(), orgID, now.UTC().Truncate(time.Microsecond), now.UTC().Truncate(time.Microsecond)
	_, err := q.Exec(ctx, "INSERT INTO inv_segments (id, org_id, name, kind, cidr, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		s.ID, orgID, s.Name, string(s.Kind), s.CIDR, s.Description, s.CreatedAt, s.UpdatedAt)
	return s, conflictAs(err, "name")
}

// GetSegment returns the organisation's segment id, or db.ErrNotFound.
func GetSegment(ctx context.Context, q db.Querier, orgID, id string) (Segment, error) {
	return scanSegment(q.QueryRow(ctx, segmentSelect+" WHERE org_id = ? AND id = ?", orgID, id))
}

// UpdateSegment replaces segment s.ID and returns it before and after.
func UpdateSegment(ctx context.Context, q db.Querier, orgID string, s Segment, now time.Time) (before, after Segment, err error) {
	return replaceRow(ctx, q, orgID, s.ID, GetSegment, func() error {
		if err := s.normalize(); err != nil {
			return err
		}
		res, err := q.Exec(ctx, "UPDATE inv_segments SET name = ?, kind = ?, cidr = ?, description = ?, updated_at = ? WHERE org_id = ? AND id = ?",
			s.Name, string(s.Kind), s.CIDR, s.Description, now, orgID, s.ID)
		return affected(res, conflictAs(err, "name"))
	})
}

// DeleteSegment removes the organisation's segment id and returns it; its
// assets stay, without a segment, and its communication records go.
func DeleteSegment(ctx context.Context, q db.Querier, orgID, id string) (Segment, error) {
	return deleteRow(ctx, q, "inv_segments", orgID, id, GetSegment)
}

// ListSegments returns the organisation's segments in name order.
func ListSegments(ctx context.Context, q db.Querier, orgID string) ([]Segment, error) {
	return listRows(ctx, q, scanSegment, segmentSelect+" WHERE org_id = ? ORDER BY name", orgID)
}

// Communication is one allowed communication: between two segments
// (FromSegmentID → ToSegmentID) or of one device (AssetID) with a peer, on
// a port and protocol, with the reason and who reviewed it when.
type Communication struct {
	ID            string `json:"id"`
	OrgID         string `json:"org_id"`
	FromSegmentID string `json:"from_segment_id"`
	ToSegmentID   string `json:"to_segment_id"`
	AssetID       string `json:"asset_id"`
	Peer          string `json:"peer"`
	// Port is "443", "80,443", "1000-2000" or "" / "any" for every port.
	Port       string    `json:"port"`
	Protocol   string    `json:"protocol"`
	Reason     string    `json:"reason"`
	ReviewedOn Date      `json:"reviewed_on"`
	ReviewedBy string    `json:"reviewed_by"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func (c *Communication) normalize() error {
	trimAll(&c.FromSegmentID, &c.ToSegmentID, &c.AssetID, &c.Peer, &c.Port, &c.Reason, &c.ReviewedBy)
	c.Protocol = strings.ToLower(strings.TrimSpace(c.Protocol))
	if c.Protocol == "" {
		c.Protocol = "tcp"
	}
	switch {
	case c.FromSegmentID == "" && c.ToSegmentID == "" && c.AssetID == "":
		return apperr.Field("asset_id", "inventory.error.comm_scope")
	case c.Protocol != "tcp" && c.Protocol != "udp" && c.Protocol != "icmp" && c.Protocol != "any":
		return apperr.Field("protocol", "inventory.error.bad_choice")
	case !validPortSpec(c.Port):
		return apperr.Field("port", "inventory.error.bad_ports")
	case !c.ReviewedOn.Valid():
		return apperr.Field("reviewed_on", "inventory.error.bad_date")
	}
	return nil
}

func (c *Communication) checkRefs(ctx context.Context, q db.Querier, orgID string) error {
	if err := checkRef(ctx, q, orgID, "inv_segments", "from_segment_id", c.FromSegmentID); err != nil {
		return err
	}
	if err := checkRef(ctx, q, orgID, "inv_segments", "to_segment_id", c.ToSegmentID); err != nil {
		return err
	}
	return checkRef(ctx, q, orgID, "inv_assets", "asset_id", c.AssetID)
}

func validPortSpec(s string) bool {
	if s == "" || strings.EqualFold(s, "any") || s == "*" {
		return true
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil || a < 0 || b > 65535 || a > b {
			return false
		}
	}
	return true
}

// portCovered reports whether the port spec includes port.
func portCovered(spec string, port int) bool {
	if spec == "" || strings.EqualFold(spec, "any") || spec == "*" {
		return true
	}
	for _, part := range strings.Split(spec, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
				continue
			}
		}
		if port >= a && port <= b {
			return true
		}
	}
	return false
}

const commSelect = `SELECT id, org_id, COALESCE(from_segment_id, ''), COALESCE(to_segment_id, ''), COALESCE(asset_id, ''),
 peer, port, protocol, reason, reviewed_on, reviewed_by, created_at, updated_at FROM inv_communications`

func scanComm(r scanner) (Communication, error) {
	var c Communication
	err := r.Scan(&c.ID, &c.OrgID, &c.FromSegmentID, &c.ToSegmentID, &c.AssetID, &c.Peer, &c.Port, &c.Protocol,
		&c.Reason, &c.ReviewedOn, &c.ReviewedBy, &c.CreatedAt, &c.UpdatedAt)
	return c, db.ScanErr(err)
}

// CreateCommunication stores an allowed communication of the organisation;
// its segments and asset must belong to the organisation.
func CreateCommunication(ctx context.Context, q db.Querier, orgID string, c Communication, now time.Time) (Communication, error) {
	if err := c.normalize(); err != nil {
		return c, err
	}
	if err := c.checkRefs(ctx, q, orgID); err != nil {
		return c, err
	}
	c.ID, c.OrgID, c.CreatedAt, c.UpdatedAt = db.NewID(), orgID, now.UTC().Truncate(time.Microsecond), now.UTC().Truncate(time.Microsecond)
	_, err := q.Exec(ctx, `INSERT INTO inv_communications (id, org_id, from_segment_id, to_segment_id, asset_id, peer, port, protocol,
 reason, reviewed_on, reviewed_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, orgID, nullID(c.FromSegmentID), nullID(c.ToSegmentID), nullID(c.AssetID), c.Peer, c.Port, c.Protocol,
		c.Reason, string(c.ReviewedOn), c.ReviewedBy, c.CreatedAt, c.UpdatedAt)
	return c, err
}

// GetCommunication returns the organisation's communication record id, or
// db.ErrNotFound.
func GetCommunication(ctx context.Context, q db.Querier, orgID, id string) (Communication, error) {
	return scanComm(q.QueryRow(ctx, commSelect+" WHERE org_id = ? AND id = ?", orgID, id))
}

// UpdateCommunication replaces communication record c.ID and returns it
// before and after.
func UpdateCommunication(ctx context.Context, q db.Querier, orgID string, c Communication, now time.Time) (before, after Communication, err error) {
	return replaceRow(ctx, q, orgID, c.ID, GetCommunication, func() error {
		if err := c.normalize(); err != nil {
			return err
		}
		if err := c.checkRefs(ctx, q, orgID); err != nil {
			return err
		}
		return affected(q.Exec(ctx, `UPDATE inv_communications SET from_segment_id = ?, to_segment_id = ?, asset_id = ?, peer = ?, port = ?,
 protocol = ?, reason = ?, reviewed_on = ?, reviewed_by = ?, updated_at = ? WHERE org_id = ? AND id = ?`,
			nullID(c.FromSegmentID), nullID(c.ToSegmentID), nullID(c.AssetID), c.Peer, c.Port, c.Protocol, c.Reason,
			string(c.ReviewedOn), c.ReviewedBy, now, orgID, c.ID))
	})
}

// DeleteCommunication removes the organisation's communication record id
// and returns it.
func DeleteCommunication(ctx context.Context, q db.Querier, orgID, id string) (Communication, error) {
	return deleteRow(ctx, q, "inv_communications", orgID, id, GetCommunication)
}

// ListCommunications returns the organisation's communication records; with
// assetID set only that device's records.
func ListCommunications(ctx context.Context, q db.Querier, orgID, assetID string) ([]Communication, error) {
	query, args := commSelect+" WHERE org_id = ?", []any{orgID}
	if assetID != "" {
		query, args = query+" AND asset_id = ?", append(args, assetID)
	}
	return listRows(ctx, q, scanComm, query+" ORDER BY created_at, id", args...)
}
