package web

// The data of the template partials in templates/partial_common.html. Each keeps
// the page, so a partial can translate, print the CSRF field and show the
// page's error like the page itself.

// pageHead is the data of "page-head": the page's heading, its lead
// paragraph and the form error, if any.
type pageHead struct {
	*page
	Lead string
}

// Head gives "page-head" its lead paragraph (already translated).
func (p *page) Head(lead string) pageHead { return pageHead{page: p, Lead: lead} }

// confirmForm is the data of "confirm-form": a form of one button that
// asks before it posts.
type confirmForm struct {
	*page
	Action, Question, Label, Class string
}

// Confirm gives "confirm-form" its address, the question asked first, the
// button's text (both already translated) and the button's extra classes.
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
