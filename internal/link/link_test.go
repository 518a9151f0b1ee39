package link

import (
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/token"
)

func TestEveryTokenPurposeOpensAPageOfItsOwn(t *testing.T) {
	seen := map[string]token.Purpose{}
	for _, p := range []token.Purpose{token.Confirm, token.Unsubscribe, token.Preferences, token.Tried, token.EmailChange} {
		prefix := Prefix(p)
		if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") {
			t.Errorf("purpose %c: prefix %q is not a /path/", p, prefix)
		}
		if q, ok := seen[prefix]; ok {
			t.Errorf("purposes %c and %c share %q", p, q, prefix)
		}
		seen[prefix] = p
		if got := To(p, "TOK"); got != prefix+"TOK" {
			t.Errorf("To = %q", got)
		}
		if got := Route(p); got != prefix+"{token}" {
			t.Errorf("Route = %q", got)
		}
	}
}
