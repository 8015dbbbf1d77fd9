package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	cw "github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	cwactions "github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	waf "github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
	"github.com/fintech/payments-platform/metrics"
)

// Service level objectives of the payment API, measured at API Gateway
// (docs/RUNBOOK.md, "Objectives"). The burn-rate alarms page when the
// month's error budget burns fast enough to be gone within days.
const (
	// availabilityObjective: the share of requests in 30 days answered
	// without a 5xx.
	availabilityObjective = 0.999
	// latencyObjectiveMillis: the p99 of API Gateway's latency in every
	// five minutes with traffic.
	latencyObjectiveMillis = 1000
	// Burn rates, as multiples of the rate that spends the month's error
	// budget in exactly the month: at 14.4 the budget is gone in about two
	// days, at 6 in five. The fast burn pages after 15 minutes at that rate
	// (0.5 % of the budget spent), the slow burn opens a ticket after 3
	// hours (2.5 %).
	fastBurn, slowBurn = 14.4, 6.0
	// successRateMinFailures: the success rate counts only with at least
	// this many failed attempts in its 5 minutes. One poison message fails
	// once every visibility timeout (3 minutes), so it never reaches it
	// (dlq-not-empty pages for it); a failing dependency does at once.
	successRateMinFailures = 5
)

// AlarmThresholds are the thresholds of the alarms that do not follow from
// an objective or from metrics.StallAfter. DefaultAlarmThresholds is what
// the stacks use; a zero field is refused at synth.
type AlarmThresholds struct {
	SuccessRatePercent  float64 // processed without failure, over 5 minutes
	ProcessingP99Millis float64 // creation to settlement
	DatabaseCPUPercent  float64
	ReplicaLagMillis    float64
}

// DefaultAlarmThresholds are the thresholds used unless a caller sets others.
var DefaultAlarmThresholds = AlarmThresholds{
	SuccessRatePercent: 99, ProcessingP99Millis: 30_000, DatabaseCPUPercent: 80, ReplicaLagMillis: 1_000,
}

// severity decides who hears of an alarm, and how soon.
type severity string

const (
	// page: a person now. Payments are not flowing, or the API misses its
	// objectives.
	page severity = "page"
	// ticket: the working day. Capacity, headroom, security signals.
	ticket severity = "ticket"
)

// RunbookPath is where every alarm's section lives; each alarm's
// description links its section.
const RunbookPath = "docs/RUNBOOK.md"

// ObservabilityProps configures Observability.
type ObservabilityProps struct {
	Config     environment.Config
	Keys       *Keys
	Thresholds AlarmThresholds
	API        *PaymentsAPI
	Edge       *Edge
	WebACLs    *WebACLs
	Service    *PaymentService
	Database   *Database
	Queues     *Queues
	Processor  *GoFunction
	Auditor    *GoFunction
}

// Observability is the dashboard and the alarms, which notify two
// encrypted SNS topics: one that pages and one that makes tickets.
type Observability struct {
	constructs.Construct
	Dashboard cw.Dashboard
	Topics    map[severity]awssns.Topic
	Alarms    []cw.Alarm
}

// NewObservability creates the dashboard, the topics with their
// subscriptions, and the alarms.
func NewObservability(scope constructs.Construct, id string, props *ObservabilityProps) *Observability {
	this := constructs.NewConstruct(scope, &id)
	t := props.Thresholds
	o := &Observability{Construct: this, Topics: map[severity]awssns.Topic{}}
	if t.SuccessRatePercent <= 0 || t.ProcessingP99Millis <= 0 || t.DatabaseCPUPercent <= 0 || t.ReplicaLagMillis <= 0 {
		awscdk.Annotations_Of(this).AddError(jsii.String(fmt.Sprintf("every alarm threshold must be set (a zero alarms on everything or nothing): %+v", t)))
	}
	s := newSignals(props)
	o.addTopics(scope, props)
	o.addAlarms(props.Config, watches(props, s))
	o.addDashboard(scope, props, s)
	return o
}

// signals are the metrics and expressions both the alarms and the
// dashboard read.
type signals struct {
	minute, five, hour awscdk.Duration
	// custom is one of our metrics (package metrics) in this environment.
	custom      func(name, statistic string, period awscdk.Duration) cw.Metric
	successRate func(condition string) cw.MathExpression
	fiveXXRate  func(period awscdk.Duration) cw.MathExpression
	// containerInsights is a metric of the API service.
	containerInsights func(name string) cw.Metric

	p99, outboxAge, queueAge, apiLatencyP99, missingTasks  cw.IMetric
	unhealthyTargets, replicaLag, stageBlocked, albBlocked cw.IMetric
}

