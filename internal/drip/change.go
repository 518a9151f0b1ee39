package drip

import "time"

// NextNowInterval is how often a reader may ask for the next lesson now.
const NextNowInterval = 24 * time.Hour

// Reschedule is when the next lesson is due after the reader changes their
// slot, resumes from a pause, or comes back: the first slot at or after
// now, and never sooner than MinGap after the last lesson they got.
func Reschedule(s Slot, lastSent *time.Time, now time.Time) time.Time {
	earliest := now
	if lastSent != nil && lastSent.Add(MinGap).After(earliest) {
		earliest = lastSent.Add(MinGap)
	}
	return s.Next(earliest)
}

// CanSendNow reports whether a reader who last asked for the next lesson
// now at last (nil: never) may ask again at now.
func CanSendNow(last *time.Time, now time.Time) bool {
	return last == nil || !now.Before(last.Add(NextNowInterval))
}

// SlotOf is the subscriber's chosen delivery slot, with defaultHour and the
// weekday of now when they have not chosen one yet.
func (s *Subscriber) SlotOf(defaultHour int, now time.Time) Slot {
	loc, _ := LoadLocation(s.TimeZone)
	return s.SlotIn(loc, defaultHour, now)
}

// SlotIn is SlotOf with the subscriber's zone already loaded, for callers
// that cache zones.
func (s *Subscriber) SlotIn(loc *time.Location, defaultHour int, now time.Time) Slot {
	slot := DefaultSlot(now, loc, defaultHour)
	if s.SendWeekday != nil {
		slot.Weekday = *s.SendWeekday
	}
	if s.SendHour != nil {
		slot.Hour = *s.SendHour
	}
	return slot
}
