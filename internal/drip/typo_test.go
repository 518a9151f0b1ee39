package drip

import "testing"

func TestSuggestEmailCorrectsCommonDomainTyposAndLeavesOthersAlone(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"ann@gmial.com", "ann@gmail.com"},
		{"Ann.Lee@GMIAL.COM", "Ann.Lee@gmail.com"},
		{"bo@hotmial.com", "bo@hotmail.com"},
		{"cy@yaho.com", "cy@yahoo.com"},
		{"di@outlok.com", "di@outlook.com"},
		{"ed@gmail.con", "ed@gmail.com"},
		{"a@b@gamil.com", "a@b@gmail.com"}, // the domain is after the last @
		{"ann@gmail.com", ""},
		{"ann@example.org", ""},
		{"ann@mail.gmial.com", ""}, // subdomains are someone's own
		{"gmial.com", ""},
		{"@gmial.com", ""},
		{"", ""},
	} {
		if got := SuggestEmail(c.in); got != c.want {
			t.Errorf("SuggestEmail(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEveryTypoMapsToADomainThatIsNotItselfATypo(t *testing.T) {
	for typo, meant := range domainTypos {
		if _, bad := domainTypos[meant]; bad || typo == meant {
			t.Errorf("%s → %s: the correction is itself listed as a typo", typo, meant)
		}
	}
}
