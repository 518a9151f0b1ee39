package store_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
)

// texts turns a list of typed values into their text.
func texts[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	slices.Sort(out)
	return out
}

func TestEachEnumerationHoldsExactlyTheValuesItsCheckConstraintAllows(t *testing.T) {
	db := dbtest.New(t)
	quoted := regexp.MustCompile(`'([^']*)'::text\b`)
	array := regexp.MustCompile(`'\{([^}']*)\}'::text\[\]`)
	cases := []struct {
		table, column string
		values        []string
	}{
		{"subscribers", "status", texts(drip.Statuses)},
		{"deliveries", "status", texts(drip.DeliveryStatuses)},
		{"outbox", "kind", texts(drip.MailKinds)},
		{"outbox", "status", texts(drip.MailStatuses)},
	}
	for _, c := range cases {
		t.Run(c.table+"."+c.column, func(t *testing.T) {
			// The constraint on the column as the migrations left it, in
			// PostgreSQL's own words: CHECK ((col = ANY (ARRAY['a'::text, …])))
			// or, one array constant, CHECK ((col = ANY ('{a,…}'::text[]))).
			var def string
			err := db.Pool.QueryRow(context.Background(), `
				SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
				JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
				WHERE c.contype = 'c' AND c.conrelid = $1::regclass AND a.attname = $2`, c.table, c.column).Scan(&def)
			if err != nil {
				t.Fatalf("find the CHECK constraint: %v", err)
			}
			var allowed []string
			if m := array.FindStringSubmatch(def); m != nil {
				allowed = strings.Split(m[1], ",")
			} else {
				for _, m := range quoted.FindAllStringSubmatch(def, -1) {
					allowed = append(allowed, m[1])
				}
			}
			slices.Sort(allowed)
			if !slices.Equal(allowed, c.values) {
				t.Fatalf("the constraint allows %v, the Go type lists %v (%s)", allowed, c.values, def)
			}
		})
	}
}