func newSignals(props *ObservabilityProps) signals {
	cfg := props.Config
	minute, five, hour := awscdk.Duration_Minutes(jsii.Number(1)), awscdk.Duration_Minutes(jsii.Number(5)), awscdk.Duration_Hours(jsii.Number(1))
	custom := func(name, statistic string, period awscdk.Duration) cw.Metric {
		return cw.NewMetric(&cw.MetricProps{
			Namespace: jsii.String(metrics.Namespace), MetricName: jsii.String(name), Statistic: jsii.String(statistic),
			DimensionsMap: &map[string]*string{metrics.DimensionEnvironment: jsii.String(cfg.EnvironmentSuffix)}, Period: period,
		})
	}
	// successRate(condition) is the share of processed payments without
	// failure when condition holds, else 100: the dashboard shows it
	// whenever anything was processed, the alarm only with enough failures
	// to mean more than one poison message.
	successRate := func(condition string) cw.MathExpression {
		return cw.NewMathExpression(&cw.MathExpressionProps{
			Expression: jsii.String("IF(" + condition + ", 100 * (settled + declined) / (settled + declined + failed), 100)"),
			UsingMetrics: &map[string]cw.IMetric{
				"settled": custom(metrics.Settled, "Sum", five), "declined": custom(metrics.Declined, "Sum", five), "failed": custom(metrics.Failed, "Sum", five),
			},
			Label: jsii.String("success rate %"), Period: five,
		})
	}
	p99 := custom(metrics.ProcessingTime, "p99", five)
	outboxAge := custom(metrics.OutboxOldestAge, "Maximum", minute)
	api := props.API.RestAPI
	fiveXXRate := func(period awscdk.Duration) cw.MathExpression {
		return cw.NewMathExpression(&cw.MathExpressionProps{
			Expression: jsii.String("IF(requests > 0, 100 * errors / requests, 0)"),
			UsingMetrics: &map[string]cw.IMetric{
				"errors":   api.MetricServerError(&cw.MetricOptions{Statistic: jsii.String("Sum"), Period: period}),
				"requests": api.MetricCount(&cw.MetricOptions{Statistic: jsii.String("Sum"), Period: period}),
			},
			Label: jsii.String("API 5xx %"), Period: period,
		})
	}
	apiLatencyP99 := api.MetricLatency(&cw.MetricOptions{Statistic: jsii.String("p99"), Period: five})
	containerInsights := func(name string) cw.Metric {
		return cw.NewMetric(&cw.MetricProps{
			Namespace: jsii.String("ECS/ContainerInsights"), MetricName: jsii.String(name), Statistic: jsii.String("Average"), Period: minute,
			DimensionsMap: &map[string]*string{"ClusterName": props.Service.Cluster.ClusterName(), "ServiceName": props.Service.Service.ServiceName()},
		})
	}
	missingTasks := cw.NewMathExpression(&cw.MathExpressionProps{
		Expression:   jsii.String("desired - running"),
		UsingMetrics: &map[string]cw.IMetric{"desired": containerInsights("DesiredTaskCount"), "running": containerInsights("RunningTaskCount")},
		Label:        jsii.String("tasks missing"), Period: minute,
	})
	replicaLag := props.Database.Cluster.Metric(jsii.String("AuroraReplicaLagMaximum"), &cw.MetricOptions{Statistic: jsii.String("Maximum"), Period: minute})
	queueAge := props.Queues.Payments.MetricApproximateAgeOfOldestMessage(&cw.MetricOptions{Statistic: jsii.String("Maximum"), Period: minute})
	unhealthyTargets := props.Edge.TargetGroup.Metrics().UnhealthyHostCount(&cw.MetricOptions{Statistic: jsii.String("Maximum"), Period: minute})
	wafBlocked := func(acl waf.CfnWebACL, label string) cw.Metric {
		return cw.NewMetric(&cw.MetricProps{
			Namespace: jsii.String("AWS/WAFV2"), MetricName: jsii.String("BlockedRequests"), Statistic: jsii.String("Sum"), Period: five,
			DimensionsMap: &map[string]*string{"WebACL": webACLMetricName(acl), "Region": jsii.String(cfg.Region), "Rule": jsii.String("ALL")},
			Label:         jsii.String(label),
		})
	}
	stageBlocked, albBlocked := wafBlocked(props.WebACLs.Stage, "API stage"), wafBlocked(props.WebACLs.LoadBalancer, "ALB")

	return signals{
		minute: minute, five: five, hour: hour, custom: custom, successRate: successRate, fiveXXRate: fiveXXRate, containerInsights: containerInsights,
		p99: p99, outboxAge: outboxAge, apiLatencyP99: apiLatencyP99, replicaLag: replicaLag, queueAge: queueAge,
		unhealthyTargets: unhealthyTargets, stageBlocked: stageBlocked, albBlocked: albBlocked, missingTasks: missingTasks,
	}
}

