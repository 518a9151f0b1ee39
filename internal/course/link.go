package course

import (
	"errors"
	htmltemplate "html/template"
	"io/fs"
	texttemplate "text/template"
)

// linkTemplates are the "here is your link" email's two parts.
type linkTemplates struct {
	html *htmltemplate.Template
	text *texttemplate.Template
}

func parseLink(fsys fs.FS) (linkTemplates, error) {
	var t linkTemplates
	var err error
	if t.html, err = parseHTML(fsys, "link"); err != nil {
		return t, err
	}
	t.text, err = parseText(fsys, "link")
	return t, err
}

// Link renders the "here is your link" email: a reader who is already
// subscribed signed up again (or lost their link), so instead of a
// confirmation they get the link to their preferences page. Both links of
// rc are required.
func (r *Renderer) Link(c *Course, rc Recipient) (Email, error) {
	if c == nil {
		return Email{}, errors.New("render link email: no course")
	}
	rc = cleanRecipient(Recipient{FirstName: rc.FirstName, UnsubscribeURL: rc.UnsubscribeURL, PreferencesURL: rc.PreferencesURL})
	if rc.UnsubscribeURL == "" || rc.PreferencesURL == "" {
		return Email{}, errors.New("render link email: no preferences or unsubscribe URL")
	}
	d := emailData{
		Course:      c,
		LessonCount: c.count(),
		Subject:     oneLine("Your link to " + c.Title),
		Preheader:   oneLine("You are already subscribed: here is the link to your page."),
		FirstName:   rc.FirstName,
		Recipient:   rc,
	}
	d.link(rc.PreferencesURL)
	d.Refs.Unsubscribe = d.link(rc.UnsubscribeURL)
	return r.execute("link", r.link.html, r.link.text, d)
}
