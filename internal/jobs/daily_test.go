package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
)

var jst = time.FixedZone("JST", 9*60*60)

const digestAt = 7*time.Hour + 30*time.Minute

// dayLog records the days a daily task ran for, across nodes.
type dayLog struct {
	mu   sync.Mutex
	days []string
}

func (l *dayLog) fn(ctx context.Context, day string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.days = append(l.days, day)
	return nil
}

func (l *dayLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.days)
}

func clockAt(t time.Time) *clock { return testkit.NewClock(t) }

func runDaily(t *testing.T, q *Queue) int {
	t.Helper()
	n, err := q.RunDaily(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// dailyNodes returns two nodes "a" and "b" on the same database that both
// run the daily "digest" job into log.
func dailyNodes(t *testing.T, d *db.DB, clk *clock, log *dayLog) (a, b *Queue) {
	t.Helper()
	a = newQueue(d, clk.Now, "a")
	b = newQueue(reopen(t, d), clk.Now, "b")
	for _, q := range []*Queue{a, b} {
		q.Daily("digest", digestAt, jst, log.fn)
	}
	return a, b
}

func lastRun(t *testing.T, q *Queue, name string) DailyRun {
	t.Helper()
	rs, err := q.DailyRuns(context.Background(), name, 1)
	if err != nil || len(rs) == 0 {
		t.Fatalf("daily runs: %v %v", rs, err)
	}
	return rs[0]
}

func TestDailyOncePerDayAcrossNodes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		clk := clockAt(time.Date(2026, 4, 1, 6, 0, 0, 0, jst))
		var log dayLog
		a, b := dailyNodes(t, d, clk, &log)
		steps := []struct {
			at   time.Time
			node *Queue
			want []string
		}{
			{time.Date(2026, 4, 1, 6, 0, 0, 0, jst), a, nil},
			{time.Date(2026, 4, 1, 7, 29, 59, 0, jst), b, nil},
			{time.Date(2026, 4, 1, 7, 30, 0, 0, jst), a, []string{"2026-04-01"}},
			{time.Date(2026, 4, 1, 7, 30, 1, 0, jst), b, []string{"2026-04-01"}},
			{time.Date(2026, 4, 1, 23, 59, 59, 0, jst), a, []string{"2026-04-01"}},
			{time.Date(2026, 4, 2, 0, 0, 0, 0, jst), b, []string{"2026-04-01"}},
			{time.Date(2026, 4, 2, 7, 29, 0, 0, jst), a, []string{"2026-04-01"}},
			{time.Date(2026, 4, 2, 8, 0, 0, 0, jst), b, []string{"2026-04-01", "2026-04-02"}},
			{time.Date(2026, 4, 2, 9, 0, 0, 0, jst), a, []string{"2026-04-01", "2026-04-02"}},
		}
		for i, s := range steps {
			clk.Set(s.at)
			runDaily(t, s.node)
			if got := log.get(); !slices.Equal(got, s.want) {
				t.Fatalf("step %d (%s on %s): ran for %v, want %v", i, s.at, s.node.NodeID, got, s.want)
			}
		}
		if r := lastRun(t, a, "digest"); r.Day != "2026-04-02" || r.State != "done" || r.Holder != "b" || r.Attempts != 1 {
			t.Errorf("last run %+v", r)
		}
		// A restarted node (new id, nothing in memory) does not run the day again.
		c := newQueue(reopen(t, d), clk.Now, "a-restarted")
		c.Daily("digest", digestAt, jst, log.fn)
		if n := runDaily(t, c); n != 0 || len(log.get()) != 2 {
			t.Fatalf("restarted node ran the day again: %d %v", n, log.get())
		}
	})
}

func TestDailyCatchUp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		clk := clockAt(time.Date(2026, 4, 1, 15, 0, 0, 0, jst))
		var log dayLog
		q := newQueue(d, clk.Now, "a")
		q.Daily("digest", digestAt, jst, log.fn)
		if n := runDaily(t, q); n != 1 || !slices.Equal(log.get(), []string{"2026-04-01"}) {
			t.Fatalf("node started after the time did not catch up: %d %v", n, log.get())
		}
		// Days when no node ran are not made up for; today's run is.
		clk.Set(time.Date(2026, 4, 5, 10, 0, 0, 0, jst))
		runDaily(t, q)
		runDaily(t, q)
		if got := log.get(); !slices.Equal(got, []string{"2026-04-01", "2026-04-05"}) {
			t.Fatalf("ran for %v", got)
		}
		// The day follows loc, not UTC: 2026-04-05 23:30 UTC is 04-06 08:30 JST.
		clk.Set(time.Date(2026, 4, 5, 23, 30, 0, 0, time.UTC))
		runDaily(t, q)
		if got := log.get(); got[len(got)-1] != "2026-04-06" {
			t.Fatalf("ran for %v", got)
		}
	})
}