// addTopics creates the page and ticket topics and their subscriptions.
func (o *Observability) addTopics(scope constructs.Construct, props *ObservabilityProps) {
	cfg, this := props.Config, o.Construct
	// Both topics are encrypted with the messaging key, whose policy admits
	// CloudWatch (see keys.go). E-mail addresses hear of everything; a
	// paging service only of pages.
	for _, s := range []severity{page, ticket} {
		topic := awssns.NewTopic(this, jsii.String(string(s)+"Topic"), &awssns.TopicProps{
			TopicName: jsii.String(cfg.Name("alarms-" + string(s))), MasterKey: props.Keys.Messaging, EnforceSSL: jsii.Bool(true),
		})
		for _, address := range cfg.AlarmEmails {
			topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(address), nil))
		}
		if cfg.PagerEndpoint != "" && s == page {
			topic.AddSubscription(awssnssubscriptions.NewUrlSubscription(jsii.String(cfg.PagerEndpoint), &awssnssubscriptions.UrlSubscriptionProps{
				Protocol: awssns.SubscriptionProtocol_HTTPS,
			}))
		}
		o.Topics[s] = topic
	}
	awscdk.NewCfnOutput(scope, jsii.String("PageTopicArn"), &awscdk.CfnOutputProps{
		Value: o.Topics[page].TopicArn(), Description: jsii.String("Alarms that page: subscribe a chat integration or a pager here"),
	})
	awscdk.NewCfnOutput(scope, jsii.String("TicketTopicArn"), &awscdk.CfnOutputProps{
		Value: o.Topics[ticket].TopicArn(), Description: jsii.String("Alarms for the working day"),
	})

}

// watch is one alarm: what it means, who hears of it, and why its
// treatment of missing data can never hide the failure it watches
// (written into the runbook's section too).
type watch struct {
	id, meaning string
	severity    severity
	metric      cw.IMetric
	threshold   float64
	op          cw.ComparisonOperator
	periods     float64
	missing     cw.TreatMissingData
	// anomaly: alarm above the metric's anomaly-detection band of this
	// many standard deviations instead of a threshold.
	anomaly float64
}

