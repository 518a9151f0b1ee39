// Package twostep holds the files the binary embeds: the course, the email and
// web templates, and the database migrations. A folder named by LESSONS_DIR or
// TEMPLATES_DIR overrides the embedded copy at run time.
package twostep

import (
	"embed"
	"io/fs"
)

//go:embed lessons
var lessons embed.FS

//go:embed templates
var templates embed.FS

//go:embed migrations/*.sql
var migrations embed.FS

// Lessons is the shipped course: course.yaml and the lesson Markdown files.
var Lessons = sub(lessons, "lessons")

// Templates holds templates/email and templates/web.
var Templates = sub(templates, "templates")

// Migrations holds the numbered SQL files applied by `twostep migrate`.
var Migrations = sub(migrations, "migrations")

func sub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		// fs.Sub only fails on an invalid path, which is a constant here.
		panic(err)
	}
	return s
}
