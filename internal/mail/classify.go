package mail

import (
	"errors"
	"fmt"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// Kind is what a failed send means for what happens next.
type Kind int

// The kinds of failure. Anything without a 5xx code is unknown, and
// unknown is always Retry: the message may or may not have gone out, and
// a bounce would wrongly stop the reader's course.
const (
	Retry       Kind = iota // 4xx, timeout, dropped connection: try again later
	Unreachable             // the server cannot be reached at all: end the pass
	Bounce                  // 5xx for this recipient (5.1.x, 5.2.1): the address is dead
	Policy                  // 5.7.x or 421: our sending is refused; pause the sender
	Reject                  // another 5xx for this message: give it up, keep the reader
)

func (k Kind) String() string {
	return [...]string{"retry", "unreachable", "bounce", "policy", "reject"}[k]
}

// Outcome is a classified send failure.
type Outcome struct {
	Kind     Kind
	Code     int    // SMTP reply code, 0 when there was none
	Enhanced string // e.g. "5.1.1", "" when none
}

func (o Outcome) String() string {
	if o.Code == 0 {
		return o.Kind.String()
	}
	return fmt.Sprintf("%s (%d %s)", o.Kind, o.Code, o.Enhanced)
}

// Classify reads a Transport's error, or Compose's (ErrCompose: Reject).
func Classify(err error) Outcome {
	if errors.Is(err, ErrCompose) {
		// Not the server's answer, but as final: this message cannot go.
		return Outcome{Kind: Reject}
	}
	if errors.Is(err, ErrDial) {
		return Outcome{Kind: Unreachable}
	}
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return Outcome{Kind: Retry}
	}
	o := Outcome{Code: se.ErrorCode(), Enhanced: se.EnhancedStatusCode()}
	if o.Enhanced == "" {
		o.Enhanced = enhancedFromText(err.Error())
	}
	switch {
	case o.Code == 421 || strings.HasPrefix(o.Enhanced, "5.7.") || strings.HasPrefix(o.Enhanced, "4.7."):
		o.Kind = Policy
	case o.Code >= 500 && o.Code < 600:
		switch {
		case strings.HasPrefix(o.Enhanced, "5.1.") || o.Enhanced == "5.2.1":
			o.Kind = Bounce
		case o.Enhanced == "" && se.Reason == gomail.ErrSMTPRcptTo && (o.Code == 550 || o.Code == 551 || o.Code == 553):
			// Servers without enhanced codes: a 55x refusal of RCPT TO.
			o.Kind = Bounce
		default:
			o.Kind = Reject
		}
	default:
		o.Kind = Retry
	}
	return o
}

// enhancedFromText finds an RFC 3463 code like "5.1.1" in the reply text,
// for servers that send one without announcing ENHANCEDSTATUSCODES.
func enhancedFromText(s string) string {
	for _, f := range strings.Fields(s) {
		f = strings.Trim(f, ",;:()")
		if len(f) >= 5 && (f[0] == '2' || f[0] == '4' || f[0] == '5') && f[1] == '.' {
			parts := strings.Split(f, ".")
			if len(parts) == 3 && allDigits(parts[1]) && allDigits(parts[2]) {
				return f
			}
		}
	}
	return ""
}

func allDigits(s string) bool {
	if s == "" || len(s) > 3 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
