package web

import (
	"bytes"
	"html/template"
	"reflect"
	"strings"
)

// The data of the template partials in templates/partial_common.html. Each keeps
// the page, so a partial can translate, print the CSRF field and show the
// page's error like the page itself.

// pageHead is the data of "page-head": the page's heading, its lead
// paragraph and the form error, if any.
type pageHead struct {
	*page
	Lead string
	// Up and UpLabel are the link back to the page above, if any.
	Up, UpLabel string
}

// Head gives "page-head" its lead paragraph (already translated).
func (p *page) Head(lead string) pageHead { return pageHead{page: p, Lead: lead} }

// HeadUnder is Head for a page under the page at up, whose title is the
// catalog key upKey: the heading follows a link back there.
func (p *page) HeadUnder(up, upKey, lead string) pageHead {
	return pageHead{page: p, Lead: lead, Up: up, UpLabel: p.T(upKey)}
}

// confirmForm is the data of "confirm-form": a form of one button that
// asks before it posts (when there is a question).
type confirmForm struct {
	*page
	Action, Question, Label, Class string
}

// Confirm gives "confirm-form" its address, the question asked first ("" to
// post without asking), the button's text (both already translated) and the button's extra classes.
func (p *page) Confirm(action, question, label, class string) confirmForm {
	return confirmForm{page: p, Action: action, Question: question, Label: label, Class: class}
}

// overview is the data of "overview", the counts and shared sheets of an
// assessment overview, for a group of organisations or the whole ISAC:
// only the words for the members and for privacy differ.
type overview struct {
	*page
	Members, Privacy string
}

// Overview gives "overview" its two texts (already translated).
func (p *page) Overview(members, privacy string) overview {
	return overview{page: p, Members: members, Privacy: privacy}
}

// passwordInput is the data of "new-password": the new password and its
// confirmation, the first input with the id ID.
type passwordInput struct {
	*page
	ID string
}

// PasswordInput gives "new-password" the id of its first input.
func (p *page) PasswordInput(id string) passwordInput { return passwordInput{page: p, ID: id} }

// dataTable is the data of "data-table": a table of rows, or the sentence
// saying there are none.
type dataTable struct {
	*page
	// ID is the table's id, Class its classes after "table".
	ID, Class string
	Cols      []tableCol
	Body      template.HTML
	Empty     string
	Any       bool
}

// tableCol is a column heading; a Hidden one is read out but not shown
// (the column of buttons).
type tableCol struct {
	Label  string
	Hidden bool
}

// tableRows is the data of a table's row template: the page's own methods
// and data, and the rows.
type tableRows struct {
	*page
	Rows any
}

// Table gives "data-table" its table: id (the table's id, or "", and
// "class=X" for its class X besides "table"), the page's template
// that writes one <tr> per row of rows, the catalog key of the sentence
// shown when rows is empty (or "" for none), and the catalog keys of the
// column headings. A heading key written "hidden:key" is only read out;
// an empty one is left out (a column shown only to some).
func (p *page) Table(id, rowsTemplate string, rows any, empty string, cols ...string) (dataTable, error) {
	t := dataTable{page: p}
	for _, w := range strings.Fields(id) {
		if c, ok := strings.CutPrefix(w, "class="); ok {
			t.Class = c
		} else {
			t.ID = w
		}
	}
	if v := reflect.ValueOf(rows); v.Kind() == reflect.Slice && v.Len() > 0 {
		t.Any = true
		var b bytes.Buffer
		if err := p.tmpl.ExecuteTemplate(&b, rowsTemplate, tableRows{page: p, Rows: rows}); err != nil {
			return t, err
		}
		t.Body = template.HTML(b.String())
	}
	if empty != "" {
		t.Empty = p.T(empty)
	}
	for _, c := range cols {
		if c == "" {
			continue
		}
		key, hidden := strings.CutPrefix(c, "hidden:")
		t.Cols = append(t.Cols, tableCol{Label: p.T(key), Hidden: hidden})
	}
	return t, nil
}

// pager is the data of "pager": the links to other pages of a list.
type pager struct {
	*page
	Label, Class, ID string
	Links            []pagerLink
}

// pagerLink is one link of a pager; Attrs are its attributes besides its
// id and address.
type pagerLink struct {
	URL, Label, ID string
	Attrs          template.HTMLAttr
}

// Pager gives "pager" its name (a catalog key, read out), the nav's
// classes besides "pager" (and "id=X" for its id X), and its links as pairs of an address and the
// catalog key of the link's text; a pair whose address is "" is left out.
// The key may be followed by the link's other attributes (rel=next).
func (p *page) Pager(label, class string, links ...string) pager {
	pg := pager{page: p, Label: p.T(label)}
	var classes []string
	for _, w := range strings.Fields(class) {
		if id, ok := strings.CutPrefix(w, "id="); ok {
			pg.ID = id
		} else {
			classes = append(classes, w)
		}
	}
	pg.Class = strings.Join(classes, " ")
	for i := 0; i+1 < len(links); i += 2 {
		if links[i] == "" {
			continue
		}
		words := strings.Fields(links[i+1])
		l := pagerLink{URL: links[i]}
		if len(words) > 0 {
			l.Label = p.T(words[0])
		}
		var attrs []string
		for _, w := range words[1:] {
			k, v, _ := strings.Cut(w, "=")
			if k == "id" {
				l.ID = v
				continue
			}
			attrs = append(attrs, template.HTMLEscapeString(k)+`="`+template.HTMLEscapeString(v)+`"`)
		}
		if len(attrs) > 0 {
			l.Attrs = template.HTMLAttr(" " + strings.Join(attrs, " "))
		}
		pg.Links = append(pg.Links, l)
	}
	return pg
}

// Shown gives a table heading key only when show is true, for a column
// shown only to some.
func (p *page) Shown(show bool, key string) string {
	if show {
		return key
	}
	return ""
}
