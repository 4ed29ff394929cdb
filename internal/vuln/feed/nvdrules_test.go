package feed

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/vuln/match"
)

// storedEqualsCompiled checks that the stored form of an NVD record's
// rules, loaded back, is the rules CompileNVD gives.
func storedEqualsCompiled(t testing.TB, rec *NVDCVE) {
	st, err := nvdStored(rec)
	want, cerr := CompileNVD(rec, testReg)
	if (err == nil) != (cerr == nil) {
		t.Fatalf("%s: stored %v, compiled %v", rec.ID, err, cerr)
	}
	if err != nil {
		return
	}
	got, err := match.UnmarshalRules(st.Data, testReg)
	if err != nil {
		t.Fatalf("%s: %v", rec.ID, err)
	}
	if rec.Rejected() {
		want = &match.Rules{Source: "nvd", Pending: true}
	}
	a, _ := match.MarshalRules(got)
	b, _ := match.MarshalRules(want)
	if string(a) != string(b) {
		t.Fatalf("%s: stored rules differ:\n%s\n%s", rec.ID, a, b)
	}
	keys, wild := want.Keys()
	if strings.Join(keys, " ") != strings.Join(st.Keys, " ") || wild != st.Wild {
		t.Fatalf("%s: keys %v %v, want %v %v", rec.ID, st.Keys, st.Wild, keys, wild)
	}
}

func TestStoredRulesRoundTrip(t *testing.T) {
	files, _ := filepath.Glob(td("nvd", "CVE-*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := ParseNVD(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for i := range recs {
			storedEqualsCompiled(t, &recs[i])
		}
	}
}

// FuzzStoredRules feeds NVD input through the store's encoding of rules:
// whatever ParseNVD accepts must store and load back to the rules that
// CompileNVD builds.
func FuzzStoredRules(f *testing.F) {
	files, _ := filepath.Glob(td("nvd", "CVE-*.json"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil && len(data) < 30000 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := ParseNVD(bytes.NewReader(data))
		if err != nil {
			return
		}
		for i := range recs {
			storedEqualsCompiled(t, &recs[i])
		}
	})
}
