package send

import "time"

// BatchSize is batchSize, for the tests of the lease budget.
func (e *Engine) BatchSize(tried int64, took time.Duration) int { return e.batchSize(tried, took) }
