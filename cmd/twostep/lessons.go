package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/drip"
)

func lessonsCmd(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"lessons: want check, preview or export"}
	}
	switch args[0] {
	case "check":
		return lessonsCheck(cfg, args[1:], stdout, stderr)
	case "preview":
		return lessonsPreview(ctx, cfg, args[1:], stdout, stderr)
	case "export":
		return lessonsExport(ctx, cfg, args[1:], stdout, stderr)
	}
	return usageError{fmt.Sprintf("lessons: unknown subcommand %q (want check, preview or export)", args[0])}
}

// lessonsCheck validates a course folder without touching the database:
// every problem as file:line: problem on stderr and exit 1, or a summary.
// Warnings (an example domain in course.yaml) go to stderr either way and
// do not change the exit status.
func lessonsCheck(cfg config.Config, args []string, stdout, stderr io.Writer) error {
	if len(args) > 1 {
		return usageError{"lessons check takes at most one folder"}
	}
	fsys := lessonsFS(cfg)
	if len(args) == 1 {
		st, err := os.Stat(args[0])
		if err != nil || !st.IsDir() {
			return usageError{fmt.Sprintf("lessons check: %s is not a folder", args[0])}
		}
		fsys = os.DirFS(args[0])
	}
	c, problems := course.Load(fsys)
	for _, w := range course.AddressWarnings(c) {
		fmt.Fprintf(stderr, "%s:%d: warning: %s\n", w.File, w.Line, w.Msg)
	}
	if len(problems) == 0 {
		// Advice for a course of one's own; the shipped course keeps it all.
		for _, w := range course.Editorial(c) {
			if w.Line == 0 {
				fmt.Fprintf(stderr, "%s: warning: %s\n", w.File, w.Msg)
			} else {
				fmt.Fprintf(stderr, "%s:%d: warning: %s\n", w.File, w.Line, w.Msg)
			}
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		return exitError{1}
	}
	fmt.Fprintln(stdout, c.Summary())
	return nil
}

// lessonsPreview prints lesson N's current revision exactly as a
// subscriber gets it, with sample links.
func lessonsPreview(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("lessons preview", flag.ContinueOnError)
	fset.SetOutput(stderr)
	format := fset.String("format", "eml", "html, text or eml")
	var n int
	// The lesson number may come before or after the flags.
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		n, _ = strconv.Atoi(args[0])
		args = args[1:]
	}
	if err := fset.Parse(args); err != nil {
		return usageError{"lessons preview: " + err.Error()}
	}
	if n == 0 && fset.NArg() == 1 {
		n, _ = strconv.Atoi(fset.Arg(0))
	} else if fset.NArg() > 0 {
		return usageError{"lessons preview: unexpected argument " + fset.Arg(0)}
	}
	if *format != "html" && *format != "text" && *format != "eml" {
		return usageError{fmt.Sprintf("lessons preview: --format %q: want html, text or eml", *format)}
	}
	a, cur, err := openCurrent(ctx, cfg, newLogger(io.Discard))
	if err != nil {
		return err
	}
	defer a.close()
	ls := cur.Course.Lesson(n)
	if ls == nil {
		return usageError{fmt.Sprintf("lessons preview: no lesson %q; the course has lessons 1 to %d", strconv.Itoa(n), cur.Course.LessonCount)}
	}
	weekday, hour := time.Monday, cur.Course.SendHour
	sample := &drip.Subscriber{Name: "Alex", Email: "reader@example.com", TokenGen: 0, SendWeekday: &weekday, SendHour: &hour, NextLesson: n}
	if *format == "eml" {
		msg, _, err := a.letters.Lesson(cur.Course, ls, sample, a.clock.Now())
		if err != nil {
			return err
		}
		_, err = msg.WriteTo(stdout)
		return err
	}
	e, err := a.letters.Renderer.Lesson(cur.Course, ls, a.letters.LessonRecipient(sample, n))
	if err != nil {
		return err
	}
	if *format == "html" {
		_, err = io.WriteString(stdout, e.HTML)
	} else {
		_, err = io.WriteString(stdout, e.Text)
	}
	return err
}

// lessonsExport writes course.yaml, the current revision of every lesson
// and closing.md into dir, as files `lessons check` accepts, so browser edits can
// go back into version control.
func lessonsExport(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		return usageError{"lessons export takes one folder"}
	}
	dir := args[0]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	a, cur, err := openCurrent(ctx, cfg, newLogger(stderr))
	if err != nil {
		return err
	}
	defer a.close()
	yamlSrc, err := fs.ReadFile(lessonsFS(cfg), "course.yaml")
	if err != nil {
		return fmt.Errorf("read course.yaml: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "course.yaml"), yamlSrc, 0o644); err != nil {
		return err
	}
	for _, ls := range cur.Course.Lessons {
		if err := os.WriteFile(filepath.Join(dir, ls.FileName()), ls.Markdown(), 0o644); err != nil {
			return err
		}
	}
	if cl := cur.Course.Closing; cl != nil {
		if err := os.WriteFile(filepath.Join(dir, course.ClosingFile), cl.Source, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote course.yaml and %d lessons to %s\n", len(cur.Course.Lessons), dir)
	return nil
}
