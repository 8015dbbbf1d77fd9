// Package cost estimates the monthly cost of an environment from its
// synthesized templates: the quantities (instances and their types,
// endpoints and their AZs, database classes, task sizes, rules, keys,
// secrets, log groups) are read from cdk.out, multiplied by a dated price
// table and a stated traffic profile. When the app changes, the estimate
// changes with it (`make cost` rewrites the tables in docs/COST.md; a test
// fails when they are stale).
package cost

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fintech/payments-platform/assembly"
)

// HoursPerMonth is AWS's convention for monthly estimates.
const HoursPerMonth = 730

// Quantities are the billable things an environment's templates create.
type Quantities struct {
	Instances              map[string]int // EC2 instance type -> count (the NAT instances)
	InterfaceEndpoints     int
	InterfaceEndpointAZs   int // endpoint network interfaces: endpoints x subnets
	GatewayEndpoints       int
	DBInstances            map[string]int // DB instance class -> count
	TaskVCPU, TaskMemoryGB float64
	MinTasks, MaxTasks     int
	LoadBalancers          int
	LoadBalancerAZs        int
	// PublicLoadBalancerAZs are the nodes of internet-facing load
	// balancers, each with a billed public IPv4 address (internal ones
	// have none).
	PublicLoadBalancerAZs int
	WebACLs, WebACLRules  int
	RuleGroupRules        int
	Buckets               int
	KMSKeys               int
	Secrets               int
	LogGroups             int
	ProtectedLogGroups    int // with a data-protection policy
	Alarms, Dashboards    int
	Queues                int
	ProcessorMemoryGB     float64 // the function behind the SQS event source
	ProcessorBatchSize    int
	// AuthorizerMemoryGB is the memory of the functions behind authorizers
	// whose answers are never cached: each runs once per request.
	AuthorizerMemoryGB float64
	RateLimit          float64 // the usage plan's requests per second
}

