package twostep_test

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/course"
)

func TestATemplatesFolderWithoutTheLinkEmailFallsBackToTheBuiltInOneForThoseFilesOnly(t *testing.T) {
	// A folder of an older version's templates, the confirmation's text
	// marked so that its use can be seen.
	own, err := fs.ReadFile(twostep.Templates, "email/confirmation.txt")
	if err != nil {
		t.Fatal(err)
	}
	custom := fstest.MapFS{}
	err = fs.WalkDir(twostep.Templates, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(name, "email/link.") {
			return err
		}
		b, err := fs.ReadFile(twostep.Templates, name)
		custom[name] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	custom["email/confirmation.txt"] = &fstest.MapFile{Data: append(own, "{{/* OPERATOR'S OWN WORDING */}}"...)}
	fsys, missing, err := twostep.TemplatesOver(custom)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(missing, []string{"email/link.html", "email/link.txt"}) {
		t.Fatalf("missing = %v, want the two link templates", missing)
	}
	// The folder's own file is read, not the embedded one.
	read, err := fs.ReadFile(fsys, "email/confirmation.txt")
	if err != nil || !strings.Contains(string(read), "OPERATOR'S OWN WORDING") {
		t.Fatalf("email/confirmation.txt from the overlay: %v, has the operator's wording %v", err, strings.Contains(string(read), "OPERATOR"))
	}
	// Globs see the files of both.
	pages, err := fs.Glob(fsys, "email/*.html")
	if err != nil || !slices.Contains(pages, "email/link.html") || !slices.Contains(pages, "email/lesson.html") {
		t.Fatalf("glob email/*.html = %v, %v", pages, err)
	}
	r, err := course.NewRenderer(fsys)
	if err != nil {
		t.Fatalf("the renderer refuses the older folder: %v", err)
	}
	c := &course.Course{Title: "Sample course", Language: "en", From: "a@example.com", PostalAddress: "1 Sample Street", LessonCount: 1}
	e, err := r.Link(c, course.Recipient{FirstName: "Ann", UnsubscribeURL: "https://example.com/u", PreferencesURL: "https://example.com/p"})
	if err != nil || !strings.Contains(e.Text, "https://example.com/p") {
		t.Fatalf("link email from the built-in template: %v\n%s", err, e.Text)
	}
}

func TestATemplateThatExistsButDoesNotParseIsStillAnErrorNamingTheFile(t *testing.T) {
	custom := fstest.MapFS{"email/lesson.html": {Data: []byte(`{{define "body"}}{{if}}{{end}}`)}}
	fsys, missing, err := twostep.TemplatesOver(custom)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(missing, "email/lesson.html") {
		t.Fatal("a file the folder holds is listed as missing")
	}
	_, err = course.NewRenderer(fsys)
	if err == nil || !strings.Contains(err.Error(), "email/lesson.html") {
		t.Fatalf("NewRenderer with a broken email/lesson.html: %v, want an error naming it", err)
	}
}
