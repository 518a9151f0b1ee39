package course

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// HomeEvery is the longest run of lessons without a home lesson plus one:
// at least one lesson in every HomeEvery in a row is part: home, so that a
// reader who manages no one meets their own life within a month.
const HomeEvery = 4

// A courseRule is a rule checked across lessons. The shipped-course test
// runs each of them by name.
type courseRule struct {
	name  string
	check func(c *Course, ps *Problems)
}

// courseRules are errors for every course: Validate runs them.
var courseRules = []courseRule{
	{"no sentence is repeated in two lessons", checkRepeatedSentences},
}

// editorialRules keep a course like the shipped one readable all year by
// every reader: home and work together, a Try for readers without a team
// or partner, varied openings, plain language. They bind the shipped
// course (its tests fail on any of them); for an operator's own course —
// a course on cooking has no home lessons — they are advice, which
// `lessons check` prints as warnings, and never stop a start.
var editorialRules = []courseRule{
	{fmt.Sprintf("a home lesson in every %d lessons in a row", HomeEvery), checkHomeRhythm},
	{"a Try that needs a team, partner or children has a variant without", checkTryVariants},
	{"at most a third of lessons open with a named person in a named place", checkOpenings},
	{fmt.Sprintf("the average reading ease is at least %d", MinReadingEase), checkReadingEase},
}

// Editorial checks the editorialRules on c.
func Editorial(c *Course) Problems {
	var ps Problems
	if c == nil {
		return nil
	}
	for _, r := range editorialRules {
		r.check(c, &ps)
	}
	return ps.sorted()
}

// checkHomeRhythm reports each run of HomeEvery or more lessons in a row
// that are all part: work. A lesson that is missing, or whose part is
// missing or wrong, ends a run: it is reported already, and guessing its
// part would only add noise.
func checkHomeRhythm(c *Course, ps *Problems) {
	work := map[int]bool{}
	last := 0
	for _, l := range c.Lessons {
		if l.Number >= 1 && l.Number <= MaxLessons {
			work[l.Number] = l.Part == PartWork
			last = max(last, l.Number)
		}
	}
	start := 0 // first lesson of the current run of work lessons, 0 for none
	for n := 1; n <= last+1; n++ {
		switch {
		case work[n] && start == 0:
			start = n
		case !work[n] && start > 0:
			if n-start >= HomeEvery {
				ps.addCourse("lessons %d to %d are all part: %s; at least one lesson in every %d in a row must be part: %s",
					start, n-1, PartWork, HomeEvery, PartHome)
			}
			start = 0
		}
	}
}

// A tryNeed is something a "Try this week" task can take for granted that
// many readers lack, and the sentence that gives those readers a way in.
type tryNeed struct {
	// words mark a task as needing it. Each matches whole words, ignoring
	// case, also with "s", "'s" or "’s" after it.
	words []string
	// marker starts the sentence of the variant for readers without it.
	marker string
	what   string // for the problem: "a team"
}

// tryNeeds are the variants checkTryVariants asks for. The word lists are
// short on purpose: each word is one a writer uses only when the task does
// need it, so the check never asks for a variant that makes no sense.
var tryNeeds = []tryNeed{
	{[]string{"your team", "the team", "team meeting", "one-to-one", "direct report"}, "No team?", "a team"},
	{[]string{"partner", "household", "your home"}, "No partner?", "a partner or a shared home"},
	{[]string{"your kid", "your child", "your children", "your teenager"}, "No kids?", "children"},
}

// checkTryVariants reports a "Try this week" section that mentions one of
// tryNeeds' words without a sentence that starts with its marker, on the
// line of the first sentence that mentions it.
func checkTryVariants(c *Course, ps *Problems) {
	for _, l := range c.Lessons {
		var try []sentence
		for _, s := range sentences(l) {
			if s.section == sectionTry && !s.heading {
				try = append(try, s)
			}
		}
		for _, need := range tryNeeds {
			if hasVariant(try, need.marker) {
				continue
			}
			for _, s := range try {
				if w := mentions(s.text, need.words); w != "" {
					ps.add(l.File, s.line, "%q mentions %q, which not every reader has (%s): add a variant for them in a sentence starting %q",
						"## "+sectionTry, w, need.what, need.marker)
					break
				}
			}
		}
	}
}

