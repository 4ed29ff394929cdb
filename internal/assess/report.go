package assess

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/xlsx"
)

// FontEnv names the environment variable that points at another TrueType
// (glyf outline) Japanese font for PDF reports.
const FontEnv = "MEDISAC_PDF_FONT"

// embeddedFont is IPAex Gothic (IPA Font License v1.0, see
// fonts/IPA_Font_License.txt), shipped in the binary so that reports print
// on closed hospital networks with no fonts installed. CFF-outline fonts such
// as Noto Sans CJK cannot be embedded by the PDF writer.
//
//go:embed fonts/ipaexg.ttf
var embeddedFont []byte

var (
	fontMu    sync.Mutex
	fontCache = map[string][]byte{}
)

// FontPath returns the font file named by FontEnv, or "embedded" when the
// built-in IPAex Gothic is used.
func FontPath() string {
	if p := os.Getenv(FontEnv); p != "" {
		return p
	}
	return "embedded"
}

func loadFont() ([]byte, error) {
	p := FontPath()
	if p == "embedded" {
		return embeddedFont, nil
	}
	fontMu.Lock()
	defer fontMu.Unlock()
	if b, ok := fontCache[p]; ok {
		return b, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Unavailable, "assess.report.no_font")
	}
	if len(b) < 4 || !(bytes.Equal(b[:4], []byte{0, 1, 0, 0}) || bytes.Equal(b[:4], []byte("true"))) {
		return nil, apperr.Wrap(fmt.Errorf("%s is not a TrueType font", p), apperr.Unavailable, "assess.report.no_font")
	}
	fontCache[p] = b
	return b, nil
}

// Report is everything a printed sheet shows.
type Report struct {
	Edition  *Edition
	Sheet    *Sheet
	OrgName  string
	Evidence []*Evidence
	// Subject names whom the sheet is about (a vendor's customer), or "".
	Subject string
	Now     time.Time
}

// BuildReport gathers a sheet of orgID, the organisation's name and the
// sheet's evidence for printing.
func BuildReport(ctx context.Context, q db.Querier, e *Edition, orgID, sheetID string, now time.Time) (Report, error) {
	s, err := GetSheet(ctx, q, orgID, sheetID)
	if err != nil {
		return Report{}, err
	}
	var name string
	if err := db.ScanErr(q.QueryRow(ctx, `SELECT name FROM organizations WHERE id = ?`, orgID).Scan(&name)); err != nil {
		return Report{}, err
	}
	evs, err := ListEvidence(ctx, q, orgID, sheetID, "")
	if err != nil {
		return Report{}, err
	}
	return Report{Edition: e, Sheet: s, OrgName: name, Evidence: evs, Now: now}, nil
}

// AnswerLabel is the Japanese label of an answer value.
func AnswerLabel(v string) string {
	switch v {
	case AnsYes:
		return "はい"
	case AnsNo:
		return "いいえ"
	case AnsNA:
		return "該当なし"
	}
	return v
}

func slashDate(s string) string { return strings.ReplaceAll(s, "-", "/") }

// valueText renders a non-check answer for print.
func valueText(it *Item, v string) string {
	switch it.Type {
	case TypeYesNo:
		return AnswerLabel(v)
	case TypeChoice:
		if o := it.option(v); o != nil {
			return o.Label
		}
	case TypeMulti:
		var ls []string
		for _, id := range strings.Split(v, ",") {
			if o := it.option(id); o != nil {
				ls = append(ls, o.Label)
			}
		}
		return strings.Join(ls, "、")
	case TypeDate, TypeTargetDate:
		return slashDate(v)
	}
	return v
}

type pdfWriter struct {
	f      *fpdf.Fpdf
	widths map[rune]float64
}

// wrap splits text into lines no wider than w (Japanese has no spaces, so
// any character may end a line; line-start punctuation stays on the
// previous line).
func (p *pdfWriter) wrap(text string, w float64) []string {
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		var cur []rune
		width := 0.0
		for _, r := range para {
			cw, ok := p.widths[r]
			if !ok {
				cw = p.f.GetStringWidth(string(r))
				p.widths[r] = cw
			}
			if width+cw > w && len(cur) > 0 && !strings.ContainsRune("、。）」』】，．・ー", r) {
				lines = append(lines, string(cur))
				cur, width = nil, 0
			}
			cur = append(cur, r)
			width += cw
		}
		lines = append(lines, string(cur))
	}
	return lines
}

