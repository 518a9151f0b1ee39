// Package link is the one definition of the address of every page a
// signed link opens. The router mounts the pages at these paths and every
// email builds its links from them, so a route renamed here is renamed in
// every mail.
package link

import (
	"strconv"

	"github.com/twostep/twostep/internal/token"
)

// Prefix is the path that a token of purpose p follows.
func Prefix(p token.Purpose) string {
	switch p {
	case token.Confirm:
		return "/confirm/"
	case token.Unsubscribe:
		return "/unsubscribe/"
	case token.Preferences:
		return "/preferences/"
	case token.Tried:
		return "/tried/"
	case token.EmailChange:
		return "/email/"
	}
	panic("link: no page for token purpose " + strconv.Itoa(int(p)))
}

// Route is the router's pattern for p's page, its token a URL parameter
// named "token".
func Route(p token.Purpose) string { return Prefix(p) + "{token}" }

// To is the path of p's page for the token tok.
func To(p token.Purpose, tok string) string { return Prefix(p) + tok }

// The pages under a reader's preferences page, and the "I tried it" page's
// lesson number, as path suffixes.
const (
	Lessons = "/lessons" // the lessons the reader received; "/lessons/N" shows one
)

// Lesson is the suffix of lesson n's page under the preferences page.
func Lesson(n int) string { return Lessons + "/" + strconv.Itoa(n) }

// TriedLesson is the suffix of the "I tried it" page for lesson n.
func TriedLesson(n int) string { return "/" + strconv.Itoa(n) }
