package inventory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/xlsx"
)

// TestNmapTooManyHosts: a scan of more hosts than the limit is refused
// with the reason and the limit, not as "not an nmap file".
func TestNmapTooManyHosts(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?><nmaprun scanner="nmap">`)
	for i := 0; i <= MaxNmapHosts; i++ {
		fmt.Fprintf(&b, `<host><status state="up"/><address addr="10.%d.%d.%d" addrtype="ipv4"/></host>`, i>>16, (i>>8)&255, i&255)
	}
	b.WriteString(`</nmaprun>`)
	_, err := ParseNmap(bytes.NewReader(b.Bytes()), MaxNmapSize)
	if !errors.Is(err, ErrNmapTooManyHosts) || !errors.Is(err, ErrNotNmap) {
		t.Fatalf("err = %v", err)
	}
	ae := NmapError(err)
	if ae.Key != "inventory.nmap.too_many_hosts" || len(ae.Args) != 1 || ae.Args[0] != MaxNmapHosts || ae.Code != apperr.Invalid {
		t.Fatalf("app error %+v", ae)
	}
	if ae := NmapError(fmt.Errorf("%w: broken", ErrNotNmap)); ae.Key != "inventory.nmap.bad_file" {
		t.Fatalf("other errors: %+v", ae)
	}
}

// TestVendorEmailControlCharacters: an e-mail address with a line break
// or another control character is refused with a field error, on create,
// on update and through an import; nothing is stored.
func TestVendorEmailControlCharacters(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "A")
		for _, email := range []string{"a@example.jp\r\nBcc: x@evil.example", "a@example.jp\nX: y", "a@\x00example.jp", "a@example.jp\tb"} {
			_, err := CreateVendor(ctx, d, org, Vendor{Name: "保守会社", Email: email}, t0)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Field != "email" || ae.Key != "inventory.error.bad_email" {
				t.Fatalf("create with %q: %v", email, err)
			}
		}
		v, err := CreateVendor(ctx, d, org, Vendor{Name: "保守会社", Email: " a@example.jp "}, t0)
		if err != nil || v.Email != "a@example.jp" {
			t.Fatalf("plain address: %v %+v", err, v)
		}
		v.Email = "a@example.jp\r\nBcc: x@evil.example"
		if _, _, err := UpdateVendor(ctx, d, org, v, t0); apperr.From(err).Field != "email" {
			t.Fatalf("update: %v", err)
		}
		got, err := GetVendor(ctx, d, org, v.ID)
		if err != nil || got.Email != "a@example.jp" {
			t.Fatalf("stored %q %v", got.Email, err)
		}
		data := xlsxOf(t, xlsx.SheetData{Name: SheetVendors, Header: []string{"名称", "メール"}, Rows: [][]string{{"別の会社", "b@example.jp\r\nBcc: x@evil.example"}}})
		p, err := PreviewImport(ctx, d, testCat, org, "a.xlsx", data)
		if err != nil {
			t.Fatal(err)
		}
		if p.OK() || !strings.Contains(fmt.Sprint(p.Errors), "inventory.error.bad_email") {
			t.Fatalf("import errors %+v", p.Errors)
		}
	})
}