// Measure counts the billable resources of every stack.
func Measure(stacks []*assembly.Stack) (Quantities, error) {
	q := Quantities{Instances: map[string]int{}, DBInstances: map[string]int{}}
	var problems []string
	for _, s := range stacks {
		resources := s.Template.Resources
		for _, id := range slices.Sorted(maps.Keys(resources)) {
			r := resources[id]
			p := r.Properties
			switch r.Type {
			case "AWS::EC2::Instance":
				q.Instances[str(p["InstanceType"])]++
			case "AWS::EC2::VPCEndpoint":
				if p["VpcEndpointType"] == "Interface" {
					q.InterfaceEndpoints++
					q.InterfaceEndpointAZs += len(list(p["SubnetIds"]))
				} else {
					q.GatewayEndpoints++
				}
			case "AWS::RDS::DBInstance":
				q.DBInstances[str(p["DBInstanceClass"])]++
			case "AWS::ECS::TaskDefinition":
				cpu, err1 := strconv.Atoi(str(p["Cpu"]))
				memory, err2 := strconv.Atoi(str(p["Memory"]))
				if err1 != nil || err2 != nil || q.TaskVCPU != 0 {
					problems = append(problems, fmt.Sprintf("%s/%s: want one task definition with literal Cpu and Memory", s.Name, id))
				}
				q.TaskVCPU, q.TaskMemoryGB = float64(cpu)/1024, float64(memory)/1024
			case "AWS::ApplicationAutoScaling::ScalableTarget":
				if p["ServiceNamespace"] == "ecs" {
					q.MinTasks, q.MaxTasks = assembly.Int(p["MinCapacity"]), assembly.Int(p["MaxCapacity"])
				}
			case "AWS::ElasticLoadBalancingV2::LoadBalancer":
				q.LoadBalancers++
				q.LoadBalancerAZs += len(list(p["Subnets"]))
				if p["Scheme"] != "internal" {
					q.PublicLoadBalancerAZs += len(list(p["Subnets"]))
				}
			case "AWS::WAFv2::WebACL":
				q.WebACLs++
				q.WebACLRules += len(list(p["Rules"]))
			case "AWS::WAFv2::RuleGroup":
				q.RuleGroupRules += len(list(p["Rules"]))
			case "AWS::ApiGateway::UsagePlan":
				throttle, _ := p["Throttle"].(map[string]any)
				q.RateLimit = float64(assembly.Int(throttle["RateLimit"]))
			case "AWS::S3::Bucket":
				q.Buckets++
			case "AWS::KMS::Key":
				q.KMSKeys++
			case "AWS::SecretsManager::Secret":
				q.Secrets++
			case "AWS::Logs::LogGroup":
				q.LogGroups++
				if p["DataProtectionPolicy"] != nil {
					q.ProtectedLogGroups++
				}
			case "AWS::CloudWatch::Alarm":
				// An anomaly-detection alarm is billed as three metrics:
				// the metric and the band's two bounds.
				if p["ThresholdMetricId"] != nil {
					q.Alarms += 3
				} else {
					q.Alarms++
				}
			case "AWS::CloudWatch::Dashboard":
				q.Dashboards++
			case "AWS::SQS::Queue":
				q.Queues++
			case "AWS::ApiGateway::Authorizer":
				if assembly.Int(p["AuthorizerResultTtlInSeconds"]) == 0 {
					fn := resources[getAttTarget(p["AuthorizerUri"])]
					q.AuthorizerMemoryGB += float64(assembly.Int(fn.Properties["MemorySize"])) / 1024
				}
			case "AWS::Lambda::EventSourceMapping":
				target, _ := p["FunctionName"].(map[string]any)
				fn := resources[str(target["Ref"])]
				q.ProcessorMemoryGB = float64(assembly.Int(fn.Properties["MemorySize"])) / 1024
				q.ProcessorBatchSize = assembly.Int(p["BatchSize"])
			}
		}
	}
	if q.TaskVCPU == 0 || q.MinTasks == 0 || q.ProcessorBatchSize == 0 || len(q.DBInstances) == 0 || q.RateLimit == 0 {
		problems = append(problems, "the assembly lacks the API task definition, its scaling target, the processor's event source, the database or the usage plan's throttle")
	}
	if len(problems) > 0 {
		return q, fmt.Errorf("cost: %s", strings.Join(problems, "; "))
	}
	return q, nil
}

// getAttTarget is the logical id of the first Fn::GetAtt found in a
// template value ("" if none).
func getAttTarget(v any) string {
	switch v := v.(type) {
	case map[string]any:
		if att, ok := v["Fn::GetAtt"].([]any); ok && len(att) > 0 {
			return str(att[0])
		}
		for _, key := range slices.Sorted(maps.Keys(v)) {
			if id := getAttTarget(v[key]); id != "" {
				return id
			}
		}
	case []any:
		for _, item := range v {
			if id := getAttTarget(item); id != "" {
				return id
			}
		}
	}
	return ""
}

// Prices are on-demand list prices in USD for one region.
type Prices struct {
	Region  string
	Checked string // when the figures were taken from AWS's public price pages
	// per hour
	Instance            map[string]float64
	DBInstance          map[string]float64
	PublicIPv4          float64
	NATGateway          float64
	InterfaceEndpointAZ float64
	FargateVCPU         float64 // Linux/ARM
	FargateGB           float64
	LoadBalancer        float64
	LCU                 float64
	// per GB
	NATGatewayData        float64
	InterfaceEndpointData float64
	InterRegionTransfer   float64
	InternetTransfer      float64
	CrossAZTransfer       float64 // each direction
	LogsIngestion         float64
	// LogsDataProtection is the price of scanning ingested log data with
	// a data-protection policy.
	LogsDataProtection float64
	// per GB-month
	EBS, AuroraStorage, S3Standard, S3StandardReplica, LogsStorage float64
	// per million
	AuroraIO, WAFRequests, LambdaRequests, SQSRequests float64
	// REST API requests: the price per million up to each tier's upper
	// bound (in millions of requests a month).
	APIGatewayTiers []Tier
	// per month
	WAFWebACL, WAFRule, KMSKey, Secret, CustomMetric, Alarm, Dashboard float64
	// other
	LambdaGBSecond  float64
	KMSRequests10k  float64
	NATRootVolumeGB float64
}

