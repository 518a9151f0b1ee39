package course_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/browsertest"
	"github.com/twostep/twostep/internal/course"
)

// emailLayout is what the browser measures in an email: see layoutJS.
type emailLayout struct {
	ScrollWidth, ViewWidth, CardWidth float64
	CardLuminance                     float64
	Worst                             struct {
		Ratio                   float64
		Text, Color, Background string
	}
	// Lessons only: where the "I tried this" button sits and how tall it is.
	TryBottom, ButtonTop, ButtonBottom, ReflectTop, ButtonHeight float64
}

// layoutJS measures the page: its width against the screen's, the card's
// width and background, the text with the least contrast against what is
// behind it (WCAG 2 ratio), and the place of the "I tried this" button.
const layoutJS = `(() => {
  const rgb = c => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = c => {
    const [r, g, b] = rgb(c).slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const behind = el => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor, v = rgb(c);
      if (v.length === 3 || (v.length === 4 && v[3] > 0)) return c;
    }
    return 'rgb(255, 255, 255)';
  };
  const worst = {Ratio: 99, Text: '', Color: '', Background: ''};
  for (const el of document.body.querySelectorAll('*')) {
    if (el.getClientRects().length === 0) continue; // hidden: the preheader
    const text = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
    if (!text) continue;
    const fg = getComputedStyle(el).color, bg = behind(el);
    const a = lum(fg), b = lum(bg), ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < worst.Ratio) Object.assign(worst, {Ratio: ratio, Text: text.slice(0, 50), Color: fg, Background: bg});
  }
  const box = (sel, text) => {
    const el = [...document.querySelectorAll(sel)].find(e => e.textContent.trim() === text);
    return el ? el.getBoundingClientRect() : {top: -1, bottom: -1, height: -1};
  };
  const card = document.querySelector('.card');
  const tr = box('h2', 'Try this week'), btn = box('a', 'I tried this'), re = box('h2', 'Reflect');
  return {
    ScrollWidth: document.documentElement.scrollWidth, ViewWidth: window.innerWidth,
    CardWidth: card.getBoundingClientRect().width, CardLuminance: lum(getComputedStyle(card).backgroundColor),
    Worst: worst,
    TryBottom: tr.bottom, ButtonTop: btn.top, ButtonBottom: btn.bottom, ReflectTop: re.top, ButtonHeight: btn.height,
  };
})()`

