package assess

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The answers of check and yesno items.
const (
	AnsYes = "yes"
	AnsNo  = "no"
	AnsNA  = "na"
)

// MaxComment is the longest comment of an answer, in characters.
const MaxComment = 2000

// Answer is what a sheet holds for one item and cell. Check items use
// Answer1…Date2; the other types use Value (a multi item's option ids
// joined with commas). Dates are "YYYY-MM-DD".
type Answer struct {
	ItemID  string `json:"item_id"`
	Cell    string `json:"cell"`
	Answer1 string `json:"answer1,omitempty"`
	Date1   string `json:"date1,omitempty"`
	Target  string `json:"target,omitempty"`
	Answer2 string `json:"answer2,omitempty"`
	Date2   string `json:"date2,omitempty"`
	Value   string `json:"value,omitempty"`
	Comment string `json:"comment,omitempty"`
}

// Empty reports whether the answer holds nothing.
func (a Answer) Empty() bool {
	return a.Answer1 == "" && a.Date1 == "" && a.Target == "" && a.Answer2 == "" && a.Date2 == "" && a.Value == "" && a.Comment == ""
}

// Done reports whether the cell counts as answered: for check items the
// first answer and its date, for the others a value.
func (a Answer) Done(t AnswerType) bool {
	if t == TypeCheck {
		return a.Answer1 != "" && a.Date1 != ""
	}
	return a.Value != ""
}

// Final is the latest answer of a check cell (the second check when
// made), or the value.
func (a Answer) Final() string {
	if a.Answer2 != "" {
		return a.Answer2
	}
	if a.Answer1 != "" {
		return a.Answer1
	}
	return a.Value
}

func (a *Answer) normalize() {
	for _, p := range []*string{&a.Answer1, &a.Date1, &a.Target, &a.Answer2, &a.Date2, &a.Value} {
		*p = strings.TrimSpace(*p)
	}
	a.Comment = strings.TrimSpace(strings.ReplaceAll(a.Comment, "\r\n", "\n"))
	for _, p := range []*string{&a.Date1, &a.Target, &a.Date2} {
		*p = normalizeDate(*p)
	}
}

// Key identifies an answer cell.
type Key struct{ Item, Cell string }

func (a Answer) key() Key { return Key{a.ItemID, a.Cell} }

var dateRe = regexp.MustCompile(`^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$`)

// normalizeDate turns 2025/4/1, 2025.04.01 and full-width digits into
// 2025-04-01; anything else is returned as it is for validation to refuse.
func normalizeDate(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= '０' && r <= '９':
			return r - '０' + '0'
		case r == '／' || r == '－':
			return '/'
		}
		return r
	}, s)
	m := dateRe.FindStringSubmatch(s)
	if m == nil {
		return s
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	d, _ := strconv.Atoi(m[3])
	return fmt.Sprintf("%04d-%02d-%02d", y, mo, d)
}

// ParseDate reads a "YYYY-MM-DD" date.
func ParseDate(s string) (time.Time, bool) {
	t, err := time.Parse("2006-01-02", s)
	return t, err == nil
}

// FYStart and FYEnd are the first and last day of a Japanese fiscal year
// (April to March) as "YYYY-MM-DD".
func FYStart(fy int) string { return fmt.Sprintf("%04d-04-01", fy) }

// FYEnd is the last day of fiscal year fy.
func FYEnd(fy int) string { return fmt.Sprintf("%04d-03-31", fy+1) }

// Problem is one thing wrong with a submitted answer. Key is a message
// key whose first argument is the item's label (number, text and cell).
type Problem struct {
	ItemID string `json:"item_id"`
	Cell   string `json:"cell"`
	Field  string `json:"field"`
	Key    string `json:"-"`
	Args   []any  `json:"-"`
}

// FieldName is the form field the problem concerns, such as
// "target.patch.server".
func (p Problem) FieldName() string { return p.Field + "." + p.ItemID + "." + p.Cell }

// Problems is the list of problems of one submission; nothing of it was
// saved.
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.FieldName() + ": " + p.Key)
	}
	return b.String()
}

type checker struct {
	e     *Edition
	fy    int
	today string
	out   Problems
}

func (c *checker) add(it *Item, cell, field, key string, args ...any) {
	label := it.Label()
	if cell != "" {
		label += "（" + c.e.CellLabel(cell) + "）"
	}
	c.out = append(c.out, Problem{ItemID: it.ID, Cell: cell, Field: field, Key: key, Args: append([]any{label}, args...)})
}

