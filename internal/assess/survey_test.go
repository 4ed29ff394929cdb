package assess

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
)

var surveySrc = testkit.Survey("isac-2025-backup", "バックアップ調査", 2025, "{id: gens, text: 世代数, type: number, min: 0, max: 100}")

// TestAggregateHidesSmallGroups proves that no aggregate describes fewer
// than MinGroup organisations: with 4 respondents in a group nothing is
// shown, with 5 the counts appear, and a filter that narrows the group
// below 5 hides it again.
func TestAggregateHidesSmallGroups(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		reg := MustRegistry()
		isac := mkOrg(t, d, auth.KindISAC, "ISAC")
		var orgs []*auth.Org
		for i := range 7 {
			beds := 100 + i*20
			pref := "東京都"
			if i >= 4 {
				pref = "大阪府"
			}
			o, err := auth.CreateOrg(ctx, d, auth.OrgInput{Kind: auth.KindHospital, Name: fmt.Sprintf("病院%d", i), Prefecture: pref, Beds: &beds}, testNow)
			if err != nil {
				t.Fatal(err)
			}
			orgs = append(orgs, o)
		}
		mkOrg(t, d, auth.KindVendor, "ベンダー")
		s, err := CreateSurvey(ctx, d, reg, isac.ID, "op", []byte(surveySrc), OrgFilter{Kinds: []string{"hospital"}}, "2025-08-31", testNow)
		if err != nil {
			t.Fatal(err)
		}
		if s.Targets != 7 {
			t.Fatalf("%d targets", s.Targets)
		}
		answer := func(o *auth.Org, v string) {
			t.Helper()
			if err := d.InTx(ctx, func(tx *db.Tx) error {
				_, err := Respond(ctx, tx, reg, o.ID, s.ID, "u", []Answer{{ItemID: "offline", Value: v}}, testNow)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		shown := func(f OrgFilter) *QuestionResult {
			t.Helper()
			rs, err := Aggregate(ctx, d, isac.ID, s.ID, f)
			if err != nil {
				t.Fatal(err)
			}
			for i := range rs {
				if rs[i].ItemID == "offline" {
					return &rs[i]
				}
			}
			return nil
		}
		for i := range 4 {
			answer(orgs[i], map[bool]string{true: "yes", false: "no"}[i%2 == 0])
		}
		if r := shown(OrgFilter{}); r == nil || !r.Hidden || len(r.Buckets) != 0 {
			t.Fatalf("4 respondents revealed: %+v", r)
		}
		answer(orgs[4], "yes")
		r := shown(OrgFilter{})
		if r == nil || r.Hidden || r.N != 5 || len(r.Buckets) != 2 || r.Buckets[1] != (Bucket{"yes", 3}) {
			t.Fatalf("5 respondents: %+v", r)
		}
		// Tokyo holds 4 respondents: hidden; 大阪府 holds 1: hidden.
		for _, pref := range []string{"東京都", "大阪府"} {
			if r := shown(OrgFilter{Prefectures: []string{pref}}); r != nil && (!r.Hidden || len(r.Buckets) > 0) {
				t.Errorf("%s group revealed: %+v", pref, r)
			}
		}
		min := 160
		if r := shown(OrgFilter{MinBeds: &min}); r != nil && !r.Hidden {
			t.Errorf("beds≥160 group revealed: %+v", r)
		}
		inv, resp, err := ResponseRate(ctx, d, isac.ID, s.ID)
		if err != nil || inv != 7 || resp != 5 {
			t.Fatalf("rate %d/%d %v", resp, inv, err)
		}
		// Only the owner aggregates; a member compares only within surveys it was sent.
		if _, err := Aggregate(ctx, d, orgs[0].ID, s.ID, OrgFilter{}); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("member aggregates: %v", err)
		}
		outsider := mkOrg(t, d, auth.KindVendor, "外部")
		if _, err := Comparable(ctx, d, outsider.ID, s.ID, OrgFilter{}); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("outsider compares: %v", err)
		}
		if rs, err := Comparable(ctx, d, orgs[0].ID, s.ID, OrgFilter{Prefectures: []string{"東京都"}}); err != nil || len(rs) != 1 || !rs[0].Hidden {
			t.Fatalf("comparable: %+v %v", rs, err)
		}
	})
}

// BenchmarkAggregate106x10000 aggregates a 106-question survey answered by
// 10,000 organisations (1.06 million answers) on SQLite and PostgreSQL.
func BenchmarkAggregate106x10000(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchAggregate(b, dbtest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { benchAggregate(b, dbtest.Postgres(b)) })
}

func benchAggregate(b *testing.B, d *db.DB) {
	ctx := context.Background()
	reg := MustRegistry()
	isac := mkOrg(b, d, auth.KindISAC, "ISAC")
	var src strings.Builder
	src.WriteString("id: bench\nkind: survey\ntitle: B\nfiscal_year: 2025\nsections:\n  - id: s\n    title: S\n    items:\n")
	for i := range 106 {
		fmt.Fprintf(&src, "      - {id: q%03d, text: Q%d, type: yesno}\n", i, i)
	}
	const orgs = 10000
	err := d.InTx(ctx, func(tx *db.Tx) error {
		for i := range orgs {
			beds := i % 500
			if _, err := tx.Exec(ctx, `INSERT INTO organizations (id, kind, name, prefecture, beds, created_at, updated_at) VALUES (?, 'hospital', ?, ?, ?, ?, ?)`,
				fmt.Sprintf("org-%05d", i), fmt.Sprintf("病院%d", i), []string{"東京都", "大阪府", "北海道"}[i%3], beds, testNow, testNow); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	s, err := CreateSurvey(ctx, d, reg, isac.ID, "op", []byte(src.String()), OrgFilter{}, "", testNow)
	if err != nil {
		b.Fatal(err)
	}
	err = d.InTx(ctx, func(tx *db.Tx) error {
		for i := range orgs {
			org := fmt.Sprintf("org-%05d", i)
			sheet := fmt.Sprintf("sheet-%05d", i)
			if _, err := tx.Exec(ctx, `INSERT INTO assess_sheets (id, org_id, edition_id, family, fiscal_year, subject, created_at, updated_at) VALUES (?, ?, 'bench', 'bench', 2025, ?, ?, ?)`,
				sheet, org, "survey:"+s.ID, testNow, testNow); err != nil {
				return err
			}
			var q strings.Builder
			q.WriteString(`INSERT INTO assess_answers (sheet_id, org_id, item_id, cell, value, updated_at) VALUES `)
			var args []any
			for qn := range 106 {
				v := "yes"
				if (i+qn)%3 == 0 {
					v = "no"
				}
				if qn > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, '', ?, ?)")
				args = append(args, sheet, org, fmt.Sprintf("q%03d", qn), v, testNow)
			}
			if _, err := tx.Exec(ctx, q.String(), args...); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE assess_survey_targets SET sheet_id = ?, responded_at = ? WHERE survey_id = ? AND org_id = ?`, sheet, testNow, s.ID, org); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if d.Dialect() == db.Postgres {
		if _, err := d.Exec(ctx, `ANALYZE`); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		rs, err := Aggregate(ctx, d, isac.ID, s.ID, OrgFilter{Prefectures: []string{"東京都"}})
		if err != nil || len(rs) != 106 {
			b.Fatalf("%d results, %v", len(rs), err)
		}
	}
}
