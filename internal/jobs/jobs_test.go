package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

type clock = testkit.Clock

func newClock() *clock { return testkit.NewClock(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newQueue(d *db.DB, now func() time.Time, node string) *Queue {
	q := New(d, now, quiet())
	q.NodeID = node
	q.PollInterval = 5 * time.Millisecond
	return q
}

// reopen returns a second, independent handle on the same database, as a
// second node would have.
func reopen(t testing.TB, d *db.DB) *db.DB {
	t.Helper()
	d2, err := db.Open(context.Background(), d.Source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d2.Close() })
	return d2
}

// twoNodes returns two queues on the same database, as nodes "a" and "b"
// would have, sharing one clock. a renews its leases every 5ms.
func twoNodes(t testing.TB, d *db.DB, clk *clock) (a, b *Queue) {
	t.Helper()
	a = newQueue(d, clk.Now, "a")
	a.renewEvery = 5 * time.Millisecond
	return a, newQueue(reopen(t, d), clk.Now, "b")
}

// eachQueue runs fn on each database with a queue of node "a" on a fixed
// clock.
func eachQueue(t *testing.T, fn func(t *testing.T, ctx context.Context, d *db.DB, clk *clock, q *Queue)) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		clk := newClock()
		fn(t, context.Background(), d, clk, newQueue(d, clk.Now, "a"))
	})
}

// eachTwoNodes runs fn on each database with the queues of two nodes
// (twoNodes) sharing a fixed clock.
func eachTwoNodes(t *testing.T, fn func(t *testing.T, ctx context.Context, d *db.DB, clk *clock, a, b *Queue)) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		clk := newClock()
		a, b := twoNodes(t, d, clk)
		fn(t, context.Background(), d, clk, a, b)
	})
}

func runQueue(t testing.TB, q *Queue, workers int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := q.Run(ctx, workers); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustGet(t testing.TB, q *Queue, id string) Job {
	t.Helper()
	j, err := q.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestRetryWithBackoffThenSuccess(t *testing.T) {
	eachQueue(t, func(t *testing.T, ctx context.Context, d *db.DB, clk *clock, q *Queue) {
		var calls atomic.Int32
		type payload struct{ N int }
		q.Register("flaky", func(ctx context.Context, p []byte) error {
			n := calls.Add(1)
			info, ok := Current(ctx)
			if !ok || info.Attempt != int(n) || info.Kind != "flaky" {
				t.Errorf("Current = %+v, %v; want attempt %d", info, ok, n)
			}
			if n < 3 {
				return fmt.Errorf("boom %d", n)
			}
			return nil
		})
		id, err := q.Enqueue(ctx, nil, "flaky", payload{7})
		if err != nil {
			t.Fatal(err)
		}
		for attempt, wantDelay := range []time.Duration{10 * time.Second, 20 * time.Second} {
			if n, err := q.RunOnce(ctx); err != nil || n != 1 {
				t.Fatalf("attempt %d: RunOnce = %d, %v", attempt+1, n, err)
			}
			j := mustGet(t, q, id)
			if j.State != Queued || j.Attempts != attempt+1 || j.LastError != fmt.Sprintf("boom %d", attempt+1) {
				t.Fatalf("after attempt %d: %+v", attempt+1, j)
			}
			delay := j.RunAt.Sub(clk.Now())
			if delay < wantDelay*3/4 || delay > wantDelay {
				t.Fatalf("after attempt %d: retry in %v, want within [%v, %v]", attempt+1, delay, wantDelay*3/4, wantDelay)
			}
			if n, _ := q.RunOnce(ctx); n != 0 {
				t.Fatalf("job ran before its backoff ended")
			}
			clk.Advance(wantDelay)
		}
		if n, err := q.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("third attempt: RunOnce = %d, %v", n, err)
		}
		j := mustGet(t, q, id)
		if j.State != Done || j.Attempts != 3 || j.FinishedAt.IsZero() || j.LockedBy != "" {
			t.Fatalf("final job: %+v", j)
		}
		if string(j.Payload) != `{"N":7}` {
			t.Fatalf("payload = %s", j.Payload)
		}
	})
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name         string
		handler      Handler
		maxAttempts  int
		wantAttempts int
		wantErr      string
	}{
		{"max attempts", func(context.Context, []byte) error { return errors.New("smtp down") }, 3, 3, "smtp down"},
		{"permanent", func(context.Context, []byte) error { return Permanent(errors.New("bad address")) }, 5, 1, "bad address"},
		{"panic", func(context.Context, []byte) error { panic("nil map") }, 2, 2, "panic: nil map"},
		{"long error", func(context.Context, []byte) error { return errors.New(strings.Repeat("エラー", 2000)) }, 1, 1, "エラーエラー"},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				clk := newClock()
				q := newQueue(d, clk.Now, "a")
				kind := "fail." + strings.ReplaceAll(tc.name, " ", "_")
				q.Register(kind, tc.handler)
				id, err := q.Enqueue(ctx, d, kind, nil, MaxAttempts(tc.maxAttempts))
				if err != nil {
					t.Fatal(err)
				}
				for range 10 {
					if _, err := q.RunOnce(ctx); err != nil {
						t.Fatal(err)
					}
					clk.Advance(2 * time.Hour)
				}
				j := mustGet(t, q, id)
				if j.State != Failed || j.Attempts != tc.wantAttempts || !strings.HasPrefix(j.LastError, tc.wantErr) || j.FinishedAt.IsZero() {
					t.Fatalf("job = %+v", j)
				}
				if len(j.LastError) > maxErrorLen+len("…") {
					t.Fatalf("last_error is %d bytes", len(j.LastError))
				}

				failed, err := q.List(ctx, Filter{State: Failed, Kind: kind})
				if err != nil || len(failed) != 1 || failed[0].ID != id {
					t.Fatalf("List failed = %v, %v", failed, err)
				}
				if err := q.Retry(ctx, id); err != nil {
					t.Fatal(err)
				}
				j = mustGet(t, q, id)
				if j.State != Queued || j.Attempts != 0 || !j.FinishedAt.IsZero() {
					t.Fatalf("after Retry: %+v", j)
				}
				if err := q.Retry(ctx, id); !apperr.Is(err, apperr.Conflict) {
					t.Fatalf("Retry of queued job = %v, want Conflict", err)
				}
				if err := q.Retry(ctx, db.NewID()); !apperr.Is(err, apperr.NotFound) {
					t.Fatalf("Retry of unknown job = %v, want NotFound", err)
				}
			})
		}
	})
}