// Singapore is ap-southeast-1 (the replica's storage: ap-southeast-2).
// Taken from the AWS public price pages; this machine cannot reach the
// Price List API, so re-check them before budgeting (docs/COST.md).
var Singapore = Prices{
	Region:  "ap-southeast-1",
	Checked: "2026-11-28",
	Instance: map[string]float64{
		"t4g.nano": 0.0054, "t4g.micro": 0.0108, "t4g.small": 0.0216,
		"c7g.medium": 0.0418, "c7g.large": 0.0836,
	},
	DBInstance: map[string]float64{
		"db.t4g.medium": 0.113, "db.t4g.large": 0.226,
		"db.r7g.large": 0.339, "db.r7g.xlarge": 0.678, "db.r7g.2xlarge": 1.356,
	},
	PublicIPv4:            0.005,
	NATGateway:            0.059,
	InterfaceEndpointAZ:   0.013,
	FargateVCPU:           0.04045,
	FargateGB:             0.00442,
	LoadBalancer:          0.0252,
	LCU:                   0.008,
	NATGatewayData:        0.059,
	InterfaceEndpointData: 0.01,
	InterRegionTransfer:   0.09,
	InternetTransfer:      0.12,
	CrossAZTransfer:       0.01,
	LogsIngestion:         0.70,
	LogsDataProtection:    0.12,
	EBS:                   0.096,
	AuroraStorage:         0.11,
	S3Standard:            0.025,
	S3StandardReplica:     0.025,
	LogsStorage:           0.033,
	AuroraIO:              0.22,
	WAFRequests:           0.60,
	// The first tier is Singapore's list price; the later tiers are the
	// us-east-1 tiers scaled by the same ratio (4.25 / 3.50).
	APIGatewayTiers: []Tier{{333, 4.25}, {1000, 3.40}, {20000, 2.89}, {math.Inf(1), 1.83}},
	LambdaRequests:  0.20,
	SQSRequests:     0.40,
	WAFWebACL:       5,
	WAFRule:         1,
	KMSKey:          1,
	Secret:          0.40,
	CustomMetric:    0.30,
	Alarm:           0.10,
	Dashboard:       3,
	LambdaGBSecond:  0.0000133334,
	KMSRequests10k:  0.03,
	NATRootVolumeGB: 8,
}

// Tier is a volume tier: the price per million up to UpTo million a month.
type Tier struct{ UpTo, PerMillion float64 }

// tiered prices a monthly volume (in millions) through the tiers.
func tiered(millions float64, tiers []Tier) float64 {
	total, below := 0.0, 0.0
	for _, t := range tiers {
		if millions <= below {
			break
		}
		total += (math.Min(millions, t.UpTo) - below) * t.PerMillion
		below = t.UpTo
	}
	return total
}

// Profile is the traffic and data an environment carries in a month.
type Profile struct {
	Name              string
	RequestsPerSecond float64 // monthly average through the API
	PaymentShare      float64 // share of requests that create a payment
	// API task throughput at the 70 % CPU target (docs/CAPACITY.md).
	RequestsPerTaskVCPU float64
	RequestKB           float64 // request + response through the front door
	ProcessorMsPerBatch float64
	DatabaseGB          float64
	// Aurora I/O operations per payment: Aurora counts log writes in 4 KB
	// units, so the accepting statement (payment, idempotency row, outbox
	// row) and the settlement (update, two ledger rows, outbox delete) are a
	// few each; reads hit the buffer cache.
	DatabaseIOPerPay float64
	DocumentsGB      float64
	DocumentsNewGB   float64 // written (and replicated) per month
	LogKBPerRequest  float64 // API access + WAF + service + processor + flow logs
	BaseLogGB        float64 // flow logs, pgaudit, Lambda and NAT logs without traffic
	StoredLogGB      float64 // compressed log data held (grows under 2557-day retention)
	NATGB            float64 // egress to payment networks
	EndpointGB       float64
	KMSRequests      float64
	CustomMetrics    int // the names in package metrics, one dimension value each
	// Merchants onboarded: each has an API-key secret, created at run time.
	Merchants int
	// AuthorizerMs is the client-certificate authorizer's billed duration
	// per request (parsing one certificate).
	AuthorizerMs float64
}

