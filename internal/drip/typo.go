package drip

import "strings"

// domainTypos maps mistyped mail domains that people really type to the
// domain they meant. It is deliberately small: only slips of the finger on
// the few providers most readers use, so a suggestion is almost always
// right and never nags someone whose address is simply unusual.
var domainTypos = map[string]string{
	"gmial.com": "gmail.com", "gmai.com": "gmail.com", "gmal.com": "gmail.com", "gamil.com": "gmail.com",
	"gnail.com": "gmail.com", "gmaill.com": "gmail.com", "gmail.co": "gmail.com", "gmail.cm": "gmail.com",
	"gmail.con": "gmail.com", "gmail.om": "gmail.com", "gmailcom": "gmail.com", "gmaik.com": "gmail.com",
	"hotmial.com": "hotmail.com", "hotmal.com": "hotmail.com", "hotmai.com": "hotmail.com", "hotmil.com": "hotmail.com",
	"homail.com": "hotmail.com", "hotmail.co": "hotmail.com", "hotmail.con": "hotmail.com", "hitmail.com": "hotmail.com",
	"yaho.com": "yahoo.com", "yahooo.com": "yahoo.com", "yhoo.com": "yahoo.com", "yahoo.co": "yahoo.com",
	"yahoo.con": "yahoo.com", "yaoo.com": "yahoo.com",
	"outlok.com": "outlook.com", "outloo.com": "outlook.com", "outlook.co": "outlook.com", "outlook.con": "outlook.com",
	"otlook.com": "outlook.com", "outllok.com": "outlook.com",
	"iclod.com": "icloud.com", "icoud.com": "icloud.com", "icloud.co": "icloud.com", "icloud.con": "icloud.com",
	"protonmial.com": "protonmail.com", "protonmal.com": "protonmail.com",
}

// SuggestEmail returns the address the reader probably meant when its
// domain is a common typo (ann@gmial.com → ann@gmail.com), or "" when the
// domain looks right. The check-your-inbox page offers it, because a
// confirmation sent to gmial.com never arrives and the reader never learns why.
func SuggestEmail(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 1 {
		return ""
	}
	meant, ok := domainTypos[strings.ToLower(email[at+1:])]
	if !ok {
		return ""
	}
	return email[:at+1] + meant
}
