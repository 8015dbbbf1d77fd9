package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	cw "github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	cwactions "github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
)

// MetricNamespace and the names below are what cmd/processor emits (EMF),
// with the dimension Environment = <suffix>.
const (
	MetricNamespace      = "Payments"
	metricProcessingTime = "ProcessingTime"
	metricSettled        = "PaymentsSettled"
	metricDeclined       = "PaymentsDeclined"
	metricFailed         = "PaymentsFailed"
)

// AlarmThresholds are what pages the on-call engineer.
type AlarmThresholds struct {
	SuccessRatePercent  float64 // processed without failure, over 5 minutes
	ProcessingP99Millis float64 // creation to settlement
	API5xxRatePercent   float64
	DatabaseCPUPercent  float64
	ReplicaLagMillis    float64
}

// DefaultAlarmThresholds are the thresholds used unless a caller sets others.
var DefaultAlarmThresholds = AlarmThresholds{
	SuccessRatePercent: 99, ProcessingP99Millis: 30_000, API5xxRatePercent: 1, DatabaseCPUPercent: 80, ReplicaLagMillis: 1_000,
}

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
}

// Observability is the dashboard and the alarms, which notify an encrypted
// SNS topic.
type Observability struct {
	constructs.Construct
	Dashboard cw.Dashboard
	Topic     awssns.Topic
	Alarms    []cw.Alarm
}

