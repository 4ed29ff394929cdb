package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
)

// readBody reads a request body (already limited to MaxBody by the
// handler wrapper).
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, apperr.New(apperr.TooLarge, "error.too_large", "1 MiB")
	}
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "api.bad_json.read")
	}
	return b, nil
}

// readJSON reads the request body and decodes it into a T (decodeJSON).
func readJSON[T any](r *http.Request) (T, error) {
	var in T
	body, err := readBody(r)
	if err != nil {
		return in, err
	}
	return in, decodeJSON(body, &in)
}

// readDecoded reads the request body and hands it to decode, the check of
// one kind of body.
func readDecoded[T any](r *http.Request, decode func([]byte) (T, error)) (T, error) {
	body, err := readBody(r)
	if err != nil {
		var zero T
		return zero, err
	}
	return decode(body)
}

// readOptionalJSON is readJSON for a body that may also be empty (the
// zero T).
func readOptionalJSON[T any](r *http.Request) (T, error) {
	var in T
	body, err := readBody(r)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return in, err
	}
	return in, decodeJSON(body, &in)
}

// decodeJSON decodes one JSON object from b into dst, refusing unknown
// fields and trailing data. Errors are Invalid apperr errors that name the
// field at fault, or carry an api.bad_json.* key when no field can be
// named.
func decodeJSON(b []byte, dst any) error {
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if len(trimmed) == 0 {
		return apperr.New(apperr.Invalid, "api.bad_json.empty")
	}
	if trimmed[0] != '{' {
		return apperr.New(apperr.Invalid, "api.bad_json.not_object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return apperr.New(apperr.Invalid, "api.bad_json.trailing")
	}
	return nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return apperr.New(apperr.Invalid, "api.bad_json.syntax", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return apperr.New(apperr.Invalid, "api.bad_json.truncated")
	case errors.As(err, &te):
		if te.Field == "" {
			return apperr.New(apperr.Invalid, "api.bad_json.not_object")
		}
		return apperr.Field(te.Field, "error.bad_json_field", te.Field)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if s, err := strconv.Unquote(name); err == nil {
			name = s
		}
		if name == "" {
			return apperr.New(apperr.Invalid, "api.bad_json.empty_name")
		}
		return apperr.Field(name, "error.unknown_field", name)
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		return apperr.Field(fe.field, "error.bad_json_field", fe.field)
	}
	return apperr.New(apperr.Invalid, "api.bad_json.syntax", 0)
}

// fieldError is a decoding error of a known field from a custom
// unmarshaller.
type fieldError struct{ field string }

func (e *fieldError) Error() string { return "bad value for " + e.field }

// checkText refuses control characters, line breaks included, in a
// one-line text field: PostgreSQL rejects NUL and nobody means the others.
func checkText(field, s string) error {
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return apperr.Field(field, "api.field.control", field)
		}
	}
	return nil
}

// orgCreateInput is the body of POST /api/v1/orgs.
type orgCreateInput struct {
	auth.OrgInput
	// AdminEmail, when set, is invited as the first admin.
	AdminEmail string `json:"admin_email"`
}

func decodeOrgCreate(b []byte) (orgCreateInput, error) {
	var in orgCreateInput
	if err := decodeJSON(b, &in); err != nil {
		return in, err
	}
	if err := checkOrgText(&in.OrgInput); err != nil {
		return in, err
	}
	if err := in.OrgInput.Validate(); err != nil {
		return in, err
	}
	if strings.TrimSpace(in.AdminEmail) != "" {
		e, err := auth.NormalizeEmail(in.AdminEmail)
		if err != nil {
			return in, apperr.Field("admin_email", apperr.From(err).Key)
		}
		in.AdminEmail = e
	}
	return in, nil
}

func checkOrgText(in *auth.OrgInput) error {
	for _, f := range []struct{ name, val string }{
		{"kind", string(in.Kind)}, {"name", in.Name}, {"name_kana", in.NameKana},
		{"prefecture", in.Prefecture}, {"medical_code", in.MedicalCode}, {"mfa_policy", string(in.MFAPolicy)},
	} {
		if err := checkText(f.name, f.val); err != nil {
			return err
		}
	}
	return nil
}

// optBeds is the beds field of a PATCH: absent, null (cleared) or a number.
type optBeds struct {
	Set   bool
	Value *int
}

