package drip

import (
	"errors"
	"testing"
	"time"
)

// outcomes is the state machine written out: for each "actor action", the
// outcome from each status in Statuses order (active, pending, paused,
// completed, unsubscribed, bounced). An outcome is the status after, or
// the reason for a refusal, or "no change". A pair not listed is
// ErrNotPermitted from every status.
var outcomes = map[string][6]string{
	"subscriber pause":       {"paused", "NotNow", "paused", "NotNow", "NotNow", "NotNow"},
	"subscriber resume":      {"no change", "no change", "active", "no change", "no change", "no change"},
	"subscriber next_now":    {"active", "NotNow", "NotNow", "NotNow", "NotNow", "NotNow"},
	"subscriber go_back":     {"active", "NotNow", "paused", "active", "NotNow", "NotNow"},
	"subscriber unsubscribe": {"unsubscribed", "unsubscribed", "unsubscribed", "unsubscribed", "no change", "unsubscribed"},
	"subscriber resubscribe": {"NotNow", "NotNow", "NotNow", "NotNow", "active", "NotNow"},
	"admin pause":            {"paused", "NotNow", "NotNow", "NotNow", "NotNow", "NotNow"},
	"admin resume":           {"NotNow", "NotNow", "active", "NotNow", "NotNow", "NotNow"},
	"admin move":             {"active", "NotNow", "paused", "active", "NotNow", "NotNow"},
	"admin unsubscribe":      {"unsubscribed", "unsubscribed", "unsubscribed", "unsubscribed", "NotNow", "unsubscribed"},
	"system resume":          {"no change", "no change", "active", "no change", "no change", "no change"},
	"system bounce":          {"bounced", "pending", "bounced", "completed", "unsubscribed", "bounced"},
	"report hard_bounce":     {"bounced", "bounced", "bounced", "no change", "no change", "no change"},
	"report complain":        {"unsubscribed", "unsubscribed", "unsubscribed", "no change", "no change", "no change"},
}

var testNow = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// inState is a reader in status st who has had lessons 1 to 4, as the
// store would load them.
func inState(st Status) Subscriber {
	wd, hour := time.Sunday, 7
	last := testNow.Add(-10 * 24 * time.Hour)
	confirmed := testNow.Add(-60 * 24 * time.Hour)
	s := Subscriber{ID: 1, Status: st, TimeZone: "Europe/Berlin", SendWeekday: &wd, SendHour: &hour,
		Round: 1, NextLesson: 5, LastSentAt: &last, ConfirmedAt: &confirmed}
	switch st {
	case StatusActive:
		due := testNow.Add(time.Hour)
		s.NextDueAt = &due
	case StatusPending:
		s.ConfirmedAt, s.LastSentAt, s.NextLesson = nil, nil, 1
	}
	return s
}

// changeFor is a change every rule can judge: go back to lesson 1, move
// to lesson 2 of 52, the bounce of the reader's current lesson.
func changeFor(actor Actor, action Action) Change {
	until := testNow.Add(7 * 24 * time.Hour)
	return Change{Action: action, Actor: actor, Now: testNow, DefaultHour: 8, Until: &until,
		Lesson: 1, Round: 1, Lessons: 52, Reply: "550 5.1.1 no such user",
		Ledger: Ledger{HighestSent: 4, HighestThisRound: 4}}
}

