package environment

import (
	"fmt"
	"strconv"
	"strings"
)

// Posture is everything that differs between a production environment and
// the others (pull-request and development environments), decided here
// and nowhere else: the constructs read Config.Posture(), and the only
// question they ask of Config.Production is which posture applies. The
// README's "What production changes" table is PostureTable, which a test
// keeps equal to this.
type Posture struct {
	// Protected: termination protection on the environment's stacks and
	// deletion protection on the Aurora cluster and the ALB.
	Protected bool
	// RetainData: keys, log groups and buckets are retained and the
	// cluster leaves a snapshot when their stack is deleted; otherwise
	// everything is destroyed with the stack, and a bucket cleaner empties
	// the buckets first (Object Lock in governance mode included).
	RetainData bool
	// ComplianceLock: the Object Lock buckets (audit anchors, the account's
	// trail) lock in compliance mode, which nobody can shorten, the root
	// user included; otherwise governance mode, which the bucket cleaner
	// may bypass.
	ComplianceLock bool
	// BackupRetentionDays of the Aurora cluster's automated backups.
	BackupRetentionDays int
	// KeyPendingWindowDays: how long a deleted KMS key can be recovered.
	KeyPendingWindowDays int
	// SecretRecoveryWindowDays: how long an offboarded merchant's secret
	// can be restored; 0 deletes it at once.
	SecretRecoveryWindowDays int
	// NatInstanceType is the Graviton type of the three NAT instances.
	NatInstanceType string
	// MaxAPITasks caps the API's autoscaling (it never runs fewer than one
	// task per Availability Zone).
	MaxAPITasks int
	// ProcessorReservedConcurrency is reserved for the payment processor; 0
	// reserves nothing (the property is left out: a reservation of 0 would
	// stop the function). Lambda refuses a reservation that leaves fewer
	// than 100 executions unreserved, and new accounts often have a limit of
	// 10 or 50, so only production reserves.
	ProcessorReservedConcurrency int
	// BareHostNames: public names are <service>.<domainName>; otherwise
	// <service>.<suffix>.<domainName>, so environments never claim the same
	// name.
	BareHostNames bool
	// TrailRequired: make preflight fails when no multi-region trail
	// records the account's management events (unless told the trail is
	// elsewhere); otherwise it warns.
	TrailRequired bool

	// The defaults of context keys that size the environment (the context
	// overrides them).
	DBInstanceClass              string // KeyDBInstanceClass
	DocumentVersionRetentionDays int    // KeyDocumentVersionRetentionDays
	APITaskCPU, APITaskMemory    int    // KeyAPITaskCPU, KeyAPITaskMemory
}

// Posture is what Production decides: the constructs read it, never
// Production itself. It is derived, never stored, so that no Config can
// carry a posture that disagrees with it.
func (c Config) Posture() Posture { return PostureOf(c.Production) }

// PostureOf is the posture of a production environment, or of any other.
func PostureOf(production bool) Posture {
	if production {
		return Posture{
			Protected: true, RetainData: true, ComplianceLock: true,
			BackupRetentionDays: 35, KeyPendingWindowDays: 30, SecretRecoveryWindowDays: 7,
			NatInstanceType: "c7g.medium", MaxAPITasks: 60, ProcessorReservedConcurrency: 2 * ProcessorMaxConcurrency,
			BareHostNames: true, TrailRequired: true,
			DBInstanceClass: "r7g.large", DocumentVersionRetentionDays: 2557, APITaskCPU: 1024, APITaskMemory: 2048,
		}
	}
	return Posture{
		BackupRetentionDays: 7, KeyPendingWindowDays: 7, SecretRecoveryWindowDays: 0,
		NatInstanceType: "t4g.nano", MaxAPITasks: 12, ProcessorReservedConcurrency: 0,
		DBInstanceClass: "t4g.medium", DocumentVersionRetentionDays: 365, APITaskCPU: 512, APITaskMemory: 1024,
	}
}

// postureRows are the README table's rows: what, and each posture's value.
var postureRows = []struct {
	what  string
	value func(Posture) string
}{
	{"stacks: termination protection; Aurora cluster and ALB: deletion protection", func(p Posture) string { return onOff(p.Protected) }},
	{"keys, log groups, buckets when the stack is deleted", func(p Posture) string {
		return choose(p.RetainData, "retained (the cluster: a final snapshot)", "destroyed (buckets emptied first by the bucket cleaner)")
	}},
	{"Object Lock of the audit buckets (2557 days)", func(p Posture) string { return choose(p.ComplianceLock, "compliance mode", "governance mode") }},
	{"Aurora automated backups", days(func(p Posture) int { return p.BackupRetentionDays })},
	{"KMS key pending window after deletion", days(func(p Posture) int { return p.KeyPendingWindowDays })},
	{"offboarded merchant's secret recoverable for", func(p Posture) string {
		return choose(p.SecretRecoveryWindowDays == 0, "deleted at once", fmt.Sprintf("%d days", p.SecretRecoveryWindowDays))
	}},
	{"NAT instances (one per AZ)", func(p Posture) string { return "`" + p.NatInstanceType + "`" }},
	{"API tasks (autoscaling from one per AZ)", func(p Posture) string { return "up to " + strconv.Itoa(p.MaxAPITasks) }},
	{"Lambda concurrency reserved for the processor", func(p Posture) string {
		return choose(p.ProcessorReservedConcurrency == 0, "none", strconv.Itoa(p.ProcessorReservedConcurrency))
	}},
	{"public names", func(p Posture) string {
		return choose(p.BareHostNames, "`<service>.<domainName>`", "`<service>.<suffix>.<domainName>`")
	}},
	{"`make preflight` finds no account trail", func(p Posture) string {
		return choose(p.TrailRequired, "failure (unless `PREFLIGHT=-without-trail`)", "warning")
	}},
	{"default `dbInstanceClass`", func(p Posture) string { return "`" + p.DBInstanceClass + "`" }},
	{"default `documentVersionRetentionDays`", func(p Posture) string { return strconv.Itoa(p.DocumentVersionRetentionDays) }},
	{"default `apiTaskCpu` / `apiTaskMemory`", func(p Posture) string { return fmt.Sprintf("%d / %d", p.APITaskCPU, p.APITaskMemory) }},
}

// PostureTable is the README's table of what production changes.
func PostureTable() string {
	var b strings.Builder
	other, production := PostureOf(false), PostureOf(true)
	b.WriteString("| | other environments | `production=true` |\n|---|---|---|\n")
	for _, r := range postureRows {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.what, r.value(other), r.value(production))
	}
	return b.String()
}

func choose(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

func onOff(on bool) string { return choose(on, "on", "off") }

func days(f func(Posture) int) func(Posture) string {
	return func(p Posture) string { return strconv.Itoa(f(p)) + " days" }
}