// hasVariant says whether one of the sentences starts with marker.
func hasVariant(try []sentence, marker string) bool {
	for _, s := range try {
		if strings.HasPrefix(strings.TrimLeft(s.text, `"'“‘*_ `), marker) {
			return true
		}
	}
	return false
}

// mentions returns the first of words that text contains as whole words,
// or "".
func mentions(text string, words []string) string {
	t := strings.ToLower(strings.Join(strings.Fields(strings.ReplaceAll(text, "’", "'")), " "))
	isWordRune := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	for _, w := range words {
		for off := 0; ; {
			i := strings.Index(t[off:], w)
			if i < 0 {
				break
			}
			start, end := off+i, off+i+len(w)
			off = end
			if r, _ := utf8.DecodeLastRuneInString(t[:start]); start > 0 && isWordRune(r) {
				continue
			}
			rest := t[end:]
			for _, suffix := range []string{"'s", "s"} {
				if strings.HasPrefix(rest, suffix) {
					rest = rest[len(suffix):]
					break
				}
			}
			if r, _ := utf8.DecodeRuneInString(rest); rest != "" && isWordRune(r) {
				continue
			}
			return w
		}
	}
	return ""
}

// checkOpenings reports a course where more than a third of the lessons
// open with a named person in a named place (opensWithNameInPlace): one
// formula, met every week, is what makes readers skim.
func checkOpenings(c *Course, ps *Problems) {
	var named []int
	for _, l := range c.Lessons {
		if opensWithNameInPlace(opening(l), commonWords(l)) {
			named = append(named, l.Number)
		}
	}
	if n := len(c.Lessons); len(named)*3 > n {
		ps.addCourse("%d of %d lessons open with a named person in a named place; at most %d may (lessons %s)",
			len(named), n, n/3, numberRanges(named))
	}
}

// opening is the first OpeningSentences sentences of the lesson's prose.
func opening(l *Lesson) []string {
	var out []string
	for _, s := range sentences(l) {
		if len(out) == OpeningSentences || s.section != "" {
			break
		}
		if !s.heading {
			out = append(out, s.text)
		}
	}
	return out
}

// commonWords is the set of words written in lowercase somewhere in the
// lesson, as a function for opensWithNameInPlace.
func commonWords(l *Lesson) func(string) bool {
	seen := map[string]bool{}
	for _, s := range sentences(l) {
		for _, t := range tokens(s.text) {
			if startsLower(t.text) {
				seen[t.text] = true
			}
		}
	}
	return func(w string) bool { return seen[w] }
}

// numberRanges writes sorted lesson numbers compactly: "1-3, 5, 7-9".
func numberRanges(ns []int) string {
	ns = slices.Clone(ns)
	slices.Sort(ns)
	var parts []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", ns[i], ns[j]))
		} else {
			parts = append(parts, fmt.Sprint(ns[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// checkReadingEase reports a course whose average Flesch reading ease is
// below MinReadingEase, naming the three hardest lessons to start with.
// Lessons without words are left out, as they are from the average.
func checkReadingEase(c *Course, ps *Problems) {
	type scored struct {
		file string
		ease float64
	}
	var all []scored
	sum := 0.0
	for _, l := range c.Lessons {
		if ease, ok := l.readingEase(); ok {
			all = append(all, scored{l.File, ease})
			sum += ease
		}
	}
	if len(all) == 0 || sum/float64(len(all)) >= MinReadingEase {
		return
	}
	slices.SortStableFunc(all, func(a, b scored) int { return cmp.Compare(a.ease, b.ease) })
	var hardest []string
	for _, s := range all[:min(3, len(all))] {
		hardest = append(hardest, fmt.Sprintf("%s %.1f", s.file, s.ease))
	}
	ps.addCourse("the average Flesch reading ease is %.1f; it must be at least %d (hardest: %s)",
		sum/float64(len(all)), MinReadingEase, strings.Join(hardest, ", "))
}
