package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/twostep/twostep/internal/drip"
)

// SubscriberFilter narrows the subscriber list and the CSV export.
type SubscriberFilter struct {
	Email  string      // the address starts with this, in any letter case
	Status drip.Status // "" = any
	Lesson int         // next lesson; 0 = any
}

// SubscriberQuery is one page of the subscriber list.
type SubscriberQuery struct {
	SubscriberFilter
	// After is the cursor the previous page returned; "" is the first page.
	After string
	Limit int
}

// SubscriberPage is a page of subscribers and the cursor of the next one
// ("" when this is the last).
type SubscriberPage struct {
	Subscribers []*drip.Subscriber
	Next        string
}

// likePrefix escapes LIKE's wildcards in s and appends one.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(strings.ToLower(s)) + "%"
}

// filterSQL is the WHERE clause of f, with its arguments numbered from
// len(args)+1.
func filterSQL(f SubscriberFilter, args []any) (string, []any) {
	var where []string
	if f.Email != "" {
		args = append(args, likePrefix(f.Email))
		where = append(where, addressKey+` LIKE $`+strconv.Itoa(len(args)))
	}
	if f.Status != "" {
		args = append(args, string(f.Status))
		where = append(where, `status = $`+strconv.Itoa(len(args)))
	}
	if f.Lesson > 0 {
		args = append(args, f.Lesson)
		where = append(where, `lesson = $`+strconv.Itoa(len(args)))
	}
	if len(where) == 0 {
		return "TRUE", args
	}
	return strings.Join(where, " AND "), args
}

// searchSQL is the query of a page of q, selecting cols.
func searchSQL(q SubscriberQuery, cols string) (string, []any, error) {
	where, args := filterSQL(q.SubscriberFilter, nil)
	// By lesson, the page walks schedule_lesson_idx: the cursor and the
	// order name its column, as PostgreSQL carries no range across a join.
	byID := "id"
	if q.Lesson > 0 {
		byID = "p.subscriber_id"
	}
	order := byID + " DESC"
	if q.Email != "" {
		order = addressKey
		if q.After != "" {
			args = append(args, q.After)
			where += ` AND ` + addressKey + ` > $` + strconv.Itoa(len(args))
		}
	} else if q.After != "" {
		after, err := strconv.ParseInt(q.After, 10, 64)
		if err != nil {
			return "", nil, fmt.Errorf("bad cursor %q", q.After)
		}
		args = append(args, after)
		where += ` AND ` + byID + ` < $` + strconv.Itoa(len(args))
	}
	args = append(args, q.Limit+1)
	return `SELECT ` + cols + ` FROM ` + subscribersFrom + ` WHERE ` + where + ` ORDER BY ` + order + ` LIMIT $` + strconv.Itoa(len(args)), args, nil
}

