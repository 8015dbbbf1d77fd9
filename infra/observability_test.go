package infra_test

import (
	"slices"
	"strings"
	"testing"
)

// The alarms an on-call engineer needs, each notifying the encrypted topic,
// and a dashboard with the processing metrics our code emits.
func TestAlarmsAndDashboard(t *testing.T) {
	topic := one(t, appResources("AWS::SNS::Topic"), "topics").Properties
	if topic["KmsMasterKeyId"] == nil || topic["TopicName"] != "payments-alarms-pr123" {
		t.Errorf("alarm topic %v", topic)
	}
	var names []string
	for _, a := range appResources("AWS::CloudWatch::Alarm") {
		names = append(names, a.Properties["AlarmName"].(string))
		if !strings.Contains(jsonOf(a.Properties["AlarmActions"]), "ObservabilityAlarms") {
			t.Errorf("%v does not notify the topic", a.Properties["AlarmName"])
		}
	}
	slices.Sort(names)
	want := []string{"payments-pr123-api-5xx-rate", "payments-pr123-api-tasks-missing", "payments-pr123-db-cpu-high",
		"payments-pr123-db-replica-lag", "payments-pr123-dlq-not-empty", "payments-pr123-processing-p99-high", "payments-pr123-success-rate-low"}
	if !slices.Equal(names, want) {
		t.Errorf("alarms %v\nwant %v", names, want)
	}

	dashboard := one(t, appResources("AWS::CloudWatch::Dashboard"), "dashboards").Properties
	if dashboard["DashboardName"] != "payments-dashboard-pr123" {
		t.Errorf("dashboard name %v", dashboard["DashboardName"])
	}
	body := jsonOf(dashboard["DashboardBody"])
	for _, want := range []string{`\"Payments\",\"ProcessingTime\"`, `p99`, `success rate %`, `PaymentsSettled`, `ApproximateAgeOfOldestMessage`,
		`5XXError`, `HTTPCode_Target_5XX_Count`, `RunningTaskCount`, `AuroraReplicaLagMaximum`, `DatabaseConnections`, `Throttles`, `BlockedRequests`} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	url := jsonOf(asMap(asMap(templates[*stacks.App.StackName()]["Outputs"])["DashboardUrl"])["Value"])
	if !strings.Contains(url, "#dashboards:name=payments-dashboard-pr123") {
		t.Errorf("DashboardUrl %s", url)
	}
}
