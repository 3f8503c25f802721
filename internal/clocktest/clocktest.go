package clocktest

import (
	"sync"
	"time"
)

// Clock is a settable clock. Its zero value reads the zero time; New starts
// it elsewhere. Its times carry no monotonic reading, so they compare by the
// wall clock, as times decoded from tokens and stores do.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock that reads t until it is moved.
func New(t time.Time) *Clock { return &Clock{t: t.Round(0)} }

// Now returns the clock's time. Its method value (c.Now) is the
// func() time.Time that configs take.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d, backwards when d is negative.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t.Round(0)
}
