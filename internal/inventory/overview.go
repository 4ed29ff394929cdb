package inventory

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/xlsx"
)

// OverviewOptions tune OverviewSVG. T translates message keys (for example
// a closure over i18n.Catalog.T with the reader's language); without it the
// keys themselves are written.
type OverviewOptions struct {
	// OrgName is shown in the title.
	OrgName string
	Today   Date
	T       func(key string, args ...any) string
}

// A4 landscape at 96 dpi.
const (
	a4W = 1123
	a4H = 794
)

const overviewFont = `'Noto Sans CJK JP','Noto Sans JP','Hiragino Sans','Yu Gothic','Meiryo',sans-serif`

var segmentFill = map[SegmentKind]string{
	SegMedical: "#e6f4ea", SegBusiness: "#e7eefa", SegMaintenance: "#fff3df", SegGuest: "#f3e8f8", SegDMZ: "#fde8e8", SegOther: "#f1f3f4",
}

// RenderOverview loads the organisation's register and writes its network
// overview with OverviewSVG.
func RenderOverview(ctx context.Context, q db.Querier, orgID string, w io.Writer, opt OverviewOptions) error {
	reg, err := LoadRegister(ctx, q, orgID, opt.Today)
	if err != nil {
		return err
	}
	return OverviewSVG(w, reg, opt)
}

type svgWriter struct {
	*bufio.Writer
}

func (s svgWriter) text(x, y float64, size float64, anchor, weight, fill, txt string) {
	fmt.Fprintf(s, `<text x="%.1f" y="%.1f" font-size="%.1f" text-anchor="%s" font-weight="%s" fill="%s">%s</text>`+"\n",
		x, y, size, anchor, weight, fill, xlsx.EscapeXML(txt))
}

// fit shortens s so that it fits width at font size (CJK characters count
// as one em, others as about half).
func fit(s string, width, size float64) string {
	s = strings.Join(strings.Fields(s), " ")
	var w float64
	for i, r := range s {
		cw := size * 0.55
		if r >= 0x2E80 {
			cw = size
		}
		if w+cw > width {
			if i == 0 {
				return ""
			}
			return strings.TrimSpace(s[:i]) + "…"
		}
		w += cw
	}
	return s
}

