package smtptest

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// Part is one decoded body part of a message.
type Part struct {
	ContentType string
	Body        string
}

// Parts decodes the message's body parts in order (one for a single-part
// message), undoing quoted-printable and base64 transfer encodings.
func (m Message) Parts() ([]Part, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return nil, err
	}
	return readParts(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
}

func readParts(contentType, cte string, r io.Reader) ([]Part, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		var out []Part
		mr := multipart.NewReader(r, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			sub, err := readParts(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return []Part{{ContentType: mt, Body: string(b)}}, nil
}

// Text returns the decoded text/plain part, or "".
func (m Message) Text() string { return m.part("text/plain") }

// HTML returns the decoded text/html part, or "".
func (m Message) HTML() string { return m.part("text/html") }

func (m Message) part(ct string) string {
	parts, err := m.Parts()
	if err != nil {
		return ""
	}
	for _, p := range parts {
		if p.ContentType == ct {
			return p.Body
		}
	}
	return ""
}
