package imports

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/share"
)

// RegisterInput is a register import: FileName decides the format (as
// inventory.DetectFormat does); for an nmap scan Accept lists the
// indexes of the proposals to apply, separated by commas ("" or "all":
// every new and changed one).
type RegisterInput struct {
	FileName string
	Accept   string
	// Limit bounds the file (inventory.MaxImportSize when zero).
	Limit int64
}

// NmapOutcome is what an applied nmap scan returns.
type NmapOutcome struct {
	Proposals []inventory.NmapProposal
	Applied   []inventory.NmapProposal
}

// RegisterSummary is the recorded result of a register import: the
// preview's counts without its rows (a register of 100,000 rows would
// otherwise be kept twice).
type RegisterSummary struct {
	Format      string                                 `json:"format"`
	Encoding    string                                 `json:"encoding,omitempty"`
	OK          bool                                   `json:"ok"`
	Rows        int                                    `json:"rows"`
	NewSegments []string                               `json:"new_segments"`
	Ignored     []string                               `json:"ignored_columns"`
	Counts      map[string]map[inventory.RowStatus]int `json:"counts,omitempty"`
	// Proposals and Applied count the hosts of an nmap scan.
	Proposals int `json:"proposals,omitempty"`
	Applied   int `json:"applied,omitempty"`
}

// ImportRegister starts the import of a register file into orgID's
// register (the inventory.import rule decides who may). The file is read
// from body into the spool folder first. It fails at once when the
// organisation or the node has its most imports running (429).
func (s *Service) ImportRegister(ctx context.Context, p *auth.Principal, orgID string, in RegisterInput, body io.Reader) (*Run, error) {
	if err := auth.AuthorizeMember(p, inventory.ActionImport, orgID); err != nil {
		return nil, err
	}
	limit := in.Limit
	if limit <= 0 {
		limit = inventory.MaxImportSize
	}
	return s.start(ctx, p, spec{kind: KindRegister, orgID: orgID, fileName: in.FileName, limit: limit,
		tooLarge: func() error {
			return apperr.New(apperr.TooLarge, "inventory.import.file_too_large", inventory.MaxImportSize>>20)
		},
		empty: apperr.Field("file", "inventory.error.empty_file"),
		run: func(ctx context.Context, file io.Reader) (any, any, error) {
			data, err := io.ReadAll(file)
			if err != nil {
				return nil, nil, err
			}
			if inventory.DetectFormat(in.FileName, data) == "nmap" {
				scan, err := inventory.ParseNmap(bytes.NewReader(data), inventory.MaxNmapSize)
				data = nil
				if err != nil {
					return nil, nil, inventory.NmapError(err)
				}
				accept, err := parseAccept(in.Accept)
				if err != nil {
					return nil, nil, err
				}
				props, applied, err := s.Inventory.ApplyNmap(ctx, p, orgID, scan, accept)
				if err != nil {
					return nil, nil, err
				}
				return &NmapOutcome{Proposals: props, Applied: applied},
					RegisterSummary{Format: "nmap", OK: true, Proposals: len(props), Applied: len(applied), NewSegments: []string{}, Ignored: []string{}}, nil
			}
			pv, err := s.Inventory.ApplyImport(ctx, p, orgID, in.FileName, data)
			if err != nil {
				return nil, nil, err
			}
			return pv, registerSummary(pv), nil
		}}, body)
}

func registerSummary(pv *inventory.Preview) RegisterSummary {
	sum := RegisterSummary{Format: pv.Format, Encoding: pv.Encoding, OK: pv.OK(), Rows: len(pv.Rows),
		NewSegments: pv.NewSegments, Ignored: pv.Ignored, Counts: pv.Counts}
	if sum.NewSegments == nil {
		sum.NewSegments = []string{}
	}
	if sum.Ignored == nil {
		sum.Ignored = []string{}
	}
	return sum
}

// ShareInput is an import into the sharing hub.
type ShareInput struct {
	// Default is the label of objects without a TLP marking.
	Default share.TLP
	// FileName is recorded with the job; Details go into the audit entry
	// (the command line records the file it was given).
	FileName string
	Details  map[string]any
	// Limit bounds the file (share.MaxImport when zero).
	Limit int64
}

// ShareSummary is the recorded result of a share import: the body of the
// API's answer.
type ShareSummary struct {
	Format  string `json:"format"`
	Skipped int    `json:"skipped"`
	*share.ImportResult
}

// Summary is the body of a finished share import.
func Summary(out *share.ImportOutcome) ShareSummary {
	s := ShareSummary{Format: out.Format, Skipped: out.Skipped, ImportResult: out.Result}
	if s.ImportResult == nil {
		s.ImportResult = &share.ImportResult{}
	}
	if s.Posts == nil {
		s.Posts = []share.ImportedPost{}
	}
	return s
}

// ImportShare starts the import of a STIX 2.1 bundle or a MISP event into
// posts of p's organisation (the share.import rule decides who may).
func (s *Service) ImportShare(ctx context.Context, p *auth.Principal, in ShareInput, body io.Reader) (*Run, error) {
	if p == nil || p.UserID == "" {
		return nil, apperr.New(apperr.Unauthenticated, "share.signin_required")
	}
	if !auth.Allowed(p, "share.import", auth.Target{OrgID: p.OrgID}) {
		return nil, apperr.New(apperr.Forbidden, "share.read_only")
	}
	limit := in.Limit
	if limit <= 0 {
		limit = share.MaxImport
	}
	return s.start(ctx, p, spec{kind: KindShare, orgID: p.OrgID, fileName: in.FileName, limit: limit,
		tooLarge: func() error { return apperr.New(apperr.TooLarge, "share.import.too_large", limit>>20) },
		run: func(ctx context.Context, file io.Reader) (any, any, error) {
			out, err := s.Share.Import(ctx, p, share.ImportRequest{File: file, Default: in.Default, Details: in.Details})
			if err != nil {
				return nil, nil, err
			}
			return out, Summary(out), nil
		}}, body)
}

func parseAccept(s string) ([]int, error) {
	if s == "" || s == "all" {
		return nil, nil
	}
	var accept []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return nil, apperr.Field("accept", "inventory.nmap.bad_index", -1)
		}
		accept = append(accept, n)
	}
	return accept, nil
}