// NonProduction is a pull-request environment: deployed, tested, mostly
// idle.
var NonProduction = Profile{
	Name: "non-production", RequestsPerSecond: 1, PaymentShare: 0.5, RequestsPerTaskVCPU: 2300, RequestKB: 2,
	ProcessorMsPerBatch: 60, DatabaseGB: 10, DatabaseIOPerPay: 8, DocumentsGB: 5, DocumentsNewGB: 1,
	LogKBPerRequest: 4, BaseLogGB: 5, StoredLogGB: 5, NATGB: 1, EndpointGB: 10, KMSRequests: 200_000, CustomMetrics: 10,
	Merchants: 2, AuthorizerMs: 3,
}

// Production averages a tenth of the 1,000 req/s throttle over the month.
var Production = Profile{
	Name: "production", RequestsPerSecond: 100, PaymentShare: 0.5, RequestsPerTaskVCPU: 2300, RequestKB: 2,
	ProcessorMsPerBatch: 60, DatabaseGB: 200, DatabaseIOPerPay: 8, DocumentsGB: 500, DocumentsNewGB: 50,
	LogKBPerRequest: 4, BaseLogGB: 50, StoredLogGB: 1000, NATGB: 50, EndpointGB: 200, KMSRequests: 2_000_000, CustomMetrics: 10,
	Merchants: 50, AuthorizerMs: 3,
}

// Line is one item of an estimate.
type Line struct {
	Item, Basis string
	Monthly     float64
}

// Estimate is an environment's monthly cost, line by line.
type Estimate struct {
	Profile Profile
	Lines   []Line
	// NATInstances is the NAT instances' line; NATGateways what NAT
	// gateways in the same AZs would cost instead, at the profile's egress.
	NATInstances, NATGateways float64
}

// Total is the sum of the lines.
func (e Estimate) Total() float64 {
	total := 0.0
	for _, l := range e.Lines {
		total += l.Monthly
	}
	return total
}

// Requests is the profile's monthly request count.
func (p Profile) Requests() float64 { return p.RequestsPerSecond * HoursPerMonth * 3600 }