// watches are the alarms: what on-call needs to hear of, and how soon.
func watches(props *ObservabilityProps, s signals) []watch {
	t := props.Thresholds
	minute, five, hour := s.minute, s.five, s.hour
	custom, successRate, fiveXXRate := s.custom, s.successRate, s.fiveXXRate
	p99, outboxAge, queueAge, apiLatencyP99, missingTasks := s.p99, s.outboxAge, s.queueAge, s.apiLatencyP99, s.missingTasks
	unhealthyTargets, replicaLag, stageBlocked, albBlocked := s.unhealthyTargets, s.replicaLag, s.stageBlocked, s.albBlocked
	stall := metrics.StallAfter.Seconds()
	minutes := metrics.StallAfter.Minutes()
	return []watch{
		{id: "relay-stalled", severity: page, metric: outboxAge, threshold: stall, op: cw.ComparisonOperator_GREATER_THAN_THRESHOLD, periods: minutes,
			missing: cw.TreatMissingData_BREACHING,
			meaning: fmt.Sprintf("Payments are not leaving the outbox: its oldest unsent row is older than %.0f minutes for %.0f minutes, or no API task has reported the outbox for %.0f minutes.", minutes, minutes, minutes)},
		{id: "queue-stalled", severity: page, metric: queueAge, threshold: stall, op: cw.ComparisonOperator_GREATER_THAN_THRESHOLD, periods: minutes,
			missing: cw.TreatMissingData_NOT_BREACHING,
			meaning: fmt.Sprintf("Payments wait in the payment queue: its oldest message is older than %.0f minutes for %.0f minutes (the processor is not consuming).", minutes, minutes)},
		{id: "dlq-not-empty", severity: page, threshold: 1, op: cw.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, periods: 1,
			metric:  props.Queues.DeadLetter.MetricApproximateNumberOfMessagesVisible(&cw.MetricOptions{Statistic: jsii.String("Maximum"), Period: minute}),
			missing: cw.TreatMissingData_NOT_BREACHING,
			meaning: fmt.Sprintf("A payment message failed %d times and is in the dead-letter queue.", maxReceiveCount)},
		{id: "success-rate-low", severity: page, metric: successRate(fmt.Sprintf("failed >= %d", successRateMinFailures)), threshold: t.SuccessRatePercent, op: cw.ComparisonOperator_LESS_THAN_THRESHOLD, periods: 1,
			missing: cw.TreatMissingData_NOT_BREACHING,
			meaning: fmt.Sprintf("Fewer than %.0f %% of the payments processed in 5 minutes were processed without failure, with at least %d failed attempts.", t.SuccessRatePercent, successRateMinFailures)},
		{id: "processor-crashing", severity: page, metric: props.Processor.Function.MetricErrors(&cw.MetricOptions{Statistic: jsii.String("Sum"), Period: five}),
			threshold: 1, op: cw.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, periods: 2, missing: cw.TreatMissingData_NOT_BREACHING,
			meaning: "The processor function crashed or timed out in each of 10 minutes (a failure it reports per message does not count): its messages return to the queue and write no metrics."},
		{id: "api-availability-fast-burn", severity: page, metric: fiveXXRate(five), threshold: fastBurn * (1 - availabilityObjective) * 100,
			op: cw.ComparisonOperator_GREATER_THAN_THRESHOLD, periods: 3, missing: cw.TreatMissingData_NOT_BREACHING,
			meaning: fmt.Sprintf("More than %.2f %% of API requests failed with 5xx for 15 minutes: at this rate the month's %.1f %% error budget is gone in about two days.", fastBurn*(1-availabilityObjective)*100, (1-availabilityObjective)*100)},
		{id: "api-latency-high", severity: page, metric: apiLatencyP99, threshold: latencyObjectiveMillis, op: cw.ComparisonOperator_GREATER_THAN_THRESHOLD, periods: 3,
			missing: cw.TreatMissingData_NOT_BREACHING,
			meaning: fmt.Sprintf("The API's p99 latency is above its %d ms objective for 15 minutes.", latencyObjectiveMillis)},
		{id: "api-tasks-missing", severity: page, metric: missingTasks, threshold: 0, op: cw.ComparisonOperator_GREATER_THAN_THRESHOLD, periods: 5,
			missing: cw.TreatMissingData_BREACHING,
			meaning: "Fewer API tasks running than desired for 5 minutes (failed deployments, crash loops, capacity), or Container Insights stopped reporting the service."},
		{id: "api-availability-slow-burn", severity: ticket, metric: fiveXXRate(awscdk.Duration_Minutes(jsii.Number(30))), threshold: slowBurn * (1 - availabilityObjective) * 100,
			op: cw.ComparisonOperator_GREATER_THAN_THRESHOLD, periods: 6, missing: cw.TreatMissingData_NOT_BREACHING,
			meaning: fmt.Sprintf("More than %.1f %% of API requests failed with 5xx for 3 hours: the month's error budget is burning six times too fast.", slowBurn*(1-availabilityObjective)*100)},
		{id: "processing-p99-high", severity: ticket, metric: p99, threshold: t.ProcessingP99Millis, op: cw.ComparisonOperator_GREATER_THAN_THRESHOLD, periods: 3,
			missing: cw.TreatMissingData_NOT_BREACHING,
			meaning: fmt.Sprintf("p99 time from payment creation to settlement above %.0f ms for 15 minutes.", t.ProcessingP99Millis)},
		{id: "alb-unhealthy-targets", severity: ticket, metric: unhealthyTargets, threshold: 1, op: cw.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, periods: 5,
			missing: cw.TreatMissingData_NOT_BREACHING,
			meaning: "At least one API task failed the ALB's health check for 5 minutes."},
		{id: "db-cpu-high", severity: ticket, metric: props.Database.Cluster.MetricCPUUtilization(&cw.MetricOptions{Period: five}), threshold: t.DatabaseCPUPercent,
			op: cw.ComparisonOperator_GREATER_THAN_THRESHOLD, periods: 3, missing: cw.TreatMissingData_BREACHING,
			meaning: fmt.Sprintf("Aurora CPU above %.0f %% for 15 minutes, or the cluster stopped reporting.", t.DatabaseCPUPercent)},
		{id: "db-replica-lag", severity: ticket, metric: replicaLag, threshold: t.ReplicaLagMillis, op: cw.ComparisonOperator_GREATER_THAN_THRESHOLD, periods: 5,
			missing: cw.TreatMissingData_NOT_BREACHING,
			meaning: fmt.Sprintf("Aurora reader lag above %.0f ms for 5 minutes: reads may be stale.", t.ReplicaLagMillis)},
		{id: "history-broken", severity: page, metric: custom(metrics.BrokenLinks, "Maximum", hour), threshold: 1,
			op: cw.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, periods: 1, missing: cw.TreatMissingData_NOT_BREACHING,
			meaning: "The daily verification of payments' histories found a broken link: an event or an anchor that no longer matches what was recorded and signed. Treat it as a security incident."},
		{id: "audit-failing", severity: ticket, metric: props.Auditor.Function.MetricErrors(&cw.MetricOptions{Statistic: jsii.String("Sum"), Period: hour}),
			threshold: 1, op: cw.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, periods: 1, missing: cw.TreatMissingData_NOT_BREACHING,
			meaning: "The audit function failed to anchor or to verify payments' histories within the hour: the events since the last anchor wait for the next run."},
		{id: "waf-stage-blocks-spike", severity: ticket, metric: stageBlocked, anomaly: 3, periods: 2, missing: cw.TreatMissingData_NOT_BREACHING,
			meaning: "The API stage's web ACL blocks far more requests than usual (rate limit, IP reputation) for 10 minutes: a flood or a misbehaving client."},
		{id: "waf-alb-blocks-spike", severity: ticket, metric: albBlocked, anomaly: 3, periods: 2, missing: cw.TreatMissingData_NOT_BREACHING,
			meaning: "The ALB's web ACL blocks far more requests than usual (injection, managed rules) for 10 minutes: an attack, or a client whose requests now look like one."},
	}
}