// NewObservability creates the dashboard, the alarm topic and the alarms.
func NewObservability(scope constructs.Construct, id string, props *ObservabilityProps) *Observability {
	this := constructs.NewConstruct(scope, &id)
	cfg, t := props.Config, props.Thresholds
	o := &Observability{Construct: this}
	five := awscdk.Duration_Minutes(jsii.Number(5))
	emf := func(name, statistic string) cw.Metric {
		return cw.NewMetric(&cw.MetricProps{
			Namespace: jsii.String(MetricNamespace), MetricName: jsii.String(name), Statistic: jsii.String(statistic),
			DimensionsMap: &map[string]*string{"Environment": jsii.String(cfg.EnvironmentSuffix)}, Period: five,
		})
	}
	successRate := cw.NewMathExpression(&cw.MathExpressionProps{
		Expression: jsii.String("IF(settled + declined + failed > 0, 100 * (settled + declined) / (settled + declined + failed), 100)"),
		UsingMetrics: &map[string]cw.IMetric{
			"settled": emf(metricSettled, "Sum"), "declined": emf(metricDeclined, "Sum"), "failed": emf(metricFailed, "Sum"),
		},
		Label: jsii.String("success rate %"), Period: five,
	})
	p99 := emf(metricProcessingTime, "p99")
	api5xxRate := cw.NewMathExpression(&cw.MathExpressionProps{
		Expression:   jsii.String("IF(requests > 0, 100 * errors / requests, 0)"),
		UsingMetrics: &map[string]cw.IMetric{"errors": props.API.RestAPI.MetricServerError(&cw.MetricOptions{Statistic: jsii.String("Sum"), Period: five}), "requests": props.API.RestAPI.MetricCount(&cw.MetricOptions{Statistic: jsii.String("Sum"), Period: five})},
		Label:        jsii.String("API 5xx %"), Period: five,
	})
	containerInsights := func(name string) cw.Metric {
		return cw.NewMetric(&cw.MetricProps{
			Namespace: jsii.String("ECS/ContainerInsights"), MetricName: jsii.String(name), Statistic: jsii.String("Average"), Period: awscdk.Duration_Minutes(jsii.Number(1)),
			DimensionsMap: &map[string]*string{"ClusterName": props.Service.Cluster.ClusterName(), "ServiceName": props.Service.Service.ServiceName()},
		})
	}
	missingTasks := cw.NewMathExpression(&cw.MathExpressionProps{
		Expression:   jsii.String("desired - running"),
		UsingMetrics: &map[string]cw.IMetric{"desired": containerInsights("DesiredTaskCount"), "running": containerInsights("RunningTaskCount")},
		Label:        jsii.String("tasks missing"), Period: awscdk.Duration_Minutes(jsii.Number(1)),
	})
	replicaLag := props.Database.Cluster.Metric(jsii.String("AuroraReplicaLagMaximum"), &cw.MetricOptions{Statistic: jsii.String("Maximum"), Period: awscdk.Duration_Minutes(jsii.Number(1))})
	// Blocked requests of both web ACLs: the stage's (rate, reputation)
	// and the ALB's (injection, managed groups).
	wafBlocked := func(acl, label string) cw.IMetric {
		return cw.NewMetric(&cw.MetricProps{
			Namespace: jsii.String("AWS/WAFV2"), MetricName: jsii.String("BlockedRequests"), Statistic: jsii.String("Sum"), Period: five,
			DimensionsMap: &map[string]*string{"WebACL": jsii.String(acl), "Region": jsii.String(cfg.Region), "Rule": jsii.String("ALL")},
			Label:         jsii.String(label),
		})
	}

	// CloudWatch publishes to the encrypted topic with the messaging key,
	// whose policy admits CloudWatch (see keys.go).
	o.Topic = awssns.NewTopic(this, jsii.String("Alarms"), &awssns.TopicProps{
		TopicName: jsii.String(cfg.Name("alarms")), MasterKey: props.Keys.Messaging, EnforceSSL: jsii.Bool(true),
	})
	alarm := func(id, description string, metric cw.IMetric, threshold float64, op cw.ComparisonOperator, periods float64) {
		a := cw.NewAlarm(this, jsii.String(id), &cw.AlarmProps{
			AlarmName: jsii.String(fmt.Sprintf("payments-%s-%s", cfg.EnvironmentSuffix, id)), AlarmDescription: jsii.String(description),
			Metric: metric, Threshold: jsii.Number(threshold), ComparisonOperator: op,
			EvaluationPeriods: jsii.Number(periods), DatapointsToAlarm: jsii.Number(periods),
			TreatMissingData: cw.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(cwactions.NewSnsAction(o.Topic))
		a.AddOkAction(cwactions.NewSnsAction(o.Topic))
		o.Alarms = append(o.Alarms, a)
	}
	alarm("dlq-not-empty", "A payment message failed 5 times and is in the dead-letter queue: inspect it, fix the cause, redrive it.",
		props.Queues.DeadLetter.MetricApproximateNumberOfMessagesVisible(&cw.MetricOptions{Statistic: jsii.String("Maximum"), Period: awscdk.Duration_Minutes(jsii.Number(1))}),
		1, cw.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1)
	alarm("success-rate-low", fmt.Sprintf("Fewer than %.0f %% of payments processed without failure over 5 minutes.", t.SuccessRatePercent),
		successRate, t.SuccessRatePercent, cw.ComparisonOperator_LESS_THAN_THRESHOLD, 1)
	alarm("processing-p99-high", fmt.Sprintf("p99 time from payment creation to settlement above %.0f ms for 15 minutes.", t.ProcessingP99Millis),
		p99, t.ProcessingP99Millis, cw.ComparisonOperator_GREATER_THAN_THRESHOLD, 3)
	alarm("api-5xx-rate", fmt.Sprintf("More than %.1f %% of API requests failed with 5xx over 5 minutes.", t.API5xxRatePercent),
		api5xxRate, t.API5xxRatePercent, cw.ComparisonOperator_GREATER_THAN_THRESHOLD, 1)
	alarm("db-cpu-high", fmt.Sprintf("Aurora CPU above %.0f %% for 15 minutes.", t.DatabaseCPUPercent),
		props.Database.Cluster.MetricCPUUtilization(&cw.MetricOptions{Period: five}), t.DatabaseCPUPercent, cw.ComparisonOperator_GREATER_THAN_THRESHOLD, 3)
	alarm("db-replica-lag", fmt.Sprintf("Aurora reader lag above %.0f ms for 5 minutes: reads may be stale.", t.ReplicaLagMillis),
		replicaLag, t.ReplicaLagMillis, cw.ComparisonOperator_GREATER_THAN_THRESHOLD, 5)
	alarm("api-tasks-missing", "Fewer API tasks running than desired for 5 minutes (failed deployments, crash loops, capacity).",
		missingTasks, 0, cw.ComparisonOperator_GREATER_THAN_THRESHOLD, 5)

	graph := func(title string, left ...cw.IMetric) cw.GraphWidget {
		return cw.NewGraphWidget(&cw.GraphWidgetProps{Title: jsii.String(title), Left: &left, Width: jsii.Number(8), Height: jsii.Number(6)})
	}
	minute := &cw.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(1))}
	lb, fn := props.Edge.LoadBalancer, props.Processor.Function
	o.Dashboard = cw.NewDashboard(this, jsii.String("Dashboard"), &cw.DashboardProps{
		DashboardName: jsii.String(cfg.Name("dashboard")),
		Widgets: &[]*[]cw.IWidget{
			{graph("Processing time (ms)", emf(metricProcessingTime, "p50"), emf(metricProcessingTime, "p90"), p99),
				graph("Success rate (%)", successRate),
				graph("Throughput (payments / 5 min)", emf(metricSettled, "Sum"), emf(metricDeclined, "Sum"), emf(metricFailed, "Sum"))},
			{graph("Payment queue", props.Queues.Payments.MetricApproximateNumberOfMessagesVisible(minute), props.Queues.Payments.MetricApproximateAgeOfOldestMessage(minute)),
				graph("Dead-letter queue", props.Queues.DeadLetter.MetricApproximateNumberOfMessagesVisible(minute)),
				graph("API Gateway", props.API.RestAPI.MetricClientError(minute), props.API.RestAPI.MetricServerError(minute), props.API.RestAPI.MetricLatency(&cw.MetricOptions{Statistic: jsii.String("p99")}))},
			{graph("ALB targets", lb.Metrics().HttpCodeTarget(elb.HttpCodeTarget_TARGET_5XX_COUNT, minute), lb.Metrics().TargetResponseTime(&cw.MetricOptions{Statistic: jsii.String("p99")})),
				graph("ECS API service", props.Service.Service.MetricCpuUtilization(minute), props.Service.Service.MetricMemoryUtilization(minute), containerInsights("RunningTaskCount")),
				graph("Aurora", props.Database.Cluster.MetricCPUUtilization(minute), props.Database.Cluster.MetricDatabaseConnections(minute), replicaLag)},
			{graph("Processor Lambda", fn.MetricErrors(minute), fn.MetricThrottles(minute), fn.MetricDuration(&cw.MetricOptions{Statistic: jsii.String("p99")})),
				graph("WAF blocked requests", wafBlocked(*props.WebACLs.Stage.Name(), "API stage"), wafBlocked(*props.WebACLs.LoadBalancer.Name(), "ALB"))},
		},
	})
	awscdk.NewCfnOutput(scope, jsii.String("DashboardUrl"), &awscdk.CfnOutputProps{
		Value:       jsii.String(fmt.Sprintf("https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#dashboards:name=%s", cfg.Region, cfg.Region, cfg.Name("dashboard"))),
		Description: jsii.String("The payments CloudWatch dashboard"),
	})
	return o
}
