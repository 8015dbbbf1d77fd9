package emf

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The record must satisfy the specification: a root _aws object with an
// integer millisecond Timestamp and CloudWatchMetrics directives whose
// Namespace is set, whose Dimensions reference top-level string members,
// and whose Metrics (at most 100) reference top-level numeric members.
func TestRecordFollowsTheSpecification(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, "Payments", map[string]string{"Environment": "pr123"})
	l.now = func() time.Time { return time.UnixMilli(1764300000123) }
	if err := l.Emit([]Metric{{"ProcessingTime", Milliseconds, 41.5}, {"PaymentsSettled", Count, 1}}, map[string]any{"paymentId": "p-1"}); err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("not one line: %q", line)
	}
	var record map[string]any
	if err := json.Unmarshal([]byte(line), &record); err != nil {
		t.Fatal(err)
	}
	aws, ok := record["_aws"].(map[string]any)
	if !ok {
		t.Fatal("no _aws member")
	}
	if ts, ok := aws["Timestamp"].(float64); !ok || ts != 1764300000123 {
		t.Errorf("Timestamp %v", aws["Timestamp"])
	}
	directives, _ := aws["CloudWatchMetrics"].([]any)
	if len(directives) != 1 {
		t.Fatalf("directives %v", directives)
	}
	d := directives[0].(map[string]any)
	if d["Namespace"] != "Payments" {
		t.Errorf("Namespace %v", d["Namespace"])
	}
	for _, set := range d["Dimensions"].([]any) {
		for _, dim := range set.([]any) {
			if _, ok := record[dim.(string)].(string); !ok {
				t.Errorf("dimension %v is not a top-level string", dim)
			}
		}
	}
	metrics := d["Metrics"].([]any)
	if len(metrics) == 0 || len(metrics) > 100 {
		t.Fatalf("%d metrics", len(metrics))
	}
	for _, m := range metrics {
		def := m.(map[string]any)
		if _, ok := record[def["Name"].(string)].(float64); !ok {
			t.Errorf("metric %v has no top-level number", def["Name"])
		}
		if def["Unit"] != "Milliseconds" && def["Unit"] != "Count" {
			t.Errorf("unit %v", def["Unit"])
		}
	}
	if record["paymentId"] != "p-1" || record["Environment"] != "pr123" {
		t.Errorf("properties %v", record)
	}
}

func TestErrMetricCollision(t *testing.T) {
	l := New(&bytes.Buffer{}, "Payments", map[string]string{"Environment": "dev"})
	if err := l.Emit([]Metric{{"Environment", Count, 1}}, nil); err == nil {
		t.Fatal("a metric shadowing a dimension was accepted")
	}
}