// TestEmailsReadWellOnAPhoneAndADesktopInLightAndDarkMode opens every kind
// of email in Chromium at a phone's and a desktop's width, with the light
// and the dark colour scheme. Nothing may be wider than the screen, the
// card is at most 600px wide, dark mode makes the card dark, every text
// has a contrast of at least 4.5:1 with what is behind it, and in a lesson
// "I tried this" is a button of a finger's height between "Try this week"
// and "Reflect". With EMAIL_SCREENSHOTS=DIR each view is also saved there
// as a PNG, to look at.
func TestEmailsReadWellOnAPhoneAndADesktopInLightAndDarkMode(t *testing.T) {
	emails := browserEmails(t)
	pages := map[string]string{}
	for name, html := range emails {
		pages["/"+name] = html
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		html, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(html))
	}))
	defer srv.Close()
	shots := os.Getenv("EMAIL_SCREENSHOTS")
	ctx := browsertest.New(t, 2*time.Minute)

	screens := []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"phone", 375, 740, true}, {"desktop", 1280, 800, false}}
	for _, scr := range screens {
		for _, scheme := range []string{"light", "dark"} {
			err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				if _, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
					Width: scr.width, Height: scr.height, DeviceScaleFactor: 1, Mobile: scr.mobile,
				}); err != nil {
					return err
				}
				_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
					Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
				})
				return err
			}))
			if err != nil {
				t.Fatalf("emulate a %s in %s mode: %v", scr.name, scheme, err)
			}
			for name := range emails {
				view := name + "-" + scr.name + "-" + scheme
				if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"+name)); err != nil {
					t.Fatalf("open %s: %v", view, err)
				}
				got, err := chromedp.Run(ctx, chromedp.Evaluate[emailLayout](layoutJS))
				if err != nil {
					t.Fatalf("measure %s: %v", view, err)
				}
				checkLayout(t, view, got, scheme == "dark", strings.HasPrefix(name, "lesson"))
				if shots != "" {
					png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
					if err != nil {
						t.Fatalf("screenshot %s: %v", view, err)
					}
					if err := os.WriteFile(filepath.Join(shots, view+".png"), png, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
}

func checkLayout(t *testing.T, view string, got emailLayout, dark, lesson bool) {
	t.Helper()
	if got.ScrollWidth > got.ViewWidth {
		t.Errorf("%s: the page is %vpx wide on a %vpx screen", view, got.ScrollWidth, got.ViewWidth)
	}
	if got.CardWidth > 600 {
		t.Errorf("%s: the card is %vpx wide, want at most 600", view, got.CardWidth)
	}
	if dark != (got.CardLuminance < 0.1) {
		t.Errorf("%s: the card's luminance is %.2f", view, got.CardLuminance)
	}
	if w := got.Worst; w.Ratio < 4.5 {
		t.Errorf("%s: %q is %s on %s, a contrast of %.2f:1 (want 4.5:1)", view, w.Text, w.Color, w.Background, w.Ratio)
	}
	if !lesson {
		return
	}
	if !(got.TryBottom > 0 && got.TryBottom < got.ButtonTop && got.ButtonBottom < got.ReflectTop) {
		t.Errorf("%s: the button (%v to %v) is not between the end of \"Try this week\" (%v) and \"Reflect\" (%v)",
			view, got.ButtonTop, got.ButtonBottom, got.TryBottom, got.ReflectTop)
	}
	if got.ButtonHeight < 44 {
		t.Errorf("%s: the button is %vpx tall, want at least 44 for a finger", view, got.ButtonHeight)
	}
}

// browserEmails renders shipped lessons 1, 26 and 52, the test lesson (with
// its long unbreakable address), the confirmation and a closing-style
// notice, with links as long as real signed ones.
func browserEmails(t *testing.T) map[string]string {
	t.Helper()
	c, ps := course.Load(twostep.Lessons)
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	r, err := course.NewRenderer(twostep.Templates)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.Repeat("Ab3_", 24)
	rc := course.Recipient{
		FirstName:      "Alex",
		UnsubscribeURL: "https://lessons.example.org/unsubscribe/" + tok,
		PreferencesURL: "https://lessons.example.org/preferences/" + tok,
		ViewURL:        "https://lessons.example.org/preferences/" + tok + "/lessons/1",
		TriedURL:       "https://lessons.example.org/tried/" + tok + "/1",
	}
	out := map[string]string{}
	for _, n := range []int{1, 26, 52} {
		e, err := r.Lesson(c, c.Lesson(n), rc)
		if err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("lesson-%d", n)] = e.HTML
	}
	src, err := os.ReadFile("testdata/07-the-test-lesson.md")
	if err != nil {
		t.Fatal(err)
	}
	l, ps := course.ParseLesson("07-the-test-lesson.md", src)
	if ps != nil {
		t.Fatal(ps)
	}
	e, err := r.Lesson(c, l, rc)
	if err != nil {
		t.Fatal(err)
	}
	out["lesson-test"] = e.HTML
	if e, err = r.Confirmation(c, "Alex", "https://lessons.example.org/confirm/"+tok+tok, rc.UnsubscribeURL); err != nil {
		t.Fatal(err)
	}
	out["confirmation"] = e.HTML
	e, err = r.Notice(c, "Alex", course.Notice{
		Subject: "You finished " + c.Title, Preheader: "52 weeks, 52 lessons, and what comes next.",
		Paragraphs:  []string{"That was the last of the 52 lessons. Thank you for reading, week after week.", "Habits outlast courses."},
		ButtonLabel: "Restart or revisit a lesson", ButtonURL: rc.PreferencesURL,
		After:   []string{"Or do nothing: no more lessons will come."},
		Signoff: "With thanks,", Why: "You are receiving this because you completed " + c.Title + ".",
	}, rc)
	if err != nil {
		t.Fatal(err)
	}
	out["closing"] = e.HTML
	return out
}