// Of estimates one environment.
func Of(q Quantities, p Profile, c Prices) (Estimate, error) {
	e := Estimate{Profile: p}
	var missing []string
	price := func(table map[string]float64, counts map[string]int) (float64, string) {
		total := 0.0
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(counts)) {
			each, ok := table[k]
			if !ok {
				missing = append(missing, k)
			}
			total += each * float64(counts[k]) * HoursPerMonth
			parts = append(parts, fmt.Sprintf("%d × %s at $%.4g/h", counts[k], k, each))
		}
		return total, strings.Join(parts, ", ")
	}
	add := func(item string, monthly float64, basis string, args ...any) {
		e.Lines = append(e.Lines, Line{Item: item, Basis: fmt.Sprintf(basis, args...), Monthly: monthly})
	}
	requests := p.Requests()
	millions := requests / 1e6
	payments := requests * p.PaymentShare
	nat := 0
	for _, n := range q.Instances {
		nat += n
	}

	natCompute, natBasis := price(c.Instance, q.Instances)
	natFixed := natCompute + float64(nat)*(c.PublicIPv4*HoursPerMonth+c.EBS*c.NATRootVolumeGB)
	e.NATInstances = natFixed
	add("NAT instances", natFixed, "%s; a public IPv4 address and an %g GB gp3 root volume each", natBasis, c.NATRootVolumeGB)
	e.NATGateways = float64(nat)*(c.NATGateway+c.PublicIPv4)*HoursPerMonth + p.NATGB*c.NATGatewayData

	add("VPC interface endpoints", float64(q.InterfaceEndpointAZs)*c.InterfaceEndpointAZ*HoursPerMonth+p.EndpointGB*c.InterfaceEndpointData,
		"%d endpoints × %d AZs = %d endpoint-AZs at $%.3g/h, %g GB at $%.2g/GB; %d gateway endpoints (S3, DynamoDB) are free",
		q.InterfaceEndpoints, q.InterfaceEndpointAZs/max(q.InterfaceEndpoints, 1), q.InterfaceEndpointAZs, c.InterfaceEndpointAZ, p.EndpointGB, c.InterfaceEndpointData, q.GatewayEndpoints)

	dbCompute, dbBasis := price(c.DBInstance, q.DBInstances)
	io := payments * p.DatabaseIOPerPay / 1e6
	add("Aurora PostgreSQL", dbCompute+p.DatabaseGB*c.AuroraStorage+io*c.AuroraIO,
		"%s; %g GB storage at $%.2g/GB-month; %.0f M I/O (%g per payment) at $%.2g/M; backups within the cluster's size are free",
		dbBasis, p.DatabaseGB, c.AuroraStorage, io, p.DatabaseIOPerPay, c.AuroraIO)

	tasks := math.Max(float64(q.MinTasks), math.Ceil(p.RequestsPerSecond/(p.RequestsPerTaskVCPU*q.TaskVCPU)))
	taskHour := q.TaskVCPU*c.FargateVCPU + q.TaskMemoryGB*c.FargateGB
	add("ECS Fargate (API tasks)", tasks*taskHour*HoursPerMonth,
		"%.0f tasks (scaling minimum %d, maximum %d) × %g vCPU / %g GB, Linux/ARM, at $%.4g/task-hour",
		tasks, q.MinTasks, q.MaxTasks, q.TaskVCPU, q.TaskMemoryGB, taskHour)

	// One new TLS connection per request from API Gateway is the pessimistic
	// reading (25 new connections per second per LCU); at least one LCU.
	lcus := math.Max(1, p.RequestsPerSecond/25)
	add("Application Load Balancer", float64(q.LoadBalancers)*(c.LoadBalancer+lcus*c.LCU)*HoursPerMonth+float64(q.PublicLoadBalancerAZs)*c.PublicIPv4*HoursPerMonth,
		"%d ALB at $%.4g/h, %.0f LCU at $%.3g/LCU-h, %d public IPv4 addresses", q.LoadBalancers, c.LoadBalancer, lcus, c.LCU, q.PublicLoadBalancerAZs)

	// Every request passes every web ACL (the stage's, then the ALB's),
	// and each ACL bills its own requests.
	add("AWS WAF", float64(q.WebACLs)*c.WAFWebACL+float64(q.WebACLRules+q.RuleGroupRules)*c.WAFRule+float64(q.WebACLs)*millions*c.WAFRequests,
		"%d web ACLs, %d rules (%d in the ACLs, %d in our group) at $%g, %.1f M requests through each ACL at $%.2g/M; each within 1,500 WCU",
		q.WebACLs, q.WebACLRules+q.RuleGroupRules, q.WebACLRules, q.RuleGroupRules, c.WAFRule, millions, c.WAFRequests)

	add("API Gateway (REST)", tiered(millions, c.APIGatewayTiers),
		"%.1f M requests at $%.3g/M for the first %.0f M, less above; the custom domain and mutual TLS cost nothing extra",
		millions, c.APIGatewayTiers[0].PerMillion, c.APIGatewayTiers[0].UpTo)

	batches := payments / float64(q.ProcessorBatchSize)
	add("Lambda (processor)", batches/1e6*c.LambdaRequests+batches*p.ProcessorMsPerBatch/1000*q.ProcessorMemoryGB*c.LambdaGBSecond,
		"%.2f M batches of %d at %g ms × %g GB, arm64; rotation and custom-resource functions run a few times a month",
		batches/1e6, q.ProcessorBatchSize, p.ProcessorMsPerBatch, q.ProcessorMemoryGB)

	add("Lambda (authorizer)", millions*c.LambdaRequests+requests*p.AuthorizerMs/1000*q.AuthorizerMemoryGB*c.LambdaGBSecond,
		"%.1f M invocations (one per request: a certificate is no cache key) at %g ms × %g GB, arm64",
		millions, p.AuthorizerMs, q.AuthorizerMemoryGB)

	// Send, receive and delete are batched by 10; pollers add about 1 M
	// empty receives a month.
	sqsMillions := payments*0.3/1e6 + 1
	add("SQS", sqsMillions*c.SQSRequests, "%.1f M requests at $%.2g/M (%d queues)", sqsMillions, c.SQSRequests, q.Queues)

	add("S3 and replication", p.DocumentsGB*(c.S3Standard+c.S3StandardReplica)+p.DocumentsNewGB*c.InterRegionTransfer,
		"%g GB documents stored twice (source and replica) at $%.3g/GB-month, %g GB a month replicated at $%.2g/GB inter-region; %d buckets",
		p.DocumentsGB, c.S3Standard, p.DocumentsNewGB, c.InterRegionTransfer, q.Buckets)

	add("KMS", float64(q.KMSKeys)*c.KMSKey+p.KMSRequests/1e4*c.KMSRequests10k,
		"%d customer-managed keys (rotation included) at $%g, %.1f M requests at $%.2g/10k (S3 Bucket Keys and SQS data-key reuse keep them low)",
		q.KMSKeys, c.KMSKey, p.KMSRequests/1e6, c.KMSRequests10k)

	add("Secrets Manager", float64(q.Secrets+p.Merchants)*c.Secret, "%d of the stacks' and %d merchants' API-key secrets at $%.2g",
		q.Secrets, p.Merchants, c.Secret)

	// The per-request logs (API access, WAF, service, processor) are the
	// ones with a card-data protection policy, which scans what they ingest.
	requestLogGB := requests * p.LogKBPerRequest / 1e6
	logGB := requestLogGB + p.BaseLogGB
	add("CloudWatch Logs", logGB*c.LogsIngestion+requestLogGB*c.LogsDataProtection+p.StoredLogGB*c.LogsStorage,
		"%.0f GB ingested (%g KB per request + %g GB base) at $%.2g/GB, %.0f GB of it scanned for card data (%d protected log groups) at $%.2g/GB; "+
			"%g GB stored at $%.3g/GB-month, growing under 2557-day retention; %d log groups",
		logGB, p.LogKBPerRequest, p.BaseLogGB, c.LogsIngestion, requestLogGB, q.ProtectedLogGroups, c.LogsDataProtection, p.StoredLogGB, c.LogsStorage, q.LogGroups)

	add("CloudWatch metrics, alarms, dashboard", float64(p.CustomMetrics)*c.CustomMetric+float64(q.Alarms)*c.Alarm+float64(q.Dashboards)*c.Dashboard,
		"%d custom metrics (EMF) at $%.2g, %d alarm metrics (an anomaly-detection alarm is three) at $%.2g, %d dashboard at $%g", p.CustomMetrics, c.CustomMetric, q.Alarms, c.Alarm, q.Dashboards, c.Dashboard)

	// Each request crosses AZs about twice (ALB to task, task to the
	// writer) two times in three, both directions billed.
	transferGB := requests * p.RequestKB / 1e6
	add("Data transfer", transferGB*c.InternetTransfer/2+transferGB*(2.0/3)*2*2*c.CrossAZTransfer,
		"%.0f GB through the front door (half of it out to the internet at $%.2g/GB); cross-AZ hops at $%.2g/GB each way", transferGB, c.InternetTransfer, c.CrossAZTransfer)

	if len(missing) > 0 {
		slices.Sort(missing)
		return e, fmt.Errorf("cost: no %s price for %s", c.Region, strings.Join(slices.Compact(missing), ", "))
	}
	return e, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// WriteMarkdown writes the estimates as the generated section of
