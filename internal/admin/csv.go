package admin

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

// ImportColumns are the columns of an export, in order, and the columns an
// import reads: a subscriber's status, weekly slot, place in the course and
// consent record, so that an export imported into another database and
// exported again is the same file. An import needs only email; see
// parseRow for what the others default to.
var ImportColumns = []string{"email", "name", "status", "tz", "send_weekday", "send_hour", "round", "next_lesson",
	"next_due_at", "paused_until", "consent_method", "consent_at", "consent_ip", "consent_user_agent",
	"consent_form_url", "consent_version", "confirmed_at", "unsubscribed_at"}

// maxReported is how many invalid rows an import lists one by one; the
// rest are only counted.
const maxReported = 1000

// ImportOptions configure ImportCSV.
type ImportOptions struct {
	Lessons  int    // next_lesson must be within 1..Lessons
	SendHour int    // the course's default local hour of delivery
	Actor    string // who imports, for the timeline and the audit log
	IP       string
	Now      time.Time
	// Confirm is the importer's choice to ask rows without a consent
	// record: they become pending and each is sent a confirmation. Without
	// it such rows are refused.
	Confirm bool
	// Progress, when set, is called now and then with the bytes read so far.
	Progress func(bytesRead int64)
}

// RowError is an invalid row: its line in the file and what is wrong.
type RowError struct {
	Line int
	Msg  string
}

func (e RowError) String() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ImportResult is what an import did.
type ImportResult struct {
	Rows          int        // data rows read, valid or not
	Added         int        // new subscribers
	Confirmations int        // confirmations queued for new pending subscribers
	Repeated      int        // valid rows whose address came earlier in the file
	Known         int        // valid addresses already subscribed, left as they were
	Invalid       []RowError // the first maxReported invalid rows
	InvalidCount  int
	Ignored       []string // columns in the file that are not imported
	Took          time.Duration
}

// ErrNoHeader means the file does not start with a line naming its columns.
var ErrNoHeader = errors.New(`line 1: the first line must name the columns, e.g. "email,name,tz,confirmed_at"`)

// ImportCSV reads subscribers from a CSV file with a header line and adds
// the valid rows with the status and consent record the file gives; an
// address already known is left exactly as it is. No row becomes active
// without a confirmation date, and a row without a consent record is
// refused unless o.Confirm asks it to confirm. Invalid rows are
// reported by line and skip only themselves. The file is streamed: rows
// are checked as they are read and copied into PostgreSQL as they pass.
// A missing header, unreadable input or a database failure adds nobody.
//
// A new active subscriber without a slot gets the weekday of confirmed_at
// in their zone at the course's hour, and without next_due_at their next
// lesson is due at the first such slot from now.
func ImportCSV(ctx context.Context, db Importer, r io.Reader, o ImportOptions) (ImportResult, error) {
	start := time.Now()
	var res ImportResult
	cr := &countingReader{r: r}
	br := bufio.NewReaderSize(cr, 64<<10)
	if bom, err := br.Peek(3); err == nil && string(bom) == "\uFEFF" {
		br.Discard(3) // Excel's UTF-8 byte-order mark
	}
	rd := csv.NewReader(br)
	rd.FieldsPerRecord = -1
	rd.ReuseRecord = true

	header, err := rd.Read()
	if errors.Is(err, io.EOF) {
		return res, ErrNoHeader
	}
	if err != nil {
		return res, fmt.Errorf("read the header line: %w", err)
	}
	cols := map[string]int{}
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(name))
		if i == 0 {
			name = strings.TrimPrefix(name, "\uFEFF")
		}
		if _, dup := cols[name]; dup {
			return res, fmt.Errorf("line 1: column %q is named twice", name)
		}
		cols[name] = i
		if !slices.Contains(ImportColumns, name) {
			res.Ignored = append(res.Ignored, name)
		}
	}
	if _, ok := cols["email"]; !ok {
		return res, ErrNoHeader
	}
	width := len(header)
	// time.LoadLocation reads the zone file on every call; a file names
	// few zones, so each is loaded once.
	zones := map[string]*time.Location{}
	field := func(rec []string, name string) string {
		if i, ok := cols[name]; ok {
			return unescapeCell(strings.TrimSpace(rec[i]))
		}
		return ""
	}
	invalid := func(line int, format string, args ...any) {
		res.InvalidCount++
		if len(res.Invalid) < maxReported {
			res.Invalid = append(res.Invalid, RowError{line, fmt.Sprintf(format, args...)})
		}
	}

	next := func() (store.ImportRow, bool, error) {
		for {
			if res.Rows%256 == 0 && o.Progress != nil {
				o.Progress(cr.n)
			}
			rec, err := rd.Read()
			if errors.Is(err, io.EOF) {
				return store.ImportRow{}, false, nil
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				res.Rows++
				invalid(pe.StartLine, "not valid CSV: %v", pe.Err)
				continue
			}
			if err != nil {
				return store.ImportRow{}, false, fmt.Errorf("read the file: %w", err)
			}
			line, _ := rd.FieldPos(0)
			if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
				continue // a blank line
			}
			res.Rows++
			if len(rec) != width {
				invalid(line, "has %d fields; the header names %d", len(rec), width)
				continue
			}
			row, msg := parseRow(field, rec, o, zones)
			if msg != "" {
				invalid(line, "%s", msg)
				continue
			}
			row.Line = line
			return row, true, nil
		}
	}
	counts, err := db.ImportSubscribers(ctx, next, store.AdminAction{Actor: o.Actor, IP: o.IP, At: o.Now})
	if err != nil {
		return res, err
	}
	if o.Progress != nil {
		o.Progress(cr.n)
	}
	res.Added = counts.Added
	res.Confirmations = counts.Confirmations
	res.Repeated = counts.Rows - counts.Unique
	res.Known = counts.Unique - counts.Added
	res.Took = time.Since(start)
	return res, nil
}

