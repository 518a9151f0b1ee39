package drip

import (
	_ "embed"
	"strings"
	"sync"
	"time"
)

//go:generate go run gen_zones.go

// zones.txt is the tz database's names, generated from tzdata by
// gen_zones.go: every zone a reader can choose, with its country, and
// every other name (a legacy alias such as Asia/Calcutta or US/Eastern)
// with the zone it stands for.
//
//go:embed zones.txt
var zonesTxt string

// Zone is one time zone a reader can choose.
type Zone struct {
	Name     string // IANA name: Europe/Amsterdam
	Region   string // the name's first part (Europe), "Other" for names such as UTC or Etc/GMT+5
	City     string // the place the zone is named for (Amsterdam, Buenos Aires), or the name itself
	Country  string // the country the zone is in, "" when it is no country's
	Location *time.Location
}

// zoneTable is zones.txt parsed, with every zone loaded once.
type zoneTable struct {
	zones  []Zone          // sorted by name
	byName map[string]Zone // every zone by its name
	links  map[string]string
}

// table loads every zone at first use: the signup form, the preferences
// page and each delivery resolve a zone by name, and time.LoadLocation
// would read the zone's file every time.
var table = sync.OnceValue(func() *zoneTable {
	t := &zoneTable{byName: map[string]Zone{}, links: map[string]string{}}
	for line := range strings.SplitSeq(zonesTxt, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			continue // a comment
		}
		switch f[0] {
		case "zone":
			loc, err := time.LoadLocation(f[1])
			if err != nil {
				// Missing from the running tz database: not offered.
				// TestEveryZoneOfGosDatabaseIsInTheTable keeps this from
				// happening with Go's embedded copy.
				continue
			}
			z := Zone{Name: f[1], Location: loc, Country: f[2]}
			if z.Country == "-" {
				z.Country = ""
			}
			z.Region, z.City = place(f[1], z.Country)
			t.zones = append(t.zones, z)
			t.byName[z.Name] = z
		case "link":
			t.links[f[1]] = f[2]
		}
	}
	return t
})

// place splits a zone's name into its region and city:
// America/Argentina/Buenos_Aires is in America, city Buenos Aires;
// America/Indiana/Knox is Knox (Indiana); UTC and Etc/GMT+5 are Other.
func place(name, country string) (region, city string) {
	parts := strings.Split(name, "/")
	if len(parts) == 1 || parts[0] == "Etc" {
		return "Other", parts[len(parts)-1]
	}
	city = strings.ReplaceAll(parts[len(parts)-1], "_", " ")
	if len(parts) == 3 {
		if sub := strings.ReplaceAll(parts[1], "_", " "); sub != country {
			city += " (" + sub + ")"
		}
	}
	return parts[0], city
}

// Zones returns every zone a reader can choose, sorted by name. Every name
// LoadLocation accepts stands for one of them.
func Zones() []Zone {
	return table().zones
}

// CanonicalZone returns the zone that name stands for: name itself for a
// zone, the zone a legacy alias links to (Asia/Calcutta is Asia/Kolkata,
// Europe/Kiev is Europe/Kyiv, US/Eastern is America/New_York), and false
// for anything else. Browsers still report some legacy names, and the
// preferences page can only show a reader's zone when it is one it lists.
func CanonicalZone(name string) (string, bool) {
	t := table()
	if canonical, ok := t.links[name]; ok {
		name = canonical
	}
	_, ok := t.byName[name]
	return name, ok
}

// LoadLocation returns the zone name stands for (see CanonicalZone), so its
// String() is the name to store, or UTC and false when name is empty or not
// a name in the tz database.
//
// The name arrives from a browser; it is looked up in the table and never
// reaches the file system, so "Local", "localtime", paths and the files that
// sit next to the zones ("posixrules", "zone.tab", "right/...") are all
// simply unknown.
func LoadLocation(name string) (*time.Location, bool) {
	canonical, ok := CanonicalZone(name)
	if !ok {
		return time.UTC, false
	}
	return table().byName[canonical].Location, true
}