// SearchSubscribers returns a page of subscribers by keyset pagination, so
// the thousandth page costs what the first does. An email search is
// ordered by address and walks subscribers_email_key from the prefix;
// otherwise the newest come first, by id, along subscribers_status_id_idx,
// schedule_lesson_idx or the primary key.
func (db *DB) SearchSubscribers(ctx context.Context, q SubscriberQuery) (SubscriberPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	sql, args, err := searchSQL(q, subscriberColumns)
	if err != nil {
		return SubscriberPage{}, fmt.Errorf("search subscribers: %w", err)
	}
	rows, err := db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return SubscriberPage{}, fmt.Errorf("search subscribers: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*drip.Subscriber, error) { return scanSubscriber(r) })
	if err != nil {
		return SubscriberPage{}, fmt.Errorf("search subscribers: %w", err)
	}
	subs, last := keyset(subs, q.Limit)
	page := SubscriberPage{Subscribers: subs}
	switch {
	case last == nil:
	case q.Email != "":
		page.Next = strings.ToLower((*last).Email)
	default:
		page.Next = strconv.FormatInt((*last).ID, 10)
	}
	return page, nil
}

// ExplainSearch returns the plan of a search, for the test that keeps
// every kind of search on an index.
func (db *DB) ExplainSearch(ctx context.Context, q SubscriberQuery) (string, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	sql, args, err := searchSQL(q, subscriberColumns) // the query SearchSubscribers runs
	if err != nil {
		return "", err
	}
	rows, err := db.Pool.Query(ctx, "EXPLAIN "+sql, args...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}

// SubscriberByID returns the subscriber with id, whatever its links' generation.
func (db *DB) SubscriberByID(ctx context.Context, id int64) (*drip.Subscriber, error) {
	s, err := scanSubscriber(db.Pool.QueryRow(ctx, `SELECT `+subscriberColumns+` FROM `+subscribersFrom+` WHERE id = $1`, id))
	if err != nil && !errors.Is(err, drip.ErrNotFound) {
		return nil, fmt.Errorf("load subscriber %d: %w", id, err)
	}
	return s, err
}

// TimelineEntry is one line of a subscriber's history: an event (signup,
// confirmation, status change, admin action) or a delivery.
type TimelineEntry struct {
	At     time.Time
	Kind   string // the event kind, or "delivery"
	Actor  string
	Detail map[string]any
	// Set for deliveries.
	Delivery *DeliveryRecord
}

// DeliveryRecord is a row of the delivery ledger.
type DeliveryRecord struct {
	ID         int64
	Round      int
	Lesson     int
	RevisionID *int64
	// RevisionNumber is the revision's number within the lesson, as the
	// admin shows it; set by Timeline.
	RevisionNumber *int
	Status         drip.DeliveryStatus
	Attempts       int
	MessageID      string
	SMTPReply      string
	DueAt          time.Time
	SentAt         *time.Time
	UpdatedAt      time.Time
}

// maxTimeline bounds a timeline: a subscriber of many years has a few
// hundred entries at most, so this only guards against a runaway.
const maxTimeline = 2000

// Timeline returns the history of subscriber id, newest first.
func (db *DB) Timeline(ctx context.Context, id int64) ([]TimelineEntry, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT at, kind, actor, detail FROM events WHERE subscriber_id = $1
		ORDER BY at DESC, id DESC LIMIT $2`, id, maxTimeline)
	if err != nil {
		return nil, fmt.Errorf("load events of subscriber %d: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TimelineEntry, error) {
		var e TimelineEntry
		err := r.Scan(&e.At, &e.Kind, &e.Actor, &e.Detail)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("load events of subscriber %d: %w", id, err)
	}
	rows, err = db.Pool.Query(ctx, `
		SELECT d.id, d.round, d.lesson, d.revision_id, d.status, d.attempts, d.message_id, d.smtp_reply, d.due_at, d.sent_at, d.updated_at,
			r.number
		FROM deliveries d LEFT JOIN lesson_revisions r ON r.id = d.revision_id
		WHERE d.subscriber_id = $1 ORDER BY d.id DESC LIMIT $2`, id, maxTimeline)
	if err != nil {
		return nil, fmt.Errorf("load deliveries of subscriber %d: %w", id, err)
	}
	ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeliveryRecord, error) {
		var d DeliveryRecord
		err := r.Scan(append(deliveryRecordTargets(&d), &d.RevisionNumber)...)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("load deliveries of subscriber %d: %w", id, err)
	}
	for _, d := range ds {
		at := d.UpdatedAt
		if d.SentAt != nil {
			at = *d.SentAt
		}
		out = append(out, TimelineEntry{At: at, Kind: "delivery", Actor: "system", Delivery: &d})
	}
	slices.SortStableFunc(out, func(a, b TimelineEntry) int { return b.At.Compare(a.At) })
	return out, nil
}

// deliveryRecordTargets are the fields of d a ledger query reads, in the order
// id, round, lesson, revision_id, status, attempts, message_id,
// smtp_reply, due_at, sent_at, updated_at.
func deliveryRecordTargets(d *DeliveryRecord) []any {
	return []any{&d.ID, &d.Round, &d.Lesson, &d.RevisionID, &d.Status, &d.Attempts, &d.MessageID, &d.SMTPReply,
		&d.DueAt, &d.SentAt, &d.UpdatedAt}
}

// Resend is a lesson an admin sent again outside the schedule, and how
// the send went.
type Resend struct {
	Subscriber int64
	Lesson     int
	Revision   int // the number within the lesson
	MessageID  string
	Reply      string
	SendErr    error       // nil when the server accepted it
	By         AdminAction // who, from where, when
}

// RecordResend notes on the timeline and in the audit log a lesson the
// admin sent again outside the schedule. The ledger is not touched: the
// resend is an extra copy, not the scheduled delivery.
func (db *DB) RecordResend(ctx context.Context, r Resend) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		s, err := lockSubscriber(ctx, tx, Ref{ID: r.Subscriber}, false)
		if err != nil {
			return err
		}
		d := map[string]any{"lesson": r.Lesson, "revision": r.Revision, "message_id": r.MessageID, "reply": r.Reply}
		if r.SendErr != nil {
			d["error"] = r.SendErr.Error()
		}
		return recordAdmin(ctx, tx, r.By.At, s, s, "resend", d, r.By)
	})
	if err != nil && !errors.Is(err, drip.ErrNotFound) {
		return fmt.Errorf("record resend to subscriber %d: %w", r.Subscriber, err)
	}
	return err
}

// EraseSubscriber removes a subscriber's personal data for good: the row
// goes, with their queued mail; their events and deliveries stay, without
// the subscriber and without SMTP replies (which often quote the address),
// so delivery counts still add up. The audit entry holds no personal data.
func (db *DB) EraseSubscriber(ctx context.Context, id int64, a AdminAction) error {
	now := a.At
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		before, err := lockSubscriber(ctx, tx, Ref{ID: id}, false)
		if err != nil {
			return err
		}
		if err := eraseTx(ctx, tx, id); err != nil {
			return err
		}
		return addAudit(ctx, tx, AuditEntry{At: now, Actor: a.Actor, Action: "subscriber.erase", SubjectType: "subscriber",
			SubjectID: &id, Before: snapshot(before), After: map[string]any{"erased": true}, IP: a.IP})
	})
	if err != nil && !errors.Is(err, drip.ErrNotFound) {
		return fmt.Errorf("erase subscriber %d: %w", id, err)
	}
	return err
}