// addAlarms creates one alarm per watch, notifying its severity's topic,
// and lets CloudWatch publish to each topic for exactly its alarms.
func (o *Observability) addAlarms(cfg environment.Config, watches []watch) {
	this := o.Construct
	alarmArns := map[severity][]string{}
	for _, w := range watches {
		name := alarmName(cfg, w.id)
		description := fmt.Sprintf("[%s] %s Runbook: %s#%s", w.severity, w.meaning, RunbookPath, w.id)
		var a cw.Alarm
		if w.anomaly > 0 {
			a = cw.NewAnomalyDetectionAlarm(this, jsii.String(w.id), &cw.AnomalyDetectionAlarmProps{
				AlarmName: jsii.String(name), AlarmDescription: jsii.String(description), Metric: w.metric, StdDevs: jsii.Number(w.anomaly),
				ComparisonOperator: cw.ComparisonOperator_GREATER_THAN_UPPER_THRESHOLD,
				EvaluationPeriods:  jsii.Number(w.periods), DatapointsToAlarm: jsii.Number(w.periods), TreatMissingData: w.missing,
			})
		} else {
			a = cw.NewAlarm(this, jsii.String(w.id), &cw.AlarmProps{
				AlarmName: jsii.String(name), AlarmDescription: jsii.String(description),
				Metric: w.metric, Threshold: jsii.Number(w.threshold), ComparisonOperator: w.op,
				EvaluationPeriods: jsii.Number(w.periods), DatapointsToAlarm: jsii.Number(w.periods),
				TreatMissingData: w.missing,
			})
		}
		alarmArns[w.severity] = append(alarmArns[w.severity], fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", cfg.Region, cfg.Account, name))
		a.AddAlarmAction(cwactions.NewSnsAction(o.Topics[w.severity]))
		a.AddOkAction(cwactions.NewSnsAction(o.Topics[w.severity]))
		o.Alarms = append(o.Alarms, a)
	}
	// A topic policy replaces the topic's default one, which let the
	// account's principals publish; EnforceSSL's leaves only a Deny. So
	// CloudWatch is allowed to publish, for exactly the alarms that notify
	// the topic.
	for s, topic := range o.Topics {
		topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("ItsAlarmsPublish"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
			Actions:    jsii.Strings("sns:Publish"),
			Resources:  jsii.Strings(*topic.TopicArn()),
			Conditions: &map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": cfg.Account},
				"ArnEquals":    map[string]any{"aws:SourceArn": alarmArns[s]},
			},
		}))
	}

}

