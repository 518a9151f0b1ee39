package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/admin"
	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/store"
)

// cliActor is who the timeline and the audit log say imported from the
// command line.
const cliActor = "command line"

// subscribersCmd is `twostep subscribers import FILE.csv [--confirm]` and
// `twostep subscribers export [FILE]`.
func subscribersCmd(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"subscribers: want import FILE.csv or export [FILE]"}
	}
	switch args[0] {
	case "import":
		file, confirm := "", false
		for _, arg := range args[1:] {
			switch {
			case arg == "--confirm" || arg == "-confirm":
				confirm = true
			case strings.HasPrefix(arg, "-") && arg != "-":
				return usageError{fmt.Sprintf("subscribers import: unknown flag %s (want --confirm)", arg)}
			case file != "":
				return usageError{"subscribers import takes one CSV file"}
			default:
				file = arg
			}
		}
		if file == "" {
			return usageError{"subscribers import takes one CSV file"}
		}
		return subscribersImport(ctx, cfg, file, confirm, stdout, stderr)
	case "export":
		if len(args) > 2 {
			return usageError{"subscribers export takes at most one file"}
		}
		file := ""
		if len(args) == 2 {
			file = args[1]
		}
		return subscribersExport(ctx, cfg, file, stdout, stderr)
	}
	return usageError{fmt.Sprintf("subscribers: unknown subcommand %q (want import or export)", args[0])}
}

// subscribersImport adds the valid rows of a CSV file as subscribers with
// the status and consent record each row gives. With confirm, rows without
// a consent record become pending and are sent a confirmation; without it
// they are invalid. Invalid rows are printed as FILE:LINE: problem on
// stderr and make the exit status 1; every valid row is imported all the
// same.
func subscribersImport(ctx context.Context, cfg config.Config, path string, confirm bool, stdout, stderr io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return usageError{fmt.Sprintf("subscribers import: %v", err)}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	a, cur, err := openCurrent(ctx, cfg, newLogger(stderr))
	if err != nil {
		return err
	}
	defer a.close()
	bar := newProgressBar(stderr, "import", st.Size(), formatBytes)
	res, err := admin.ImportCSV(ctx, a.db, f, admin.ImportOptions{
		Lessons: cur.Course.LessonCount, SendHour: cur.Course.SendHour,
		Actor: cliActor, Now: a.clock.Now(), Progress: bar.set, Confirm: confirm,
	})
	bar.done()
	if err != nil {
		return fmt.Errorf("import %s: %w; nothing was imported", path, err)
	}
	for _, e := range res.Invalid {
		fmt.Fprintf(stderr, "%s:%d: %s\n", path, e.Line, e.Msg)
	}
	if more := res.InvalidCount - len(res.Invalid); more > 0 {
		fmt.Fprintf(stderr, "%s: %d more invalid rows not listed\n", path, more)
	}
	if len(res.Ignored) > 0 {
		fmt.Fprintf(stderr, "%s: columns ignored: %s\n", path, strings.Join(res.Ignored, ", "))
	}
	fmt.Fprintf(stdout, "%d rows read in %s: %d added, %d already subscribed, %d repeated in the file, %d invalid\n",
		res.Rows, res.Took.Round(time.Millisecond), res.Added, res.Known, res.Repeated, res.InvalidCount)
	if res.Confirmations > 0 {
		fmt.Fprintf(stdout, "%d asked to confirm: the confirmations go out at %d a second while twostep serve runs; they stay pending until they confirm\n",
			res.Confirmations, int(time.Second/store.ImportConfirmInterval))
	}
	if res.InvalidCount > 0 {
		return exitError{1}
	}
	return nil
}

// subscribersExport writes every subscriber as CSV to file, or to stdout
// when file is empty.
func subscribersExport(ctx context.Context, cfg config.Config, file string, stdout, stderr io.Writer) error {
	a, err := openApp(ctx, cfg, newLogger(stderr))
	if err != nil {
		return err
	}
	defer a.close()
	out, closeOut := stdout, func() error { return nil }
	if file != "" {
		// Written next to the target and renamed, so a failed export never
		// leaves half a file under the name asked for.
		tmp, err := os.CreateTemp(filepath.Dir(file), ".twostep-export-*")
		if err != nil {
			return fmt.Errorf("create %s: %w", file, err)
		}
		defer os.Remove(tmp.Name())
		bw := bufio.NewWriterSize(tmp, 256<<10)
		out = bw
		closeOut = func() error {
			if err := bw.Flush(); err != nil {
				tmp.Close()
				return err
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			return os.Rename(tmp.Name(), file)
		}
	}
	total, err := a.db.CountSubscribers(ctx, store.SubscriberFilter{})
	if err != nil {
		return err
	}
	bar := newProgressBar(stderr, "export", int64(total), func(n int64) string { return fmt.Sprintf("%d rows", n) })
	n, err := admin.ExportCSV(ctx, a.db, out, store.SubscriberFilter{}, func(rows int) { bar.set(int64(rows)) })
	bar.done()
	if err != nil {
		return fmt.Errorf("export subscribers: %w", err)
	}
	if err := closeOut(); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	if file != "" {
		fmt.Fprintf(stdout, "wrote %d subscribers to %s\n", n, file)
	}
	return nil
}

// progressBar draws "import [#####-----]  45%  12.3 MB of 27.1 MB" on a
// terminal, redrawn at most ten times a second. When w is not a terminal
// (a log file, CI) it draws nothing.
type progressBar struct {
	w      io.Writer
	label  string
	total  int64
	format func(int64) string
	on     bool
	last   time.Time
	cur    int64
}

func newProgressBar(w io.Writer, label string, total int64, format func(int64) string) *progressBar {
	return &progressBar{w: w, label: label, total: total, format: format, on: isTerminal(w)}
}

func (p *progressBar) set(n int64) {
	p.cur = n
	if !p.on || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.draw()
}

func (p *progressBar) draw() {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.cur)/float64(p.total), 1)
	}
	filled := int(frac * width)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%%  %s of %s ", p.label, strings.Repeat("#", filled), strings.Repeat("-", width-filled),
		frac*100, p.format(p.cur), p.format(p.total))
}

// done draws the final state and ends the line.
func (p *progressBar) done() {
	if !p.on {
		return
	}
	p.draw()
	fmt.Fprintln(p.w)
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