// UnmarshalJSON records that the field was present.
func (o *optBeds) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return &fieldError{field: "beds"}
	}
	o.Value = &n
	return nil
}

// orgPatch is the body of PATCH /api/v1/orgs/{id}: only the fields present
// change.
type orgPatch struct {
	Kind        *auth.OrgKind   `json:"kind"`
	Name        *string         `json:"name"`
	NameKana    *string         `json:"name_kana"`
	Prefecture  *string         `json:"prefecture"`
	MedicalCode *string         `json:"medical_code"`
	Beds        optBeds         `json:"beds"`
	MFAPolicy   *auth.MFAPolicy `json:"mfa_policy"`
}

func decodeOrgPatch(b []byte) (orgPatch, error) {
	var p orgPatch
	if err := decodeJSON(b, &p); err != nil {
		return p, err
	}
	var probe auth.OrgInput
	p.apply(&probe)
	if err := checkOrgText(&probe); err != nil {
		return p, err
	}
	return p, nil
}

// apply overlays the fields present in p on in.
func (p orgPatch) apply(in *auth.OrgInput) {
	if p.Kind != nil {
		in.Kind = *p.Kind
	}
	if p.Name != nil {
		in.Name = *p.Name
	}
	if p.NameKana != nil {
		in.NameKana = *p.NameKana
	}
	if p.Prefecture != nil {
		in.Prefecture = *p.Prefecture
	}
	if p.MedicalCode != nil {
		in.MedicalCode = *p.MedicalCode
	}
	if p.Beds.Set {
		in.Beds = p.Beds.Value
	}
	if p.MFAPolicy != nil {
		in.MFAPolicy = *p.MFAPolicy
	}
}

// inviteInput is the body of POST /api/v1/orgs/{id}/invitations.
type inviteInput struct {
	Email string    `json:"email"`
	Role  auth.Role `json:"role"`
}

func decodeInvite(b []byte) (inviteInput, error) {
	var in inviteInput
	if err := decodeJSON(b, &in); err != nil {
		return in, err
	}
	e, err := auth.NormalizeEmail(in.Email)
	if err != nil {
		return in, err
	}
	in.Email = e
	if !in.Role.Valid() {
		return in, apperr.Field("role", "auth.role.invalid")
	}
	return in, nil
}

// roleInput is the body of PATCH /api/v1/orgs/{id}/members/{user}.
type roleInput struct {
	Role auth.Role `json:"role"`
}

func decodeRole(b []byte) (roleInput, error) {
	var in roleInput
	if err := decodeJSON(b, &in); err != nil {
		return in, err
	}
	if !in.Role.Valid() {
		return in, apperr.Field("role", "auth.role.invalid")
	}
	return in, nil
}

// parseOrgFilter reads the query of GET /api/v1/orgs: kind, prefecture,
// q, limit (1–500, default 100) and offset.
func parseOrgFilter(v url.Values) (auth.OrgFilter, error) {
	var f auth.OrgFilter
	for k := range v {
		switch k {
		case "kind", "prefecture", "q", "limit", "offset", "cursor", "":
		default:
			return f, apperr.Field(k, "api.query.unknown", k)
		}
	}
	f.Kind = auth.OrgKind(strings.TrimSpace(v.Get("kind")))
	if f.Kind != "" && !f.Kind.Valid() {
		return f, apperr.Field("kind", "auth.org.kind_invalid")
	}
	f.Prefecture = strings.TrimSpace(v.Get("prefecture"))
	f.Query = strings.TrimSpace(v.Get("q"))
	f.Cursor = v.Get("cursor")
	for _, x := range []struct{ name, val string }{{"prefecture", f.Prefecture}, {"q", f.Query}} {
		if err := checkText(x.name, x.val); err != nil {
			return f, err
		}
		if len(x.val) > 200 {
			return f, apperr.Field(x.name, "api.query.invalid", x.name)
		}
	}
	for _, n := range []struct {
		name     string
		min, max int
		dst      *int
	}{{"limit", 1, 500, &f.Limit}, {"offset", 0, 1 << 30, &f.Offset}} {
		s := strings.TrimSpace(v.Get(n.name))
		if s == "" {
			continue
		}
		x, err := strconv.Atoi(s)
		if err != nil || x < n.min || x > n.max {
			return f, apperr.Field(n.name, "api.query.invalid", n.name)
		}
		*n.dst = x
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	return f, nil
}
