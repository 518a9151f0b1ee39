package drip

import (
	"errors"
	"fmt"
	"time"
)

// Actor is who asks for a change to a subscriber. The same action can
// follow different rules for different actors: a reader may pause again
// while paused (to change the end date), an admin may not.
type Actor string

// The actors that change subscribers.
const (
	ActorSubscriber Actor = "subscriber" // the reader, through a signed link
	ActorAdmin      Actor = "admin"      // someone signed in to the admin
	ActorSystem     Actor = "system"     // the delivery engine and timers
	ActorReport     Actor = "report"     // a bounce or complaint reported after the send
)

// Action is a change of where a subscriber stands in the course.
type Action string

// The actions Apply knows. Each actor may ask for some of them (see
// Permitted); the others are refused with ErrNotPermitted.
const (
	ActPause       Action = "pause"       // stop lessons, until a date or until resumed
	ActResume      Action = "resume"      // lessons again, at the next slot
	ActNextNow     Action = "next_now"    // the next lesson at once, once a day
	ActGoBack      Action = "go_back"     // the reader restarts from a lesson received
	ActMove        Action = "move"        // the admin sets the next lesson
	ActUnsubscribe Action = "unsubscribe" // no more mail
	ActResubscribe Action = "resubscribe" // the reader comes back without confirming again
	ActBounce      Action = "bounce"      // the address rejected a lesson for good
	ActHardBounce  Action = "hard_bounce" // a hard bounce reported later, of any mail
	ActComplain    Action = "complain"    // the reader marked our mail as spam
)

// Actions lists every action, for tests that cover them all.
var Actions = []Action{ActPause, ActResume, ActNextNow, ActGoBack, ActMove, ActUnsubscribe, ActResubscribe, ActBounce,
	ActHardBounce, ActComplain}

// Actors lists every actor, for tests that cover them all.
var Actors = []Actor{ActorSubscriber, ActorAdmin, ActorSystem, ActorReport}

// permitted is which actor may ask for which action.
var permitted = map[Actor][]Action{
	ActorSubscriber: {ActPause, ActResume, ActNextNow, ActGoBack, ActUnsubscribe, ActResubscribe},
	ActorAdmin:      {ActPause, ActResume, ActMove, ActUnsubscribe},
	ActorSystem:     {ActResume, ActBounce},
	ActorReport:     {ActHardBounce, ActComplain},
}

// Permitted reports whether actor may ask for action at all.
func Permitted(actor Actor, action Action) bool {
	for _, a := range permitted[actor] {
		if a == action {
			return true
		}
	}
	return false
}

// Reasons a change is refused; a *Refused wraps one of them.
var (
	// ErrNotPermitted: this actor may never ask for this action.
	ErrNotPermitted = errors.New("not permitted to this actor")
	// ErrNotNow: the subscriber's current status does not allow it.
	ErrNotNow = errors.New("not possible in the subscriber's current state")
	// ErrTooSoon: asked again before the interval the rule sets.
	ErrTooSoon = errors.New("asked too soon")
	// ErrNotReceived: a lesson the reader has not received yet.
	ErrNotReceived = errors.New("lesson not received yet")
	// ErrNoSuchLesson: a lesson number outside the course.
	ErrNoSuchLesson = errors.New("no such lesson")
)

// ErrNoChange means a change is already in effect (resuming a reader who
// is not paused, unsubscribing twice): nothing is written and nothing is
// recorded, and the caller answers as if it had been done.
var ErrNoChange = errors.New("no change")

// Refused is a change that does not apply, with the status it met. Pages
// turn it into words; errors.Is finds its Reason.
type Refused struct {
	Action Action
	Actor  Actor
	Status Status
	Reason error
}

func (e *Refused) Error() string {
	return fmt.Sprintf("%s by %s while %s: %v", e.Action, e.Actor, e.Status, e.Reason)
}

func (e *Refused) Unwrap() error { return e.Reason }