// addDashboard creates the dashboard and outputs its URL.
func (o *Observability) addDashboard(scope constructs.Construct, props *ObservabilityProps, s signals) {
	cfg, this := props.Config, o.Construct
	minute, five := s.minute, s.five
	custom, successRate, containerInsights := s.custom, s.successRate, s.containerInsights
	p99, outboxAge, queueAge, apiLatencyP99, unhealthyTargets, replicaLag, stageBlocked, albBlocked := s.p99, s.outboxAge, s.queueAge, s.apiLatencyP99, s.unhealthyTargets, s.replicaLag, s.stageBlocked, s.albBlocked
	api := props.API.RestAPI
	graph := func(title string, left ...cw.IMetric) cw.GraphWidget {
		return cw.NewGraphWidget(&cw.GraphWidgetProps{Title: jsii.String(title), Left: &left, Width: jsii.Number(8), Height: jsii.Number(6)})
	}
	perMinute := &cw.MetricOptions{Period: minute}
	lb, fn := props.Edge.LoadBalancer, props.Processor.Function
	o.Dashboard = cw.NewDashboard(this, jsii.String("Dashboard"), &cw.DashboardProps{
		DashboardName: jsii.String(cfg.Name("dashboard")),
		Widgets: &[]*[]cw.IWidget{
			{graph("Processing time (ms)", custom(metrics.ProcessingTime, "p50", five), custom(metrics.ProcessingTime, "p90", five), p99),
				graph("Success rate (%)", successRate("settled + declined + failed > 0")),
				graph("Throughput (payments / 5 min)", custom(metrics.Settled, "Sum", five), custom(metrics.Declined, "Sum", five), custom(metrics.Failed, "Sum", five))},
			{graph("Outbox (unsent rows, oldest age s)", custom(metrics.OutboxBacklog, "Maximum", minute), outboxAge),
				graph("Payment queue", props.Queues.Payments.MetricApproximateNumberOfMessagesVisible(perMinute), queueAge),
				graph("Dead-letter queue", props.Queues.DeadLetter.MetricApproximateNumberOfMessagesVisible(perMinute))},
			{graph("API Gateway", api.MetricClientError(perMinute), api.MetricServerError(perMinute), apiLatencyP99),
				graph("ALB targets", lb.Metrics().HttpCodeTarget(elb.HttpCodeTarget_TARGET_5XX_COUNT, perMinute), lb.Metrics().TargetResponseTime(&cw.MetricOptions{Statistic: jsii.String("p99")}), unhealthyTargets),
				graph("ECS API service", props.Service.Service.MetricCpuUtilization(perMinute), props.Service.Service.MetricMemoryUtilization(perMinute), containerInsights("RunningTaskCount"))},
			{graph("Aurora", props.Database.Cluster.MetricCPUUtilization(perMinute), props.Database.Cluster.MetricDatabaseConnections(perMinute), replicaLag),
				graph("Processor Lambda", fn.MetricErrors(perMinute), fn.MetricThrottles(perMinute), fn.MetricDuration(&cw.MetricOptions{Statistic: jsii.String("p99")})),
				graph("WAF blocked requests", stageBlocked, albBlocked)},
		},
	})
	awscdk.NewCfnOutput(scope, jsii.String("DashboardUrl"), &awscdk.CfnOutputProps{
		Value:       jsii.String(fmt.Sprintf("https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#dashboards:name=%s", cfg.Region, cfg.Region, cfg.Name("dashboard"))),
		Description: jsii.String("The payments CloudWatch dashboard"),
	})
}

// alarmName is "payments-<suffix>-<id>".
func alarmName(cfg environment.Config, id string) string {
	return fmt.Sprintf("payments-%s-%s", cfg.EnvironmentSuffix, id)
}
