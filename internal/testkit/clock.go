package testkit

import (
	"sync"
	"time"
)

// Start is the default start of a test clock: 令和8年4月1日 09:00 JST
// (the first day of a fiscal year), in UTC.
var Start = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)

// Clock is a settable clock, safe for concurrent use. Its zero value stands
// at Start.
type Clock struct {
	mu  sync.Mutex
	t   time.Time
	set bool
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t, set: true} }

// NowClock returns a clock standing at the current time (UTC), for tests
// that need the real date but a clock they can move.
func NowClock() *Clock { return NewClock(time.Now().UTC()) }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.set {
		c.t, c.set = Start, true
	}
	return c.t
}

// Advance moves the clock forward by d (backward when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.set {
		c.t, c.set = Start, true
	}
	c.t = c.t.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t, c.set = t, true
}

// Tick moves the clock forward by d and returns the new time, in one step
// (for clocks that move on every reading).
func (c *Clock) Tick(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.set {
		c.t, c.set = Start, true
	}
	c.t = c.t.Add(d)
	return c.t
}
