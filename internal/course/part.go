package course

import (
	"slices"
	"strings"
)

// Part is the half of a reader's life a lesson is about, from the lesson's
// "part" front-matter key. The course promises relationship skills "for work
// or home", so Validate checks that home lessons run through the whole year
// instead of being saved for the end.
type Part string

// The parts a lesson can belong to.
const (
	PartWork Part = "work" // colleagues, teams, managers, clients
	PartHome Part = "home" // partners, children, family, friends
)

// Parts lists every valid part, in the order problems name them.
var Parts = []Part{PartWork, PartHome}

// ParsePart reads a "part" value; ok is false for anything but one of Parts,
// spelled exactly.
func ParsePart(s string) (p Part, ok bool) {
	p = Part(s)
	return p, slices.Contains(Parts, p)
}

// partList is Parts for messages: "work or home".
func partList() string {
	names := make([]string, len(Parts))
	for i, p := range Parts {
		names[i] = string(p)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
