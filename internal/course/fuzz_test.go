package course

import (
	"math/rand/v2"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// garbageInputs are inputs known to stress Markdown and YAML parsers, plus
// random strings built from the characters that mean something to them.
func garbageInputs() []string {
	inputs := []string{
		"", "---", "---\n", "---\n---", "---\n---\n", "\n\n\n", "\x00\x00", "\xff\xfe\xfd",
		"---\nnumber: &a [*a, *a]\n---\n",
		"---\nnumber: !!binary AAAA\ntitle: [1, {2: 3}]\n---\n",
		"---\n" + strings.Repeat("- ", 3000) + "\n---\n",
		"---\n" + strings.Repeat("[", 3000) + "\n---\n",
		strings.Repeat("[", 3000),
		strings.Repeat("*", 3000),
		strings.Repeat("_a", 3000),
		strings.Repeat("> ", 3000) + "deep",
		strings.Repeat("- ", 3000) + "deep",
		strings.Repeat("`", 3000),
		strings.Repeat("<", 3000),
		strings.Repeat("{{", 3000),
		strings.Repeat("{{first_name|a}}", 3000),
		strings.Repeat("[a](", 3000),
		strings.Repeat("![", 3000),
		strings.Repeat("&#", 3000),
		strings.Repeat("a. ", 3000),
		strings.Repeat("|", 3000),
		"## Reflect\n## Reflect\n## Try this week\n",
		"[x]: javascript:alert(1)\n\n[x]\n",
		"<!--" + strings.Repeat("-", 3000),
		"```\n" + strings.Repeat("code\n", 1000),
		strings.Repeat("[a](", MaxLessonSize/4+1), // just over the limit
		"\r\r\r\n\r",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"\n", " ", "  ", "\t", "#", "##", "*", "_", "`", "[", "]", "(", ")", "<", ">", "!", "-", "1.", "{{", "}}",
		"|", "&", ";", "\\", "---", ":", "\"", "'", "a", "word", "https://x.y", "javascript:", "\x00", "\xff", "é", "\u202e", "{{first_name|f}}"}
	for range 300 {
		var b strings.Builder
		for range rng.IntN(400) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		inputs = append(inputs, b.String())
	}
	return inputs
}

// exercise runs everything that reads lesson text on src.
func exercise(t *testing.T, r *Renderer, src string) {
	for _, file := range []string{"01-one.md", ""} {
		for _, text := range []string{src, lessonWith(1, "one", "One", src)} {
			l, _ := ParseLesson(file, []byte(text))
			if l == nil {
				t.Fatal("ParseLesson returned no lesson")
			}
			_ = l.Markdown()
			c := &Course{Title: "T", Language: "en", Author: "A", PostalAddress: "P", LessonCount: 2, Lessons: []*Lesson{l, l}}
			_ = Validate(c)
			// Bodies over MaxLessonSize are refused with an error.
			_, err1 := r.Lesson(c, l, testRecipient)
			_, err2 := r.LessonPage(c, l, testRecipient)
			if (err1 != nil || err2 != nil) && len(l.Body) <= MaxLessonSize {
				t.Errorf("rendering failed: %v, %v", err1, err2)
			}
		}
	}
	_, _ = ParseCourseYAML([]byte(src))
	_, _ = Load(fstest.MapFS{"course.yaml": {Data: []byte(src)}, "01-x.md": {Data: []byte(src)}})
}

func TestGarbageInputNeverPanicsOrHangs(t *testing.T) {
	r := newTestRenderer(t)
	inputs := garbageInputs()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, in := range inputs {
			exercise(t, r, in)
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("parsing and rendering garbage took over a minute: something hangs")
	}
}

func FuzzLesson(f *testing.F) {
	for _, in := range garbageInputs()[:40] {
		f.Add(in)
	}
	f.Add(lessonMD(1, "one", "One"))
	r, err := NewRenderer(testTemplates(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		exercise(t, r, src)
	})
}
