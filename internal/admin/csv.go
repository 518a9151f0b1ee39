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

	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

// ImportColumns are the columns an import reads, in the order the export
// writes them; email is the only one required.
var ImportColumns = []string{"email", "name", "tz", "next_lesson", "confirmed_at"}

// exportColumns are ImportColumns and then what only the export has. An
// exported file can be imported as it is: the extra columns are ignored.
var exportColumns = append(append([]string{}, ImportColumns...), "status", "consent_method", "consent_at", "created_at")

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
	Rows         int        // data rows read, valid or not
	Added        int        // new active subscribers
	Repeated     int        // valid rows whose address came earlier in the file
	Known        int        // valid addresses already subscribed, left as they were
	Invalid      []RowError // the first maxReported invalid rows
	InvalidCount int
	Ignored      []string // columns in the file that are not imported
	Took         time.Duration
}

// ErrNoHeader means the file does not start with a line naming its columns.
var ErrNoHeader = errors.New(`line 1: the first line must name the columns, e.g. "email,name,tz,next_lesson,confirmed_at"`)

// ImportCSV reads subscribers from a CSV file with a header line and adds
// the valid rows as active subscribers with consent method "import"; an
// address already known is left exactly as it is. Invalid rows are
// reported by line and skip only themselves. The file is streamed: rows
// are checked as they are read and copied into PostgreSQL as they pass.
// A missing header, unreadable input or a database failure adds nobody.
//
// Each new subscriber's weekly slot is the weekday of confirmed_at in
// their zone at the course's hour, and their next lesson is due at the
// first such slot from now.
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
	res.Repeated = counts.Rows - counts.Unique
	res.Known = counts.Unique - counts.Added
	res.Took = time.Since(start)
	return res, nil
}

// parseRow checks one row; msg says what is wrong, or is empty.
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
	lesson := 1
	if s := field(rec, "next_lesson"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > o.Lessons {
			return row, fmt.Sprintf("next_lesson %q must be a whole number from 1 to %d", drip.Truncate(s, 20), o.Lessons)
		}
		lesson = n
	}
	confirmed := o.Now
	if s := field(rec, "confirmed_at"); s != "" {
		t, ok := parseTime(s)
		if !ok {
			return row, fmt.Sprintf("confirmed_at %q is not a date such as 2026-03-02 or 2026-03-02T09:00:00Z", drip.Truncate(s, 40))
		}
		if t.After(o.Now.Add(24 * time.Hour)) {
			return row, fmt.Sprintf("confirmed_at %q is in the future", s)
		}
		confirmed = t
	}
	slot := drip.DefaultSlot(confirmed, loc, o.SendHour)
	return store.ImportRow{Email: email, Name: name, TimeZone: tz, NextLesson: lesson, ConfirmedAt: confirmed.UTC(),
		SendWeekday: slot.Weekday, SendHour: slot.Hour, NextDueAt: slot.Next(o.Now)}, ""
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

// ExportCSV writes the subscribers f selects as CSV with a header line,
// streaming rows as the database sends them; progress, when set, is
// called every thousand rows with the count so far. It returns how many
// rows it wrote.
func ExportCSV(ctx context.Context, db Exporter, w io.Writer, f store.SubscriberFilter, progress func(rows int)) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(exportColumns); err != nil {
		return 0, err
	}
	n := 0
	rec := make([]string, len(exportColumns))
	err := db.ExportSubscribers(ctx, f, func(r store.ExportRow) error {
		confirmed := ""
		if r.ConfirmedAt != nil {
			confirmed = r.ConfirmedAt.UTC().Format(time.RFC3339)
		}
		rec[0], rec[1], rec[2] = escapeCell(r.Email), escapeCell(r.Name), escapeCell(r.TimeZone)
		rec[3], rec[4] = strconv.Itoa(r.NextLesson), confirmed
		rec[5], rec[6] = string(r.Status), r.ConsentMethod
		rec[7], rec[8] = r.ConsentAt.UTC().Format(time.RFC3339), r.CreatedAt.UTC().Format(time.RFC3339)
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
// spreadsheets hide and unescapeCell removes on import.
func escapeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func unescapeCell(s string) string {
	if len(s) >= 2 && s[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(s[1])) {
		return s[1:]
	}
	return s
}

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
