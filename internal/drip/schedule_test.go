package drip

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	// The tests name real zones; embedding tzdata keeps them passing on
	// machines and containers without /usr/share/zoneinfo.
	_ "time/tzdata"
)

const oneWeek = 7 * 24 * time.Hour

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %q: %v", name, err)
	}
	return loc
}

func utcAt(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

// localFormat shows what the subscriber's clock reads, with the offset, so
// a failure says at a glance whether DST was handled.
const localFormat = "Mon 2006-01-02 15:04 -0700"

func TestSlotValidAcceptsOnlyUsableSlots(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	tests := []struct {
		name string
		slot Slot
		ok   bool
	}{
		{"a weekday, an hour and a zone make a usable slot", Slot{time.Monday, 8, ny}, true},
		{"midnight is a usable hour", Slot{time.Sunday, 0, time.UTC}, true},
		{"23:00 is the last usable hour", Slot{time.Saturday, 23, time.UTC}, true},
		{"a negative hour is rejected", Slot{time.Monday, -1, ny}, false},
		{"hour 24 is rejected", Slot{time.Monday, 24, ny}, false},
		{"a missing zone is rejected", Slot{time.Monday, 8, nil}, false},
		{"a weekday past Saturday is rejected", Slot{time.Weekday(7), 8, ny}, false},
		{"a negative weekday is rejected", Slot{time.Weekday(-1), 8, ny}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.slot.Valid()
			if (err == nil) != tt.ok {
				t.Errorf("Valid() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestNextFindsTheEarliestSlotAtOrAfterT(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	kolkata := mustZone(t, "Asia/Kolkata")
	apia := mustZone(t, "Pacific/Apia")
	monday8 := Slot{time.Monday, 8, ny}
	samoaResumes := utcAt(2011, time.December, 30, 10, 0) // Saturday 00:00 +14, Friday skipped
	onSlot := utcAt(2026, time.January, 12, 13, 0)        // Monday 08:00 EST
	tests := []struct {
		name string
		slot Slot
		t    time.Time
		want time.Time
	}{
		{"a time exactly on the slot is the slot", monday8, onSlot, onSlot},
		{"a nanosecond after the slot waits a week", monday8, onSlot.Add(time.Nanosecond), onSlot.Add(oneWeek)},
		{"earlier on the same day gives that day", monday8, onSlot.Add(-time.Minute), onSlot},
		{"the day before gives the next day", monday8, onSlot.Add(-20 * time.Hour), onSlot},
		{"the day after waits for the following week", monday8, onSlot.Add(24 * time.Hour), onSlot.Add(oneWeek)},
		{"the zone t is expressed in does not matter", monday8, onSlot.In(kolkata), onSlot},
		{
			"a slot on a skipped day is found from the instant the clock resumes, a day later locally",
			Slot{time.Friday, 10, apia}, samoaResumes, samoaResumes,
		},
		{"a slot with no zone is read as UTC", Slot{time.Monday, 8, nil}, utcAt(2026, time.January, 12, 7, 0), utcAt(2026, time.January, 12, 8, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.slot.Next(tt.t)
			if !got.Equal(tt.want) {
				t.Errorf("Next(%v) = %v, want %v", tt.t, got, tt.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("Next(%v) is in %v, want UTC", tt.t, got.Location())
			}
		})
	}
}

// Each case pins the instant by hand: time.Date's own choice in these gaps
// and overlaps is unspecified, and for several of them (02:00 in New York,
// midnight in São Paulo) it picks the hour before the jump.
func TestNextKeepsTheWallClockAcrossDaylightSaving(t *testing.T) {
	tests := []struct {
		name      string
		zone      string
		weekday   time.Weekday
		hour      int
		from      time.Time
		want      time.Time
		wantLocal string
		// wantAfter is the following lesson when this one went out a minute
		// late: the rhythm must return to the chosen hour.
		wantAfter time.Time
	}{
		{
			name: "in New York 02:00 on spring-forward Sunday is 03:00 EDT, when the clock jumps",
			zone: "America/New_York", weekday: time.Sunday, hour: 2,
			from:      utcAt(2026, time.March, 7, 12, 0),
			want:      utcAt(2026, time.March, 8, 7, 0),
			wantLocal: "Sun 2026-03-08 03:00 -0400",
			wantAfter: utcAt(2026, time.March, 15, 6, 0),
		},
		{
			name: "in New York 01:00 on fall-back Sunday is the first one, in EDT",
			zone: "America/New_York", weekday: time.Sunday, hour: 1,
			from:      utcAt(2026, time.October, 31, 12, 0),
			want:      utcAt(2026, time.November, 1, 5, 0),
			wantLocal: "Sun 2026-11-01 01:00 -0400",
			wantAfter: utcAt(2026, time.November, 8, 6, 0),
		},
		{
			name: "in New York the repeated 01:00 on fall-back Sunday is not a slot",
			zone: "America/New_York", weekday: time.Sunday, hour: 1,
			from:      utcAt(2026, time.November, 1, 5, 30),
			want:      utcAt(2026, time.November, 8, 6, 0),
			wantLocal: "Sun 2026-11-08 01:00 -0500",
			wantAfter: utcAt(2026, time.November, 15, 6, 0),
		},
		{
			name: "in Berlin 02:00 on spring-forward Sunday is 03:00 CEST, when the clock jumps",
			zone: "Europe/Berlin", weekday: time.Sunday, hour: 2,
			from:      utcAt(2026, time.March, 28, 12, 0),
			want:      utcAt(2026, time.March, 29, 1, 0),
			wantLocal: "Sun 2026-03-29 03:00 +0200",
			wantAfter: utcAt(2026, time.April, 5, 0, 0),
		},
		{
			name: "in Berlin 02:00 on fall-back Sunday is the first one, in CEST",
			zone: "Europe/Berlin", weekday: time.Sunday, hour: 2,
			from:      utcAt(2026, time.October, 24, 12, 0),
			want:      utcAt(2026, time.October, 25, 0, 0),
			wantLocal: "Sun 2026-10-25 02:00 +0200",
			wantAfter: utcAt(2026, time.November, 1, 1, 0),
		},
		{
			name: "in Berlin the repeated 02:00 on fall-back Sunday is not a slot",
			zone: "Europe/Berlin", weekday: time.Sunday, hour: 2,
			from:      utcAt(2026, time.October, 25, 0, 30),
			want:      utcAt(2026, time.November, 1, 1, 0),
			wantLocal: "Sun 2026-11-01 02:00 +0100",
			wantAfter: utcAt(2026, time.November, 8, 1, 0),
		},
		{
			name: "in Lord Howe 02:00 on spring-forward Sunday is 02:30, when the clock jumps half an hour",
			zone: "Australia/Lord_Howe", weekday: time.Sunday, hour: 2,
			from:      utcAt(2026, time.October, 3, 0, 0),
			want:      utcAt(2026, time.October, 3, 15, 30),
			wantLocal: "Sun 2026-10-04 02:30 +1100",
			wantAfter: utcAt(2026, time.October, 10, 15, 0),
		},
		{
			name: "in Lord Howe 01:00 on fall-back Sunday happens once, before the repeated half hour",
			zone: "Australia/Lord_Howe", weekday: time.Sunday, hour: 1,
			from:      utcAt(2026, time.April, 4, 0, 0),
			want:      utcAt(2026, time.April, 4, 14, 0),
			wantLocal: "Sun 2026-04-05 01:00 +1100",
			wantAfter: utcAt(2026, time.April, 11, 14, 30),
		},
		{
			name: "in Lord Howe 02:00 on fall-back Sunday happens once, after the repeated half hour",
			zone: "Australia/Lord_Howe", weekday: time.Sunday, hour: 2,
			from:      utcAt(2026, time.April, 4, 0, 0),
			want:      utcAt(2026, time.April, 4, 15, 30),
			wantLocal: "Sun 2026-04-05 02:00 +1030",
			wantAfter: utcAt(2026, time.April, 11, 15, 30),
		},
		{
			name: "in São Paulo a midnight slot on the night midnight was skipped is 01:00, not Saturday 23:00",
			zone: "America/Sao_Paulo", weekday: time.Sunday, hour: 0,
			from:      utcAt(2018, time.November, 3, 0, 0),
			want:      utcAt(2018, time.November, 4, 3, 0),
			wantLocal: "Sun 2018-11-04 01:00 -0200",
			wantAfter: utcAt(2018, time.November, 11, 2, 0),
		},
		{
			name: "in Samoa a Friday slot on the skipped 30 December 2011 comes when the clock resumes",
			zone: "Pacific/Apia", weekday: time.Friday, hour: 10,
			from:      utcAt(2011, time.December, 29, 0, 0),
			want:      utcAt(2011, time.December, 30, 10, 0),
			wantLocal: "Sat 2011-12-31 00:00 +1400",
			wantAfter: utcAt(2012, time.January, 5, 20, 0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := mustZone(t, tt.zone)
			s := Slot{tt.weekday, tt.hour, loc}
			got := s.Next(tt.from)
			if !got.Equal(tt.want) {
				t.Fatalf("Next(%v) = %v (%s), want %v (%s)",
					tt.from, got.UTC(), got.In(loc).Format(localFormat), tt.want, tt.wantLocal)
			}
			if local := got.In(loc).Format(localFormat); local != tt.wantLocal {
				t.Errorf("Next(%v) reads %s locally, want %s", tt.from, local, tt.wantLocal)
			}
			after := NextDue(s, got, got.Add(time.Minute))
			if !after.Equal(tt.wantAfter) {
				t.Errorf("NextDue after %v = %v (%s), want %v",
					got, after, after.In(loc).Format(localFormat), tt.wantAfter)
			}
		})
	}
}

func TestNextDueKeepsAWeeklyRhythmForAWholeYear(t *testing.T) {
	tests := []struct {
		name    string
		zone    string
		weekday time.Weekday
		hour    int
		first   time.Time // local date of the first slot; time.Date is safe here, the hour is never in a gap
		// shorter and longer are the one week that loses and the one that
		// gains an hour to daylight saving; zero where the zone has none.
		shorter, longer time.Duration
	}{
		{
			name: "New York Mondays at 08:00", zone: "America/New_York",
			weekday: time.Monday, hour: 8, first: time.Date(2026, time.January, 5, 0, 0, 0, 0, time.UTC),
			shorter: 167 * time.Hour, longer: 169 * time.Hour,
		},
		{
			name: "Berlin Wednesdays at 18:00", zone: "Europe/Berlin",
			weekday: time.Wednesday, hour: 18, first: time.Date(2026, time.January, 7, 0, 0, 0, 0, time.UTC),
			shorter: 167 * time.Hour, longer: 169 * time.Hour,
		},
		{
			name: "Kolkata Fridays at 02:00", zone: "Asia/Kolkata",
			weekday: time.Friday, hour: 2, first: time.Date(2026, time.January, 2, 0, 0, 0, 0, time.UTC),
		},
		{
			name: "Lord Howe Sundays at 09:00", zone: "Australia/Lord_Howe",
			weekday: time.Sunday, hour: 9, first: time.Date(2026, time.January, 4, 0, 0, 0, 0, time.UTC),
			shorter: 167*time.Hour + 30*time.Minute, longer: 168*time.Hour + 30*time.Minute,
		},
	}
	lateness := []time.Duration{0, time.Minute, 59 * time.Minute}
	for _, tt := range tests {
		for _, late := range lateness {
			name := fmt.Sprintf("%s stay on the hour when sends run %v late", tt.name, late)
			t.Run(name, func(t *testing.T) {
				loc := mustZone(t, tt.zone)
				s := Slot{tt.weekday, tt.hour, loc}
				y, m, d := tt.first.Date()
				due := s.Next(time.Date(y, m, d, 0, 0, 0, 0, loc))
				var shorter, longer int
				for k := 0; k < 52; k++ {
					want := time.Date(y, m, d+7*k, tt.hour, 0, 0, 0, loc)
					if !due.Equal(want) {
						t.Fatalf("lesson %d due %s, want %s (drift)", k+2,
							due.In(loc).Format(localFormat), want.Format(localFormat))
					}
					local := due.In(loc)
					if local.Weekday() != tt.weekday || local.Hour() != tt.hour || local.Minute() != 0 {
						t.Fatalf("lesson %d due %s, want %v at %02d:00", k+2,
							local.Format(localFormat), tt.weekday, tt.hour)
					}
					next := NextDue(s, due, due.Add(late))
					switch gap := next.Sub(due); {
					case gap < 6*24*time.Hour || gap > 8*24*time.Hour:
						t.Fatalf("lesson after %s is %v later, want 6 to 8 days", local.Format(localFormat), gap)
					case gap == oneWeek:
					case gap == tt.shorter && tt.shorter != 0:
						shorter++
					case gap == tt.longer && tt.longer != 0:
						longer++
					default:
						t.Fatalf("lesson after %s is %v later, want %v, %v or %v",
							local.Format(localFormat), gap, oneWeek, tt.shorter, tt.longer)
					}
					due = next
				}
				wantChanges := 0
				if tt.shorter != 0 {
					wantChanges = 1
				}
				if shorter != wantChanges || longer != wantChanges {
					t.Errorf("saw %d short and %d long weeks in a year, want %d of each", shorter, longer, wantChanges)
				}
			})
		}
	}
}

func TestNextDueFollowsTheSlotAfterEachSend(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	s := Slot{time.Monday, 8, ny}
	due := utcAt(2026, time.January, 12, 13, 0) // Monday 08:00 EST
	tests := []struct {
		name string
		due  time.Time
		sent time.Time
		want time.Time
	}{
		{"a send on time is followed one week later", due, due, due.Add(oneWeek)},
		{"a send a minute late is still followed one week after the slot", due, due.Add(time.Minute), due.Add(oneWeek)},
		{"a send 23 hours late still keeps next week's slot", due, due.Add(23 * time.Hour), due.Add(oneWeek)},
		{"a send 25 hours late skips to the slot after, six days on", due, due.Add(25 * time.Hour), due.Add(2 * oneWeek)},
		{"a send ahead of its due time waits from the due time", due, due.Add(-48 * time.Hour), due.Add(oneWeek)},
		{
			"lesson 2 after a Monday 10:00 confirmation is the next Monday's slot",
			utcAt(2026, time.January, 5, 15, 0), utcAt(2026, time.January, 5, 15, 1), due,
		},
		{
			"lesson 2 after a Tuesday confirmation waits for the Monday at least six days on",
			utcAt(2026, time.January, 6, 15, 0), utcAt(2026, time.January, 6, 15, 1), due.Add(oneWeek),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextDue(s, tt.due, tt.sent)
			if !got.Equal(tt.want) {
				t.Errorf("NextDue(due %v, sent %v) = %s, want %s", tt.due, tt.sent,
					got.In(ny).Format(localFormat), tt.want.In(ny).Format(localFormat))
			}
		})
	}
}

// sentLesson is one lesson leaving, as a sender ticking every minute sees it.
type sentLesson struct {
	lesson int
	sent   time.Time
}

// runSender plays the cron tick: once a minute, unless the service is down,
// a subscriber whose lesson is due gets exactly one lesson, which takes a
// minute to go out.
func runSender(s Slot, confirmedAt, until time.Time, down func(time.Time) bool) []sentLesson {
	var sends []sentLesson
	due := FirstDue(confirmedAt)
	for now, lesson := confirmedAt, 1; now.Before(until); now = now.Add(time.Minute) {
		if down(now) || now.Before(due) {
			continue
		}
		sent := now.Add(time.Minute)
		sends = append(sends, sentLesson{lesson, sent})
		due = NextDue(s, due, sent)
		lesson++
	}
	return sends
}

func TestNextDueSendsOneCatchUpLessonAfterAnOutage(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	s := Slot{time.Monday, 8, ny}
	local := func(m time.Month, d, h, min int) time.Time {
		return time.Date(2026, m, d, h, min, 0, 0, ny)
	}
	confirmedAt := local(time.January, 5, 9, 12)
	outageStart := local(time.January, 25, 0, 0)
	tests := []struct {
		name      string
		outageEnd time.Time
		want      []time.Time // when each lesson leaves, in New York time
	}{
		{
			name:      "three weeks down until Sunday noon gives one lesson then Mondays again",
			outageEnd: local(time.February, 15, 12, 0),
			want: []time.Time{
				local(time.January, 5, 9, 13),
				local(time.January, 12, 8, 1),
				local(time.January, 19, 8, 1),
				local(time.February, 15, 12, 1), // the only catch-up
				local(time.February, 23, 8, 1),
				local(time.March, 2, 8, 1),
				local(time.March, 9, 8, 1), // first week of EDT
				local(time.March, 16, 8, 1),
			},
		},
		{
			name:      "three weeks down until Tuesday noon gives one lesson then waits six days for a Monday",
			outageEnd: local(time.February, 10, 12, 0),
			want: []time.Time{
				local(time.January, 5, 9, 13),
				local(time.January, 12, 8, 1),
				local(time.January, 19, 8, 1),
				local(time.February, 10, 12, 1), // the only catch-up
				local(time.February, 23, 8, 1),
				local(time.March, 2, 8, 1),
				local(time.March, 9, 8, 1),
				local(time.March, 16, 8, 1),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			down := func(now time.Time) bool {
				return !now.Before(outageStart) && now.Before(tt.outageEnd)
			}
			got := runSender(s, confirmedAt, local(time.March, 20, 0, 0), down)
			var gotText, wantText []string
			for _, g := range got {
				gotText = append(gotText, fmt.Sprintf("%d@%s", g.lesson, g.sent.In(ny).Format(localFormat)))
			}
			for i, w := range tt.want {
				wantText = append(wantText, fmt.Sprintf("%d@%s", i+1, w.Format(localFormat)))
			}
			if strings.Join(gotText, "\n") != strings.Join(wantText, "\n") {
				t.Fatalf("sends:\n%s\nwant:\n%s", strings.Join(gotText, "\n"), strings.Join(wantText, "\n"))
			}
			for i := 1; i < len(got); i++ {
				if gap := got[i].sent.Sub(got[i-1].sent); gap < MinGap {
					t.Errorf("lessons %d and %d went out %v apart, less than %v", i, i+1, gap, MinGap)
				}
			}
		})
	}
}

// propertyZones mixes the zones named in the rules with the awkward ones:
// quarter-hour offsets, half-hour and two-hour DST, DST at midnight,
// negative DST, Ramadan suspensions and a skipped day.
var propertyZones = []string{
	"UTC",
	"America/New_York",
	"Europe/Berlin",
	"Asia/Kolkata",
	"Australia/Lord_Howe",
	"America/St_Johns",
	"America/Sao_Paulo",
	"America/Havana",
	"America/Santiago",
	"Europe/London",
	"Europe/Dublin",
	"Africa/Casablanca",
	"Asia/Tehran",
	"Asia/Kathmandu",
	"Asia/Pyongyang",
	"Australia/Eucla",
	"Pacific/Chatham",
	"Pacific/Apia",
	"Antarctica/Troll",
}

// bruteNext is an independent oracle for Slot.Next: it walks the clock and
// stops where the wall clock first reaches the slot's weekday and hour,
// whether by ticking onto it or by jumping over it. It strides in quarter
// hours, then retraces a stride minute by minute, because some offset
// changes fall between quarter hours (St. John's switched at 00:01 until
// 2011).
func bruteNext(s Slot, t time.Time) time.Time {
	wall := func(u time.Time) time.Time {
		l := u.In(s.Location)
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
	}
	// reaches reports whether the clock, having shown nothing later than
	// highest, reaches the slot by showing cur.
	reaches := func(highest, cur time.Time) bool {
		for h := cur.Truncate(time.Hour); h.After(highest); h = h.Add(-time.Hour) {
			if h.Weekday() == s.Weekday && h.Hour() == s.Hour {
				return true
			}
		}
		return false
	}
	const stride = 15 * time.Minute
	// Start two days early so the highest wall time already seen tells a
	// first occurrence from a repeat after the clocks fall back.
	u := t.Add(-48 * time.Hour).Truncate(stride)
	highest := wall(u)
	for {
		u = u.Add(stride)
		cur := wall(u)
		if reaches(highest, cur) {
			h := highest
			for v := u.Add(time.Minute - stride); !v.After(u); v = v.Add(time.Minute) {
				w := wall(v)
				if reaches(h, w) {
					if !v.Before(t) {
						return v
					}
					break // this week's slot was before t
				}
				if w.After(h) {
					h = w
				}
			}
		}
		if cur.After(highest) {
			highest = cur
		}
	}
}

func TestNextDueIsNeverWithinMinGapOfTheLaterOfDueAndSent(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 52))
	zones := make([]*time.Location, len(propertyZones))
	for i, name := range propertyZones {
		zones[i] = mustZone(t, name)
	}
	lo := utcAt(2000, time.January, 1, 0, 0).Unix()
	hi := utcAt(2040, time.January, 1, 0, 0).Unix()
	delay := func() time.Duration {
		switch rng.IntN(5) {
		case 0:
			return 0
		case 1:
			return time.Duration(rng.Int64N(int64(2 * time.Hour)))
		case 2:
			return time.Duration(rng.Int64N(int64(3 * 24 * time.Hour)))
		case 3:
			return time.Duration(rng.Int64N(int64(60 * 24 * time.Hour)))
		default:
			return -time.Duration(rng.Int64N(int64(oneWeek))) // "next lesson now"
		}
	}
	const cases = 5000
	for i := 0; i < cases; i++ {
		loc := zones[rng.IntN(len(zones))]
		s := Slot{time.Weekday(rng.IntN(7)), rng.IntN(24), loc}
		due := time.Unix(lo+rng.Int64N(hi-lo), rng.Int64N(int64(time.Second)))
		// Uniform draws hit a gap or an overlap about once in a thousand,
		// so half the cases aim the slot at the next offset change: its
		// hour is one the clocks skip, repeat or pass close by.
		if _, change := due.In(loc).ZoneBounds(); rng.IntN(2) == 0 && !change.IsZero() {
			near := change.Add(time.Duration(rng.IntN(13)-6) * 30 * time.Minute).In(loc)
			s.Weekday, s.Hour = near.Weekday(), near.Hour()
			due = change.Add(-MinGap - time.Duration(rng.Int64N(int64(48*time.Hour))))
		}
		sent := due.Add(delay())
		from := due
		if sent.After(due) {
			from = sent
		}
		got := NextDue(s, due, sent)
		describe := func() string {
			return fmt.Sprintf("case %d: slot %v %02d:00 %v, due %v, sent %v: got %s",
				i, s.Weekday, s.Hour, loc, due.UTC(), sent.UTC(), got.In(loc).Format(localFormat))
		}
		if got.Sub(from) < MinGap {
			t.Fatalf("%s, only %v after max(due, sent)", describe(), got.Sub(from))
		}
		if want := bruteNext(s, from.Add(MinGap)); !got.Equal(want) {
			t.Fatalf("%s, want %s", describe(), want.In(loc).Format(localFormat))
		}
		if got.Location() != time.UTC {
			t.Fatalf("%s, in %v, want UTC", describe(), got.Location())
		}
	}
}

func TestFirstDueIsTheMomentOfConfirmation(t *testing.T) {
	confirmedAt := time.Date(2026, time.January, 5, 23, 30, 0, 0, mustZone(t, "Asia/Kolkata"))
	got := FirstDue(confirmedAt)
	if !got.Equal(confirmedAt) || got.Location() != time.UTC {
		t.Errorf("FirstDue(%v) = %v, want the same instant in UTC", confirmedAt, got)
	}
}

func TestDefaultSlotUsesTheConfirmationWeekdayInTheSubscribersZone(t *testing.T) {
	mondayLate := utcAt(2026, time.January, 5, 23, 30) // Monday in UTC
	tests := []struct {
		name string
		zone *time.Location
		want Slot
	}{
		{
			"a Monday 23:30 UTC confirmation is a Tuesday in Kolkata",
			mustZone(t, "Asia/Kolkata"), Slot{time.Tuesday, 8, mustZone(t, "Asia/Kolkata")},
		},
		{
			"the same confirmation is still a Monday in New York",
			mustZone(t, "America/New_York"), Slot{time.Monday, 8, mustZone(t, "America/New_York")},
		},
		{"an unknown zone falls back to UTC", nil, Slot{time.Monday, 8, time.UTC}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DefaultSlot(mondayLate, tt.zone, 8)
			if got.Weekday != tt.want.Weekday || got.Hour != tt.want.Hour ||
				got.Location.String() != tt.want.Location.String() {
				t.Errorf("DefaultSlot = %v %02d:00 %v, want %v %02d:00 %v",
					got.Weekday, got.Hour, got.Location, tt.want.Weekday, tt.want.Hour, tt.want.Location)
			}
			if err := got.Valid(); err != nil {
				t.Errorf("DefaultSlot is not valid: %v", err)
			}
		})
	}
}

func TestLoadLocationRejectsGarbage(t *testing.T) {
	tests := []struct {
		name  string
		input string
	}{
		{"an empty name is unknown", ""},
		{"Local is the server's zone, not the reader's", "Local"},
		{"localtime is the server's zone file", "localtime"},
		{"a parent directory escape is refused", "../../../etc/passwd"},
		{"a parent directory inside a name is refused", "America/../Europe/Berlin"},
		{"a current directory inside a name is refused", "America/./New_York"},
		{"an absolute path is refused", "/usr/share/zoneinfo/UTC"},
		{"a doubled slash is refused", "America//New_York"},
		{"a trailing slash names a directory", "America/"},
		{"a bare region is a directory", "America"},
		{"a made-up zone is unknown", "Mars/Olympus_Mons"},
		{"a newline is refused", "America/New_York\n"},
		{"a NUL byte is refused", "Europe/Berlin\x00"},
		{"a DEL byte is refused", "Europe/Berlin\x7f"},
		{"a tab is refused", "Europe\t/Berlin"},
		{"a space is refused", "America/New York"},
		{"a backslash is refused", `America\New_York`},
		{"non-ASCII is refused", "Europe/Zürich"},
		{"the wrong case is refused", "america/new_york"},
		{"zone table files are not zones", "zone1970.tab"},
		{"the POSIX rules file is not a zone", "posixrules"},
		{"leap-second variants are not offered", "right/UTC"},
		{"input over 64 bytes is refused", "America/" + strings.Repeat("A", 57)},
		{"a POSIX TZ string is not an IANA name", "EST+5EDT,M3.2.0/2,M11.1.0/2"},
		{"HTML is refused", "<script>alert(1)</script>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, ok := LoadLocation(tt.input)
			if ok || loc != time.UTC {
				t.Errorf("LoadLocation(%q) = %v, %v; want UTC, false", tt.input, loc, ok)
			}
		})
	}
}

// A slot's day and hour as the forms send them: the signup form, the
// preferences page and the CSV import (which takes day names too) read
// them with these.
func TestSlotDaysAndHoursAreReadOneWayEverywhere(t *testing.T) {
	days := map[string]time.Weekday{"0": time.Sunday, "1": time.Monday, "6": time.Saturday}
	for s, want := range days {
		if got, ok := ParseWeekday(s); !ok || got != want {
			t.Errorf("ParseWeekday(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "7", "-1", "+1", "01", " 1", "1\r\n", "Monday", "1.0", "٣", "99999999999999999999"} {
		if d, ok := ParseWeekday(s); ok {
			t.Errorf("ParseWeekday(%q) = %v, want refused", s, d)
		}
	}
	for s, want := range map[string]int{"0": 0, "8": 8, "23": 23, "07": 7} {
		if got, ok := ParseHour(s); !ok || got != want {
			t.Errorf("ParseHour(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "24", "-1", "+8", "-0", "0007", " 8", "8\n", "8:00", "eight", "1e1", "99999999999999999999"} {
		if h, ok := ParseHour(s); ok {
			t.Errorf("ParseHour(%q) = %v, want refused", s, h)
		}
	}
}