// Change is one action asked of a subscriber, with what its rule needs.
type Change struct {
	Action Action
	Actor  Actor
	// Now is the time of the change, from the caller's clock.
	Now time.Time
	// DefaultHour is the delivery hour of a reader who chose none, for the
	// actions that reschedule.
	DefaultHour int
	// Until ends a reader's pause; nil pauses until resumed.
	Until *time.Time
	// Lesson is the lesson to go to (GoBack, Move) or the lesson that
	// bounced (Bounce).
	Lesson int
	// Round is the round of the lesson that bounced (Bounce).
	Round int
	// Lessons is how many lessons the course has (Move).
	Lessons int
	// Reply is the server's answer to a bounced lesson (Bounce), or the
	// diagnostic of a report (HardBounce, Complain).
	Reply string
	// Provider sent the report (HardBounce, Complain).
	Provider Provider
	// Ledger holds what the delivery ledger says, for the actions that
	// need it (see NeedsLedger); the store reads it under the row's lock.
	Ledger Ledger
}

// Ledger is what GoBack and Move need to know of a reader's deliveries.
type Ledger struct {
	HighestSent      int // the highest lesson ever delivered, in any round; 0: none
	HighestThisRound int // the highest lesson with a ledger row in the current round; 0: none
}

// NeedsLedger reports whether Apply reads c.Ledger for this action.
func (a Action) NeedsLedger() bool { return a == ActGoBack || a == ActMove }

// Event is what Apply asks to be recorded on the subscriber's timeline.
type Event struct {
	Kind   string
	Detail map[string]any
	// CancelMail drops the subscriber's queued, unsent mail (a reader who
	// left gets no confirmation either).
	CancelMail bool
}

