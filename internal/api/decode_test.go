package api

import (
	"net/url"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/apperr"
)

// checkDecodeErr fails unless err is an Invalid or TooLarge application
// error that names a field or carries an api.bad_json key.
func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ae *apperr.Error
	ae, ok := err.(*apperr.Error)
	if !ok {
		t.Fatalf("not an apperr: %T %v", err, err)
	}
	if ae.Code != apperr.Invalid && ae.Code != apperr.Conflict {
		t.Fatalf("code %s: %v", ae.Code, ae)
	}
	if ae.Field == "" && !strings.HasPrefix(ae.Key, "api.bad_json.") {
		t.Fatalf("error names no field and no bad_json key: %v", ae)
	}
	if ae.Key == "" || ae.Key == "error.internal" {
		t.Fatalf("bad key: %v", ae)
	}
}

var decodeSeeds = []string{
	``, ` `, `null`, `[]`, `"x"`, `5`, `{}`, `{"name": 5}`, `{"name":"x",}`, `{"name":"x"} {}`, `{"name":"x"`,
	`{"kind":"hospital","name":"A総合病院","name_kana":"エーソウゴウビョウイン","prefecture":"東京都","medical_code":"1312345","beds":120,"mfa_policy":"everyone"}`,
	`{"kind":"clinic","name":"x","admin_email":"head@example.jp"}`,
	`{"kind":"clinic","name":"x","admin_email":"not mail"}`,
	`{"kind":"clinic","name":"a\u0000b"}`, `{"beds":null}`, `{"beds":1.5}`, `{"beds":"1"}`, `{"beds":1e400}`,
	`{"colour":"red"}`, `{"Name":"case"}`, `{"name":{"nested":true}}`, `{"email":"a@b.jp","role":"staff"}`,
	`{"role":"admin"}`, `{"role":"root"}`, `{"role":null}`, `{"email":"a@b.jp","role":"staff","extra":1}`,
	"{\"name\":\"\xff\xfe\"}", `{"name":"` + strings.Repeat("あ", 300) + `"}`, `{"kind":["hospital"]}`,
	`{"beds":-1}`, `{"beds":99999999999999999999}`, `{"name":"x","name":"y"}`,
}

// fuzzDecode fuzzes decode from the shared seeds: every error it gives
// must pass checkDecodeErr, and what it accepts must satisfy valid (when
// given).
func fuzzDecode[T any](f *testing.F, decode func([]byte) (T, error), valid func(T) bool) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := decode(b)
		checkDecodeErr(t, err)
		if err == nil && valid != nil && !valid(in) {
			t.Fatalf("accepted invalid input %+v", in)
		}
	})
}

func FuzzDecodeOrgInput(f *testing.F) {
	fuzzDecode(f, decodeOrgCreate, func(in orgCreateInput) bool { return in.Name != "" && in.Kind.Valid() })
}

func FuzzDecodeOrgPatch(f *testing.F) {
	fuzzDecode(f, decodeOrgPatch, nil)
}

func FuzzDecodeInvite(f *testing.F) {
	fuzzDecode(f, decodeInvite, func(in inviteInput) bool { return in.Role.Valid() && strings.Contains(in.Email, "@") })
}

func FuzzDecodeRole(f *testing.F) {
	fuzzDecode(f, decodeRole, func(in roleInput) bool { return in.Role.Valid() })
}

func FuzzParseOrgFilter(f *testing.F) {
	for _, s := range []string{"", "kind=hospital", "kind=castle", "limit=0", "limit=500", "limit=501", "offset=-1",
		"q=%E6%9D%B1", "q=%00", "prefecture=%E6%9D%B1%E4%BA%AC%E9%83%BD", "colour=red", "limit=1e3", "limit=%20%2010", "q=" + strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		flt, err := parseOrgFilter(v)
		checkDecodeErr(t, err)
		if err == nil && (flt.Limit < 1 || flt.Limit > 500 || flt.Offset < 0 || flt.Kind != "" && !flt.Kind.Valid()) {
			t.Fatalf("accepted %+v", flt)
		}
	})
}

func TestDecodeNamesField(t *testing.T) {
	for _, tc := range []struct {
		body  string
		field string
		key   string
	}{
		{`{"name": 5}`, "name", "error.bad_json_field"},
		{`{"beds": "x"}`, "beds", "error.bad_json_field"},
		{`{"kind": 1}`, "kind", "error.bad_json_field"},
		{`{"surprise": 1}`, "surprise", "error.unknown_field"},
		{`{"name":"x"}x`, "", "api.bad_json.trailing"},
		{`{"name":}`, "", "api.bad_json.syntax"},
		{`{`, "", "api.bad_json.truncated"},
		{`null`, "", "api.bad_json.not_object"},
	} {
		_, err := decodeOrgPatch([]byte(tc.body))
		ae := apperr.From(err)
		if err == nil || ae.Field != tc.field || ae.Key != tc.key {
			t.Errorf("%s: got %v, want field %q key %q", tc.body, err, tc.field, tc.key)
		}
	}
}
