package drip

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The scheduling rules below are pure: callers pass in the clock's reading,
// so the sender and its tests decide what "now" is. Every instant they return
// is in UTC, whatever the zones of the arguments: the store writes
// timestamptz, and a single location keeps == comparisons, logs and test
// output unsurprising. Local wall-clock fields are for display only and come
// from t.In(slot.Location).

// Slot is a subscriber's chosen weekly delivery time: a weekday and a whole
// hour on the wall clock of their own IANA time zone.
type Slot struct {
	Weekday  time.Weekday
	Hour     int            // 0..23
	Location *time.Location // never nil; UTC when the zone is unknown
}

// Valid reports whether the slot can be used (hour in range, location set).
// Stored or submitted slots should pass through it once, at the edge, so
// the scheduling functions never have to guess what a bad slot meant.
func (s Slot) Valid() error {
	switch {
	case s.Weekday < time.Sunday || s.Weekday > time.Saturday:
		return fmt.Errorf("slot weekday %d is not a day of the week", int(s.Weekday))
	case s.Hour < 0 || s.Hour > 23:
		return fmt.Errorf("slot hour %d is outside 0..23", s.Hour)
	case s.Location == nil:
		return errors.New("slot has no time zone")
	}
	return nil
}

// ParseWeekday reads a slot's day as the forms send it: 0 for Sunday to 6.
func ParseWeekday(s string) (time.Weekday, bool) {
	n, err := strconv.Atoi(s)
	return time.Weekday(n), err == nil && n >= 0 && n <= 6 && len(s) == 1
}

// ParseHour reads a slot's hour as the forms send it: one or two digits,
// 0 to 23.
func ParseHour(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0 && n <= 23 && len(s) <= 2 && s[0] != '+' && s[0] != '-'
}

// Next returns the earliest instant at or after t at which the subscriber's
// wall clock shows s.Weekday at s.Hour:00 in s.Location.
//
// Daylight saving is settled here, once, rather than left to time.Date,
// whose choice inside gaps and overlaps is unspecified. When the clocks
// spring forward over the hour, the slot is the instant they jump (02:00 in
// New York becomes 03:00 EDT; in Lord Howe, 02:30): the lesson arrives as
// close to the chosen time as the day allows, and never a day late. When
// they fall back and the hour happens twice, only the first occurrence is
// the slot, so a subscriber never gets that week's lesson an hour later than
// the clock first said. On the rare day a zone skips entirely (Samoa,
// 30 December 2011) the slot is the first instant after the skip.
//
// The result is in UTC. A nil Location is read as UTC so a slot that
// escaped Valid still schedules instead of panicking inside time.Date.
func (s Slot) Next(t time.Time) time.Time {
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	local := t.In(loc)
	y, m, d := local.Date()
	ahead := (int(s.Weekday) - int(local.Weekday()) + 7) % 7
	// Start a week back: a slot on a skipped day (Samoa, 30 December 2011)
	// is the instant the clock resumes, which already reads the next day,
	// so from that instant the slot sits on an earlier calendar day. Slots a
	// week apart only increase, so walking forward finds the earliest.
	for day := d + ahead - 7; ; day += 7 {
		at := wallInstant(time.Date(y, m, day, s.Hour, 0, 0, 0, time.UTC), loc)
		if !at.Before(t) {
			return at
		}
	}
}

// wallInstant returns the first instant at which loc's clocks read the wall
// time wall (whose UTC fields stand for local fields), or, when the clocks
// skip over it, the instant they skip.
//
// It walks the zone's periods of constant offset (time.ZoneBounds) instead
// of trusting time.Date, so gaps and overlaps resolve by rule.
func wallInstant(wall time.Time, loc *time.Location) time.Time {
	// Any instant showing wall lies within one UTC offset of it; real
	// offsets stay under 26 hours even counting historical local mean time.
	const reach = 26 * time.Hour
	limit := wall.Add(reach)
	for probe := wall.Add(-reach); ; {
		z := probe.In(loc)
		_, offset := z.Zone()
		start, end := z.ZoneBounds()
		at := wall.Add(-time.Duration(offset) * time.Second)
		if (start.IsZero() || !at.Before(start)) && (end.IsZero() || at.Before(end)) {
			return at.UTC()
		}
		if end.IsZero() || end.After(limit) {
			break
		}
		// Periods are visited in time order, so the first gap that swallows
		// wall is also the earliest answer.
		_, nextOffset := end.In(loc).Zone()
		before := end.Add(time.Duration(offset) * time.Second)
		after := end.Add(time.Duration(nextOffset) * time.Second)
		if !wall.Before(before) && wall.Before(after) {
			return end.UTC()
		}
		probe = end
	}
	// Unreachable for any zone in tzdata; a usable time beats a panic in the
	// send loop if a hand-made Location ever gets here.
	return time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), 0, 0, 0, loc).UTC()
}

// MinGap is the shortest time allowed between two lessons to one subscriber.
// It is six days, not seven, so that an on-time week keeps its slot even
// when the send ran late or the week is an hour short for daylight saving
// (167h, or 167.5h in Lord Howe); anything later than about a day past the
// slot rolls over to the following week instead of arriving twice in a row.
const MinGap = 6 * 24 * time.Hour

// FirstDue is when lesson 1 is due: at confirmation. The reader has just
// asked for the course, so waiting for their weekly slot would only lose
// them. The result is in UTC.
func FirstDue(confirmedAt time.Time) time.Time {
	return confirmedAt.UTC()
}

// NextDue returns when the next lesson is due, after a lesson that was due
// at due and actually went out at sent: the first slot at or after
// max(due, sent) + MinGap. With no downtime this is exactly one week after
// the previous slot (no drift, even when sends run a minute late); after an
// outage the next lesson goes out once and the weekly rhythm resumes from then.
//
// Counting from due rather than sent is what stops the drift; taking sent
// when it is later is what turns a backlog into one catch-up lesson instead
// of a burst. The result is in UTC.
func NextDue(s Slot, due, sent time.Time) time.Time {
	from := due
	if sent.After(from) {
		from = sent
	}
	return s.Next(from.Add(MinGap))
}

// DefaultSlot is the slot used when the subscriber chose none: the weekday of
// confirmation in their zone, at the course's default hour.
//
// The weekday is read in the subscriber's zone, not the server's, because
// "the day you confirmed" is the day on their calendar. A nil loc means the
// zone is unknown and falls back to UTC.
func DefaultSlot(confirmedAt time.Time, loc *time.Location, hour int) Slot {
	if loc == nil {
		loc = time.UTC
	}
	return Slot{Weekday: confirmedAt.In(loc).Weekday(), Hour: hour, Location: loc}
}