// docs/COST.md.
func WriteMarkdown(w io.Writer, c Prices, estimates ...Estimate) {
	fmt.Fprintf(w, "Prices: %s on-demand list prices, taken %s. Generated by `make cost` from `cdk.out`.\n", c.Region, c.Checked)
	for _, e := range estimates {
		p := e.Profile
		fmt.Fprintf(w, "\n### %s: $%s a month\n\n", titleCase(p.Name), money(e.Total()))
		fmt.Fprintf(w, "Traffic: %g req/s on average (%.1f M requests a month), %.0f %% of them payments.\n\n",
			p.RequestsPerSecond, p.Requests()/1e6, p.PaymentShare*100)
		fmt.Fprintln(w, "| item | basis | USD/month |")
		fmt.Fprintln(w, "|---|---|---:|")
		for _, l := range byCost(e.Lines) {
			fmt.Fprintf(w, "| %s | %s | %s |\n", l.Item, l.Basis, money(l.Monthly))
		}
		fmt.Fprintf(w, "| **total** | | **%s** |\n", money(e.Total()))
		fmt.Fprintf(w, "\nNAT gateways in the same AZs would cost $%s instead of $%s for the NAT instances (hourly charge, EIP and $%.3g/GB processed).\n",
			money(e.NATGateways), money(e.NATInstances), c.NATGatewayData)
	}
}