// Skipped returns the items that need no answer because of a gate, given
// the answers.
func (e *Edition) Skipped(answers map[Key]Answer) map[string]bool {
	out := map[string]bool{}
	for _, g := range e.Gates {
		it := e.items[g.Item]
		if it == nil || answers[Key{g.Item, ""}].Final() != g.Answer {
			continue
		}
		if len(g.Skips) == 0 {
			for id := range e.items {
				if id != g.Item {
					out[id] = true
				}
			}
			continue
		}
		for _, sk := range g.Skips {
			if _, ok := e.items[sk]; ok {
				out[sk] = true
				continue
			}
			for _, s := range e.Sections {
				if s.ID == sk {
					for _, it := range s.Items {
						out[it.ID] = true
					}
				}
			}
		}
	}
	return out
}

// IsGate reports whether an item's answer switches other items off; a gate
// answered いいえ needs no target date.
func (e *Edition) IsGate(itemID string) bool {
	for _, g := range e.Gates {
		if g.Item == itemID {
			return true
		}
	}
	return false
}

// gateLabel names the gate item that switched off an item, for messages.
func (e *Edition) gateLabel(answers map[Key]Answer, itemID string) string {
	for _, g := range e.Gates {
		if answers[Key{g.Item, ""}].Final() != g.Answer {
			continue
		}
		if len(g.Skips) == 0 && itemID != g.Item {
			return e.items[g.Item].Text
		}
		for _, sk := range g.Skips {
			if sk == itemID || e.items[itemID].Section == sk {
				return e.items[g.Item].Text
			}
		}
	}
	return ""
}

// Validate checks the answers of a sheet of fiscal year fy as a whole
// (gates depend on other items) and returns every problem. today bounds
// the dates checked.
func (e *Edition) Validate(fy int, answers map[Key]Answer, today string) Problems {
	c := &checker{e: e, fy: fy, today: today}
	skipped := e.Skipped(answers)
	keys := make([]Key, 0, len(answers))
	for k := range answers {
		keys = append(keys, k)
	}
	order := map[string]int{}
	for i, it := range e.Items() {
		order[it.ID] = i
	}
	sort.Slice(keys, func(i, j int) bool {
		if order[keys[i].Item] != order[keys[j].Item] {
			return order[keys[i].Item] < order[keys[j].Item]
		}
		return keys[i].Cell < keys[j].Cell
	})
	for _, k := range keys {
		a := answers[k]
		it := e.items[k.Item]
		if it == nil {
			c.out = append(c.out, Problem{ItemID: k.Item, Cell: k.Cell, Field: "item", Key: "assess.problem.unknown_item", Args: []any{k.Item}})
			continue
		}
		validCell := false
		for _, cell := range it.CellIDs() {
			validCell = validCell || cell == k.Cell
		}
		if !validCell {
			c.add(it, "", "cell", "assess.problem.unknown_cell", k.Cell)
			continue
		}
		if a.Empty() {
			continue
		}
		if skipped[k.Item] {
			c.add(it, k.Cell, "answer1", "assess.problem.gated", e.gateLabel(answers, k.Item))
			continue
		}
		if utf8.RuneCountInString(a.Comment) > MaxComment {
			c.add(it, k.Cell, "comment", "assess.problem.comment_too_long", MaxComment)
		}
		if it.Type == TypeCheck {
			c.check(it, k.Cell, a)
		} else {
			c.value(it, k.Cell, a)
		}
	}
	return c.out
}

func (c *checker) choice(it *Item, v string) bool {
	return v == AnsYes || v == AnsNo || (v == AnsNA && it.AllowNA)
}

func (c *checker) date(it *Item, cell, field, v string) bool {
	if v == "" {
		return true
	}
	if _, ok := ParseDate(v); !ok {
		c.add(it, cell, field, "assess.problem.date_invalid", v)
		return false
	}
	return true
}