func TestUniqueKey(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := newQueue(d, nil, "a")
		var runs atomic.Int32
		q.Register("digest", func(context.Context, []byte) error { runs.Add(1); return nil })
		id1, err := q.Enqueue(ctx, nil, "digest", nil, UniqueKey("digest:org1"))
		if err != nil {
			t.Fatal(err)
		}
		var id2 string
		if err := d.InTx(ctx, func(tx *db.Tx) error {
			id2, err = q.Enqueue(ctx, tx, "digest", nil, UniqueKey("digest:org1"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if id2 != id1 {
			t.Fatalf("second enqueue made a new job %s (first %s)", id2, id1)
		}
		other, err := q.Enqueue(ctx, nil, "digest", nil, UniqueKey("digest:org2"))
		if err != nil || other == id1 {
			t.Fatalf("other key: %s, %v", other, err)
		}
		if n, err := q.RunOnce(ctx); err != nil || n != 2 {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		id3, err := q.Enqueue(ctx, nil, "digest", nil, UniqueKey("digest:org1"))
		if err != nil || id3 == id1 {
			t.Fatalf("enqueue after the first finished: %s, %v", id3, err)
		}
		if mustGet(t, q, id3).UniqueKey != "digest:org1" {
			t.Fatal("unique key not stored")
		}
	})
}

func TestEnqueueInTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := newQueue(d, nil, "a")
		rollback := errors.New("rollback")
		var rolledBack string
		err := d.InTx(ctx, func(tx *db.Tx) error {
			id, err := q.Enqueue(ctx, tx, "x", map[string]string{"a": "b"})
			rolledBack = id
			if err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		if _, err := q.Get(ctx, rolledBack); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("job of rolled-back tx: %v", err)
		}
		var committed string
		if err := d.InTx(ctx, func(tx *db.Tx) error {
			committed, err = q.Enqueue(ctx, tx, "x", nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if mustGet(t, q, committed).State != Queued {
			t.Fatal("committed job not queued")
		}
		c, err := q.Counts(ctx)
		if err != nil || c[Queued] != 1 || c[Done] != 0 || len(c) != len(States) {
			t.Fatalf("Counts = %v, %v", c, err)
		}
		if _, err := q.Enqueue(ctx, nil, "x", []byte("not json")); err == nil {
			t.Fatal("invalid raw payload accepted")
		}
	})
}

func TestLeaseExpiryRecoveredByAnotherNode(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := newClock()
		a := newQueue(d, clk.Now, "node-a")
		b := newQueue(reopen(t, d), clk.Now, "node-b")
		var ranOn []string
		var mu sync.Mutex
		for _, q := range []*Queue{a, b} {
			q.Register("work", func(ctx context.Context, _ []byte) error {
				mu.Lock()
				defer mu.Unlock()
				ranOn = append(ranOn, q.NodeID)
				return nil
			})
		}
		id, err := a.Enqueue(ctx, nil, "work", nil)
		if err != nil {
			t.Fatal(err)
		}
		// Node a claims the job and then stops without finishing it.
		stale, err := a.claim(ctx)
		if err != nil || stale == nil || stale.id != id {
			t.Fatalf("claim = %+v, %v", stale, err)
		}
		if j := mustGet(t, b, id); j.State != Running || j.LockedBy != "node-a" {
			t.Fatalf("claimed job: %+v", j)
		}
		if n, _ := b.RunOnce(ctx); n != 0 {
			t.Fatal("node b took a job whose lease is still valid")
		}
		clk.Advance(a.Lease + time.Second)
		if n, err := b.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("node b RunOnce = %d, %v", n, err)
		}
		j := mustGet(t, b, id)
		if j.State != Done || j.Attempts != 2 {
			t.Fatalf("recovered job: %+v", j)
		}
		// Node a comes back and reports a failure for its old run: ignored.
		a.finish(ctx, stale, errors.New("late"), true)
		if j := mustGet(t, a, id); j.State != Done || j.LastError != "" {
			t.Fatalf("stale finish overwrote the job: %+v", j)
		}
		if len(ranOn) != 1 || ranOn[0] != "node-b" {
			t.Fatalf("ran on %v", ranOn)
		}
	})
}

func TestAbandonedTooOftenFails(t *testing.T) {
	eachQueue(t, func(t *testing.T, ctx context.Context, d *db.DB, clk *clock, q *Queue) {
		q.Register("work", func(context.Context, []byte) error { t.Error("handler ran"); return nil })
		id, _ := q.Enqueue(ctx, nil, "work", nil, MaxAttempts(2))
		for range 2 {
			if j, err := q.claim(ctx); err != nil || j == nil {
				t.Fatalf("claim = %v, %v", j, err)
			}
			clk.Advance(q.Lease + time.Second)
		}
		if n, err := q.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		if j := mustGet(t, q, id); j.State != Failed || !strings.Contains(j.LastError, "stopped") {
			t.Fatalf("job = %+v", j)
		}
	})
}

func TestNoJobRunsTwice(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		const jobs = 150
		var mu sync.Mutex
		runs := map[string]int{}
		inflight := map[string]bool{}
		handler := func(ctx context.Context, p []byte) error {
			info, _ := Current(ctx)
			mu.Lock()
			if inflight[info.ID] {
				t.Errorf("job %s runs twice at once", info.ID)
			}
			inflight[info.ID] = true
			runs[info.ID]++
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			delete(inflight, info.ID)
			mu.Unlock()
			return nil
		}
		nodes := []*Queue{newQueue(d, nil, "n1"), newQueue(reopen(t, d), nil, "n2"), newQueue(reopen(t, d), nil, "n3")}
		for _, q := range nodes {
			q.Register("count", handler)
		}
		for i := range jobs {
			if _, err := nodes[i%len(nodes)].Enqueue(ctx, nil, "count", map[string]int{"i": i}); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range nodes {
			runQueue(t, q, 6)
		}
		waitFor(t, "all jobs done", func() bool {
			c, err := nodes[0].Counts(ctx)
			return err == nil && c[Done] == jobs
		})
		mu.Lock()
		defer mu.Unlock()
		if len(runs) != jobs {
			t.Fatalf("%d distinct jobs ran, want %d", len(runs), jobs)
		}
		for id, n := range runs {
			if n != 1 {
				t.Errorf("job %s ran %d times", id, n)
			}
		}
	})
}