func money(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	if v < 10 {
		s = strconv.FormatFloat(v, 'f', 2, 64)
	}
	// thousands separators
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Markers delimit the generated part of docs/COST.md.
const (
	BeginMarker = "<!-- generated by make cost: begin -->"
	EndMarker   = "<!-- generated by make cost: end -->"
)

// ReplaceSection returns doc with the text between the markers replaced by
// generated.
func ReplaceSection(doc, generated string) (string, error) {
	before, rest, ok := strings.Cut(doc, BeginMarker)
	if !ok {
		return "", fmt.Errorf("no %q marker", BeginMarker)
	}
	_, after, ok := strings.Cut(rest, EndMarker)
	if !ok {
		return "", fmt.Errorf("no %q marker", EndMarker)
	}
	return before + BeginMarker + "\n" + generated + EndMarker + after, nil
}

// Section measures the two environments' assemblies and writes the
// generated section.
func Section(nonProduction, production []*assembly.Stack) (string, error) {
	var b strings.Builder
	var estimates []Estimate
	var productionQuantities Quantities
	for _, env := range []struct {
		stacks  []*assembly.Stack
		profile Profile
	}{{nonProduction, NonProduction}, {production, Production}} {
		q, err := Measure(env.stacks)
		if err != nil {
			return "", err
		}
		e, err := Of(q, env.profile, Singapore)
		if err != nil {
			return "", err
		}
		estimates = append(estimates, e)
		productionQuantities = q
	}
	WriteMarkdown(&b, Singapore, estimates...)

	// The same production stacks held at their throttle all month.
	throttle := Production
	throttle.Name, throttle.RequestsPerSecond = "production at the throttle", productionQuantities.RateLimit
	e, err := Of(productionQuantities, throttle, Singapore)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, l := range byCost(e.Lines)[:4] {
		parts = append(parts, fmt.Sprintf("%s $%s", l.Item, money(l.Monthly)))
	}
	fmt.Fprintf(&b, "\nHeld at the %s req/s throttle all month (%.0f M requests), the same production stacks would cost **$%s** a month; the largest lines: %s.\n",
		money(throttle.RequestsPerSecond), throttle.Requests()/1e6, money(e.Total()), strings.Join(parts, ", "))
	return b.String(), nil
}

// byCost orders lines from the most expensive, to the cent.
func byCost(lines []Line) []Line {
	sorted := slices.Clone(lines)
	slices.SortStableFunc(sorted, func(a, b Line) int { return int(math.Round(b.Monthly*100) - math.Round(a.Monthly*100)) })
	return sorted
}
