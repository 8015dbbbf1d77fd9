package infra_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fintech/payments-platform/environment"
	"github.com/fintech/payments-platform/infra"
)

// alarmIDs are the alarms an on-call engineer needs, by severity.
var alarmIDs = map[string][]string{
	"page": {"relay-stalled", "queue-stalled", "dlq-not-empty", "success-rate-low", "processor-crashing",
		"api-availability-fast-burn", "api-latency-high", "api-tasks-missing", "history-broken"},
	"ticket": {"api-availability-slow-burn", "processing-p99-high", "alb-unhealthy-targets", "db-cpu-high", "db-replica-lag",
		"waf-stage-blocks-spike", "waf-alb-blocks-spike", "audit-failing"},
}

// alarms are the app's alarms by id (the name without "payments-<sfx>-").
func alarms(t *testing.T, templates map[string]map[string]any, suffix string) map[string]resource {
	t.Helper()
	byID := map[string]resource{}
	for _, a := range resourcesOf(templates, "AWS::CloudWatch::Alarm") {
		byID[strings.TrimPrefix(a.Properties["AlarmName"].(string), "payments-"+suffix+"-")] = a
	}
	return byID
}

// Every alarm an on-call engineer needs exists and notifies the topic of
// its severity (page or ticket), both encrypted; a dashboard shows the
// processing metrics and the outbox our code emits.
func TestAlarmsAndDashboard(t *testing.T) {
	topics := map[string]string{} // logical id -> severity
	for _, topic := range appResources("AWS::SNS::Topic") {
		name := topic.Properties["TopicName"].(string)
		severity := strings.TrimSuffix(strings.TrimPrefix(name, "payments-alarms-"), "-"+testSuffix)
		topics[topic.logicalID] = severity
		if topic.Properties["KmsMasterKeyId"] == nil || (severity != "page" && severity != "ticket") {
			t.Errorf("topic %v", topic.Properties)
		}
	}
	byID := alarms(t, templates, testSuffix)
	var want, got []string
	for severity, ids := range alarmIDs {
		want = append(want, ids...)
		for _, id := range ids {
			a, ok := byID[id]
			if !ok {
				continue
			}
			for _, actions := range []string{"AlarmActions", "OKActions"} {
				list := asList(a.Properties[actions])
				if len(list) != 1 || topics[refOf(list[0])] != severity {
					t.Errorf("%s: %s %s, want the %s topic", id, actions, jsonOf(list), severity)
				}
			}
		}
	}
	for id := range byID {
		got = append(got, id)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("alarms %v\nwant %v", got, want)
	}

	dashboard := one(t, appResources("AWS::CloudWatch::Dashboard"), "dashboards").Properties
	if dashboard["DashboardName"] != "payments-dashboard-pr123" {
		t.Errorf("dashboard name %v", dashboard["DashboardName"])
	}
	body := jsonOf(dashboard["DashboardBody"])
	for _, want := range []string{`\"Payments\",\"ProcessingTime\"`, `p99`, `success rate %`, `PaymentsSettled`, `OutboxOldestAgeSeconds`, `OutboxBacklog`,
		`ApproximateAgeOfOldestMessage`, `5XXError`, `HTTPCode_Target_5XX_Count`, `UnHealthyHostCount`, `RunningTaskCount`, `AuroraReplicaLagMaximum`,
		`DatabaseConnections`, `Throttles`, `BlockedRequests`} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	url := jsonOf(asMap(asMap(templates[*stacks.App.StackName()]["Outputs"])["DashboardUrl"])["Value"])
	if !strings.Contains(url, "#dashboards:name=payments-dashboard-pr123") {
		t.Errorf("DashboardUrl %s", url)
	}
}

// Each alarm may publish to the topic it notifies: the topic's policy
// (which replaces SNS's default one) allows CloudWatch to publish for
// exactly that alarm, in this account, and the topic's key admits
// CloudWatch (a notification to a topic that refuses it is lost silently,
// in the alarm's history only).
func TestAlarmsMayPublishToTheirTopics(t *testing.T) {
	allowed := map[string][]string{} // topic logical id -> alarm ARNs CloudWatch may publish for
	for _, p := range appResources("AWS::SNS::TopicPolicy") {
		for _, topic := range asList(p.Properties["Topics"]) {
			for _, st := range asList(asMap(p.Properties["PolicyDocument"])["Statement"]) {
				st := asMap(st)
				if st["Effect"] != "Allow" || st["Action"] != "sns:Publish" || asMap(st["Principal"])["Service"] != "cloudwatch.amazonaws.com" {
					continue
				}
				if asMap(asMap(st["Condition"])["StringEquals"])["aws:SourceAccount"] != environment.OfflineAccount {
					t.Errorf("%s: CloudWatch may publish for any account: %s", refOf(topic), jsonOf(st["Condition"]))
				}
				for _, arn := range asList(asMap(asMap(st["Condition"])["ArnEquals"])["aws:SourceArn"]) {
					allowed[refOf(topic)] = append(allowed[refOf(topic)], arn.(string))
				}
			}
		}
	}
	for id, a := range alarms(t, templates, testSuffix) {
		arn := "arn:aws:cloudwatch:ap-southeast-1:" + environment.OfflineAccount + ":alarm:" + a.Properties["AlarmName"].(string)
		for _, action := range asList(a.Properties["AlarmActions"]) {
			if !slices.Contains(allowed[refOf(action)], arn) {
				t.Errorf("%s notifies %s, whose policy does not let CloudWatch publish for it (allowed: %v)", id, refOf(action), allowed[refOf(action)])
			}
		}
	}
}

