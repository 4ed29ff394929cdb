package audit

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strconv"

	"github.com/medisac/medisac/internal/csvsafe"
	"github.com/medisac/medisac/internal/i18n"
)

// csvColumns are the message keys of the export's header row, in order.
var csvColumns = []string{
	"audit.col.seq", "audit.col.at_jst", "audit.col.at_utc", "audit.col.actor", "audit.col.actor_id",
	"audit.col.action", "audit.col.action_code", "audit.col.outcome", "audit.col.object_type",
	"audit.col.object_id", "audit.col.ip", "audit.col.user_agent", "audit.col.details", "audit.col.hash",
}

// WriteCSV streams the entries of organisation orgID matching f (all of
// them: Limit and Offset are ignored), newest first, to w as CSV for Excel:
// UTF-8 with a byte-order mark, CRLF line ends, a Japanese header row, the
// time both in Japan time and as UTC ISO 8601. Cells that a spreadsheet
// would run as a formula get a leading apostrophe. An empty orgID is an
// Invalid error. Callers should record the export itself (ActionExport).
func (l *Log) WriteCSV(ctx context.Context, w io.Writer, orgID string, f Filter) error {
	cat := l.cat
	if cat == nil {
		return errors.New("audit: WriteCSV needs the message catalog")
	}
	if _, _, err := f.where(orgID); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	row := make([]string, len(csvColumns))
	for i, k := range csvColumns {
		row[i] = cat.T("ja", k)
	}
	if err := cw.Write(row); err != nil {
		return err
	}
	n := 0
	err := l.each(ctx, orgID, f, "", func(e Entry, details string) error {
		row = append(row[:0],
			strconv.FormatInt(e.Seq, 10),
			e.At.In(i18n.Tokyo).Format("2006-01-02 15:04:05"),
			e.At.UTC().Format("2006-01-02T15:04:05.000000Z"),
			e.Actor, e.ActorID,
			ActionLabel(cat, "ja", e.Action), e.Action,
			OutcomeLabel(cat, "ja", e.Outcome),
			e.ObjectType, e.ObjectID, e.IP, e.UserAgent, details, e.Hash,
		)
		for i := range row {
			row[i] = SafeCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
		if n++; n%256 == 0 {
			cw.Flush()
			return cw.Error()
		}
		return nil
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// SafeCell returns s as the CSV exports write it: with a leading
// apostrophe when a spreadsheet would treat it as a formula (see
// csvsafe.Cell, the one rule of every CSV export).
func SafeCell(s string) string { return csvsafe.Cell(s) }
