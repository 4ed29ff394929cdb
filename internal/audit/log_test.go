package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
)

func TestAppendVerifyCheckpoint(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := newClock()
		l := New(d, signer(t), nil, clk.now)

		rep, err := l.Verify(ctx)
		if err != nil || !rep.OK || rep.Entries != 0 {
			t.Fatalf("empty log: %+v, %v", rep, err)
		}
		cp, err := l.Checkpoint(ctx)
		if err != nil || cp.Seq != 0 {
			t.Fatalf("checkpoint of empty log: %+v, %v", cp, err)
		}

		es := appendN(t, l, d, 20, "org-a")
		for i, e := range es {
			if e.Seq != int64(i+1) {
				t.Fatalf("entry %d has seq %d", i, e.Seq)
			}
			if e.At.Nanosecond()%1000 != 0 || e.At.Location() != time.UTC {
				t.Fatalf("At not UTC µs: %v", e.At)
			}
		}
		if es[0].PrevHash != GenesisHash || es[1].PrevHash != es[0].Hash {
			t.Fatalf("bad links: %+v", es[:2])
		}

		// An entry written in a transaction that rolls back leaves no trace.
		boom := errors.New("boom")
		err = d.InTx(ctx, func(tx *db.Tx) error {
			if _, err := l.Append(ctx, tx, Entry{Action: ActionOrgUpdate, Outcome: Success, OrgID: "org-a"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		err = d.InTx(ctx, func(tx *db.Tx) error {
			for i := 0; i < 2; i++ {
				if _, err := l.Append(ctx, tx, Entry{Action: ActionOrgUpdate, Outcome: Success, OrgID: "org-a"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		rep, err = l.Verify(ctx)
		if err != nil || !rep.OK || rep.Entries != 22 || rep.LastSeq != 22 || rep.Checkpoints != 0 {
			t.Fatalf("verify: %+v, %v", rep, err)
		}
		cp, err = l.Checkpoint(ctx)
		if err != nil || cp.Seq != 22 || cp.Hash != rep.LastHash || cp.KeyID != signer(t).KeyID() {
			t.Fatalf("checkpoint: %+v, %v", cp, err)
		}
		again, err := l.Checkpoint(ctx)
		if err != nil || again.Seq != cp.Seq || !again.At.Equal(cp.At) {
			t.Fatalf("second checkpoint not idempotent: %+v vs %+v, %v", again, cp, err)
		}
		appendN(t, l, d, 3, "org-b")
		cp2, err := l.Checkpoint(ctx)
		if err != nil || cp2.Seq != 25 {
			t.Fatalf("checkpoint 2: %+v, %v", cp2, err)
		}
		rep, err = l.Verify(ctx)
		if err != nil || !rep.OK || rep.Entries != 25 || rep.Checkpoints != 2 || rep.LatestCheckpoint.Seq != 25 {
			t.Fatalf("verify after checkpoints: %+v, %v", rep, err)
		}
		cat := i18n.MustLoad()
		if msg := rep.Message(cat, "ja"); !strings.Contains(msg, "異常はありません") || strings.Contains(msg, "%!") {
			t.Fatalf("ok message: %q", msg)
		}

		// The program itself cannot change or remove entries.
		for _, q := range []string{
			`UPDATE audit_log SET actor = 'x' WHERE seq = 1`,
			`DELETE FROM audit_log WHERE seq = 1`,
			`UPDATE audit_checkpoints SET hash = 'x'`,
			`DELETE FROM audit_checkpoints`,
		} {
			if _, err := d.Exec(ctx, q); err == nil {
				t.Errorf("%s: allowed", q)
			}
		}
		if d.Dialect() == db.Postgres {
			if _, err := d.Exec(ctx, `TRUNCATE audit_log`); err == nil {
				t.Error("TRUNCATE allowed")
			}
		}
	})
}

func TestAppendInput(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := New(d, signer(t), nil, newClock().now)
		for _, e := range []Entry{
			{Action: "", Outcome: Success},
			{Action: "Auth.SignIn", Outcome: Success},
			{Action: "auth..signin", Outcome: Success},
			{Action: "auth.signin", Outcome: "ok"},
			{Action: "auth.signin", Outcome: Success, Details: map[string]any{"c": make(chan int)}},
		} {
			if _, err := l.Append(ctx, d, e); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("Append(%+v) = %v, want Invalid", e, err)
			}
		}
		big := strings.Repeat("x", maxDetails)
		if _, err := l.Append(ctx, d, Entry{Action: "a", Outcome: Success, Details: map[string]any{"x": big}}); !apperr.Is(err, apperr.TooLarge) {
			t.Errorf("large details: %v", err)
		}
		// Text that PostgreSQL would refuse, and overlong text, is cleaned.
		e, err := l.Append(ctx, d, Entry{
			Action: ActionSignInFailed, Outcome: Failure, Actor: "bad\x00name\xff",
			UserAgent: strings.Repeat("あ", 1000), Details: map[string]any{"raw": "a\x00b"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if e.Actor != "bad\uFFFDname\uFFFD" || len([]rune(e.UserAgent)) != maxUserAgent {
			t.Fatalf("not cleaned: %q, %d runes", e.Actor, len([]rune(e.UserAgent)))
		}
		if _, err := l.Append(ctx, nil, Entry{Action: "a", Outcome: Success}); err == nil {
			t.Error("nil querier accepted")
		}
		rep, err := l.Verify(ctx)
		if err != nil || !rep.OK || rep.Entries != 1 {
			t.Fatalf("verify: %+v %v", rep, err)
		}
		got, err := l.List(ctx, "", Filter{})
		if !apperr.Is(err, apperr.Invalid) || got != nil {
			t.Fatalf("List without org: %v, %v", got, err)
		}
	})
}

// TestTamper changes the log behind the program's back in every way the
// requirements name and checks that Verify names the first bad entry.
// Each case starts from 10 entries with a checkpoint at 6.
func TestTamper(t *testing.T) {
	other := NewSigner(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	forge := func(t *testing.T, d *db.DB, seq int64, prev string) {
		e := Entry{Seq: seq, At: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), Action: ActionMemberAdd, Outcome: Success, OrgID: "org-a", PrevHash: prev}
		e.Hash = entryHash(&e, "{}")
		exec(t, d, `INSERT INTO audit_log (`+entryColumns+`) VALUES (?, ?, '', '', ?, ?, '', '', ?, '', '', '{}', ?, ?)`,
			e.Seq, e.At, e.OrgID, e.Action, e.Outcome, e.PrevHash, e.Hash)
	}
	hashOf := func(t *testing.T, d *db.DB, seq int64) string {
		var h string
		if err := d.QueryRow(context.Background(), `SELECT hash FROM audit_log WHERE seq = ?`, seq).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	cases := []struct {
		name   string
		tamper func(t *testing.T, d *db.DB)
		ok     bool
		seq    int64
		reason string
	}{
		{"untouched", func(t *testing.T, d *db.DB) {}, true, 0, ""},
		{"update details after checkpoint", func(t *testing.T, d *db.DB) {
			exec(t, d, `UPDATE audit_log SET details = '{"i":99}' WHERE seq = 8`)
		}, false, 8, "audit.verify.hash_mismatch"},
		{"update actor before checkpoint", func(t *testing.T, d *db.DB) {
			exec(t, d, `UPDATE audit_log SET actor = 'someone@else' WHERE seq = 3`)
		}, false, 3, "audit.verify.hash_mismatch"},
		{"update time", func(t *testing.T, d *db.DB) {
			exec(t, d, `UPDATE audit_log SET at = ? WHERE seq = 2`, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
		}, false, 2, "audit.verify.hash_mismatch"},
		{"update with own hash recomputed", func(t *testing.T, d *db.DB) {
			exec(t, d, `UPDATE audit_log SET outcome = 'failure' WHERE seq = 8`)
			var e Entry
			var details string
			rows, _ := d.Query(context.Background(), `SELECT `+entryColumns+` FROM audit_log WHERE seq = 8`)
			rows.Next()
			e, details, _ = scanEntry(rows)
			rows.Close()
			exec(t, d, `UPDATE audit_log SET hash = ? WHERE seq = 8`, entryHash(&e, details))
		}, false, 9, "audit.verify.broken_link"},
		{"rewrite checkpointed region with all hashes recomputed", func(t *testing.T, d *db.DB) {
			exec(t, d, `UPDATE audit_log SET outcome = 'denied' WHERE seq = 3`)
			rechain(t, d, 3)
		}, false, 6, "audit.verify.checkpoint_mismatch"},
		{"delete middle entry", func(t *testing.T, d *db.DB) {
			exec(t, d, `DELETE FROM audit_log WHERE seq = 5`)
		}, false, 5, "audit.verify.gap"},
		{"delete, renumber and recompute", func(t *testing.T, d *db.DB) {
			exec(t, d, `DELETE FROM audit_log WHERE seq = 5`)
			shift(t, d, 6, -1)
			rechain(t, d, 5)
		}, false, 6, "audit.verify.checkpoint_mismatch"},
		{"delete after checkpoint, renumber and recompute", func(t *testing.T, d *db.DB) {
			exec(t, d, `DELETE FROM audit_log WHERE seq = 8`)
			shift(t, d, 9, -1)
			rechain(t, d, 8)
		}, true, 0, ""}, // documented: the tail after the last checkpoint is protected by the chain only
		{"insert before the first entry", func(t *testing.T, d *db.DB) {
			forge(t, d, 0, GenesisHash)
		}, false, 0, "audit.verify.unexpected_seq"},
		{"insert in the middle with recomputed hashes", func(t *testing.T, d *db.DB) {
			shift(t, d, 4, 1)
			forge(t, d, 4, hashOf(t, d, 3))
			rechain(t, d, 4)
		}, false, 6, "audit.verify.checkpoint_mismatch"},
		{"insert at the end with a wrong link", func(t *testing.T, d *db.DB) {
			forge(t, d, 11, hashOf(t, d, 9))
		}, false, 11, "audit.verify.broken_link"},
		{"insert at the end with a bad hash", func(t *testing.T, d *db.DB) {
			forge(t, d, 11, hashOf(t, d, 10))
			exec(t, d, `UPDATE audit_log SET hash = ? WHERE seq = 11`, GenesisHash)
		}, false, 11, "audit.verify.hash_mismatch"},
		{"truncate below the checkpoint", func(t *testing.T, d *db.DB) {
			exec(t, d, `DELETE FROM audit_log WHERE seq >= 5`)
		}, false, 5, "audit.verify.truncated"},
		{"truncate everything", func(t *testing.T, d *db.DB) {
			exec(t, d, `DELETE FROM audit_log`)
		}, false, 1, "audit.verify.truncated"},
		{"truncate after the checkpoint", func(t *testing.T, d *db.DB) {
			exec(t, d, `DELETE FROM audit_log WHERE seq >= 7`)
		}, true, 0, ""}, // documented limitation
		{"checkpoint signature altered", func(t *testing.T, d *db.DB) {
			var sig string
			if err := d.QueryRow(context.Background(), `SELECT signature FROM audit_checkpoints`).Scan(&sig); err != nil {
				t.Fatal(err)
			}
			b, _ := base64.StdEncoding.DecodeString(sig)
			b[0] ^= 1
			exec(t, d, `UPDATE audit_checkpoints SET signature = ?`, base64.StdEncoding.EncodeToString(b))
		}, false, 6, "audit.verify.checkpoint_bad_signature"},
		{"checkpoint moved to the rewritten chain", func(t *testing.T, d *db.DB) {
			exec(t, d, `UPDATE audit_log SET outcome = 'denied' WHERE seq = 3`)
			rechain(t, d, 3)
			exec(t, d, `UPDATE audit_checkpoints SET hash = ?`, hashOf(t, d, 6))
		}, false, 6, "audit.verify.checkpoint_bad_signature"},
		{"checkpoint forged with another key", func(t *testing.T, d *db.DB) {
			exec(t, d, `UPDATE audit_log SET outcome = 'denied' WHERE seq = 3`)
			rechain(t, d, 3)
			exec(t, d, `DELETE FROM audit_checkpoints`)
			cp := Checkpoint{Seq: 10, At: time.Now().UTC().Truncate(time.Microsecond), Hash: hashOf(t, d, 10), KeyID: other.KeyID()}
			cp.Signature = other.sign(cp.SignedMessage())
			exec(t, d, `INSERT INTO audit_checkpoints (seq, at, hash, key_id, signature) VALUES (?, ?, ?, ?, ?)`,
				cp.Seq, cp.At, cp.Hash, cp.KeyID, base64.StdEncoding.EncodeToString(cp.Signature))
		}, false, 10, "audit.verify.checkpoint_unknown_key"},
	}
	cat := i18n.MustLoad()
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				ctx := context.Background()
				l := checkpointed(t, d, 6)
				appendN(t, l, d, 4, "org-a")
				dropGuards(t, d)
				c.tamper(t, d)
				rep, err := l.Verify(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if rep.OK != c.ok || rep.BadSeq != c.seq || rep.Reason != c.reason {
					t.Fatalf("Verify = ok %v seq %d %q %v, want ok %v seq %d %q", rep.OK, rep.BadSeq, rep.Reason, rep.Args, c.ok, c.seq, c.reason)
				}
				for _, lang := range i18n.Languages {
					if msg := rep.Message(cat, lang); strings.Contains(msg, "%!") || strings.HasPrefix(msg, "audit.") {
						t.Errorf("%s message: %q", lang, msg)
					}
				}
				// A checkpoint never blesses a damaged chain.
				if !c.ok && c.seq > 6 {
					_, err := l.Checkpoint(ctx)
					if ae := apperr.From(err); err == nil || ae.Key != "audit.error.checkpoint_refused" {
						t.Fatalf("Checkpoint after tampering: %v", err)
					}
				}
			})
		})
	}
}

// checkpointed is a signing log with n entries of org-a and a checkpoint
// over them.
func checkpointed(t *testing.T, d *db.DB, n int) *Log {
	t.Helper()
	l := New(d, signer(t), nil, newClock().now)
	appendN(t, l, d, n, "org-a")
	if _, err := l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestCheckpointRefusesTruncation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := checkpointed(t, d, 5)
		dropGuards(t, d)
		exec(t, d, `DELETE FROM audit_log WHERE seq >= 4`)
		if _, err := l.Checkpoint(ctx); err == nil {
			t.Fatal("checkpoint over a truncated log")
		}
		if _, err := New(d, nil, nil, nil).Checkpoint(ctx); !apperr.Is(err, apperr.Unavailable) {
			t.Fatalf("no signer: %v", err)
		}
	})
}

func TestConcurrentAppends(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		appendConcurrently(t, []*db.DB{d})
	})
}

// TestTwoNodes appends through two database handles on one database, as
// two server processes would, while both also make checkpoints.
func TestTwoNodes(t *testing.T) {
	open := func(t *testing.T, target string) *db.DB {
		d, err := db.Open(context.Background(), target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if _, err := d.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return d
	}
	t.Run("sqlite", func(t *testing.T) {
		path := t.TempDir() + "/shared.db"
		appendConcurrently(t, []*db.DB{open(t, path), open(t, path)})
	})
	t.Run("postgres", func(t *testing.T) {
		u := dbtest.PostgresURL(t)
		appendConcurrently(t, []*db.DB{open(t, u), open(t, u)})
	})
}

func appendConcurrently(t *testing.T, nodes []*db.DB) {
	t.Helper()
	ctx := context.Background()
	const workers, each = 8, 25
	clk := newClock()
	var wg sync.WaitGroup
	errs := make(chan error, workers*each+workers)
	for w := 0; w < workers; w++ {
		d := nodes[w%len(nodes)]
		l := New(d, signer(t), nil, clk.now)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				var err error
				if i%2 == 0 {
					_, err = l.Append(ctx, d, Entry{Action: ActionSignIn, Outcome: Success, OrgID: "org-a", Actor: fmt.Sprintf("w%d", w)})
				} else {
					err = d.InTx(ctx, func(tx *db.Tx) error {
						_, err := l.Append(ctx, tx, Entry{Action: ActionOrgUpdate, Outcome: Success, OrgID: "org-a", Actor: fmt.Sprintf("w%d", w)})
						return err
					})
				}
				if err != nil {
					errs <- err
				}
				if i%10 == 0 {
					if _, err := l.Checkpoint(ctx); err != nil {
						errs <- fmt.Errorf("checkpoint: %w", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, d := range nodes {
		rep, err := New(d, signer(t), nil, nil).Verify(ctx)
		if err != nil || !rep.OK || rep.Entries != workers*each || rep.Checkpoints == 0 {
			t.Fatalf("verify: %+v, %v", rep, err)
		}
	}
}

// TestHashVector pins the hash encoding so that independent verifiers can
// be written against the package documentation.
func TestHashVector(t *testing.T) {
	e := Entry{
		Seq: 1, At: time.Date(2026, 4, 1, 0, 0, 0, 5000, time.UTC), ActorID: "u", Actor: "a@b.jp", OrgID: "o",
		Action: "auth.signin", ObjectType: "user", ObjectID: "u", Outcome: Success, IP: "192.0.2.1",
		UserAgent: "ua", PrevHash: GenesisHash,
	}
	got := entryHash(&e, `{"k":"v"}`)
	const want = "ce80c33f2d5b8cea039c3094e15dfdccce358d792a437fa62350bd96f11ce18b"
	if got != want {
		t.Fatalf("hash = %s", got)
	}
	// Moving a byte from one field to the next changes the hash.
	e2 := e
	e2.ActorID, e2.Actor = "ua", "@b.jp"
	if entryHash(&e2, `{"k":"v"}`) == got {
		t.Fatal("field boundaries do not count")
	}
}
