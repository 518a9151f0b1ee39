package course

import (
	"slices"
	"strings"
	"testing"
)

func TestReservedExampleDomainsAreRecognised(t *testing.T) {
	for _, d := range []string{"example.com", "EXAMPLE.ORG", "example.net", "mail.example.com", "twostep.example",
		"example", "shop.test", "x.invalid", "localhost", "app.localhost", "example.com."} {
		if !IsReservedDomain(d) {
			t.Errorf("%q is not taken for a reserved domain", d)
		}
	}
	for _, d := range []string{"leadandrelate.ie", "example.co.uk", "myexample.com", "examples.org", "test.de", "invalid-domain.com", ""} {
		if IsReservedDomain(d) {
			t.Errorf("%q is taken for a reserved domain", d)
		}
	}
}

func TestAddressWarningsNameTheFieldAndItsLine(t *testing.T) {
	tests := []struct {
		name, from, replyTo string
		want                []string
	}{
		{"both on an example domain", "Lead & Relate <lessons@twostep.example>", "Lead & Relate <replies@twostep.example>", []string{
			"course.yaml:5: from lessons@twostep.example uses twostep.example, a reserved example domain: readers' mail servers will refuse or junk the lessons; set a real address",
			"course.yaml:6: reply_to replies@twostep.example uses twostep.example, a reserved example domain: readers' replies will bounce; set a real address",
		}},
		{"only the reply-to", "Lead & Relate <lessons@leadandrelate.ie>", "ada@example.com", []string{
			"course.yaml:6: reply_to ada@example.com uses example.com, a reserved example domain: readers' replies will bounce; set a real address",
		}},
		{"real addresses", "Lead & Relate <lessons@leadandrelate.ie>", "hello@leadandrelate.ie", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(courseYAML, `from: "Test Course <lessons@example.com>"`, `from: "`+tt.from+`"`, 1)
			src = strings.Replace(src, `reply_to: "Ada Author <ada@example.com>"`, `reply_to: "`+tt.replyTo+`"`, 1)
			c, ps := ParseCourseYAML([]byte(src))
			if ps != nil {
				t.Fatal(ps)
			}
			var got []string
			for _, w := range AddressWarnings(c) {
				got = append(got, w.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