func TestEveryActionOfEveryActorFromEveryStatusEndsAsTheTableSays(t *testing.T) {
	reasons := map[string]error{"NotNow": ErrNotNow, "NotPermitted": ErrNotPermitted}
	for _, actor := range Actors {
		for _, action := range Actions {
			row, listed := outcomes[string(actor)+" "+string(action)]
			if listed != Permitted(actor, action) {
				t.Errorf("%s %s: listed in the table %v, permitted %v", actor, action, listed, Permitted(actor, action))
			}
			for i, from := range Statuses {
				want := "NotPermitted"
				if listed {
					want = row[i]
				}
				t.Run(string(actor)+" "+string(action)+" from "+string(from), func(t *testing.T) {
					c := changeFor(actor, action)
					s := inState(from)
					if action == ActBounce {
						c.Lesson = s.NextLesson
					}
					if action == ActMove {
						c.Lesson = 2
					}
					got, ev, err := Apply(s, c)
					switch reason, refused := reasons[want]; {
					case refused:
						var r *Refused
						if !errors.As(err, &r) || !errors.Is(err, reason) {
							t.Fatalf("err = %v, want a refusal for %v", err, reason)
						}
						if r.Status != from || r.Action != action || r.Actor != actor {
							t.Fatalf("refusal names %s %s %s", r.Actor, r.Action, r.Status)
						}
					case want == "no change":
						if !errors.Is(err, ErrNoChange) {
							t.Fatalf("err = %v, want ErrNoChange", err)
						}
					default:
						if err != nil {
							t.Fatalf("err = %v, want status %s", err, want)
						}
						if got.Status != Status(want) {
							t.Fatalf("status %s, want %s", got.Status, want)
						}
						if ev.Kind == "" {
							t.Fatal("no event to record")
						}
						// Consent: no change leaves a reader who is not
						// active due for a lesson.
						if got.Status != StatusActive && got.NextDueAt != nil {
							t.Fatalf("a %s reader is due at %v", got.Status, got.NextDueAt)
						}
						if got.Status == StatusActive && got.NextDueAt == nil {
							t.Fatal("an active reader is due at no time")
						}
					}
					if err != nil && (got.Status != s.Status || got.NextDueAt != s.NextDueAt) {
						t.Fatalf("a refused change changed the state: %+v", got)
					}
				})
			}
		}
	}
}

func TestAReaderPausesUntilADateAndAnAdminPausesUntilResumed(t *testing.T) {
	c := changeFor(ActorSubscriber, ActPause)
	got, ev, err := Apply(inState(StatusPaused), c)
	if err != nil || got.PausedUntil == nil || !got.PausedUntil.Equal(*c.Until) {
		t.Fatalf("reader's pause: until %v, err %v", got.PausedUntil, err)
	}
	if ev.Kind != "paused" || ev.Detail["until"] != c.Until.Format(time.RFC3339) {
		t.Fatalf("reader's pause records %+v", ev)
	}
	s := inState(StatusActive)
	s.PausedUntil = c.Until // an earlier timed pause, long resumed
	got, ev, err = Apply(s, changeFor(ActorAdmin, ActPause))
	if err != nil || got.PausedUntil != nil || ev.Kind != "admin.pause" {
		t.Fatalf("admin's pause: until %v, event %q, err %v", got.PausedUntil, ev.Kind, err)
	}
}

func TestResumingComesAtTheNextSlotNeverWithinSixDaysOfTheLastLesson(t *testing.T) {
	for _, actor := range []Actor{ActorSubscriber, ActorAdmin, ActorSystem} {
		s := inState(StatusPaused)
		last := testNow.Add(-2 * 24 * time.Hour)
		s.LastSentAt = &last
		got, _, err := Apply(s, changeFor(actor, ActResume))
		if err != nil {
			t.Fatalf("%s: %v", actor, err)
		}
		berlin, _ := time.LoadLocation("Europe/Berlin")
		want := Reschedule(Slot{Weekday: time.Sunday, Hour: 7, Location: berlin}, &last, testNow)
		if got.NextDueAt == nil || !got.NextDueAt.Equal(want) || got.NextDueAt.Sub(last) < MinGap {
			t.Fatalf("%s: due %v, want %v", actor, got.NextDueAt, want)
		}
	}
}

func TestTheNextLessonNowIsRefusedWithinADayOfTheLast(t *testing.T) {
	s := inState(StatusActive)
	earlier := testNow.Add(-time.Hour)
	s.NextNowAt = &earlier
	if _, _, err := Apply(s, changeFor(ActorSubscriber, ActNextNow)); !errors.Is(err, ErrTooSoon) {
		t.Fatalf("err = %v, want ErrTooSoon", err)
	}
	s.NextNowAt = nil
	got, _, err := Apply(s, changeFor(ActorSubscriber, ActNextNow))
	if err != nil || !got.NextDueAt.Equal(testNow) || !got.NextNowAt.Equal(testNow) {
		t.Fatalf("due %v, asked %v, err %v", got.NextDueAt, got.NextNowAt, err)
	}
}

