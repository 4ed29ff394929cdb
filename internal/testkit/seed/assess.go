package seed

import (
	"context"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/db"
)

// Answers answers every cell of e: yes (dated date) to a check, yes to a
// yes-or-no question, date to a date, the first option to a choice, 1 to a
// number and 回答 to the rest.
func Answers(e *assess.Edition, date string) []assess.Answer {
	var in []assess.Answer
	for _, it := range e.Items() {
		for _, c := range it.CellIDs() {
			a := assess.Answer{ItemID: it.ID, Cell: c}
			switch it.Type {
			case assess.TypeCheck, "":
				a.Answer1, a.Date1 = assess.AnsYes, date
			case assess.TypeYesNo:
				a.Value = assess.AnsYes
			case assess.TypeDate, assess.TypeTargetDate:
				a.Value = date
			case assess.TypeChoice, assess.TypeMulti:
				a.Value = it.Options[0].ID
			case assess.TypeNumber:
				a.Value = "1"
			default:
				a.Value = "回答"
			}
			in = append(in, a)
		}
	}
	return in
}

// FilledSheet starts org's sheet of e for the fiscal year fy and saves
// Answers(e, date) in it as userID; it returns the sheet's id.
func FilledSheet(t testing.TB, d *db.DB, e *assess.Edition, orgID, userID string, fy int, date string, now time.Time) string {
	t.Helper()
	ctx := context.Background()
	var id string
	err := d.InTx(ctx, func(tx *db.Tx) error {
		sh, err := assess.StartSheet(ctx, tx, e, orgID, fy, "", now)
		if err != nil {
			return err
		}
		id = sh.ID
		_, err = assess.SaveAnswers(ctx, tx, e, orgID, sh.ID, userID, Answers(e, date), now)
		return err
	})
	if err != nil {
		t.Fatalf("seed filled sheet of %s: %v", orgID, err)
	}
	return id
}