func TestShutdownReturnsJobToQueue(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := newQueue(d, nil, "a")
		started := make(chan struct{})
		q.Register("slow", func(ctx context.Context, _ []byte) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		})
		id, _ := q.Enqueue(ctx, nil, "slow", nil)
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- q.Run(rctx, 2) }()
		<-started
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if j := mustGet(t, q, id); j.State != Queued || j.Attempts != 0 || j.LockedBy != "" {
			t.Fatalf("after shutdown: %+v", j)
		}
	})
}

func TestLeaseRenewedWhileRunning(t *testing.T) {
	eachTwoNodes(t, func(t *testing.T, ctx context.Context, d *db.DB, clk *clock, a, b *Queue) {
		var runs atomic.Int32
		release := make(chan struct{})
		h := func(ctx context.Context, _ []byte) error {
			runs.Add(1)
			<-release
			return nil
		}
		a.Register("long", h)
		b.Register("long", h)
		id, _ := a.Enqueue(ctx, nil, "long", nil)
		runQueue(t, a, 1)
		waitFor(t, "job started", func() bool { return runs.Load() == 1 })
		clk.Advance(2 * a.Lease)
		waitFor(t, "lease renewed", func() bool { return mustGet(t, a, id).LockedUntil.After(clk.Now()) })
		if n, err := b.RunOnce(ctx); err != nil || n != 0 {
			t.Fatalf("node b took a job whose lease was renewed: %d, %v", n, err)
		}
		close(release)
		waitFor(t, "job done", func() bool { return mustGet(t, a, id).State == Done })
		if n := runs.Load(); n != 1 {
			t.Fatalf("job ran %d times", n)
		}
	})
}

