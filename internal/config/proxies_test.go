package config_test

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/config"
)

func TestTrustedProxiesAreEmptyByDefault(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TrustedProxies) != 0 {
		t.Fatalf("TRUSTED_PROXIES unset gave %v, want no trusted proxy", c.TrustedProxies)
	}
}

func TestTrustedProxiesTakeCIDRsAndBareAddresses(t *testing.T) {
	tests := []struct {
		name, value string
		want        []string
	}{
		{"one IPv4 CIDR", "10.0.0.0/8", []string{"10.0.0.0/8"}},
		{"a bare IPv4 address is its /32", "192.0.2.7", []string{"192.0.2.7/32"}},
		{"a bare IPv6 address is its /128", "2001:db8::1", []string{"2001:db8::1/128"}},
		{"an IPv6 CIDR", "fd00::/8", []string{"fd00::/8"}},
		{"a list with spaces and a trailing comma", " 10.0.0.0/8 , 127.0.0.1,::1 ,", []string{"10.0.0.0/8", "127.0.0.1/32", "::1/128"}},
		{"host bits of a CIDR are cleared", "172.16.5.4/12", []string{"172.16.0.0/12"}},
		{"an IPv4-mapped address is kept as IPv4", "::ffff:192.0.2.7", []string{"192.0.2.7/32"}},
		{"an IPv4-mapped CIDR is kept as IPv4", "::ffff:10.0.0.0/104", []string{"10.0.0.0/8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(env(map[string]string{"TRUSTED_PROXIES": tt.value}))
			if err != nil {
				t.Fatalf("TRUSTED_PROXIES=%q: %v", tt.value, err)
			}
			var got []string
			for _, p := range c.TrustedProxies {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("TRUSTED_PROXIES=%q gave %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

func TestTrustedProxiesMatchTheAddressesTheyName(t *testing.T) {
	c, err := config.Load(env(map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.7"}))
	if err != nil {
		t.Fatal(err)
	}
	contains := func(s string) bool {
		for _, p := range c.TrustedProxies {
			if p.Contains(netip.MustParseAddr(s)) {
				return true
			}
		}
		return false
	}
	for addr, want := range map[string]bool{"10.1.2.3": true, "192.0.2.7": true, "192.0.2.8": false, "11.0.0.1": false} {
		if got := contains(addr); got != want {
			t.Errorf("%s trusted = %v, want %v", addr, got, want)
		}
	}
}

func TestABadTrustedProxyEntryIsAConfigErrorNamingTheVariable(t *testing.T) {
	for _, value := range []string{
		"10.0.0.0/33",
		"10.0.0.0/8,localhost",
		"proxy.internal",
		"10.0.0.256",
		"10.0.0.0/8; 192.0.2.0/24",
		"fe80::1%eth0",
		"*",
		"::ffff:10.0.0.0/8",
		"10.0.0.0/8\r\nX-Forwarded-For: 1.2.3.4",
	} {
		t.Run(value, func(t *testing.T) {
			_, err := config.Load(env(map[string]string{"TRUSTED_PROXIES": value}))
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Var != "TRUSTED_PROXIES" {
				t.Fatalf("TRUSTED_PROXIES=%q gave %v, want a config error for TRUSTED_PROXIES", value, err)
			}
			if !strings.HasPrefix(err.Error(), "TRUSTED_PROXIES: ") || !strings.Contains(err.Error(), "CIDR") {
				t.Fatalf("error %q does not name the variable and say what it wants", err)
			}
		})
	}
}
