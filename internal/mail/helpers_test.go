package mail

import gomail "github.com/wneessen/go-mail"

// Compose is a zero Composer's Compose, for tests of one message.
func Compose(e Envelope) (*gomail.Msg, error) { return new(Composer).Compose(e) }

// NewMessageID is a unique Message-ID on the domain of the From address.
func NewMessageID(from string) string { return NewMessageIDOn(MessageIDDomain(from)) }