// Column widths of the landscape A4 sheet (277 mm usable).
var pdfCols = []float64{16, 103, 30, 16, 20, 20, 16, 20, 36}

// WritePDF renders the sheet as a print-ready landscape A4 PDF laid out
// like the official sheet: item rows × device-class cells, 1回目 answer,
// date and target date, 2回目 answer and date, and comments; the Japanese
// font is embedded (subset).
func WritePDF(w io.Writer, r Report) error {
	font, err := loadFont()
	if err != nil {
		return err
	}
	e, s := r.Edition, r.Sheet
	f := fpdf.New("L", "mm", "A4", "")
	f.SetCreationDate(r.Now)
	f.SetModificationDate(r.Now)
	f.SetTitle(e.Title, true)
	f.SetCreator("medisac", true)
	f.AddUTF8FontFromBytes("jp", "", font)
	f.SetMargins(10, 10, 10)
	f.SetAutoPageBreak(false, 10)
	p := &pdfWriter{f: f, widths: map[rune]float64{}}
	f.SetFooterFunc(func() {
		f.SetY(-9)
		f.SetFont("jp", "", 7)
		f.SetTextColor(90, 90, 90)
		f.CellFormat(0, 4, fmt.Sprintf("%s %s ／ %s ／ %s ／ %d ページ", e.Title, e.Version, r.OrgName,
			i18n.FiscalYearLabel("ja", s.FiscalYear), f.PageNo()), "", 0, "C", false, 0, "")
		f.SetTextColor(0, 0, 0)
	})
	f.AddPage()
	f.SetFont("jp", "", 14)
	f.CellFormat(0, 8, e.Title, "", 1, "L", false, 0, "")
	f.SetFont("jp", "", 9)
	head := fmt.Sprintf("%s　発行：%s　対象年度：%s　施設名：%s", e.Version, e.Issuer, i18n.FiscalYearLabel("ja", s.FiscalYear), r.OrgName)
	if r.Subject != "" {
		head += "　提出先：" + r.Subject
	}
	f.CellFormat(0, 5, head, "", 1, "L", false, 0, "")
	sign := "管理者の確認：未"
	if s.SignedAt != nil {
		sign = fmt.Sprintf("管理者の確認：%s（%s）", s.SignedName, slashDate(Today(*s.SignedAt)))
	}
	f.CellFormat(0, 5, sign+"　　作成日："+slashDate(Today(r.Now)), "", 1, "L", false, 0, "")
	if e.Notes != "" {
		f.SetFont("jp", "", 8)
		for _, l := range p.wrap(e.Notes, 277) {
			f.CellFormat(0, 4, l, "", 1, "L", false, 0, "")
		}
	}
	if e.Unverified != "" {
		f.SetFont("jp", "", 8)
		f.SetTextColor(170, 0, 0)
		for _, l := range p.wrap("【要確認】"+e.Unverified, 277) {
			f.CellFormat(0, 4, l, "", 1, "L", false, 0, "")
		}
		f.SetTextColor(0, 0, 0)
	}
	f.Ln(2)
	header := func() {
		f.SetFont("jp", "", 8)
		f.SetFillColor(230, 236, 245)
		x, y := f.GetXY()
		titles := []string{"No.", "項目", "対象", "1回目", "確認日", "目標日", "2回目", "確認日", "備考"}
		f.CellFormat(pdfCols[0]+pdfCols[1]+pdfCols[2], 5, "", "LTR", 0, "C", true, 0, "")
		f.CellFormat(pdfCols[3]+pdfCols[4]+pdfCols[5], 5, "1回目の確認", "1", 0, "C", true, 0, "")
		f.CellFormat(pdfCols[6]+pdfCols[7], 5, "2回目の確認", "1", 0, "C", true, 0, "")
		f.CellFormat(pdfCols[8], 5, "", "LTR", 1, "C", true, 0, "")
		f.SetXY(x, y+5)
		for i, t := range titles {
			if i == 3 {
				t = "回答"
			}
			if i == 6 {
				t = "回答"
			}
			f.CellFormat(pdfCols[i], 5, t, "1", 0, "C", true, 0, "")
		}
		f.Ln(5)
	}
	skipped := e.Skipped(s.Answers)
	const lh = 3.8
	for _, sec := range e.Sections {
		if f.GetY() > 180 {
			f.AddPage()
		}
		f.SetFont("jp", "", 10)
		f.CellFormat(0, 7, sec.Title, "", 1, "L", false, 0, "")
		header()
		for _, it := range sec.Items {
			f.SetFont("jp", "", 8)
			text := it.Text
			if it.Unverified != "" {
				text += "【要確認】"
			}
			lines := p.wrap(text, pdfCols[1]-2)
			cells := it.CellIDs()
			var notes []string
			for _, c := range cells {
				if cm := s.Answers[Key{it.ID, c}].Comment; cm != "" {
					notes = append(notes, cm)
				}
			}
			noteLines := p.wrap(strings.Join(notes, "\n"), pdfCols[8]-2)
			cellH := 6.0
			h := cellH * float64(len(cells))
			if th := float64(len(lines))*lh + 2; th > h {
				h = th
			}
			if nh := float64(len(noteLines))*lh + 2; nh > h {
				h = nh
			}
			rowH := h / float64(len(cells))
			if f.GetY()+h > 195 {
				f.AddPage()
				header()
				f.SetFont("jp", "", 8)
			}
			x0, y0 := f.GetXY()
			f.Rect(x0, y0, pdfCols[0], h, "D")
			f.SetXY(x0, y0+1)
			f.CellFormat(pdfCols[0], lh, it.Number, "", 0, "C", false, 0, "")
			f.Rect(x0+pdfCols[0], y0, pdfCols[1], h, "D")
			for i, l := range lines {
				f.SetXY(x0+pdfCols[0]+1, y0+1+float64(i)*lh)
				if it.Unverified != "" && strings.Contains(l, "要確認") {
					f.SetTextColor(170, 0, 0)
				}
				f.CellFormat(pdfCols[1]-2, lh, l, "", 0, "L", false, 0, "")
				f.SetTextColor(0, 0, 0)
			}
			xc := x0 + pdfCols[0] + pdfCols[1]
			for ci, c := range cells {
				y := y0 + float64(ci)*rowH
				f.SetXY(xc, y)
				label := e.CellLabel(c)
				if label == "" {
					label = "—"
				}
				a := s.Answers[Key{it.ID, c}]
				var vals []string
				switch {
				case skipped[it.ID]:
					vals = []string{"確認不要", "", "", "", ""}
				case it.Type == TypeCheck:
					vals = []string{AnswerLabel(a.Answer1), slashDate(a.Date1), slashDate(a.Target), AnswerLabel(a.Answer2), slashDate(a.Date2)}
				default:
					vals = []string{valueText(it, a.Value), "", "", "", ""}
				}
				f.CellFormat(pdfCols[2], rowH, label, "1", 0, "C", false, 0, "")
				for i, v := range vals {
					f.CellFormat(pdfCols[3+i], rowH, v, "1", 0, "C", false, 0, "")
				}
			}
			xn := xc + pdfCols[2] + pdfCols[3] + pdfCols[4] + pdfCols[5] + pdfCols[6] + pdfCols[7]
			f.Rect(xn, y0, pdfCols[8], h, "D")
			f.SetFont("jp", "", 7)
			for i, l := range noteLines {
				f.SetXY(xn+1, y0+1+float64(i)*lh)
				f.CellFormat(pdfCols[8]-2, lh, l, "", 0, "L", false, 0, "")
			}
			f.SetXY(x0, y0+h)
		}
		f.Ln(3)
	}
	if len(r.Evidence) > 0 {
		if f.GetY() > 170 {
			f.AddPage()
		}
		f.SetFont("jp", "", 10)
		f.CellFormat(0, 7, "証跡（添付資料・記録へのリンク）", "", 1, "L", false, 0, "")
		f.SetFont("jp", "", 8)
		for _, ev := range r.Evidence {
			if f.GetY() > 190 {
				f.AddPage()
				f.SetFont("jp", "", 8)
			}
			it := e.Item(ev.ItemID)
			num := ev.ItemID
			if it != nil {
				num = it.Number
			}
			desc := ev.LinkType + ": " + ev.LinkRef
			if ev.File != nil {
				desc = fmt.Sprintf("%s（%s、%s）", ev.File.Name, humanSize(ev.File.Size), ev.File.SHA256[:12])
			}
			if ev.Note != "" {
				desc += "　" + ev.Note
			}
			f.CellFormat(20, 5, num, "1", 0, "C", false, 0, "")
			f.CellFormat(257, 5, desc, "1", 1, "L", false, 0, "")
		}
	}
	if err := f.Error(); err != nil {
		return apperr.Wrap(err, apperr.Internal, "error.internal")
	}
	return f.Output(w)
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// WriteXLSX renders the sheet as an Excel workbook: the answers in the
// official sheet's columns, and the evidence on a second sheet.
func WriteXLSX(w io.Writer, r Report) error {
	e, s := r.Edition, r.Sheet
	title := [][]string{{e.Title + " " + e.Version}, {"施設名：" + r.OrgName, "", "", "対象年度：" + i18n.FiscalYearLabel("ja", s.FiscalYear)}, nil, nil}
	if s.SignedAt != nil {
		title[1] = append(title[1], "", "", "管理者の確認："+s.SignedName+"（"+slashDate(Today(*s.SignedAt))+"）")
	}
	if e.Unverified != "" {
		title[2] = []string{"【要確認】" + e.Unverified}
	}
	main := xlsx.SheetData{
		Name:       "チェックリスト",
		Above:      title,
		Header:     []string{"区分", "No.", "項目", "要確認", "対象", "1回目 回答", "1回目 確認日", "目標日", "2回目 回答", "2回目 確認日", "備考"},
		HeaderFill: "E6ECF5",
		Wrap:       []int{2, 3},
		Widths:     []float64{18, 0, 60, 24, 13, 13, 13, 13, 13, 13, 40},
	}
	skipped := e.Skipped(s.Answers)
	for _, sec := range e.Sections {
		for _, it := range sec.Items {
			for _, c := range it.CellIDs() {
				a := s.Answers[Key{it.ID, c}]
				vals := []string{sec.Title, it.Number, it.Text, it.Unverified, e.CellLabel(c)}
				switch {
				case skipped[it.ID]:
					vals = append(vals, "確認不要", "", "", "", "", a.Comment)
				case it.Type == TypeCheck:
					vals = append(vals, AnswerLabel(a.Answer1), a.Date1, a.Target, AnswerLabel(a.Answer2), a.Date2, a.Comment)
				default:
					vals = append(vals, valueText(it, a.Value), "", "", "", "", a.Comment)
				}
				main.Rows = append(main.Rows, vals)
			}
		}
	}
	evs := xlsx.SheetData{Name: "証跡", Header: []string{"No.", "項目", "種類", "名前・リンク先", "大きさ", "SHA-256", "メモ", "登録日時"}, HeaderFill: "E6ECF5"}
	for _, ev := range r.Evidence {
		it := e.Item(ev.ItemID)
		num, text := ev.ItemID, ""
		if it != nil {
			num, text = it.Number, it.Text
		}
		vals := []string{num, text, ev.LinkType, ev.LinkRef, "", "", ev.Note, i18n.DateTime("ja", ev.CreatedAt)}
		if ev.File != nil {
			vals[2], vals[3], vals[4], vals[5] = "ファイル", ev.File.Name, strconv.FormatInt(ev.File.Size, 10), ev.File.SHA256
		}
		evs.Rows = append(evs.Rows, vals)
	}
	return xlsx.Write(w, []xlsx.SheetData{main, evs})
}
