package share

import (
	"bytes"
	"context"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// Import formats recognised by ImportAny.
const (
	FormatSTIX = "stix"
	FormatMISP = "misp"
)

// DetectFormat tells a MISP event document from a STIX 2.1 bundle (or
// TAXII envelope): MISP events carry "Event" near the start or no
// "objects" list at all.
func DetectFormat(data []byte) string {
	if bytes.Contains(data[:min(len(data), 4096)], []byte(`"Event"`)) || !bytes.Contains(data, []byte(`"objects"`)) {
		return FormatMISP
	}
	return FormatSTIX
}

// ImportAny imports a STIX 2.1 bundle or a MISP event, whichever data is,
// into posts of v's organisation; skipped counts MISP attributes without an
// indicator type. It writes in short transactions of its own and publishes
// the posts at once (opts.Publish runs in that last transaction).
func ImportAny(ctx context.Context, d *db.DB, v Viewer, data []byte, opts ImportOptions, now time.Time) (format string, res *ImportResult, skipped int, err error) {
	format = DetectFormat(data)
	if format == FormatMISP {
		res, skipped, err = ImportMISP(ctx, d, v, data, opts, now)
	} else {
		if len(data) > MaxImport {
			return format, nil, 0, apperr.New(apperr.TooLarge, "share.import.too_large", MaxImport>>20)
		}
		res, err = ImportSTIX(ctx, d, v, bytes.NewReader(data), opts, now)
	}
	return format, res, skipped, err
}
