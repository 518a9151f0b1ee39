package token

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

var key = bytes.Repeat([]byte("k"), 32)

func TestSignedTokenVerifiesWithItsClaims(t *testing.T) {
	s, _ := NewSigner(key)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	want := Claims{Purpose: Confirm, Subscriber: 123456789, Gen: 3, Expires: now.Add(ConfirmTTL)}
	got, err := s.Verify(s.Sign(want), Confirm, now)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("claims = %+v, want %+v", got, want)
	}
}

func TestTokensAreRefused(t *testing.T) {
	s, _ := NewSigner(key)
	other, _ := NewSigner(bytes.Repeat([]byte("x"), 32))
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	good := s.Sign(Claims{Purpose: Confirm, Subscriber: 7, Gen: 1, Expires: now.Add(time.Hour)})
	flip := []byte(good)
	flip[3] ^= 1
	cases := []struct {
		name    string
		tok     string
		purpose Purpose
		now     time.Time
		want    error
	}{
		{"when empty", "", Confirm, now, ErrMalformed},
		{"when not base64", "!!!***", Confirm, now, ErrMalformed},
		{"when a byte is changed", string(flip), Confirm, now, ErrMalformed},
		{"when truncated", good[:len(good)-2], Confirm, now, ErrMalformed},
		{"when signed with another key", other.Sign(Claims{Purpose: Confirm, Subscriber: 7, Gen: 1}), Confirm, now, ErrMalformed},
		{"when oversized", strings.Repeat("A", 10_000), Confirm, now, ErrMalformed},
		{"when used for another purpose", good, Unsubscribe, now, ErrPurpose},
		{"when expired", good, Confirm, now.Add(2 * time.Hour), ErrExpired},
		{"at the exact expiry", good, Confirm, now.Add(time.Hour).Truncate(time.Second), ErrExpired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.Verify(c.tok, c.purpose, c.now); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestTokenWithoutExpiryNeverExpires(t *testing.T) {
	s, _ := NewSigner(key)
	tok := s.Sign(Claims{Purpose: Unsubscribe, Subscriber: 1, Gen: 1})
	if _, err := s.Verify(tok, Unsubscribe, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
}

func TestShortKeyIsRefused(t *testing.T) {
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Fatal("want error for a short key")
	}
}

func FuzzVerifyNeverPanics(f *testing.F) {
	s, _ := NewSigner(key)
	f.Add(s.Sign(Claims{Purpose: Confirm, Subscriber: 1, Gen: 1}))
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Verify(tok, Confirm, time.Unix(0, 0))
		if err == nil && s.Sign(c) != tok {
			t.Fatalf("accepted a token that is not the canonical signature of its claims: %q", tok)
		}
	})
}