func TestAReaderGoesBackOnlyToALessonReceivedAndStartsANewRound(t *testing.T) {
	c := changeFor(ActorSubscriber, ActGoBack)
	for _, n := range []int{0, 5, 53} {
		c.Lesson = n
		if _, _, err := Apply(inState(StatusActive), c); !errors.Is(err, ErrNotReceived) {
			t.Errorf("go back to %d: err = %v, want ErrNotReceived", n, err)
		}
	}
	c.Lesson = 3
	got, ev, err := Apply(inState(StatusCompleted), c)
	if err != nil || got.NextLesson != 3 || got.Round != 2 || got.Status != StatusActive {
		t.Fatalf("go back to 3: lesson %d round %d status %s, err %v", got.NextLesson, got.Round, got.Status, err)
	}
	if ev.Detail["lesson"] != 3 || ev.Detail["round"] != 2 {
		t.Fatalf("event detail %v", ev.Detail)
	}
	// Restarting is allowed before any lesson arrived.
	c.Lesson, c.Ledger = 1, Ledger{}
	if _, _, err := Apply(inState(StatusActive), c); err != nil {
		t.Fatalf("restart with nothing received: %v", err)
	}
}

func TestAnAdminMovesWithinTheCourseAndANewRoundOnlyWhenTheLessonWasReached(t *testing.T) {
	c := changeFor(ActorAdmin, ActMove)
	for _, n := range []int{0, 53} {
		c.Lesson = n
		if _, _, err := Apply(inState(StatusActive), c); !errors.Is(err, ErrNoSuchLesson) {
			t.Errorf("move to %d: err = %v, want ErrNoSuchLesson", n, err)
		}
	}
	c.Lesson = 10 // ahead: same round
	if got, _, _ := Apply(inState(StatusActive), c); got.Round != 1 || got.NextLesson != 10 {
		t.Fatalf("move ahead: round %d lesson %d", got.Round, got.NextLesson)
	}
	c.Lesson = 4 // reached: a new round
	got, ev, _ := Apply(inState(StatusActive), c)
	if got.Round != 2 || got.NextLesson != 4 || ev.Detail["lesson"] != 4 {
		t.Fatalf("move back: round %d lesson %d event %v", got.Round, got.NextLesson, ev.Detail)
	}
	// An active reader whose delivery was given up is due again.
	s := inState(StatusActive)
	s.NextDueAt = nil
	if got, _, _ := Apply(s, c); got.NextDueAt == nil {
		t.Fatal("a given-up reader moved is due at no time")
	}
}

func TestABounceOfALessonTheReaderWasMovedOffChangesNothingButIsRecorded(t *testing.T) {
	s := inState(StatusActive)
	c := changeFor(ActorSystem, ActBounce)
	c.Lesson = s.NextLesson - 1
	got, ev, err := Apply(s, c)
	if err != nil || got.Status != StatusActive || got.NextDueAt == nil || ev.Kind != "bounced" {
		t.Fatalf("status %s due %v event %q err %v", got.Status, got.NextDueAt, ev.Kind, err)
	}
}

func TestOnlyAReaderWhoOnceConfirmedMayResubscribeWithoutConfirming(t *testing.T) {
	s := inState(StatusUnsubscribed)
	s.ConfirmedAt = nil
	if _, _, err := Apply(s, changeFor(ActorSubscriber, ActResubscribe)); !errors.Is(err, ErrNotNow) {
		t.Fatalf("err = %v, want ErrNotNow", err)
	}
}

func TestUnsubscribingDropsQueuedMailAndEndsAPause(t *testing.T) {
	s := inState(StatusPaused)
	until := testNow.Add(time.Hour)
	s.PausedUntil = &until
	got, ev, err := Apply(s, changeFor(ActorSubscriber, ActUnsubscribe))
	if err != nil || !ev.CancelMail || got.PausedUntil != nil || got.UnsubscribedAt == nil || !got.UnsubscribedAt.Equal(testNow) {
		t.Fatalf("got %+v, event %+v, err %v", got, ev, err)
	}
}
