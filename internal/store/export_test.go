package store

import "github.com/jackc/pgx/v5"

// PlanEach is the mode db runs its plan-per-call statements in.
func PlanEach(db *DB) pgx.QueryExecMode { return db.planEach }

// LockRetryable is lockRetryable.
var LockRetryable = lockRetryable

// ClaimSQL is the pass's claim, SentSQL and SentFirstSQL its records (of
// groups with a retry among them, and of first attempts only), for the
// tests and the benchmark that explain them.
const ClaimSQL = claimSQL

var SentSQL, SentFirstSQL = sentSQL, sentFirstSQL

// ClaimOutboxSQL and ClaimOutboxPlan are the outbox claim and the setting
// it is planned with.
const (
	ClaimOutboxSQL  = claimOutboxSQL
	ClaimOutboxPlan = claimOutboxPlan
)

// SuppressionsSQL and ReportsByLessonSQL are the suppression list's page
// and the dashboard's reports by lesson, for the tests of their plans.
const (
	SuppressionsSQL    = suppressionsSQL
	ReportsByLessonSQL = reportsByLessonSQL
)

// ByAddress is the condition of every lookup by address.
const ByAddress = byAddress