// The WAF alarms watch the web ACLs' metrics, which carry the ACL's
// VisibilityConfig.MetricName as their WebACL dimension.
func TestWebACLMetricsAreNamedAfterTheirACL(t *testing.T) {
	metricNames := map[string]bool{}
	for _, acl := range appResources("AWS::WAFv2::WebACL") {
		name := asMap(acl.Properties["VisibilityConfig"])["MetricName"]
		if name != acl.Properties["Name"] {
			t.Errorf("web ACL %v publishes metrics as %v", acl.Properties["Name"], name)
		}
		metricNames[name.(string)] = true
	}
	byID := alarms(t, templates, testSuffix)
	for _, id := range []string{"waf-stage-blocks-spike", "waf-alb-blocks-spike"} {
		dimensions := map[string]any{}
		for _, m := range asList(byID[id].Properties["Metrics"]) {
			for _, d := range asList(asMap(asMap(asMap(m)["MetricStat"])["Metric"])["Dimensions"]) {
				dimensions[asMap(d)["Name"].(string)] = asMap(d)["Value"]
			}
		}
		if name, _ := dimensions["WebACL"].(string); !metricNames[name] {
			t.Errorf("%s watches WebACL %v, want one of %v", id, dimensions["WebACL"], metricNames)
		}
	}
}

