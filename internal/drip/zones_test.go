package drip

import (
	"archive/zip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goZoneNames lists every name in Go's own copy of the tz database, the one
// time/tzdata embeds in the binary.
func goZoneNames(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	zr, err := zip.OpenReader(filepath.Join(strings.TrimSpace(string(out)), "lib", "time", "zoneinfo.zip"))
	if err != nil {
		t.Fatalf("open Go's zoneinfo.zip: %v", err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, "/") {
			names = append(names, f.Name)
		}
	}
	if len(names) < 500 {
		t.Fatalf("Go's zoneinfo.zip has only %d names", len(names))
	}
	return names
}

// sameClocks reports whether a and b have had the same offset and
// abbreviation since 1970, sampled twice a month until 2038.
func sameClocks(a, b *time.Location) bool {
	for at := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC); at.Year() < 2038; at = at.Add(15 * 24 * time.Hour) {
		na, oa := at.In(a).Zone()
		nb, ob := at.In(b).Zone()
		if oa != ob || na != nb {
			return false
		}
	}
	return true
}

func TestEveryZoneOfGosDatabaseIsAcceptedAndStandsForAZoneWithTheSameClocks(t *testing.T) {
	for _, name := range goZoneNames(t) {
		if name == "Factory" { // "-00": no place's time
			continue
		}
		canonical, ok := CanonicalZone(name)
		if !ok {
			t.Errorf("%s, in Go's tz database, is not accepted: run go generate ./internal/drip", name)
			continue
		}
		loc, ok := LoadLocation(name)
		if !ok || loc.String() != canonical {
			t.Errorf("LoadLocation(%q) = %v, %v; want %s", name, loc, ok, canonical)
			continue
		}
		own, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		if !sameClocks(own, loc) {
			t.Errorf("%s is stored as %s, whose clocks differ since 1970", name, canonical)
		}
	}
}

func TestLegacyNamesMapToTheirCanonicalZoneAndZonesStayThemselves(t *testing.T) {
	for name, want := range map[string]string{
		"Asia/Calcutta":        "Asia/Kolkata",
		"Europe/Kiev":          "Europe/Kyiv",
		"Asia/Saigon":          "Asia/Ho_Chi_Minh",
		"US/Eastern":           "America/New_York",
		"US/Pacific":           "America/Los_Angeles",
		"Asia/Katmandu":        "Asia/Kathmandu",
		"America/Buenos_Aires": "America/Argentina/Buenos_Aires",
		"GB":                   "Europe/London",
		"Etc/UTC":              "UTC",
		"Zulu":                 "UTC",
		// Zones that tzdata without backzone links to a neighbour keep
		// their own name: a Dutch reader is not moved to Brussels.
		"Europe/Amsterdam":  "Europe/Amsterdam",
		"Europe/Oslo":       "Europe/Oslo",
		"Europe/Bratislava": "Europe/Bratislava",
		"Asia/Kolkata":      "Asia/Kolkata",
		"UTC":               "UTC",
		"Etc/GMT+5":         "Etc/GMT+5",
	} {
		got, ok := CanonicalZone(name)
		if !ok || got != want {
			t.Errorf("CanonicalZone(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	for _, bad := range []string{"", "Factory", "Local", "Mars/Olympus_Mons", "asia/calcutta", "Europe/Amsterdam "} {
		if got, ok := CanonicalZone(bad); ok {
			t.Errorf("CanonicalZone(%q) = %q, true; want it refused", bad, got)
		}
	}
}

func TestEveryOfferedZoneLoadsAsItself(t *testing.T) {
	zs := Zones()
	if len(zs) < 400 {
		t.Fatalf("only %d zones", len(zs))
	}
	for i, z := range zs {
		if loc, ok := LoadLocation(z.Name); !ok || loc.String() != z.Name || z.Location.String() != z.Name {
			t.Errorf("zone %q does not load as itself", z.Name)
		}
		if z.City == "" || z.Region == "" {
			t.Errorf("zone %q has no city or region: %+v", z.Name, z)
		}
		if i > 0 && zs[i-1].Name >= z.Name {
			t.Errorf("zones out of order: %s before %s", zs[i-1].Name, z.Name)
		}
	}
}

func TestEveryLinkInTheTableLeadsToAZone(t *testing.T) {
	links := 0
	for line := range strings.SplitSeq(zonesTxt, "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 3 && f[0] == "link" {
			links++
			if _, ok := table().byName[f[2]]; !ok {
				t.Errorf("%s links to %s, which is not a zone of the table", f[1], f[2])
			}
		}
	}
	if links < 100 {
		t.Fatalf("only %d links in zones.txt", links)
	}
}

func TestZonesNameTheirRegionCityAndCountry(t *testing.T) {
	tests := []struct{ name, region, city, country string }{
		{"Europe/Amsterdam", "Europe", "Amsterdam", "Netherlands"},
		{"America/Argentina/Buenos_Aires", "America", "Buenos Aires", "Argentina"},
		{"America/Indiana/Knox", "America", "Knox (Indiana)", "United States"},
		{"America/Port-au-Prince", "America", "Port-au-Prince", "Haiti"},
		{"Etc/GMT+5", "Other", "GMT+5", ""},
		{"UTC", "Other", "UTC", ""},
	}
	for _, tt := range tests {
		var got *Zone
		for _, z := range Zones() {
			if z.Name == tt.name {
				got = &z
			}
		}
		if got == nil {
			t.Errorf("%s is not offered", tt.name)
			continue
		}
		if got.Region != tt.region || got.City != tt.city || got.Country != tt.country {
			t.Errorf("%s: region %q, city %q, country %q; want %q, %q, %q", tt.name, got.Region, got.City, got.Country, tt.region, tt.city, tt.country)
		}
	}
}
