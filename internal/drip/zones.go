package drip

import (
	_ "embed"
	"strings"
)

// zones.txt is UTC plus the canonical zones of the IANA database's
// zone1970.tab: one line each, the list the preferences page offers.
//
//go:embed zones.txt
var zonesTxt string

// Zones returns the IANA zone names a reader can choose from, sorted.
func Zones() []string {
	return strings.Fields(zonesTxt)
}
