package clock

import (
	"testing"
	"time"
)

func TestTheZeroClockIsTheWallClockAndAFixedClockStandsStill(t *testing.T) {
	before := time.Now()
	if got := Clock(nil).Now(); got.Before(before) || got.After(time.Now()) {
		t.Fatalf("the zero clock read %v, not the wall clock", got)
	}
	at := time.Date(2026, 3, 2, 8, 0, 30, 0, time.UTC)
	c := Fixed(at)
	for range 2 {
		if got := c.Now(); !got.Equal(at) {
			t.Fatalf("a fixed clock read %v, want %v", got, at)
		}
	}
}
