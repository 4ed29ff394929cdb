package share

import (
	"bytes"
	"context"
	"time"

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
// indicator type. Run it in a transaction.
func ImportAny(ctx context.Context, q db.Querier, v Viewer, data []byte, opts ImportOptions, now time.Time) (format string, res *ImportResult, skipped int, err error) {
	format = DetectFormat(data)
	if format == FormatMISP {
		res, skipped, err = ImportMISP(ctx, q, v, data, opts, now)
	} else {
		res, err = ImportSTIX(ctx, q, v, data, opts, now)
	}
	return format, res, skipped, err
}
