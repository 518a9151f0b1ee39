package course

import (
	"strings"
	"testing"
)

func TestTheLinkEmailCarriesThePreferencesLinkInBothPartsAndEscapesTheName(t *testing.T) {
	r := newTestRenderer(t)
	c, _ := testCourse(t)
	rc := Recipient{FirstName: `<b>Mary</b> O"Brien`, UnsubscribeURL: "https://x.test/unsubscribe/u1", PreferencesURL: "https://x.test/preferences/p1"}
	e, err := r.Link(c, rc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.Subject, "Your link to ") {
		t.Errorf("subject %q", e.Subject)
	}
	for part, body := range map[string]string{"HTML": e.HTML, "text": e.Text} {
		for _, want := range []string{rc.PreferencesURL, rc.UnsubscribeURL, "already subscribed"} {
			if !strings.Contains(body, want) {
				t.Errorf("the %s part lacks %q:\n%s", part, want, body)
			}
		}
	}
	if strings.Contains(e.HTML, "<b>Mary</b>") || !strings.Contains(e.HTML, "&lt;b&gt;Mary&lt;/b&gt;") {
		t.Error("the name is not in the HTML part escaped")
	}
	if _, err := r.Link(c, Recipient{UnsubscribeURL: rc.UnsubscribeURL}); err == nil {
		t.Error("a link email without a preferences link rendered")
	}
}
