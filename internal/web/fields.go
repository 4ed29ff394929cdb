package web

import (
	"html/template"
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
}

// Field gives "field" the input name, labelled with the catalog key label
// and holding the value sent in the form. Each word of spec is one of:
//
//	id=X       the input's id (name by default)
//	hint=KEY   a hint under the label, from the catalog key KEY
//	textarea   a text area instead of an input
//	novalue    the input does not show what was sent (passwords)
//	noerr      the form's error is not shown here (another input of the
//	           page has the same name and shows it)
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
