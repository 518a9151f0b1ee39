package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/dbtest"
)

// copyCourse writes the shipped course into a new folder.
func copyCourse(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(twostep.Lessons, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(twostep.Lessons, p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLessonsCheckPassesOnTheShippedCourse(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCmd(t, map[string]string{}, "lessons", "check")
	if code != 0 || !strings.HasPrefix(stdout, "52 lessons, longest ") || stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestLessonsCheckReportsEachProblemWithFileAndLine(t *testing.T) {
	t.Parallel()
	dir := copyCourse(t)
	seven := filepath.Join(dir, "07-purpose-over-rules.md")
	src, _ := os.ReadFile(seven)
	broken := strings.Replace(string(src), "slug: purpose-over-rules", "slug: purpose-over-rules\ncolour: blue", 1)
	broken += "\n<script>alert(1)</script>\n\n[click](javascript:alert(1))\n"
	os.WriteFile(seven, []byte(broken), 0o644)
	os.Remove(filepath.Join(dir, "12-ask-before-you-advise.md"))

	code, stdout, stderr := runCmd(t, map[string]string{}, "lessons", "check", dir)
	if code != 1 || stdout != "" {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{
		"07-purpose-over-rules.md:5: ", // the unknown key's line
		"javascript",
		"HTML",
		"12",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.Contains(line, ":") {
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
