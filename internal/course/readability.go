package course

import (
	"strings"
	"unicode"
)

// MinReadingEase is the lowest average Flesch reading ease a course may
// have. 50 is where Flesch's scale leaves "fairly difficult" for "difficult":
// a lesson read over a coffee should not need a second pass.
const MinReadingEase = 50

// ReadingEase is the lesson's Flesch reading ease:
// 206.835 - 1.015 × words per sentence - 84.6 × syllables per word, over the
// prose of the body (headings left out). Higher is easier; plain English
// scores 60 to 70. A body without words scores 0.
func (l *Lesson) ReadingEase() float64 {
	ease, _ := l.readingEase()
	return ease
}

// readingEase is ReadingEase, and whether the body has any words to score.
func (l *Lesson) readingEase() (float64, bool) {
	var texts []string
	for _, s := range sentences(l) {
		if !s.heading {
			texts = append(texts, s.text)
		}
	}
	return readingEase(texts)
}

// ReadingEase is the average of the lessons' ReadingEase: each lesson is
// read on its own, so each counts the same however long it is. Lessons
// without words (reported for their length) are left out; a course with
// none scores 0.
func (c *Course) ReadingEase() float64 {
	sum, n := 0.0, 0
	for _, l := range c.Lessons {
		if ease, ok := l.readingEase(); ok {
			sum += ease
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// readingEase is the Flesch reading ease of the given sentences; ok is false
// when they have no words.
func readingEase(sentences []string) (ease float64, ok bool) {
	words, syl, n := 0, 0, 0
	for _, s := range sentences {
		w := 0
		for _, f := range strings.Fields(s) {
			if k := syllables(f); k > 0 {
				w++
				syl += k
			}
		}
		if w > 0 {
			words += w
			n++
		}
	}
	if words == 0 {
		return 0, false
	}
	return 206.835 - 1.015*float64(words)/float64(n) - 84.6*float64(syl)/float64(words), true
}

// vowels are the letters syllables counts as vowels, with their accented
// forms, so that "Tomás" has two syllables.
const vowels = "aeiouyáàâäãåæéèêëíìîïóòôöõøœúùûüýÿ"

// syllables estimates the syllables of one word as written, 0 when it has
// no letters: the vowel groups of each hyphen-separated part, less a silent
// final "e" ("make"), "es" ("makes") or "ed" ("asked"), plus one for
// "-ing" after a vowel ("doing") and for "n't" after a consonant
// ("didn't"), and at least one per part. English spelling defeats any rule this small ("business" gets
// three), but the errors are few and even out over a lesson.
func syllables(word string) int {
	n := 0
	for _, part := range strings.FieldsFunc(strings.ToLower(word), func(r rune) bool {
		return !unicode.IsLetter(r) && r != '\'' && r != '’'
	}) {
		part = strings.ReplaceAll(part, "’", "'")
		if stem, ok := strings.CutSuffix(part, "n't"); ok && stem != "" && !strings.ContainsRune(vowels, []rune(stem)[len([]rune(stem))-1]) {
			n++ // "did-n't", "is-n't"; but "don't", "can't"
			part = stem
		}
		var r []rune
		for _, c := range part {
			if unicode.IsLetter(c) {
				r = append(r, c)
			}
		}
		if len(r) > 0 {
			n += partSyllables(r)
		}
	}
	return n
}

// Suffixes and prefixes counted on their own, so that the silent "e" of a
// stem stays silent: "lone-ly", "care-ful", "state-ment", "some-thing".
var (
	syllableSuffixes = []struct {
		s string
		n int
	}{{"fully", 2}, {"ful", 1}, {"ly", 1}, {"ments", 1}, {"ment", 1}, {"ness", 1}, {"less", 1}}
	syllablePrefixes = []string{"some", "home", "life", "time"}
)

func partSyllables(r []rune) int {
	if len(r) <= 3 {
		return 1
	}
	w := string(r)
	for _, p := range syllablePrefixes {
		if rest := strings.TrimPrefix(w, p); len(rest) >= 3 && rest != w {
			return 1 + partSyllables([]rune(rest))
		}
	}
	if stem, ok := strings.CutSuffix(w, "ing"); ok && len(stem) >= 2 && strings.ContainsRune(vowels, []rune(stem)[len([]rune(stem))-1]) {
		return partSyllables([]rune(stem)) + 1 // "do-ing", "say-ing": the vowels do not merge
	}
	for _, x := range syllableSuffixes {
		if stem := strings.TrimSuffix(w, x.s); len(stem) >= 3 && stem != w {
			return partSyllables([]rune(stem)) + x.n
		}
	}
	return stemSyllables(r)
}

// stemSyllables counts the vowel groups of a word less its silent endings.
func stemSyllables(r []rune) int {
	if len(r) <= 3 {
		return 1
	}
	isVowel := func(c rune) bool { return strings.ContainsRune(vowels, c) }
	end := len(r)
	last, prev, prev2 := r[end-1], r[end-2], r[end-3]
	switch {
	case prev == 'e' && last == 's':
		// "makes", "times": silent; "boxes", "places", "wishes": not.
		// "smiles" loses it too, "tables" keeps its "le".
		silent := !isVowel(prev2) && !strings.ContainsRune("sxzcg", prev2) && !(prev2 == 'h' && strings.ContainsRune("cs", r[end-4]))
		if prev2 == 'l' {
			silent = isVowel(r[end-4])
		}
		if silent {
			end -= 2
		}
	case prev == 'e' && last == 'd':
		// "asked": silent; "wanted", "needed": not.
		if prev2 != 't' && prev2 != 'd' {
			end -= 2
		}
	case last == 'e':
		// "make", "whole": silent; "table", "little": not.
		if !(prev == 'l' && !isVowel(prev2)) {
			end--
		}
	}
	start := 0
	if r[0] == 'y' {
		start = 1 // "year", "yesterday": a consonant
	}
	n, inVowel := 0, false
	for _, c := range r[start:end] {
		v := isVowel(c)
		if v && !inVowel {
			n++
		}
		inVowel = v
	}
	return max(n, 1)
}