func TestDailyCrashedRunRetriedSameDay(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clockAt(time.Date(2026, 4, 1, 7, 30, 0, 0, jst))
		var log dayLog
		a, b := dailyNodes(t, d, clk, &log)
		// Node a takes the day and dies before finishing.
		if n, err := a.claimDay(ctx, a.daily[0], "2026-04-01", clk.Now()); err != nil || n != 1 {
			t.Fatalf("claim: %d %v", n, err)
		}
		if n := runDaily(t, b); n != 0 {
			t.Fatal("b ran while a's lease was valid")
		}
		clk.Advance(a.Lease)
		if n := runDaily(t, b); n != 1 || !slices.Equal(log.get(), []string{"2026-04-01"}) {
			t.Fatalf("b did not take over the dead run: %d %v", n, log.get())
		}
		if r := lastRun(t, b, "digest"); r.State != "done" || r.Attempts != 2 || r.Holder != "b" {
			t.Errorf("run %+v", r)
		}
		// A node that keeps dying gives the day up after DailyMaxAttempts.
		clk.Set(time.Date(2026, 4, 2, 8, 0, 0, 0, jst))
		for i := 1; i <= DailyMaxAttempts; i++ {
			if n, err := a.claimDay(ctx, a.daily[0], "2026-04-02", clk.Now()); err != nil || n != i {
				t.Fatalf("claim %d: %d %v", i, n, err)
			}
			clk.Advance(a.Lease)
		}
		if n := runDaily(t, b); n != 0 {
			t.Fatal("ran after the attempts were used up")
		}
		if r := lastRun(t, b, "digest"); r.State != "failed" || r.LastError == "" {
			t.Errorf("run %+v", r)
		}
		clk.Set(time.Date(2026, 4, 3, 7, 30, 0, 0, jst))
		if n := runDaily(t, a); n != 1 {
			t.Fatal("the next day did not run")
		}
	})
}

func TestDailyFailureRetried(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		clk := clockAt(time.Date(2026, 4, 1, 7, 30, 0, 0, jst))
		q := newQueue(d, clk.Now, "a")
		q.Backoff = func(int) time.Duration { return time.Minute }
		var calls atomic.Int32
		failUntil := int32(1)
		q.Daily("digest", digestAt, jst, func(ctx context.Context, day string) error {
			if calls.Add(1) <= failUntil {
				return errors.New("mail server down")
			}
			return nil
		})
		runDaily(t, q)
		if r := lastRun(t, q, "digest"); r.State != "retry" || r.LastError != "mail server down" {
			t.Fatalf("after failure: %+v", r)
		}
		if runDaily(t, q); calls.Load() != 1 {
			t.Fatal("retried before the backoff")
		}
		clk.Advance(time.Minute)
		if runDaily(t, q); calls.Load() != 2 {
			t.Fatal("not retried after the backoff")
		}
		if r := lastRun(t, q, "digest"); r.State != "done" || r.Attempts != 2 || r.LastError != "" {
			t.Fatalf("after retry: %+v", r)
		}
		// Failing every attempt gives the day up.
		calls.Store(0)
		failUntil = 100
		clk.Set(time.Date(2026, 4, 2, 7, 30, 0, 0, jst))
		for range DailyMaxAttempts + 2 {
			runDaily(t, q)
			clk.Advance(time.Minute)
		}
		if n := calls.Load(); n != DailyMaxAttempts {
			t.Fatalf("%d attempts", n)
		}
		if r := lastRun(t, q, "digest"); r.State != "failed" || r.Attempts != DailyMaxAttempts {
			t.Fatalf("given up: %+v", r)
		}
	})
}

func TestDailyShutdownGivesAttemptBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		clk := clockAt(time.Date(2026, 4, 1, 7, 30, 0, 0, jst))
		q := newQueue(d, clk.Now, "a")
		started := make(chan struct{})
		var calls atomic.Int32
		q.Daily("digest", digestAt, jst, func(ctx context.Context, day string) error {
			if calls.Add(1) == 1 {
				close(started)
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			q.Run(ctx, 1)
		}()
		<-started
		cancel()
		<-done
		if r := lastRun(t, q, "digest"); r.State != "retry" || r.Attempts != 0 {
			t.Fatalf("after shutdown: %+v", r)
		}
		q2 := newQueue(reopen(t, d), clk.Now, "b")
		q2.daily = q.daily
		if n := runDaily(t, q2); n != 1 || calls.Load() != 2 {
			t.Fatalf("interrupted day not resumed: %d", calls.Load())
		}
		if r := lastRun(t, q, "digest"); r.State != "done" || r.Attempts != 1 {
			t.Fatalf("resumed: %+v", r)
		}
	})
}

func TestDailyRunsOnOneNodeConcurrently(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		clk := clockAt(time.Date(2026, 4, 1, 7, 0, 0, 0, jst))
		var log dayLog
		var nodes []*Queue
		for i, h := range []*db.DB{d, reopen(t, d), reopen(t, d)} {
			q := newQueue(h, clk.Now, fmt.Sprintf("n%d", i))
			q.Daily("digest", digestAt, jst, func(ctx context.Context, day string) error {
				time.Sleep(20 * time.Millisecond)
				return log.fn(ctx, day)
			})
			nodes = append(nodes, q)
		}
		for _, q := range nodes {
			runQueue(t, q, 1)
		}
		time.Sleep(50 * time.Millisecond)
		if got := log.get(); len(got) != 0 {
			t.Fatalf("ran before the time: %v", got)
		}
		clk.Set(time.Date(2026, 4, 1, 7, 30, 0, 0, jst))
		waitFor(t, "first day", func() bool { return len(log.get()) >= 1 })
		time.Sleep(100 * time.Millisecond)
		clk.Set(time.Date(2026, 4, 2, 7, 45, 0, 0, jst))
		waitFor(t, "second day", func() bool { return len(log.get()) >= 2 })
		time.Sleep(100 * time.Millisecond)
		if got := log.get(); !slices.Equal(got, []string{"2026-04-01", "2026-04-02"}) {
			t.Fatalf("ran for %v", got)
		}
	})
}

func TestDailyRegistrationPanics(t *testing.T) {
	for name, f := range map[string]func(q *Queue){
		"negative": func(q *Queue) { q.Daily("x", -time.Minute, jst, nil) },
		"24h":      func(q *Queue) { q.Daily("x", 24*time.Hour, jst, nil) },
		"twice": func(q *Queue) {
			q.Daily("x", time.Hour, jst, nil)
			q.Daily("x", 2*time.Hour, jst, nil)
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f(New(nil, nil, quiet()))
		})
	}
}
