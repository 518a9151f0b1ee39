// Package token signs and checks the links twostep mails to subscribers.
//
// A token carries its purpose, the subscriber, the subscriber's link
// generation and an optional expiry, signed with HMAC-SHA256 under the
// service's secret key. Bumping a subscriber's generation (erasure, address
// change) revokes every token issued before.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
	"time"
)

// Purpose says what a token may be used for; a token of one purpose is
// refused for any other.
type Purpose byte

// The purposes of twostep's links.
const (
	Confirm     Purpose = 'c' // confirm a signup; expires after ConfirmTTL
	Unsubscribe Purpose = 'u' // one-click unsubscribe
	Preferences Purpose = 'p' // the reader's preferences and lessons pages
	Tried       Purpose = 't' // "I tried it" links in lessons
	EmailChange Purpose = 'e' // confirm a new address; expires after ConfirmTTL
)

// ConfirmTTL is how long a confirmation link works.
const ConfirmTTL = 7 * 24 * time.Hour

// Claims is what a token says.
type Claims struct {
	Purpose    Purpose
	Subscriber int64
	Gen        int
	Expires    time.Time // zero: never
}

// Errors from Verify. Callers show the same page for all of them.
var (
	ErrMalformed = errors.New("token: malformed or forged")
	ErrPurpose   = errors.New("token: wrong purpose")
	ErrExpired   = errors.New("token: expired")
)

// macLen is the length of the truncated MAC: 128 bits is far beyond guessing.
const macLen = 16

// maxLen bounds what Verify reads, so a huge path costs nothing.
const maxLen = 128

var enc = base64.RawURLEncoding

// Signer signs and verifies tokens under one key.
type Signer struct {
	key []byte
	// macs holds HMACs keyed with key: a pass signs three links per
	// message, and keying a new HMAC costs more than the MAC itself.
	macs sync.Pool
}

// NewSigner returns a Signer for key, which must be at least 32 bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 32 {
		return nil, errors.New("token: key must be at least 32 bytes")
	}
	s := &Signer{key: append([]byte(nil), key...)}
	s.macs.New = func() any { return hmac.New(sha256.New, s.key) }
	return s, nil
}

// Sign returns the URL-safe token for c.
func (s *Signer) Sign(c Claims) string {
	buf := make([]byte, 1, 1+3*binary.MaxVarintLen64+macLen)
	buf[0] = byte(c.Purpose)
	buf = binary.AppendUvarint(buf, uint64(c.Subscriber))
	buf = binary.AppendUvarint(buf, uint64(c.Gen))
	var exp uint64
	if !c.Expires.IsZero() {
		exp = uint64(c.Expires.Unix())
	}
	buf = binary.AppendUvarint(buf, exp)
	buf = s.appendMAC(buf, buf)
	return enc.EncodeToString(buf)
}

// Verify checks tok's signature and that it is for purpose p and not
// expired at now, and returns its claims.
func (s *Signer) Verify(tok string, p Purpose, now time.Time) (Claims, error) {
	if len(tok) > maxLen {
		return Claims{}, ErrMalformed
	}
	raw, err := enc.DecodeString(tok)
	if err != nil || len(raw) < 1+3+macLen {
		return Claims{}, ErrMalformed
	}
	body, sig := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	var mac [sha256.Size]byte
	if !hmac.Equal(sig, s.appendMAC(mac[:0], body)) {
		return Claims{}, ErrMalformed
	}
	c := Claims{Purpose: Purpose(body[0])}
	rest := body[1:]
	var fields [3]uint64
	for i := range fields {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return Claims{}, ErrMalformed
		}
		fields[i], rest = v, rest[n:]
	}
	if len(rest) != 0 || fields[0] > 1<<62 || fields[1] > 1<<30 || fields[2] > 1<<40 {
		return Claims{}, ErrMalformed
	}
	c.Subscriber, c.Gen = int64(fields[0]), int(fields[1])
	if fields[2] != 0 {
		c.Expires = time.Unix(int64(fields[2]), 0).UTC()
	}
	if c.Purpose != p {
		return Claims{}, ErrPurpose
	}
	if !c.Expires.IsZero() && !now.Before(c.Expires) {
		return Claims{}, ErrExpired
	}
	return c, nil
}

// appendMAC appends the MAC of b to dst.
func (s *Signer) appendMAC(dst, b []byte) []byte {
	h := s.macs.Get().(hash.Hash)
	defer s.macs.Put(h)
	h.Reset()
	h.Write([]byte("twostep-token-v1\x00"))
	h.Write(b)
	var sum [sha256.Size]byte
	return append(dst, h.Sum(sum[:0])[:macLen]...)
}