// parseRow checks one row; msg says what is wrong, or is empty.
//
// Defaults: status is active when confirmed_at is given, else pending; tz
// is UTC; round and next_lesson are 1; consent_method is import and
// consent_at is confirmed_at. An active, paused or completed row needs
// confirmed_at; a pending row needs consent_at. Rows that lack them are
// refused, or with o.Confirm become pending and are asked to confirm, as
// is every pending row then. Unsubscribed and bounced rows need nothing:
// they are kept so as never to be mailed.
func parseRow(field func([]string, string) string, rec []string, o ImportOptions, zones map[string]*time.Location) (row store.ImportRow, msg string) {
	email, err := drip.ParseEmail(field(rec, "email"))
	if err != nil {
		return row, fmt.Sprintf("email %q: %s", drip.Truncate(field(rec, "email"), 80), err)
	}
	name, err := drip.CleanName(field(rec, "name"))
	if err != nil {
		return row, "name: " + strings.Replace(err.Error(), "Your name", "The name", 1)
	}
	tz := field(rec, "tz")
	loc := time.UTC
	switch l, cached := zones[tz]; {
	case tz == "":
		tz = "UTC"
	case cached && l != nil:
		loc = l
	case cached:
		return row, fmt.Sprintf("tz %q is not a time zone name such as Europe/Berlin", drip.Truncate(tz, 80))
	default:
		l, ok := drip.LoadLocation(tz)
		if len(zones) < 1000 { // a file of random junk must not grow the cache without end
			zones[tz] = nil
			if ok {
				zones[tz] = l
			}
		}
		if !ok {
			return row, fmt.Sprintf("tz %q is not a time zone name such as Europe/Berlin", drip.Truncate(tz, 80))
		}
		loc = l
	}
	row = store.ImportRow{Email: email, Name: name, TimeZone: tz, Round: 1, NextLesson: 1, ConsentMethod: "import"}

	times := map[string]*time.Time{}
	for _, col := range []string{"consent_at", "confirmed_at", "unsubscribed_at", "next_due_at", "paused_until"} {
		s := field(rec, col)
		if s == "" {
			continue
		}
		t, ok := parseTime(s)
		if !ok {
			return row, fmt.Sprintf("%s %q is not a date such as 2026-03-02 or 2026-03-02T09:00:00Z", col, drip.Truncate(s, 40))
		}
		if col != "next_due_at" && col != "paused_until" && t.After(o.Now.Add(24*time.Hour)) {
			return row, fmt.Sprintf("%s %q is in the future", col, drip.Truncate(s, 40))
		}
		t = t.UTC()
		times[col] = &t
	}
	row.ConfirmedAt, row.UnsubscribedAt = times["confirmed_at"], times["unsubscribed_at"]

	for _, c := range []struct {
		col string
		to  *string
	}{{"consent_ip", &row.ConsentIP}, {"consent_user_agent", &row.ConsentUserAgent},
		{"consent_form_url", &row.ConsentFormURL}, {"consent_version", &row.ConsentVersion}} {
		v := field(rec, c.col)
		// A tab can come in a User-Agent header; nothing else that is not
		// text can, and 500 bytes is what a signup keeps.
		if !utf8.ValidString(v) || strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\t' }) >= 0 || len(v) > 500 {
			return row, fmt.Sprintf("%s must be one line of at most 500 bytes of text", c.col)
		}
		*c.to = v
	}
	switch m := field(rec, "consent_method"); m {
	case "":
	case "form", "import":
		row.ConsentMethod = m
	default:
		return row, fmt.Sprintf("consent_method %q must be form or import", drip.Truncate(m, 20))
	}

	status := drip.Status(strings.ToLower(field(rec, "status")))
	switch status {
	case "":
		// Someone who left stays gone, whatever else the file says.
		status = drip.StatusPending
		switch {
		case row.UnsubscribedAt != nil:
			status = drip.StatusUnsubscribed
		case row.ConfirmedAt != nil:
			status = drip.StatusActive
		}
	case drip.StatusPending, drip.StatusActive, drip.StatusPaused, drip.StatusCompleted:
		if row.UnsubscribedAt != nil && (row.ConfirmedAt == nil || !row.ConfirmedAt.After(*row.UnsubscribedAt)) {
			return row, fmt.Sprintf("status %s with unsubscribed_at %s: this person left; import them as unsubscribed", status, row.UnsubscribedAt.UTC().Format(time.RFC3339))
		}
	case drip.StatusUnsubscribed, drip.StatusBounced:
	default:
		return row, fmt.Sprintf("status %q must be one of pending, active, paused, completed, unsubscribed, bounced", drip.Truncate(string(status), 20))
	}
	last := o.Lessons
	if status == drip.StatusCompleted {
		last++ // a completed reader's next lesson is past the last
	}
	if s := field(rec, "next_lesson"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > last {
			return row, fmt.Sprintf("next_lesson %q must be a whole number from 1 to %d", drip.Truncate(s, 20), last)
		}
		row.NextLesson = n
	}
	if s := field(rec, "round"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return row, fmt.Sprintf("round %q must be a whole number from 1 to 1000", drip.Truncate(s, 20))
		}
		row.Round = n
	}

	wd, hour, msg := parseSlot(field(rec, "send_weekday"), field(rec, "send_hour"))
	if msg != "" {
		return row, msg
	}
	consentAt := times["consent_at"]
	if consentAt == nil {
		consentAt = row.ConfirmedAt
	}
	switch status {
	case drip.StatusActive, drip.StatusPaused, drip.StatusCompleted:
		if row.ConfirmedAt == nil {
			if !o.Confirm {
				return row, fmt.Sprintf("status %s needs confirmed_at, when they confirmed; to ask them to confirm, import with --confirm", status)
			}
			status = drip.StatusPending
		}
	case drip.StatusPending:
		if consentAt == nil && !o.Confirm {
			return row, "no consent record (consent_at or confirmed_at); to ask them to confirm, import with --confirm"
		}
	}
	row.Status = status
	if status == drip.StatusPending && o.Confirm {
		// Asked now: the record is this import's, and the seven days to
		// confirm start now.
		row.Confirm = true
		now := o.Now.UTC()
		consentAt = &now
		row.ConsentMethod = "import"
	}
	if consentAt == nil {
		now := o.Now.UTC()
		consentAt = &now
	}
	row.ConsentAt = *consentAt

	scheduled := status == drip.StatusActive || status == drip.StatusPaused || status == drip.StatusCompleted
	if wd != nil || hour != nil || scheduled {
		confirmed := o.Now
		if row.ConfirmedAt != nil {
			confirmed = *row.ConfirmedAt
		}
		def := drip.DefaultSlot(confirmed, loc, o.SendHour)
		if wd == nil {
			wd = &def.Weekday
		}
		if hour == nil {
			hour = &def.Hour
		}
	}
	row.SendWeekday, row.SendHour = wd, hour
	switch status {
	case drip.StatusActive:
		row.NextDueAt = times["next_due_at"]
		if row.NextDueAt == nil {
			due := drip.Slot{Weekday: *wd, Hour: *hour, Location: loc}.Next(o.Now).UTC()
			row.NextDueAt = &due
		}
	case drip.StatusPaused:
		row.PausedUntil = times["paused_until"]
	}
	return row, ""
}

