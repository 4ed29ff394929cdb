package imports

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/share"
)

// stixBundle is a bundle of reports of 100 indicators each, n objects in
// all, numbered from first.
func stixBundle(n, first int) []byte {
	var b strings.Builder
	b.WriteString(`{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000003","objects":[`)
	var refs []string
	for j := 0; j < n; j++ {
		k := first + j
		if j > 0 {
			b.WriteString(",")
		}
		if (j+1)%101 == 0 {
			fmt.Fprintf(&b, `{"type":"report","spec_version":"2.1","id":"report--00000003-0000-4000-8000-%012d","created":"2026-04-01T09:00:00.000Z","modified":"2026-04-01T09:00:00.000Z","name":"報告 %d","published":"2026-04-01T09:00:00.000Z","object_refs":[%s]}`, k, k, strings.Join(refs, ","))
			refs = refs[:0]
			continue
		}
		id := fmt.Sprintf("indicator--00000003-0000-4000-8000-%012d", k)
		refs = append(refs, `"`+id+`"`)
		fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":"%s","created":"2026-04-01T09:00:00.000Z","modified":"2026-04-01T09:00:00.000Z","pattern":"[ipv4-addr:value = '10.%d.%d.%d']","pattern_type":"stix","valid_from":"2026-04-01T09:00:00.000Z"}`, id, k>>16&255, k>>8&255, k&255)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// BenchmarkShareImport20k imports a bundle of 20,000 objects on SQLite,
// "direct" through share.Hub.Import as the command line did alone, and
// "job" through Service.ImportShare (spooled, run by the node) as the
// command line does beside a server: the job should cost no more than
// the spool.
func BenchmarkShareImport20k(b *testing.B) {
	const n = 20000
	d := dbtest.SQLite(b)
	now := time.Now
	s := New(d, nil, b.TempDir(), nil, nil, now, nil)
	s.Share = &share.Hub{DB: d, Now: now}
	org := func() *auth.Principal {
		o, err := auth.CreateOrg(context.Background(), d, auth.OrgInput{Kind: auth.KindHospital, Name: fmt.Sprintf("病院 %d", time.Now().UnixNano())}, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		p := auth.CommandLine("bench", o.ID)
		p.OrgKind = auth.KindHospital
		return p
	}
	k := 0
	for _, mode := range []string{"direct", "job"} {
		b.Run(mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				p := org()
				data := stixBundle(n, k*n)
				k++
				b.StartTimer()
				var objects int
				if mode == "direct" {
					out, err := s.Share.Import(context.Background(), p, share.ImportRequest{File: bytes.NewReader(data)})
					if err != nil {
						b.Fatal(err)
					}
					objects = out.Result.Objects
				} else {
					run, err := s.ImportShare(context.Background(), p, ShareInput{Limit: MaxCLIImport}, bytes.NewReader(data))
					if err != nil {
						b.Fatal(err)
					}
					<-run.Done()
					v, err := run.Outcome()
					if err != nil {
						b.Fatal(err)
					}
					objects = v.(*share.ImportOutcome).Result.Objects
				}
				if objects != n {
					b.Fatalf("%d objects stored, want %d", objects, n)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}
