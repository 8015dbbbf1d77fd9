// Package metrics is the contract between the services that emit custom
// metrics and the infrastructure that graphs and alarms on them: the
// namespace, the dimension every record carries, each metric's name and
// what it measures. It imports nothing, so the services and the CDK app
// (infra) both use it without either pulling in the other.
package metrics

import "time"

// Namespace holds every custom metric of the platform.
const Namespace = "Payments"

// DimensionEnvironment is the one dimension of every record: the
// environment suffix, so environments sharing an account never mix.
const DimensionEnvironment = "Environment"

// The processor's metrics, one record per message (cmd/processor).
const (
	ProcessingTime = "ProcessingTime"   // ms from a payment's creation to its settlement or decline
	HandlerTime    = "HandlerTime"      // ms spent on one message
	Settled        = "PaymentsSettled"  // count
	Declined       = "PaymentsDeclined" // count
	Failed         = "PaymentsFailed"   // count: messages that will be retried (and end in the DLQ)
)

// The outbox relay's metrics, one record per task a minute (cmd/api), also
// when the outbox is empty: the heartbeat tells a stopped relay (no data)
// from an idle one (zeros).
const (
	OutboxBacklog   = "OutboxBacklog"          // count of unsent outbox rows
	OutboxOldestAge = "OutboxOldestAgeSeconds" // seconds since the oldest unsent row was written; 0 when none
)

// RelayReportInterval is how often each API task reports the outbox.
const RelayReportInterval = time.Minute

// StallAfter is how old an unsent outbox row or an unconsumed queue message
// may grow before payments count as stalled: the relay sends within
// seconds and the processor settles within seconds, so five minutes of
// waiting is a failure, not load.
const StallAfter = 5 * time.Minute

// The audit function's metrics (cmd/audit), one record per run.
const (
	// AnchoredEvents is how many events one anchor run signed; 0 when no
	// event settled since the last anchor.
	AnchoredEvents = "AuditAnchoredEvents"
	// BrokenLinks is how many broken links (events or anchors) one
	// verification found; 0 when the whole history verifies.
	BrokenLinks = "AuditBrokenLinks"
)