// Apply is the subscriber state machine: the state after action c on s,
// and the event to record, or a *Refused, or ErrNoChange. It reads no
// clock and no database; the store locks the row, calls it, and writes
// what it returns.
func Apply(s Subscriber, c Change) (Subscriber, Event, error) {
	refuse := func(reason error) (Subscriber, Event, error) {
		return s, Event{}, &Refused{Action: c.Action, Actor: c.Actor, Status: s.Status, Reason: reason}
	}
	if !Permitted(c.Actor, c.Action) {
		return refuse(ErrNotPermitted)
	}
	now := c.Now
	next := func() *time.Time {
		d := Reschedule(s.SlotOf(c.DefaultHour, now), s.LastSentAt, now)
		return &d
	}
	admin := c.Actor == ActorAdmin
	out := s
	switch c.Action {
	case ActPause:
		// A reader may pause again to change the end; an admin's pause
		// has no end, so an earlier timed pause cannot end it.
		if s.Status != StatusActive && (admin || s.Status != StatusPaused) {
			return refuse(ErrNotNow)
		}
		out.Status, out.NextDueAt, out.PausedUntil = StatusPaused, nil, nil
		if admin {
			return out, Event{Kind: "admin.pause"}, nil
		}
		out.PausedUntil = c.Until
		detail := map[string]any{"until": nil}
		if c.Until != nil {
			detail["until"] = c.Until.UTC().Format(time.RFC3339)
		}
		return out, Event{Kind: "paused", Detail: detail}, nil

	case ActResume:
		if s.Status != StatusPaused {
			if admin {
				return refuse(ErrNotNow)
			}
			return s, Event{}, ErrNoChange
		}
		out.Status, out.PausedUntil, out.NextDueAt = StatusActive, nil, next()
		if admin {
			return out, Event{Kind: "admin.resume"}, nil
		}
		return out, Event{Kind: "resumed", Detail: map[string]any{"next_due_at": out.NextDueAt.Format(time.RFC3339)}}, nil

	case ActNextNow:
		if s.Status != StatusActive {
			return refuse(ErrNotNow)
		}
		if !CanSendNow(s.NextNowAt, now) {
			return refuse(ErrTooSoon)
		}
		out.NextDueAt, out.NextNowAt = &now, &now
		return out, Event{Kind: "next_now", Detail: map[string]any{"lesson": s.NextLesson}}, nil

	case ActGoBack:
		if !s.Status.inCourse() {
			return refuse(ErrNotNow)
		}
		n := c.Lesson
		if n < 1 || (n > c.Ledger.HighestSent && n != 1) {
			return refuse(ErrNotReceived)
		}
		// A new round, so lessons n onwards are delivered again.
		out.Round, out.NextLesson = s.Round+1, n
		if s.Status == StatusCompleted {
			out.Status = StatusActive
		}
		out.NextDueAt = nil
		if out.Status == StatusActive {
			out.NextDueAt = next()
		}
		return out, Event{Kind: "went_back", Detail: map[string]any{"lesson": n, "round": out.Round}}, nil

	case ActMove:
		if c.Lesson < 1 || c.Lesson > c.Lessons {
			return refuse(ErrNoSuchLesson)
		}
		if !s.Status.inCourse() {
			return refuse(ErrNotNow)
		}
		// Back to a lesson this round already has a ledger row for starts
		// a new round, so the ledger (one row per round and lesson) can
		// record it again.
		if c.Ledger.HighestThisRound >= c.Lesson {
			out.Round++
		}
		out.NextLesson = c.Lesson
		// A completed reader, or an active one whose delivery was given
		// up, is due again.
		if s.Status == StatusCompleted || (s.Status == StatusActive && s.NextDueAt == nil) {
			out.Status, out.NextDueAt = StatusActive, next()
		}
		return out, Event{Kind: "admin.move", Detail: map[string]any{"lesson": c.Lesson}}, nil

	case ActUnsubscribe:
		if s.Status == StatusUnsubscribed {
			if admin {
				return refuse(ErrNotNow)
			}
			return s, Event{}, ErrNoChange
		}
		out.Status, out.UnsubscribedAt, out.NextDueAt, out.PausedUntil = StatusUnsubscribed, &now, nil, nil
		kind := "unsubscribed"
		if admin {
			kind = "admin.unsubscribe"
		}
		return out, Event{Kind: kind, CancelMail: true}, nil

	case ActResubscribe:
		// A valid link proves the address, but only for someone who once
		// confirmed it.
		if s.Status != StatusUnsubscribed || s.ConfirmedAt == nil {
			return refuse(ErrNotNow)
		}
		out.Status, out.UnsubscribedAt, out.NextDueAt = StatusActive, nil, next()
		return out, Event{Kind: "resubscribed"}, nil

	case ActHardBounce, ActComplain:
		// Reported after the send, about any mail: the reader gets no more,
		// except one who already gets none or finished the course, whose
		// record stays as it is (the store still suppresses the address).
		if s.Status == StatusCompleted || s.Status == StatusBounced || s.Status == StatusUnsubscribed {
			return s, Event{}, ErrNoChange
		}
		out.NextDueAt, out.PausedUntil = nil, nil
		detail := map[string]any{"provider": c.Provider, "reason": c.Reply}
		if c.Action == ActComplain {
			out.Status, out.UnsubscribedAt = StatusUnsubscribed, &now
			return out, Event{Kind: "complained", Detail: detail, CancelMail: true}, nil
		}
		out.Status = StatusBounced
		return out, Event{Kind: "bounced", Detail: detail, CancelMail: true}, nil

	case ActBounce:
		// The bounce counts only while the reader is still on the lesson
		// that bounced: an admin's move during the send wins. It is
		// recorded either way.
		if s.NextLesson == c.Lesson && s.Round == c.Round {
			out.NextDueAt = nil
			// A reader who paused during the send is bounced too: resuming
			// would only mail the dead address again.
			if s.Status == StatusActive || s.Status == StatusPaused {
				out.Status, out.PausedUntil = StatusBounced, nil
			}
		}
		return out, Event{Kind: "bounced", Detail: map[string]any{"lesson": c.Lesson, "reply": c.Reply}}, nil
	}
	return refuse(ErrNotPermitted)
}

// inCourse reports whether a reader in this status is somewhere in the
// course (on, paused, or done), so their place in it can change.
func (st Status) inCourse() bool {
	return st == StatusActive || st == StatusPaused || st == StatusCompleted
}
