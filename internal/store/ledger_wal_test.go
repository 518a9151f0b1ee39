package store_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/store"
)

var walN = flag.Int("wal-n", 10_000, "due readers in BenchmarkLedgerPlans")

// planNode is a node of EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON).
type planNode struct {
	Type       string     `json:"Node Type"`
	Subplan    string     `json:"Subplan Name"`
	CTE        string     `json:"CTE Name"`
	WALRecords float64    `json:"WAL Records"`
	WALFPI     float64    `json:"WAL FPI"`
	WALBytes   float64    `json:"WAL Bytes"`
	Hit        float64    `json:"Shared Hit Blocks"`
	Dirtied    float64    `json:"Shared Dirtied Blocks"`
	Plans      []planNode `json:"Plans"`
}

// explained is what EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) says of
// one run of a statement.
type explained []struct {
	Plan      planNode
	Planning  float64 `json:"Planning Time"`
	Execution float64 `json:"Execution Time"`
	Triggers  []struct {
		Name string  `json:"Trigger Name"`
		Time float64 `json:"Time"`
	}
}

// total is the statement's WAL and buffers: a node's figures include
// those of the nodes it runs, but a data-modifying CTE that nothing reads
// runs after the main statement and is counted apart.
func (e explained) total() planNode {
	top := e[0].Plan
	read := map[string]bool{}
	var walk func(n planNode)
	walk = func(n planNode) {
		if n.Type == "CTE Scan" {
			read[n.CTE] = true
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(top)
	t := top
	t.Plans = nil
	for _, c := range top.Plans {
		if name, ok := strings.CutPrefix(c.Subplan, "CTE "); ok && !read[name] {
			t.WALRecords += c.WALRecords
			t.WALFPI += c.WALFPI
			t.WALBytes += c.WALBytes
			t.Hit += c.Hit
			t.Dirtied += c.Dirtied
		}
	}
	return t
}

type stmtCost struct {
	runs                              int
	records, fpi, bytes, hit, dirtied float64
	planning, execution               float64
	triggers                          map[string]float64
}

func (c *stmtCost) add(e explained) {
	t := e.total()
	c.runs++
	c.records += t.WALRecords
	c.fpi += t.WALFPI
	c.bytes += t.WALBytes
	c.hit += t.Hit
	c.dirtied += t.Dirtied
	c.planning += e[0].Planning
	c.execution += e[0].Execution
	for _, t := range e[0].Triggers {
		c.triggers[t.Name] += t.Time
	}
}

func (c *stmtCost) String(msgs float64) string {
	var ts []string
	for name, ms := range c.triggers {
		ts = append(ts, fmt.Sprintf("%s %.1fµs", name, 1000*ms/msgs))
	}
	sort.Strings(ts)
	return fmt.Sprintf("%d runs; per message: WAL %.1f records, %.2f full pages, %.0f bytes; %.1f buffers hit, %.2f dirtied; planning %.1fµs, execution %.1fµs (triggers: %s)",
		c.runs, c.records/msgs, c.fpi/msgs, c.bytes/msgs, c.hit/msgs, c.dirtied/msgs, 1000*c.planning/msgs, 1000*c.execution/msgs, strings.Join(ts, ", "))
}

// BenchmarkLedgerPlans runs the pass's two statements — claims of
// -ledger-claim, records of groups of -ledger-group — over -wal-n due
// readers under EXPLAIN (ANALYZE, BUFFERS, WAL) and prints what each costs
// per message: WAL, buffers, planning, execution and each trigger. Unlike CPU time these do
// not depend on what else loads the machine. -ledger-sql applies as in
// BenchmarkLedger.
//
//	go test ./internal/store/ -run '^$' -bench BenchmarkLedgerPlans -benchtime 1x
func BenchmarkLedgerPlans(b *testing.B) {
	ctx := context.Background()
	db := dbtest.New(b)
	ledgerSetup(b, db)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	explain := func(sql string, args ...any) explained {
		var js []byte
		if err := db.Pool.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) "+sql, args...).Scan(&js); err != nil {
			b.Fatal(err)
		}
		var e explained
		if err := json.Unmarshal(js, &e); err != nil {
			b.Fatal(err)
		}
		return e
	}
	n := *walN
	claim, sent := &stmtCost{triggers: map[string]float64{}}, &stmtCost{triggers: map[string]float64{}}
	var msgs float64
	for b.Loop() {
		b.StopTimer()
		seedLedgerReaders(b, db, n, t0.Add(-time.Minute))
		b.StartTimer()
		next := t0.Add(7 * 24 * time.Hour)
		for {
			claim.add(explain(store.ClaimSQL, t0, *ledgerClaim, t0.Add(time.Hour), t0))
			type row struct {
				sub, rev                int64
				lesson, round, attempts int32
				due                     time.Time
			}
			// The claimed readers: leased, not yet recorded.
			rows, err := db.Pool.Query(ctx, `
				SELECT p.subscriber_id, l.revision_id, p.lesson, p.round, p.attempts, p.due_at
				FROM schedule p JOIN lessons l ON l.number = p.lesson
				WHERE p.lease_until IS NOT NULL ORDER BY p.subscriber_id`)
			if err != nil {
				b.Fatal(err)
			}
			var rs []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.sub, &r.rev, &r.lesson, &r.round, &r.attempts, &r.due); err != nil {
					b.Fatal(err)
				}
				rs = append(rs, r)
			}
			if rows.Err() != nil {
				b.Fatal(rows.Err())
			}
			if len(rs) == 0 {
				break
			}
			for i := 0; i < len(rs); i += *ledgerGroup {
				g := rs[i:min(i+*ledgerGroup, len(rs))]
				var ss, revs []int64
				var ls, rds, as []int32
				var ids, replies []string
				var due, first, at, nx []time.Time
				for _, r := range g {
					ss, revs, ls, rds, as = append(ss, r.sub), append(revs, r.rev), append(ls, r.lesson), append(rds, r.round), append(as, r.attempts)
					ids, replies = append(ids, strconv.FormatInt(r.sub, 10)+".1.abcdefgh@twostep.example"), append(replies, "250 2.0.0 Ok: queued as ABC123")
					due, first, at, nx = append(due, r.due), append(first, t0), append(at, t0), append(nx, next)
				}
				sent.add(explain(store.SentFirstSQL, ss, ls, rds, as, revs, due, first, ids, replies, at, nx))
				msgs += float64(len(g))
			}
		}
	}
	b.Logf("claim: %s", claim.String(msgs))
	b.Logf("sent:  %s", sent.String(msgs))
}