func TestLostLeaseCancelsHandler(t *testing.T) {
	eachTwoNodes(t, func(t *testing.T, ctx context.Context, d *db.DB, clk *clock, a, b *Queue) {
		started := make(chan struct{})
		cancelled := make(chan struct{})
		a.Register("long", func(ctx context.Context, _ []byte) error {
			close(started)
			<-ctx.Done()
			close(cancelled)
			return ctx.Err()
		})
		b.Register("long", func(context.Context, []byte) error { return nil })
		id, _ := a.Enqueue(ctx, nil, "long", nil)
		runQueue(t, a, 1)
		<-started
		// Node b takes the job over as if a's lease had lapsed (a may renew
		// it in between, so try until b wins).
		var j *claimed
		waitFor(t, "node b takes over", func() bool {
			if _, err := d.Exec(ctx, `UPDATE jobs SET locked_until = ? WHERE id = ? AND locked_by = 'a'`, clk.Now(), id); err != nil {
				t.Fatal(err)
			}
			var err error
			if j, err = b.claim(ctx); err != nil {
				t.Fatal(err)
			}
			return j != nil
		})
		select {
		case <-cancelled:
		case <-time.After(time.Minute):
			t.Fatal("handler on node a was not cancelled after losing its lease")
		}
		b.execute(ctx, j)
		if got := mustGet(t, b, id); got.State != Done || got.Attempts != 2 {
			t.Fatalf("job %+v", got)
		}
	})
}

func TestPeriodicRunsOnOneNode(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		clk := newClock()
		var runs atomic.Int32
		var nodes []*Queue
		for i, h := range []*db.DB{d, reopen(t, d), reopen(t, d)} {
			q := newQueue(h, clk.Now, fmt.Sprintf("n%d", i))
			q.Every("feeds", time.Hour, func(ctx context.Context) error { runs.Add(1); return nil })
			nodes = append(nodes, q)
		}
		for _, q := range nodes {
			runQueue(t, q, 1)
		}
		waitFor(t, "first run", func() bool { return runs.Load() >= 1 })
		time.Sleep(100 * time.Millisecond) // many polls on every node
		if n := runs.Load(); n != 1 {
			t.Fatalf("periodic task ran %d times in one interval", n)
		}
		clk.Advance(time.Hour)
		waitFor(t, "second run", func() bool { return runs.Load() >= 2 })
		time.Sleep(100 * time.Millisecond)
		if n := runs.Load(); n != 2 {
			t.Fatalf("periodic task ran %d times in two intervals", n)
		}
	})
}

func TestTryLock(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
		steps := []struct {
			holder string
			at     time.Duration
			want   bool
		}{
			{"a", 0, true},
			{"b", time.Second, false},
			{"a", 2 * time.Second, true},                   // renewal by the holder
			{"b", 61 * time.Second, false},                 // a's renewed lease still valid
			{"b", 62*time.Second + time.Millisecond, true}, // expired
			{"a", 63 * time.Second, false},
		}
		for i, s := range steps {
			got, err := TryLock(ctx, d, "feeds", s.holder, time.Minute, now.Add(s.at))
			if err != nil || got != s.want {
				t.Fatalf("step %d: TryLock(%s) = %v, %v; want %v", i, s.holder, got, err, s.want)
			}
		}
		if err := Unlock(ctx, d, "feeds", "a"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := TryLock(ctx, d, "feeds", "a", time.Minute, now.Add(64*time.Second)); ok {
			t.Fatal("Unlock by a non-holder released the lock")
		}
		if err := Unlock(ctx, d, "feeds", "b"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := TryLock(ctx, d, "feeds", "a", time.Minute, now.Add(64*time.Second)); !ok {
			t.Fatal("lock not free after Unlock")
		}
	})
}

