package course

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// OpeningSentences is how many sentences of a lesson make its opening: the
// first, and the one after it, where "Hannah and Leon had been arguing for a
// week." is followed by "She wanted two weeks near Hamburg."
const OpeningSentences = 2

// opensWithNameInPlace says whether a lesson's opening introduces a named
// person in a named place: "Abena works on the front desk of a dental
// practice in Accra.", "In Valencia, Tomás runs…", "On a Monday morning in
// Valencia, Tomás…", "Joon-ho comes home from a Vancouver design studio.".
// An opening whose first sentence is a question does not count, however it
// goes on: it opens with the reader. common says whether a word (lowercase)
// is an ordinary word of the lesson, which tells "Picture a Tuesday" from
// "Abena works".
//
// A person is a capitalised word that is not a function word, a day, a
// month, a festival or an acronym; at the start of a sentence it must also
// not be an ordinary word (common, or ending in "ing" or "ly") nor be
// followed straight away by an article or pronoun ("Think of…", "Ask your…").
// A place is a capitalised name after "in", "near", "from", "outside" or
// "around" (possibly with "the" between), after "the city of" or "the town
// of", or standing as an adjective between an article and a lowercase noun
// ("a Vancouver design studio", "the large Montreal supermarket"). A
// possessive ("Farid's garage") is always a person.
func opensWithNameInPlace(opening []string, common func(string) bool) bool {
	if len(opening) == 0 || strings.HasSuffix(strings.TrimRight(opening[0], `"'”’)]`), "?") {
		return false
	}
	person, place := false, false
	for _, s := range opening {
		for _, ph := range properNouns(s, common) {
			if ph.place {
				place = true
			} else {
				person = true
			}
		}
	}
	return person && place
}

// token is a word of a sentence.
type token struct {
	text    string // as written, possessive included
	initial bool   // starts the sentence or a quotation
	spaced  bool   // only spaces between it and the token before
}

// phrase is a run of capitalised names ("Kuala Lumpur", "Wei Ming") and
// what the words around it make it.
type phrase struct {
	words []string
	place bool
}

// properNouns finds the names in a sentence and says which are places.
func properNouns(s string, common func(string) bool) []phrase {
	toks := tokens(s)
	lower := func(i int) string {
		if i < 0 || i >= len(toks) {
			return ""
		}
		return strings.ToLower(possessive(toks[i].text))
	}
	isName := make([]bool, len(toks))
	for i, t := range toks {
		isName[i] = nameLike(t, i+1 < len(toks) && toks[i+1].spaced && followers[lower(i+1)], common)
	}
	var out []phrase
	for i := 0; i < len(toks); i++ {
		if !isName[i] {
			continue
		}
		j := i + 1 // the phrase is toks[i:j]
		for j < len(toks) && isName[j] && toks[j].spaced && possessive(toks[j-1].text) == toks[j-1].text {
			j++
		}
		ph := phrase{}
		for _, t := range toks[i:j] {
			ph.words = append(ph.words, t.text)
		}
		before, before2 := lower(i-1), lower(i-2)
		after := -1
		if j < len(toks) && toks[j].spaced && startsLower(toks[j].text) {
			after = j
		}
		switch {
		case possessive(toks[j-1].text) != toks[j-1].text:
			// "Farid's garage", "Henrik's team": people own things.
		case placePrepositions[before], before == "the" && placePrepositions[before2]:
			ph.place = true
		case before == "of" && (before2 == "city" || before2 == "town"):
			ph.place = true
		case after >= 0 && i >= 1 && toks[i].spaced && adjectiveSlot(toks[:i]):
			ph.place = true // "a Vancouver design studio", "the large Montreal supermarket"
		}
		out = append(out, ph)
		i = j - 1
	}
	return out
}

