// Package assess holds questionnaires and their answers: the MHLW
// cybersecurity checklists (医療機関確認用, 事業者確認用, 薬局確認用) and related
// question sets, each edition described by a YAML file; sheets filled per
// organisation and fiscal year with dates, target dates, comments,
// evidence and sign-off; hints from medisac's own data; vendor sheets;
// reports (PDF, xlsx); and ISAC surveys with anonymous aggregates.
//
// Tenant rule: every store function takes the organisation id (or the
// acting principal) and puts it into every statement; another
// organisation's sheet looks exactly like a missing one.
package assess

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// AnswerType is how an item is answered.
type AnswerType string

// The answer types. Check is the MHLW sheet's format: はい/いいえ (and
// 該当なし where the item allows it) with the date checked, a target date
// for いいえ, and a second check.
const (
	TypeCheck      AnswerType = "check"
	TypeYesNo      AnswerType = "yesno"
	TypeDate       AnswerType = "date"
	TypeTargetDate AnswerType = "target_date"
	TypeChoice     AnswerType = "choice"
	TypeMulti      AnswerType = "multi"
	TypeNumber     AnswerType = "number"
	TypeText       AnswerType = "text"
)

var answerTypes = map[AnswerType]bool{TypeCheck: true, TypeYesNo: true, TypeDate: true, TypeTargetDate: true,
	TypeChoice: true, TypeMulti: true, TypeNumber: true, TypeText: true}

// Device classes of the MHLW sheets' answer cells.
const (
	CellGeneral = "general"
	CellServer  = "server"
	CellPC      = "pc"
	CellNetwork = "network"
)

// Kinds of editions.
const (
	KindInstitution = "institution"
	KindPharmacy    = "pharmacy"
	KindVendor      = "vendor"
	KindMeasures    = "measures"
	KindOnline      = "online"
	KindSurvey      = "survey"
)

var editionKinds = map[string]bool{KindInstitution: true, KindPharmacy: true, KindVendor: true, KindMeasures: true,
	KindOnline: true, KindSurvey: true}

// Edition is one version of a questionnaire.
type Edition struct {
	ID         string `yaml:"id"`
	Family     string `yaml:"family"`
	Kind       string `yaml:"kind"`
	Title      string `yaml:"title"`
	Version    string `yaml:"version"`
	Issuer     string `yaml:"issuer"`
	FiscalYear int    `yaml:"fiscal_year"`
	SourceURL  string `yaml:"source_url"`
	// Unverified, when not empty, says why the edition's texts have not
	// been checked against the official sheet; the product shows it as a
	// 「要確認」 note.
	Unverified string    `yaml:"unverified"`
	Notes      string    `yaml:"notes"`
	Cells      []Cell    `yaml:"cells"`
	Sections   []Section `yaml:"sections"`
	Gates      []Gate    `yaml:"gates"`

	// File is where the edition came from (an embedded file name or
	// "database"); set by the loader.
	File string `yaml:"-"`
	// Builtin is true for editions embedded in the program.
	Builtin bool `yaml:"-"`

	items map[string]*Item
}

// Cell is a device class column of the sheet.
type Cell struct {
	ID    string `yaml:"id"`
	Label string `yaml:"label"`
}

// Section groups items under a heading.
type Section struct {
	ID    string  `yaml:"id"`
	Title string  `yaml:"title"`
	Items []*Item `yaml:"items"`
}

// Option is one choice of a choice or multi item.
type Option struct {
	ID    string `yaml:"id"`
	Label string `yaml:"label"`
}

// Item is one question. ID is stable across editions for the same
// question, so history and comparisons survive renumbering.
type Item struct {
	ID     string     `yaml:"id"`
	Number string     `yaml:"number"`
	Text   string     `yaml:"text"`
	Help   string     `yaml:"help"`
	Type   AnswerType `yaml:"type"`
	// Cells lists the device classes answered separately; empty means
	// one answer for the whole item.
	Cells []string `yaml:"cells"`
	// AllowNA offers 該当なし besides はい/いいえ.
	AllowNA bool     `yaml:"allow_na"`
	Options []Option `yaml:"options"`
	Min     *float64 `yaml:"min"`
	Max     *float64 `yaml:"max"`
	MaxLen  int      `yaml:"max_len"`
	// DueFY is the fiscal year by which the measure must be in place when
	// later than the sheet's year (the two-factor item: 2027).
	DueFY int `yaml:"due_fy"`
	// Unverified, when not empty, says what is not yet checked against
	// the official sheet (shown as 「要確認」).
	Unverified string   `yaml:"unverified"`
	Refs       []string `yaml:"refs"`

	// Line is the item's line in its file.
	Line    int    `yaml:"-"`
	Section string `yaml:"-"`
}

// Gate switches items off: when Item's answer (the first check of a check
// item, the value otherwise) equals Answer, the items in Skips — or every
// other item when Skips is empty — need no answer and may not have one.
type Gate struct {
	Item   string   `yaml:"item"`
	Answer string   `yaml:"answer"`
	Skips  []string `yaml:"skips"`
	Line   int      `yaml:"-"`
}

