package web

import (
	"fmt"
	"html/template"
	"reflect"
	"strings"
)

// formField is the data of "field": one labelled input or text area of a
// form, with its hint and the form error that concerns it.
type formField struct {
	*page
	ID, Name, Label, Hint string
	// Area makes it a <textarea>; Attrs are its other attributes.
	Area  bool
	Attrs template.HTMLAttr
	// Value is what the input holds; NoValue leaves it empty (passwords).
	Value   string
	NoValue bool
	// Err is the error message shown under it ("" for none).
	Err string
	// Menu makes it a <select> of Options, led by an empty option labelled
	// Choose when Choose is not "".
	Menu    bool
	Options []option
	Choose  string
	// preset: the options say themselves which is selected.
	preset bool
}

// option is an entry of a select menu or a check box list.
type option struct {
	Value, Label string
	Selected     bool
}

// Field gives "field" the input name, labelled with the catalog key label
// and holding the value sent in the form. Each word of spec is one of:
//
//	id=X       the input's id (name by default)
//	hint=KEY   a hint under the label, from the catalog key KEY
//	textarea   a text area instead of an input
//	novalue    the input does not show what was sent (passwords)
//	noerr      the form's error is not shown here (another input of the
//	           page has the same name and shows it, or the page is a
//	           filter whose inputs have no errors)
//	choose=KEY a menu's first, empty option, labelled by the catalog key KEY
//	a=v, a     any other attribute, written as given (type=email required)
//
// spec is the template's own text, never what a person typed.
func (p *page) Field(name, label, spec string) formField {
	f := formField{page: p, ID: name, Name: name, Label: p.T(label), Value: p.Val(name)}
	var attrs []string
	noErr := false
	for _, w := range strings.Fields(spec) {
		k, v, hasValue := strings.Cut(w, "=")
		switch {
		case k == "id" && hasValue:
			f.ID = v
		case k == "hint" && hasValue:
			f.Hint = p.T(v)
		case w == "textarea":
			f.Area = true
		case w == "novalue":
			f.NoValue, f.Value = true, ""
		case w == "noerr":
			noErr = true
		case k == "choose" && hasValue:
			f.Choose = p.T(v)
		case hasValue:
			attrs = append(attrs, template.HTMLEscapeString(k)+`="`+template.HTMLEscapeString(v)+`"`)
		default:
			attrs = append(attrs, template.HTMLEscapeString(w))
		}
	}
	if !noErr {
		f.Err = p.FieldErr(name)
	}
	var described []string
	if f.Hint != "" {
		described = append(described, f.ID+"-hint")
	}
	if f.Err != "" {
		attrs = append(attrs, `aria-invalid="true"`)
		described = append(described, name+"-err")
	}
	if len(described) > 0 {
		attrs = append(attrs, `aria-describedby="`+template.HTMLEscapeString(strings.Join(described, " "))+`"`)
	}
	if len(attrs) > 0 {
		f.Attrs = template.HTMLAttr(" " + strings.Join(attrs, " "))
	}
	return f
}

// Select gives "field" a menu of options, in the words of Field's spec;
// the option of the value sent is selected, unless an option already says
// it is.
func (p *page) Select(name, label, spec string, options []option) formField {
	f := p.Field(name, label, spec)
	f.Menu = true
	f.Options = options
	for _, o := range options {
		f.preset = f.preset || o.Selected
	}
	return f.Holding(f.Value)
}

// Holding makes f hold value rather than what the form sent (a filter
// read from the query, a record's stored value); in a menu, the option
// of that value is selected.
func (f formField) Holding(value string) formField {
	f.Value = value
	if f.Menu && !f.preset {
		opts := make([]option, len(f.Options))
		for i, o := range f.Options {
			o.Selected = o.Value == value
			opts[i] = o
		}
		f.Options = opts
	}
	return f
}

// Choices makes options of values, a slice of strings or of string or
// integer types: each is labelled by the catalog key labelPrefix+value,
// or by the value itself when labelPrefix is "".
func (p *page) Choices(values any, labelPrefix string) []option {
	v := reflect.ValueOf(values)
	if v.Kind() != reflect.Slice {
		return nil
	}
	out := make([]option, 0, v.Len())
	for i := range v.Len() {
		val := fmt.Sprint(v.Index(i).Interface())
		label := val
		if labelPrefix != "" {
			label = p.T(labelPrefix + val)
		}
		out = append(out, option{Value: val, Label: label})
	}
	return out
}
