package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/dbtest"
)

// copyTemplates writes the embedded templates into a new folder, leaving
// out the files skip names and replacing those in replace.
func copyTemplates(t *testing.T, skip []string, replace map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(twostep.Templates, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || slices.Contains(skip, name) {
			return err
		}
		b, err := fs.ReadFile(twostep.Templates, name)
		if err != nil {
			return err
		}
		if r, ok := replace[name]; ok {
			b = []byte(r)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestATemplatesDirFromAnOlderVersionStartsWithTheBuiltInLinkEmailAndSaysSo(t *testing.T) {
	t.Parallel()
	dir := copyTemplates(t, []string{"email/link.html", "email/link.txt"}, nil)
	code, _, stderr := runCmd(t, map[string]string{"DATABASE_URL": dbtest.URL(t), "TEMPLATES_DIR": dir}, "migrate")
	if code != 0 {
		t.Fatalf("migrate with an older TEMPLATES_DIR: exit status %d\n%s", code, stderr)
	}
	var fallbacks []string
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, "using the built-in one") {
			fallbacks = append(fallbacks, line)
		}
	}
	if len(fallbacks) != 2 || !strings.Contains(fallbacks[0], "template=email/link.html") || !strings.Contains(fallbacks[1], "template=email/link.txt") {
		t.Fatalf("fallback log lines:\n%s\nwant one each for email/link.html and email/link.txt", strings.Join(fallbacks, "\n"))
	}
}

func TestATemplatesDirWithATemplateThatDoesNotParseFailsAtStartNamingIt(t *testing.T) {
	t.Parallel()
	dir := copyTemplates(t, nil, map[string]string{"email/link.txt": `{{define "body"}}{{if .FirstName}}unclosed`})
	code, _, stderr := runCmd(t, map[string]string{"DATABASE_URL": dbtest.URL(t), "TEMPLATES_DIR": dir}, "migrate")
	if code == 0 || !strings.Contains(stderr, "email/link.txt") {
		t.Fatalf("migrate with a broken email/link.txt: exit status %d\n%s\nwant a failure naming the file", code, stderr)
	}
	if strings.Contains(stderr, "using the built-in one") {
		t.Fatal("a broken template was replaced by the built-in one")
	}
}
