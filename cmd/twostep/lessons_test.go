package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/dbtest"
)

// copyDir copies the files of a folder into a new one.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fixtureCourse is a copy of the four-lesson course that passes every rule;
// its course.yaml sends from and replies to example.org.
func fixtureCourse(t *testing.T) string {
	t.Helper()
	return copyDir(t, filepath.Join("..", "..", "internal", "course", "testdata", "course"))
}

// replaceIn replaces old with new in a file, failing when old is absent.
func replaceIn(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s lacks %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Warnings about the shipped course's example addresses may come on stderr;
// nothing else may.
func TestLessonsCheckPassesOnTheShippedCourse(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCmd(t, map[string]string{}, "lessons", "check")
	if code != 0 || !strings.HasPrefix(stdout, "52 lessons, longest ") || !strings.Contains(stdout, ", reading ease ") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		isWarning := strings.HasPrefix(line, "course.yaml:") && strings.Contains(line, ": warning: ")
		if line != "" && !isWarning {
			t.Errorf("stderr line %q is not a course.yaml warning", line)
		}
	}
}

func TestLessonsCheckWarnsAboutAnExampleDomainWithoutFailing(t *testing.T) {
	t.Parallel()
	dir := fixtureCourse(t)
	code, stdout, stderr := runCmd(t, map[string]string{}, "lessons", "check", dir)
	if code != 0 || !strings.HasPrefix(stdout, "4 lessons, longest 1m14s, reading ease ") {
		t.Fatalf("exit %d, stdout %q, want 0 and the summary", code, stdout)
	}
	want := "course.yaml:8: warning: from lessons@example.org uses example.org, a reserved example domain: readers' mail servers will refuse or junk the lessons; set a real address\n" +
		"course.yaml:9: warning: reply_to replies@example.org uses example.org, a reserved example domain: readers' replies will bounce; set a real address\n"
	if stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
	}

	// Real addresses: no warning.
	replaceIn(t, filepath.Join(dir, "course.yaml"), "lessons@example.org", "lessons@smallsteps.ie")
	replaceIn(t, filepath.Join(dir, "course.yaml"), "replies@example.org", "hello@smallsteps.ie")
	if code, stdout, stderr := runCmd(t, map[string]string{}, "lessons", "check", dir); code != 0 || stderr != "" || stdout == "" {
		t.Errorf("with real addresses: exit %d, stdout %q, stderr %q; want 0, the summary and no warning", code, stdout, stderr)
	}
}

