package store

import "github.com/jackc/pgx/v5"

// PlanEach is the mode db runs its plan-per-call statements in.
func PlanEach(db *DB) pgx.QueryExecMode { return db.planEach }

// LockRetryable is lockRetryable.
var LockRetryable = lockRetryable

// ClaimSQL and SentSQL are the pass's two statements, for the benchmark
// that explains them.
const (
	ClaimSQL = claimSQL
	SentSQL  = sentSQL
)

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