// UnmarshalYAML records the item's line.
func (it *Item) UnmarshalYAML(n *yaml.Node) error {
	type plain Item
	if err := n.Decode((*plain)(it)); err != nil {
		return err
	}
	it.Line = n.Line
	return nil
}

// UnmarshalYAML records the gate's line.
func (g *Gate) UnmarshalYAML(n *yaml.Node) error {
	type plain Gate
	if err := n.Decode((*plain)(g)); err != nil {
		return err
	}
	g.Line = n.Line
	return nil
}

// FileError is a problem in an edition file: the file, the line and the
// reason.
type FileError struct {
	File   string
	Line   int
	Reason string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return e.File + ": " + e.Reason
}

var (
	idRe       = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,79}$`)
	yamlLineRe = regexp.MustCompile(`^yaml: (?:unmarshal errors:\n\s*)?line (\d+): (.*)$`)
)

// MaxEditionSize is the largest edition file accepted.
const MaxEditionSize = 1 << 20

// ParseEdition reads and checks one edition file. Errors are *FileError
// naming file and line.
func ParseEdition(file string, data []byte) (*Edition, error) {
	if len(data) > MaxEditionSize {
		return nil, &FileError{File: file, Reason: fmt.Sprintf("file larger than %d bytes", MaxEditionSize)}
	}
	if !utf8.Valid(data) {
		return nil, &FileError{File: file, Reason: "not UTF-8 text"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var e Edition
	if err := dec.Decode(&e); err != nil {
		return nil, yamlError(file, err)
	}
	e.File = file
	if err := e.check(); err != nil {
		return nil, err
	}
	return &e, nil
}

func yamlError(file string, err error) error {
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscanf(m[1], "%d", &line)
		return &FileError{File: file, Line: line, Reason: strings.TrimSpace(m[2])}
	}
	if strings.HasPrefix(msg, "EOF") {
		return &FileError{File: file, Reason: "empty file"}
	}
	return &FileError{File: file, Reason: strings.TrimPrefix(msg, "yaml: ")}
}

func (e *Edition) fail(line int, format string, args ...any) error {
	return &FileError{File: e.File, Line: line, Reason: fmt.Sprintf(format, args...)}
}

func (e *Edition) check() error {
	if !idRe.MatchString(e.ID) {
		return e.fail(1, "id %q: use lower-case letters, digits, '.', '_' or '-'", e.ID)
	}
	if e.Family == "" {
		e.Family = e.ID
	}
	if !idRe.MatchString(e.Family) {
		return e.fail(1, "family %q: use lower-case letters, digits, '.', '_' or '-'", e.Family)
	}
	if !editionKinds[e.Kind] {
		return e.fail(1, "kind %q: one of institution, pharmacy, vendor, measures, online, survey", e.Kind)
	}
	if strings.TrimSpace(e.Title) == "" {
		return e.fail(1, "title is missing")
	}
	if e.FiscalYear < 2000 || e.FiscalYear > 2100 {
		return e.fail(1, "fiscal_year %d: give the year in which the fiscal year starts, such as 2025", e.FiscalYear)
	}
	if e.SourceURL != "" && !strings.HasPrefix(e.SourceURL, "https://") && !strings.HasPrefix(e.SourceURL, "http://") {
		return e.fail(1, "source_url must be an http(s) address")
	}
	cells := map[string]bool{}
	for _, c := range e.Cells {
		if !idRe.MatchString(c.ID) || c.Label == "" {
			return e.fail(1, "cell %q needs an id and a label", c.ID)
		}
		if cells[c.ID] {
			return e.fail(1, "cell %q listed twice", c.ID)
		}
		cells[c.ID] = true
	}
	if len(e.Sections) == 0 {
		return e.fail(1, "no sections")
	}
	e.items = map[string]*Item{}
	sections := map[string]bool{}
	for _, s := range e.Sections {
		if !idRe.MatchString(s.ID) || s.Title == "" {
			return e.fail(1, "section %q needs an id and a title", s.ID)
		}
		if sections[s.ID] {
			return e.fail(1, "section %q listed twice", s.ID)
		}
		sections[s.ID] = true
		if len(s.Items) == 0 {
			return e.fail(1, "section %q has no items", s.ID)
		}
		for _, it := range s.Items {
			if it == nil {
				return e.fail(1, "section %q has an empty item", s.ID)
			}
			it.Section = s.ID
			if err := e.checkItem(it, cells); err != nil {
				return err
			}
			if _, dup := e.items[it.ID]; dup {
				return e.fail(it.Line, "item id %q used twice", it.ID)
			}
			e.items[it.ID] = it
		}
	}
	for _, g := range e.Gates {
		it, ok := e.items[g.Item]
		if !ok {
			return e.fail(g.Line, "gate names unknown item %q", g.Item)
		}
		if len(it.Cells) > 0 {
			return e.fail(g.Line, "gate item %q must be answered once, without cells", g.Item)
		}
		if !it.validValue(g.Answer) {
			return e.fail(g.Line, "gate answer %q is not an answer of item %q", g.Answer, g.Item)
		}
		for _, sk := range g.Skips {
			if _, ok := e.items[sk]; !ok && !sections[sk] {
				return e.fail(g.Line, "gate skips unknown item or section %q", sk)
			}
			if sk == g.Item {
				return e.fail(g.Line, "gate %q cannot skip itself", g.Item)
			}
		}
	}
	return nil
}

func (e *Edition) checkItem(it *Item, cells map[string]bool) error {
	if !idRe.MatchString(it.ID) {
		return e.fail(it.Line, "item id %q: use lower-case letters, digits, '.', '_' or '-'", it.ID)
	}
	if strings.TrimSpace(it.Text) == "" {
		return e.fail(it.Line, "item %q has no text", it.ID)
	}
	if it.Type == "" {
		it.Type = TypeCheck
	}
	if !answerTypes[it.Type] {
		return e.fail(it.Line, "item %q: unknown type %q", it.ID, it.Type)
	}
	seen := map[string]bool{}
	for _, c := range it.Cells {
		if !cells[c] {
			return e.fail(it.Line, "item %q: cell %q is not declared under cells", it.ID, c)
		}
		if seen[c] {
			return e.fail(it.Line, "item %q: cell %q listed twice", it.ID, c)
		}
		seen[c] = true
	}
	switch it.Type {
	case TypeChoice, TypeMulti:
		if len(it.Options) < 2 {
			return e.fail(it.Line, "item %q: a %s item needs at least two options", it.ID, it.Type)
		}
		ids := map[string]bool{}
		for _, o := range it.Options {
			if !idRe.MatchString(o.ID) || o.Label == "" || strings.Contains(o.ID, ",") {
				return e.fail(it.Line, "item %q: option %q needs an id and a label", it.ID, o.ID)
			}
			if ids[o.ID] {
				return e.fail(it.Line, "item %q: option %q listed twice", it.ID, o.ID)
			}
			ids[o.ID] = true
		}
	default:
		if len(it.Options) > 0 {
			return e.fail(it.Line, "item %q: options only belong to choice and multi items", it.ID)
		}
	}
	if it.Min != nil && it.Max != nil && *it.Min > *it.Max {
		return e.fail(it.Line, "item %q: min is larger than max", it.ID)
	}
	if it.MaxLen < 0 {
		return e.fail(it.Line, "item %q: max_len must not be negative", it.ID)
	}
	if it.DueFY != 0 && (it.DueFY < e.FiscalYear || it.DueFY > e.FiscalYear+10) {
		return e.fail(it.Line, "item %q: due_fy %d must lie between the edition's year and ten years later", it.ID, it.DueFY)
	}
	return nil
}

// validValue reports whether v is a possible gate answer of the item.
func (it *Item) validValue(v string) bool {
	switch it.Type {
	case TypeCheck, TypeYesNo:
		return v == AnsYes || v == AnsNo || (v == AnsNA && it.AllowNA)
	case TypeChoice:
		return it.option(v) != nil
	}
	return false
}

func (it *Item) option(id string) *Option {
	for i := range it.Options {
		if it.Options[i].ID == id {
			return &it.Options[i]
		}
	}
	return nil
}

// Item returns the item with the given id, or nil.
func (e *Edition) Item(id string) *Item { return e.items[id] }

// Items returns every item in sheet order.
func (e *Edition) Items() []*Item {
	var out []*Item
	for _, s := range e.Sections {
		out = append(out, s.Items...)
	}
	return out
}

// CellIDs returns the cells an item is answered in: its device classes, or
// the single whole-item cell "".
func (it *Item) CellIDs() []string {
	if len(it.Cells) == 0 {
		return []string{""}
	}
	return it.Cells
}

// CellLabel returns the label of a cell id ("" for the whole item).
func (e *Edition) CellLabel(id string) string {
	for _, c := range e.Cells {
		if c.ID == id {
			return c.Label
		}
	}
	return ""
}

// Label is the item's number and text, as messages name it.
func (it *Item) Label() string {
	t := it.Text
	if utf8.RuneCountInString(t) > 40 {
		t = string([]rune(t)[:40]) + "…"
	}
	if it.Number == "" {
		return t
	}
	return it.Number + " " + t
}

// HasUnverified reports whether the edition or any item carries a
// 「要確認」 mark.
func (e *Edition) HasUnverified() bool {
	if e.Unverified != "" {
		return true
	}
	for _, it := range e.Items() {
		if it.Unverified != "" {
			return true
		}
	}
	return false
}

// CellCount counts the answer cells of the edition.
func (e *Edition) CellCount() int {
	n := 0
	for _, it := range e.Items() {
		n += len(it.CellIDs())
	}
	return n
}