// OverviewSVG draws the network overview as a self-contained SVG sized for
// A4 landscape (297 × 210 mm; the drawing grows downward when the register
// does not fit): the institution with its segments and their devices
// (terminating devices of external connections first), and above it every
// external connection with its type, vendor, peer and flags, joined by a
// line to its terminating device. All text is escaped.
func OverviewSVG(w io.Writer, reg *Register, opt OverviewOptions) error {
	T := opt.T
	if T == nil {
		T = func(key string, args ...any) string {
			if len(args) == 0 {
				return key
			}
			return key + fmt.Sprint(args...)
		}
	}
	const margin = 24.0
	conns := append([]Connection(nil), reg.Connections...)
	sort.SliceStable(conns, func(i, j int) bool { return conns[i].Name < conns[j].Name })

	terminating := map[string]bool{}
	for _, c := range conns {
		if c.AssetID != "" {
			terminating[c.AssetID] = true
		}
	}
	type segCol struct {
		name    string
		kind    SegmentKind
		devices []Asset
		total   int
	}
	var segs []*segCol
	segIdx := map[string]*segCol{}
	for _, s := range reg.Segments {
		c := &segCol{name: s.Name, kind: s.Kind}
		segs = append(segs, c)
		segIdx[s.ID] = c
	}
	var none *segCol
	for _, a := range reg.Assets {
		if a.Lifecycle == Retired {
			continue
		}
		c := segIdx[a.SegmentID]
		if c == nil {
			if none == nil {
				none = &segCol{name: T("inventory.overview.no_segment"), kind: SegOther}
			}
			c = none
		}
		c.total++
		c.devices = append(c.devices, a)
	}
	if none != nil {
		segs = append(segs, none)
	}
	const maxListed = 8
	for _, c := range segs {
		sort.SliceStable(c.devices, func(i, j int) bool {
			ti, tj := terminating[c.devices[i].ID], terminating[c.devices[j].ID]
			if ti != tj {
				return ti
			}
			return c.devices[i].Name < c.devices[j].Name
		})
		if len(c.devices) > maxListed {
			keep := c.devices[:0:0]
			for i, d := range c.devices {
				if i < maxListed || terminating[d.ID] {
					keep = append(keep, d)
				}
			}
			c.devices = keep
		}
	}

	// Layout: connections in rows at the top, the institution below.
	width := float64(a4W) - 2*margin
	perRow := 6
	if len(conns) > 12 {
		perRow = 8
	}
	connW := (width - float64(perRow-1)*10) / float64(perRow)
	const connH = 104.0
	connRows := (len(conns) + perRow - 1) / perRow
	if connRows == 0 {
		connRows = 1
	}
	top := 70.0
	connTop := top + 22
	instTop := connTop + float64(connRows)*(connH+14) + 40
	segPerRow := len(segs)
	if segPerRow > 5 {
		segPerRow = 5
	}
	if segPerRow == 0 {
		segPerRow = 1
	}
	segW := (width - 20 - float64(segPerRow-1)*12) / float64(segPerRow)
	const lineH = 17.0
	segRows := (len(segs) + segPerRow - 1) / segPerRow
	rowHeights := make([]float64, max(segRows, 1))
	for i, c := range segs {
		listed := len(c.devices)
		h := 44 + float64(listed)*lineH + 8
		if c.total > listed {
			h += lineH
		}
		if h < 90 {
			h = 90
		}
		if r := i / segPerRow; h > rowHeights[r] {
			rowHeights[r] = h
		}
	}
	instH := 40.0
	for _, h := range rowHeights {
		instH += h + 12
	}
	height := instTop + instH + 50
	if height < a4H {
		height = a4H
	}

	bw := bufio.NewWriter(w)
	s := svgWriter{bw}
	title := T("inventory.overview.title", opt.OrgName)
	fmt.Fprintf(s, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %.0f" width="297mm" height="%.0fmm" role="img" aria-label="%s" font-family="%s">`+"\n",
		a4W, height, 210*height/a4H, xlsx.EscapeXML(title), overviewFont)
	fmt.Fprintf(s, "<title>%s</title>\n", xlsx.EscapeXML(title))
	s.WriteString(`<defs><style>@media print{.noprint{display:none}}</style></defs>` + "\n")
	fmt.Fprintf(s, `<rect x="0" y="0" width="%d" height="%.0f" fill="#ffffff"/>`+"\n", a4W, height)
	s.text(margin, 38, 20, "start", "bold", "#202124", fit(title, width-200, 20))
	if opt.Today != "" {
		s.text(a4W-margin, 38, 12, "end", "normal", "#5f6368", T("inventory.overview.generated", string(opt.Today)))
	}
	s.text(margin, top+8, 14, "start", "bold", "#202124", T("inventory.overview.external", len(conns)))

	devPos := map[string][2]float64{}
	// Institution and segments first, so lines can end at device rows.
	fmt.Fprintf(s, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="12" fill="#fafafa" stroke="#3c4043" stroke-width="2"/>`+"\n", margin, instTop, width, instH)
	s.text(margin+14, instTop+26, 16, "start", "bold", "#202124", fit(T("inventory.overview.institution", opt.OrgName), width-28, 16))
	y := instTop + 40
	for r := 0; r < segRows; r++ {
		for k := 0; k < segPerRow; k++ {
			i := r*segPerRow + k
			if i >= len(segs) {
				break
			}
			c := segs[i]
			x := margin + 10 + float64(k)*(segW+12)
			fill := segmentFill[c.kind]
			if fill == "" {
				fill = segmentFill[SegOther]
			}
			fmt.Fprintf(s, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="8" fill="%s" stroke="#80868b"/>`+"\n", x, y, segW, rowHeights[r], fill)
			s.text(x+10, y+20, 13, "start", "bold", "#202124", fit(c.name, segW-20, 13))
			s.text(x+10, y+36, 10, "start", "normal", "#5f6368", fit(T("inventory.segment_kind."+string(c.kind))+" · "+T("inventory.overview.devices", c.total), segW-20, 10))
			dy := y + 44
			for _, d := range c.devices {
				dy += lineH
				label := d.Name
				if d.Kind == KindMedical {
					label = "✚ " + label
				}
				color, weight := "#202124", "normal"
				if terminating[d.ID] {
					weight = "bold"
					color = "#174ea6"
					fmt.Fprintf(s, `<circle cx="%.1f" cy="%.1f" r="4" fill="#174ea6"/>`+"\n", x+12, dy-4)
					devPos[d.ID] = [2]float64{x + 12, dy - 4}
				}
				if d.Vulnerable || d.SupportEnd.Before(opt.Today) {
					color = "#c5221f"
				}
				s.text(x+22, dy, 11, "start", weight, color, fit(label, segW-30, 11))
			}
			if more := c.total - len(c.devices); more > 0 {
				s.text(x+22, dy+lineH, 10, "start", "normal", "#5f6368", T("inventory.overview.more", more))
			}
		}
		y += rowHeights[r] + 12
	}

	if len(conns) == 0 {
		s.text(margin+10, connTop+30, 12, "start", "normal", "#5f6368", T("inventory.overview.no_connections"))
	}
	for i, c := range conns {
		row, col := i/perRow, i%perRow
		x := margin + float64(col)*(connW+10)
		cy := connTop + float64(row)*(connH+14)
		flagged := len(c.Flags) > 0
		stroke, sw := "#5f6368", 1.2
		if flagged {
			stroke, sw = "#c5221f", 2
		}
		// Line to the terminating device, or to the institution's edge.
		fromX, fromY := x+connW/2, cy+connH
		toX, toY := fromX, instTop
		if p, ok := devPos[c.AssetID]; ok {
			toX, toY = p[0], p[1]
		}
		dash := ""
		if c.Type == ConnMobile || c.Type == ConnISDN {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(s, `<path d="M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f" fill="none" stroke="%s" stroke-width="%.1f"%s opacity="0.8"/>`+"\n",
			fromX, fromY, fromX, fromY+40, toX, toY-60, toX, toY, stroke, sw, dash)
		fmt.Fprintf(s, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="6" fill="#ffffff" stroke="%s" stroke-width="%.1f"/>`+"\n", x, cy, connW, connH, stroke, sw)
		s.text(x+8, cy+17, 12, "start", "bold", "#202124", fit(c.Name, connW-16, 12))
		s.text(x+8, cy+32, 10, "start", "normal", "#3c4043", fit(T("inventory.conn_type."+string(c.Type)), connW-16, 10))
		line := cy + 46
		if c.VendorName != "" {
			s.text(x+8, line, 10, "start", "normal", "#3c4043", fit(T("inventory.overview.vendor", c.VendorName), connW-16, 10))
			line += 13
		}
		if c.Peer != "" {
			s.text(x+8, line, 10, "start", "normal", "#3c4043", fit(T("inventory.overview.peer", c.Peer), connW-16, 10))
			line += 13
		}
		if c.AssetID == "" {
			s.text(x+8, line, 10, "start", "normal", "#c5221f", fit(T("inventory.overview.no_device"), connW-16, 10))
			line += 13
		}
		if flagged {
			lines := []string{"⚠"}
			for _, f := range c.Flags {
				label := T("inventory.flag_short." + f.Code)
				last := &lines[len(lines)-1]
				if cand := *last + " " + label; fit(cand, connW-16, 10) == cand {
					*last = cand
				} else {
					lines = append(lines, label)
				}
			}
			for _, l := range lines {
				if line > cy+connH-4 {
					break
				}
				s.text(x+8, line, 10, "start", "bold", "#c5221f", fit(l, connW-16, 10))
				line += 13
			}
		}
	}

	ly := height - 22
	s.text(margin, ly, 10, "start", "normal", "#3c4043", T("inventory.overview.legend"))
	s.WriteString("</svg>\n")
	return bw.Flush()
}
