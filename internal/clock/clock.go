// Package clock is twostep's one idea of the wall clock. Every part that
// reads the time (the pages, the admin, the delivery engine's and the
// outbox's leases, the report parsers) is handed a Clock explicitly, so a
// test can set it and nothing reads time.Now deep inside.
//
// The time a delivery pass runs as of (`twostep send --now`) is not a
// clock setting: it is an argument of the pass and the outbox flush, and
// decides only what is due. Leases are always judged on the wall clock, so
// they mean the same to every copy of the service.
package clock

import "time"

// Clock reads the time. The zero Clock (nil) is the wall clock.
type Clock func() time.Time

// Now is the clock's time: c's reading, or time.Now when c is nil.
func (c Clock) Now() time.Time {
	if c == nil {
		return time.Now()
	}
	return c()
}

// Fixed is a clock that always reads t.
func Fixed(t time.Time) Clock { return func() time.Time { return t } }