func TestListAndPrune(t *testing.T) {
	eachQueue(t, func(t *testing.T, ctx context.Context, d *db.DB, clk *clock, q *Queue) {
		q.Register("ok", func(context.Context, []byte) error { return nil })
		for range 3 {
			if _, err := q.Enqueue(ctx, nil, "ok", nil); err != nil {
				t.Fatal(err)
			}
		}
		later, _ := q.Enqueue(ctx, nil, "ok", nil, RunAt(clk.Now().Add(48*time.Hour)))
		if _, err := q.Enqueue(ctx, nil, "other", nil); err != nil {
			t.Fatal(err)
		}
		if n, _ := q.RunOnce(ctx); n != 3 {
			t.Fatalf("ran %d", n)
		}
		tests := []struct {
			f    Filter
			want int
		}{
			{Filter{}, 5},
			{Filter{State: Done}, 3},
			{Filter{State: Queued}, 2},
			{Filter{Kind: "other"}, 1},
			{Filter{State: Queued, Kind: "ok"}, 1},
			{Filter{Limit: 2}, 2},
		}
		for _, tc := range tests {
			got, err := q.List(ctx, tc.f)
			if err != nil || len(got) != tc.want {
				t.Fatalf("List(%+v) = %d jobs, %v; want %d", tc.f, len(got), err, tc.want)
			}
		}
		clk.Advance(25 * time.Hour)
		n, err := q.Prune(ctx, 24*time.Hour)
		if err != nil || n != 3 {
			t.Fatalf("Prune = %d, %v", n, err)
		}
		if mustGet(t, q, later).State != Queued {
			t.Fatal("Prune removed a queued job")
		}
	})
}

func TestDefaultBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		max     time.Duration
	}{
		{0, 10 * time.Second},
		{1, 10 * time.Second},
		{2, 20 * time.Second},
		{5, 160 * time.Second},
		{9, 2560 * time.Second},
		{10, time.Hour},
		{64, time.Hour},
	}
	for _, tc := range tests {
		for range 50 {
			got := DefaultBackoff(tc.attempt)
			if got > tc.max || got < tc.max*3/4 {
				t.Fatalf("DefaultBackoff(%d) = %v, want within [%v, %v]", tc.attempt, got, tc.max*3/4, tc.max)
			}
		}
	}
}

func BenchmarkEnqueueAndProcess(b *testing.B) {
	testkit.BenchEach(b, func(b *testing.B, d *db.DB) {
		ctx := context.Background()
		q := New(d, nil, quiet())
		var done atomic.Int64
		q.Register("bench", func(context.Context, []byte) error { done.Add(1); return nil })
		runQueue(b, q, 8)
		b.ResetTimer()
		for i := range b.N {
			if _, err := q.Enqueue(ctx, nil, "bench", map[string]int{"i": i}); err != nil {
				b.Fatal(err)
			}
		}
		n := int64(b.N)
		for done.Load() < n {
			time.Sleep(time.Millisecond)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "jobs/s")
	})
}

func TestRunNow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c := newClock()
		q := newQueue(d, c.Now, "a")
		var runs atomic.Int32
		q.Register("match", func(context.Context, []byte) error { runs.Add(1); return nil })
		id, err := q.Enqueue(ctx, nil, "match", nil, RunAt(c.Now().Add(10*time.Minute)))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := q.RunOnce(ctx); err != nil || n != 0 {
			t.Fatalf("a job due later ran: %d, %v", n, err)
		}
		if waiting, err := q.RunNow(ctx, nil, id); err != nil || !waiting {
			t.Fatalf("RunNow = %v, %v", waiting, err)
		}
		if n, err := q.RunOnce(ctx); err != nil || n != 1 || runs.Load() != 1 {
			t.Fatalf("RunOnce after RunNow = %d, %v (runs %d)", n, err, runs.Load())
		}
		if waiting, err := q.RunNow(ctx, nil, id); err != nil || waiting {
			t.Fatalf("RunNow on a finished job = %v, %v", waiting, err)
		}
	})
}
