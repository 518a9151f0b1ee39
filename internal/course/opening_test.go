package course

import (
	"strings"
	"testing"
)

// openingOf splits text into sentences and keeps the first
// OpeningSentences, as Validate does with a lesson's prose; the ordinary
// words are the lowercase words of the text itself.
func openingOf(text string) ([]string, func(string) bool) {
	var out []string
	for _, span := range splitSentences(text) {
		if len(out) < OpeningSentences {
			out = append(out, strings.TrimSpace(text[span[0]:span[1]]))
		}
	}
	seen := map[string]bool{}
	for _, t := range tokens(text) {
		if startsLower(t.text) {
			seen[t.text] = true
		}
	}
	return out, func(w string) bool { return seen[w] }
}

func TestOpeningsWithANamedPersonInANamedPlaceAreCounted(t *testing.T) {
	tests := []struct {
		opening string
		counts  bool
	}{
		// "<Name> manages/runs/works … in <Place>", as 26 lessons of the first edition did.
		{"Abena works on the front desk of a dental practice in Accra.", true},
		{"Stefan manages a print shop in Vienna.", true},
		{"Wei Ming is a senior architect in Singapore who leads a studio of eight.", true},
		{"Joseph manages the packing shed of a fruit co-operative near Nakuru in Kenya.", true},
		{"Halima manages construction sites for a building firm in Dar es Salaam.", true},
		{"Mei has gone straight from her job in Kuala Lumpur to her father's flat.", true},
		{"Mikael leads a small team of urban planners for the city of Helsinki.", true},
		// "In <Place>, <Name>…" and "On a <day> in <Place>, <Name>…".
		{"In Valencia, Tomás runs the loading bay of a busy warehouse.", true},
		{"On a Monday morning in Valencia, Tomás runs the loading bay of a busy warehouse.", true},
		{"In Farid's garage in Marseille, the best mechanic by far is Luc.", true},
		{"For five days in October, Sam's daughter Maya was away, and their flat in Glasgow came apart.", true},
		{"Clearing out a drawer at home in Lagos, Tunde found a folded page.", true},
		// The place as an adjective.
		{"Joon-ho comes home from his job at a Vancouver design studio.", true},
		{"At closing time, Gabriel thanks the staff of the large Montreal supermarket he manages.", true},
		// Name and place in the first two sentences.
		{"Hannah and Leon had been arguing for a week. She wanted two weeks near Hamburg.", true},
		{`"Leave it with me" is Daniel's favourite phrase. Daniel runs a sports centre in Melbourne.`, true},
		{"In March, a laboratory in Zurich withdrew a batch of results. When Bettina traced it back, she found the cause.", true},
		{"It is ten past eight on a school morning in Manchester, and Efua has said it four times.", true},

		// A question first: the opening is the reader's.
		{"What would you do if your best engineer resigned? Priya, who runs a bakery in Leeds, found out last spring.", false},
		{"When did someone last ask what worries you about your work?", false},
		// The reader's own week, a scene or a line of dialogue with no named place.
		{"Think back over the last five working days.", false},
		{"Open last week's calendar. Before you look closely, say what matters most.", false},
		{"Picture a Tuesday in Lagos.", false},
		{"The dishes are still in the sink at ten, and nobody wants to talk about it.", false},
		{`"Put your shoes on," says a voice from the hall, for the fourth time.`, false},
		{"Kemi stands at her own front door with her keys in her hand. She has done twelve hours on the ward.", false},
		{`"We never knew which Henrik would turn up." The engineer said it lightly, and the table laughed.`, false},
		// A place, but nobody named: days, months, festivals and acronyms are not people.
		{"In March, a food-testing laboratory in Zurich had to withdraw a batch of results.", false},
		{"At Christmas in Leeds, the house is loud. Everyone talks at once.", false},
		{"The IT team in Leeds had a problem. It had been there for weeks.", false},
		{"Between every play in Porto he looks over at the car park.", false},
		// Someone named, but no place.
		{"Tomás runs the loading bay of a busy warehouse. By nine he has checked the rota.", false},
		{"Sol is nine, and he is standing at the edge of the football pitch in his new boots.", false},
		// The place only in the third sentence.
		{"Ravi looks after two boys on Saturdays. He loves them. He also lives alone in Perth.", false},
		{"", false},
	}
	for _, tt := range tests {
		opening, common := openingOf(tt.opening)
		if got := opensWithNameInPlace(opening, common); got != tt.counts {
			t.Errorf("opensWithNameInPlace(%q) = %v, want %v (names: %v)", tt.opening, got, tt.counts, namesOf(opening, common))
		}
	}
}

func namesOf(opening []string, common func(string) bool) []phrase {
	var out []phrase
	for _, s := range opening {
		out = append(out, properNouns(s, common)...)
	}
	return out
}

func TestAnOrdinaryWordOfTheLessonStartingASentenceIsNotAName(t *testing.T) {
	// "Messages" is nobody's name, and the lesson says so by using the
	// word in lowercase elsewhere.
	opening := []string{"Messages were flying at all hours in the office in Gothenburg."}
	if opensWithNameInPlace(opening, func(string) bool { return false }) != true {
		t.Fatal("without the lesson's words, a capitalised first word is taken for a name")
	}
	if opensWithNameInPlace(opening, func(w string) bool { return w == "messages" }) {
		t.Error("a word the lesson uses in lowercase was taken for a name")
	}
}