// parseSlot reads send_weekday (an English day name, or 0 for Sunday to 6)
// and send_hour (0 to 23); either may be empty.
func parseSlot(weekday, hour string) (*time.Weekday, *int, string) {
	var wd *time.Weekday
	if weekday != "" {
		d, ok := drip.ParseWeekday(weekday)
		if !ok { // or a day's English name
			for name := time.Sunday; name <= time.Saturday; name++ {
				if strings.EqualFold(weekday, name.String()) {
					d, ok = name, true
				}
			}
		}
		if !ok {
			return nil, nil, fmt.Sprintf("send_weekday %q must be a day such as Monday", drip.Truncate(weekday, 20))
		}
		wd = &d
	}
	var h *int
	if hour != "" {
		n, ok := drip.ParseHour(hour)
		if !ok {
			return nil, nil, fmt.Sprintf("send_hour %q must be a whole number from 0 to 23", drip.Truncate(hour, 20))
		}
		h = &n
	}
	return wd, h, ""
}

// parseTime reads the date formats people's spreadsheets produce.
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// ExportCSV writes the subscribers f selects as CSV with a header line of
// ImportColumns, streaming rows as the database sends them; progress, when
// set, is called every thousand rows with the count so far. It returns how
// many rows it wrote. Times are UTC RFC 3339 with their fractions of a
// second, so an import gets them back exactly.
func ExportCSV(ctx context.Context, db Exporter, w io.Writer, f store.SubscriberFilter, progress func(rows int)) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(ImportColumns); err != nil {
		return 0, err
	}
	n := 0
	rec := make([]string, 0, len(ImportColumns))
	stamp := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	err := db.ExportSubscribers(ctx, f, func(r store.ExportRow) error {
		weekday, hour := "", ""
		if r.SendWeekday != nil {
			weekday = r.SendWeekday.String()
		}
		if r.SendHour != nil {
			hour = strconv.Itoa(*r.SendHour)
		}
		rec = append(rec[:0], escapeCell(r.Email), escapeCell(r.Name), string(r.Status), escapeCell(r.TimeZone),
			weekday, hour, strconv.Itoa(r.Round), strconv.Itoa(r.NextLesson), stamp(r.NextDueAt), stamp(r.PausedUntil),
			r.ConsentMethod, stamp(&r.ConsentAt), escapeCell(r.ConsentIP), escapeCell(r.ConsentUserAgent),
			escapeCell(r.ConsentFormURL), escapeCell(r.ConsentVersion), stamp(r.ConfirmedAt), stamp(r.UnsubscribedAt))
		if err := cw.Write(rec); err != nil {
			return err
		}
		n++
		if n%1000 == 0 {
			cw.Flush()
			if progress != nil {
				progress(n)
			}
		}
		return cw.Error()
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	if progress != nil {
		progress(n)
	}
	return n, err
}

// escapeCell keeps a spreadsheet from running a cell as a formula: a value
// starting with = + - @ (or a tab or CR) gets a leading apostrophe, which
// spreadsheets hide and unescapeCell removes on import. A value that
// itself starts with an apostrophe gets one more, so that it comes back
// as it was.
func escapeCell(s string) string {
	if s != "" && strings.ContainsRune(escaped, rune(s[0])) {
		return "'" + s
	}
	return s
}

func unescapeCell(s string) string {
	if len(s) >= 2 && s[0] == '\'' && strings.ContainsRune(escaped, rune(s[1])) {
		return s[1:]
	}
	return s
}

// escaped are the first characters escapeCell puts an apostrophe before.
const escaped = "=+-@\t\r'"

// countingReader counts the bytes read through it, for progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