// Where alarms go is configured: each e-mail address on both topics, the
// paging service's endpoint on the page topic only; without either, no
// subscription (and synth warns, see the environment package).
func TestAlarmSubscriptions(t *testing.T) {
	if subs := appResources("AWS::SNS::Subscription"); len(subs) != 0 {
		t.Errorf("%d subscriptions without a configured destination", len(subs))
	}
	topics := map[string]string{}
	for _, topic := range resourcesOf(matrix.templates, "AWS::SNS::Topic") {
		topics[topic.logicalID] = topic.Properties["TopicName"].(string)
	}
	var got []string
	for _, s := range resourcesOf(matrix.templates, "AWS::SNS::Subscription") {
		got = append(got, topics[refOf(s.Properties["TopicArn"])]+" "+s.Properties["Protocol"].(string)+" "+s.Properties["Endpoint"].(string))
	}
	slices.Sort(got)
	page, ticket := "payments-alarms-page-"+longestSuffix, "payments-alarms-ticket-"+longestSuffix
	want := []string{
		// The account trail's alarms (auditTrail=true) reach the same people.
		"payments-account-security email oncall@example.org", "payments-account-security email payments-team@example.org",
		page + " email oncall@example.org", page + " email payments-team@example.org",
		page + " https https://events.pagerduty.com/integration/0123456789abcdef/enqueue",
		ticket + " email oncall@example.org", ticket + " email payments-team@example.org",
	}
	if !slices.Equal(got, want) {
		t.Errorf("subscriptions\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Every alarm has an action, links its section of docs/RUNBOOK.md, and that
// section exists and states the alarm's treatment of missing data as the
// template deploys it.
func TestEveryAlarmHasARunbookAndAnAction(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", infra.RunbookPath))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	parts := regexp.MustCompile(`(?m)^### `).Split(string(doc), -1)
	for _, part := range parts[1:] {
		id, body, _ := strings.Cut(part, "\n")
		sections[strings.TrimSpace(id)] = body
	}
	missingLine := regexp.MustCompile(`\*\*Missing data\*\*: (not breaching|breaching)\. \S`)
	for id, a := range alarms(t, templates, testSuffix) {
		if len(asList(a.Properties["AlarmActions"])) == 0 {
			t.Errorf("%s notifies nobody", id)
		}
		if description, _ := a.Properties["AlarmDescription"].(string); !strings.HasSuffix(description, "Runbook: "+infra.RunbookPath+"#"+id) {
			t.Errorf("%s's description does not link its runbook section: %q", id, description)
		}
		section, ok := sections[id]
		if !ok {
			t.Errorf("%s has no section in %s", id, infra.RunbookPath)
			continue
		}
		for _, part := range []string{"**Means**", "**Confirm**", "**Mitigate**"} {
			if !strings.Contains(section, part) {
				t.Errorf("%s's section lacks %s", id, part)
			}
		}
		m := missingLine.FindStringSubmatch(section)
		want := map[string]string{"breaching": "breaching", "notBreaching": "not breaching"}[a.Properties["TreatMissingData"].(string)]
		if m == nil || m[1] != want {
			t.Errorf("%s treats missing data as %v, its section says %q (and why)", id, a.Properties["TreatMissingData"], m)
		}
	}
}

// series is one value a period; nil is a period without data.
type series []*float64

func value(v float64) *float64 { return &v }

func repeat(v *float64, n int) series {
	s := make(series, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// evaluate runs an alarm as CloudWatch evaluates a threshold alarm over a
// series, period by period: ALARM when DatapointsToAlarm of the last
// EvaluationPeriods breach (missing data counting as its treatment says),
// OK when none of a full window breaches, the state kept otherwise. It
// returns the state after each period.
func evaluate(t *testing.T, alarm resource, s series) []string {
	t.Helper()
	p := alarm.Properties
	threshold, _ := p["Threshold"].(float64)
	periods, points := int(p["EvaluationPeriods"].(float64)), int(p["DatapointsToAlarm"].(float64))
	breaches := func(v *float64) (breach, known bool) {
		if v == nil {
			switch p["TreatMissingData"] {
			case "breaching":
				return true, true
			case "notBreaching":
				return false, true
			}
			return false, false
		}
		switch p["ComparisonOperator"] {
		case "GreaterThanThreshold":
			return *v > threshold, true
		case "GreaterThanOrEqualToThreshold":
			return *v >= threshold, true
		case "LessThanThreshold":
			return *v < threshold, true
		}
		t.Fatalf("%s: comparison %v not evaluated here", alarm, p["ComparisonOperator"])
		return false, false
	}
	state := "INSUFFICIENT_DATA"
	var states []string
	for i := range s {
		window := s[max(0, i+1-periods) : i+1]
		breaching, known := 0, 0
		for _, v := range window {
			b, k := breaches(v)
			if b {
				breaching++
			}
			if k {
				known++
			}
		}
		switch {
		case breaching >= points:
			state = "ALARM"
		case known == len(window) && len(window) == periods && breaching == 0:
			state = "OK"
		}
		states = append(states, state)
	}
	return states
}

// The stall alarms, as deployed, on synthetic series (one value a minute):
// a relay that wedges, one that stops reporting, a processor never invoked
// page; an idle environment (heartbeat zeros, an empty queue that stops
// reporting) never does. No clock is involved.
func TestStallAlarmsOnSyntheticSeries(t *testing.T) {
	byID := alarms(t, templates, testSuffix)
	zero := value(0)
	ageing := func(start int) series { // a backlog whose oldest row ages a minute a minute
		var s series
		for m := range 20 {
			s = append(s, value(float64(60*(start+m))))
		}
		return s
	}
	for _, tc := range []struct {
		name, alarm string
		series      series
		want        string
	}{
		{"WedgedRelayPages", "relay-stalled", append(repeat(zero, 10), ageing(1)...), "ALARM"},
		{"StoppedRelayPages", "relay-stalled", append(repeat(zero, 10), repeat(nil, 6)...), "ALARM"},
		{"IdleRelayStaysQuiet", "relay-stalled", repeat(zero, 60), "OK"},
		{"BusyRelayStaysQuiet", "relay-stalled", repeat(value(3), 60), "OK"},
		{"NeverInvokedProcessorPages", "queue-stalled", append(repeat(zero, 10), ageing(1)...), "ALARM"},
		{"IdleQueueStaysQuiet", "queue-stalled", append(repeat(zero, 10), repeat(nil, 50)...), "OK"},
		{"PoisonMessagePages", "dlq-not-empty", append(repeat(nil, 10), value(1)), "ALARM"},
		// processor-crashing: errors a 5-minute period.
		{"CrashingProcessorPages", "processor-crashing", append(repeat(nil, 10), value(2), value(1)), "ALARM"},
		{"OneCrashStaysQuiet", "processor-crashing", append(repeat(nil, 10), value(1), nil, nil), "OK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alarm, ok := byID[tc.alarm]
			if !ok {
				t.Fatalf("no alarm %s", tc.alarm)
			}
			states := evaluate(t, alarm, tc.series)
			if got := states[len(states)-1]; got != tc.want {
				t.Errorf("%s ends in %s, want %s: %v", tc.alarm, got, tc.want, states)
			}
			if tc.want == "ALARM" && slices.Contains(states[:10], "ALARM") {
				t.Errorf("%s fires before the failure starts: %v", tc.alarm, states)
			}
		})
	}
}