func TestLessonsCheckPrintsAddressAndEditorialWarningsTogether(t *testing.T) {
	t.Parallel()
	dir := fixtureCourse(t)
	replaceIn(t, filepath.Join(dir, "03-the-dishes-at-ten.md"), "part: home\n", "part: work\n")
	code, stdout, stderr := runCmd(t, map[string]string{}, "lessons", "check", dir)
	if code != 0 || stdout == "" {
		t.Fatalf("exit %d, stdout %q; want 0 and the summary: editorial rules are advice", code, stdout)
	}
	for _, want := range []string{
		"course.yaml:8: warning: from lessons@example.org uses example.org",
		"course: warning: lessons 1 to 4 are all part: work; at least one lesson in every 4 in a row must be part: home\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestServeWarnsAtStartWhileMailUsesAnExampleDomain(t *testing.T) {
	t.Parallel()
	// MAIL_FROM replaces the course's from, so only reply_to is still an
	// example address.
	p, _ := startServe(t, t.TempDir(), map[string]string{"LESSONS_DIR": fixtureCourse(t), "MAIL_FROM": "Small Steps <lessons@smallsteps.ie>"})
	terminate(t, p)
	logs := p.stderr.String()
	want := `level=WARN msg="course.yaml:9: reply_to replies@example.org uses example.org, a reserved example domain: readers' replies will bounce; set a real address"`
	if !strings.Contains(logs, want) {
		t.Errorf("the log lacks\n%s\n%s", want, logs)
	}
	if strings.Contains(logs, "from lessons@example.org") || strings.Count(logs, "level=WARN") != 1 {
		t.Errorf("want one warning, about reply_to only:\n%s", logs)
	}
}

func TestLessonsCheckReportsEachProblemWithFileAndLine(t *testing.T) {
	t.Parallel()
	dir := fixtureCourse(t)
	two := filepath.Join(dir, "02-the-question-nobody-asks.md")
	replaceIn(t, two, "slug: the-question-nobody-asks\n", "slug: the-question-nobody-asks\ncolour: blue\n")
	replaceIn(t, two, "## Try this week", "<script>alert(1)</script>\n\n[click](javascript:alert(1))\n\n## Try this week")
	if err := os.Remove(filepath.Join(dir, "03-the-dishes-at-ten.md")); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runCmd(t, map[string]string{}, "lessons", "check", dir)
	if code != 1 || stdout != "" {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{
		"02-the-question-nobody-asks.md:5: unknown front-matter key \"colour\"",
		"02-the-question-nobody-asks.md:20: raw HTML is not allowed",
		"02-the-question-nobody-asks.md:22: link \"javascript:alert(1)\"",
		"course.yaml:12: lesson 3 is missing",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.Contains(line, ": ") {
			t.Errorf("line %q is not file:line: problem", line)
		}
	}
}

func TestLessonsCheckRefusesAMissingFolder(t *testing.T) {
	t.Parallel()
	if code, _, _ := runCmd(t, map[string]string{}, "lessons", "check", "/no/such/folder"); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}

func TestLessonsPreviewPrintsTheRealEmail(t *testing.T) {
	t.Parallel()
	db := map[string]string{"DATABASE_URL": dbtest.URL(t)}
	code, eml, stderr := runCmd(t, db, "lessons", "preview", "1", "--format", "eml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Subject: Lesson 1 of 52: ", "X-Twostep-Lesson: 1", "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
		"Content-Type: multipart/alternative", "Content-Type: text/plain", "Content-Type: text/html", "Message-ID: <"} {
		if !strings.Contains(eml, want) {
			t.Errorf("eml lacks %q", want)
		}
	}
	if strings.Index(eml, "Content-Type: text/plain") > strings.Index(eml, "Content-Type: text/html") {
		t.Error("the HTML part comes before the text part")
	}
	_, html, _ := runCmd(t, db, "lessons", "preview", "1", "--format", "html")
	if !strings.HasPrefix(strings.TrimSpace(html), "<!DOCTYPE html>") {
		t.Errorf("html preview starts %q", html[:min(40, len(html))])
	}
	for _, bad := range [][]string{{"53"}, {"0"}, {"x"}, {"1", "--format", "pdf"}} {
		if code, _, _ := runCmd(t, db, append([]string{"lessons", "preview"}, bad...)...); code != 2 {
			t.Errorf("preview %v exit %d, want 2", bad, code)
		}
	}
}

func TestLessonsExportWritesFilesThatCheckAccepts(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"DATABASE_URL": dbtest.URL(t)}
	out := t.TempDir()
	if code, _, stderr := runCmd(t, vars, "lessons", "export", out); code != 0 {
		t.Fatalf("export exit %d: %s", code, stderr)
	}
	files, _ := filepath.Glob(filepath.Join(out, "[0-9]*.md"))
	if len(files) != 52 {
		t.Fatalf("%d lesson files exported", len(files))
	}
	if _, err := os.Stat(filepath.Join(out, "closing.md")); err != nil {
		t.Fatalf("closing.md not exported: %v", err)
	}
	if code, _, stderr := runCmd(t, map[string]string{}, "lessons", "check", out); code != 0 {
		t.Fatalf("check of the export: exit %d\n%s", code, stderr)
	}
}

func TestLessonsCheckGivesTheEditorialRulesAsAdviceForACourseOfOnesOwn(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if code, _, stderr := runCmd(t, nil, "lessons", "export", dir); code != 0 {
		t.Fatalf("export: %d %s", code, stderr)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "[0-9][0-9]-*.md"))
	rewrite := func(re, to string) {
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f, regexp.MustCompile(re).ReplaceAll(b, []byte(to)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Lessons written before parts existed are still a course.
	rewrite(`(?m)^part: \w+\n`, "")
	if code, stdout, stderr := runCmd(t, nil, "lessons", "check", dir); code != 0 || !strings.HasPrefix(stdout, "52 lessons") {
		t.Fatalf("a course without parts: exit %d, %q\n%s", code, stdout, stderr)
	}
	// A course all about work breaks an editorial rule: advice, not failure.
	rewrite(`(?m)^(slug: .*\n)`, "${1}part: work\n")
	code, stdout, stderr := runCmd(t, nil, "lessons", "check", dir)
	if code != 0 || !strings.HasPrefix(stdout, "52 lessons") {
		t.Fatalf("a course all about work: exit %d, %q\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "course: warning: lessons 1 to 52 are all part: work") {
		t.Errorf("no editorial warning:\n%s", stderr)
	}
}