// adjectiveSlot says whether the words before a name end with an article
// and at most one lowercase word, so that the name stands where an
// adjective would: "a", "the large".
func adjectiveSlot(before []token) bool {
	n := len(before)
	last := strings.ToLower(before[n-1].text)
	if articles[last] {
		return true
	}
	return n >= 2 && startsLower(before[n-1].text) && before[n-1].spaced && articles[strings.ToLower(before[n-2].text)]
}

// nameLike says whether a token can be part of a name; beforeFollower is
// whether an article or pronoun follows it straight away.
func nameLike(t token, beforeFollower bool, common func(string) bool) bool {
	w := possessive(t.text)
	first, _ := utf8.DecodeRuneInString(w)
	if !unicode.IsUpper(first) || utf8.RuneCountInString(w) < 2 || strings.ToUpper(w) == w {
		return false // lowercase, "I", "A", or an acronym such as "IT"
	}
	l := strings.ToLower(w)
	if functionWords[l] || calendarWords[l] {
		return false
	}
	if t.initial && (beforeFollower || strings.HasSuffix(l, "ing") || strings.HasSuffix(l, "ly") || (common != nil && common(l))) {
		return false
	}
	return true
}

// tokens splits a sentence into words: letters with inner hyphens and
// apostrophes ("Joon-ho", "Farid's", "don't").
func tokens(s string) []token {
	var out []token
	r := []rune(s)
	initial, spaced := true, true
	for i := 0; i < len(r); {
		c := r[i]
		if !unicode.IsLetter(c) {
			switch {
			case strings.ContainsRune("\"“‘«", c):
				initial = true
				spaced = false
			case c == '\'' && (i == 0 || unicode.IsSpace(r[i-1])):
				initial = true // an opening single quote, not an apostrophe
				spaced = false
			case !unicode.IsSpace(c):
				spaced = false
			}
			i++
			continue
		}
		j := i + 1
		for j < len(r) && (unicode.IsLetter(r[j]) || (strings.ContainsRune("-'’", r[j]) && j+1 < len(r) && unicode.IsLetter(r[j+1]))) {
			j++
		}
		out = append(out, token{text: string(r[i:j]), initial: initial, spaced: spaced})
		initial, spaced = false, true
		i = j
	}
	return out
}

// possessive strips "'s" or "’s" from a word.
func possessive(w string) string {
	for _, suffix := range []string{"'s", "’s"} {
		if strings.HasSuffix(w, suffix) && len(w) > len(suffix) {
			return strings.TrimSuffix(w, suffix)
		}
	}
	return w
}

func startsLower(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	return unicode.IsLower(r)
}

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

var (
	placePrepositions = set("in near from outside around")
	articles          = set("a an the")
	// followers are words that follow an imperative or a common word at
	// the start of a sentence ("Think of", "Ask your", "Picture a"), and
	// never a name's verb.
	followers = set(`a an the your my our his her their its this that these those you me us them it of to for about back out up
		how what when why who if someone something anyone last next every each one some any all no`)
	// functionWords are capitalised only at the start of a sentence, plus
	// the few verbs that open a lesson addressed to the reader.
	functionWords = set(`a an the in on at for from with by of to into onto after before since during until over under about
		when while if as because though although every each this that these those it its there here
		he she they we you i his her their our my your what how why who where which
		one two three four five six seven eight nine ten last next then but and or so yet not no yes
		some most many all both once today tonight yesterday tomorrow just even still now never always
		sometimes perhaps maybe dear hello hi thanks please let think imagine picture ask remember try say consider
		between among across behind beside beyond inside outside through throughout without within against along
		upon toward towards like unlike despite except via around near also again instead often later soon usually
		only such another any anything anyone anybody everyone everybody everything everywhere someone somebody
		something somewhere nothing nobody none nowhere few several much more less other others same own whose whom
		whether unless whatever whenever wherever however therefore meanwhile suddenly finally first second third half`)
	calendarWords = set(`monday tuesday wednesday thursday friday saturday sunday
		january february march april may june july august september october november december
		christmas easter eid diwali ramadan hanukkah passover`)
)