func (c *checker) check(it *Item, cell string, a Answer) {
	if a.Value != "" {
		c.add(it, cell, "value", "assess.problem.value_on_check")
	}
	if a.Answer1 != "" && !c.choice(it, a.Answer1) {
		c.add(it, cell, "answer1", "assess.problem.answer_invalid")
		return
	}
	if a.Answer2 != "" && !c.choice(it, a.Answer2) {
		c.add(it, cell, "answer2", "assess.problem.answer_invalid")
		return
	}
	d1 := c.date(it, cell, "date1", a.Date1)
	dt := c.date(it, cell, "target", a.Target)
	d2 := c.date(it, cell, "date2", a.Date2)
	switch {
	case a.Answer1 == "" && (a.Date1 != "" || a.Target != ""):
		c.add(it, cell, "answer1", "assess.problem.answer_missing")
	case a.Answer1 != "" && a.Date1 == "":
		c.add(it, cell, "date1", "assess.problem.date_missing")
	}
	if d1 && a.Date1 != "" && a.Date1 > c.today {
		c.add(it, cell, "date1", "assess.problem.date_future")
	}
	if a.Answer1 == AnsNo && a.Target == "" && a.Answer2 != AnsYes && !c.e.IsGate(it.ID) {
		c.add(it, cell, "target", "assess.problem.target_missing")
	}
	if a.Target != "" && a.Answer1 != "" && a.Answer1 != AnsNo {
		c.add(it, cell, "target", "assess.problem.target_only_for_no")
	}
	if dt && a.Target != "" {
		lo, hi := FYStart(c.fy), FYEnd(c.fy)
		due := c.fy
		if it.DueFY > due {
			due = it.DueFY
			hi = FYEnd(due)
		}
		if a.Target < lo || a.Target > hi {
			c.add(it, cell, "target", "assess.problem.target_outside_fy", lo, hi)
		}
	}
	switch {
	case a.Answer2 != "" && a.Answer1 == "":
		c.add(it, cell, "answer1", "assess.problem.second_without_first")
	case a.Answer2 == "" && a.Date2 != "":
		c.add(it, cell, "answer2", "assess.problem.answer_missing")
	case a.Answer2 != "" && a.Date2 == "":
		c.add(it, cell, "date2", "assess.problem.date_missing")
	}
	if d2 && a.Date2 != "" {
		if a.Date2 > c.today {
			c.add(it, cell, "date2", "assess.problem.date_future")
		} else if a.Date1 != "" && a.Date2 < a.Date1 {
			c.add(it, cell, "date2", "assess.problem.date2_before_date1")
		}
	}
}

func (c *checker) value(it *Item, cell string, a Answer) {
	if a.Answer1 != "" || a.Date1 != "" || a.Target != "" || a.Answer2 != "" || a.Date2 != "" {
		c.add(it, cell, "value", "assess.problem.check_fields_on_value")
		return
	}
	v := a.Value
	if v == "" {
		return
	}
	switch it.Type {
	case TypeYesNo:
		if !c.choice(it, v) {
			c.add(it, cell, "value", "assess.problem.answer_invalid")
		}
	case TypeDate:
		if !c.date(it, cell, "value", v) {
			return
		}
		if v > c.today {
			c.add(it, cell, "value", "assess.problem.date_future")
		}
	case TypeTargetDate:
		if !c.date(it, cell, "value", v) {
			return
		}
		hi := FYEnd(c.fy)
		if it.DueFY > c.fy {
			hi = FYEnd(it.DueFY)
		}
		if v < FYStart(c.fy) || v > hi {
			c.add(it, cell, "value", "assess.problem.target_outside_fy", FYStart(c.fy), hi)
		}
	case TypeChoice:
		if it.option(v) == nil {
			c.add(it, cell, "value", "assess.problem.option_invalid")
		}
	case TypeMulti:
		seen := map[string]bool{}
		for _, o := range strings.Split(v, ",") {
			if it.option(o) == nil || seen[o] {
				c.add(it, cell, "value", "assess.problem.option_invalid")
				return
			}
			seen[o] = true
		}
	case TypeNumber:
		n, err := strconv.ParseFloat(strings.ReplaceAll(v, ",", ""), 64)
		if err != nil || n != n {
			c.add(it, cell, "value", "assess.problem.number_invalid")
			return
		}
		if (it.Min != nil && n < *it.Min) || (it.Max != nil && n > *it.Max) {
			c.add(it, cell, "value", "assess.problem.number_range", fmtNum(it.Min), fmtNum(it.Max))
		}
	case TypeText:
		max := it.MaxLen
		if max == 0 {
			max = MaxComment
		}
		if utf8.RuneCountInString(v) > max {
			c.add(it, cell, "value", "assess.problem.text_too_long", max)
		}
	}
}

func fmtNum(p *float64) string {
	if p == nil {
		return "—"
	}
	return strconv.FormatFloat(*p, 'f', -1, 64)
}

// NormalizeMulti sorts and joins the chosen option ids of a multi item in
// option order.
func (it *Item) NormalizeMulti(chosen []string) string {
	set := map[string]bool{}
	for _, c := range chosen {
		set[strings.TrimSpace(c)] = true
	}
	var out []string
	for _, o := range it.Options {
		if set[o.ID] {
			out = append(out, o.ID)
			delete(set, o.ID)
		}
	}
	for c := range set {
		if c != "" {
			out = append(out, c)
		}
	}
	return strings.Join(out, ",")
}
