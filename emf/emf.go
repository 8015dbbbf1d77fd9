// Package emf writes CloudWatch Embedded Metric Format records: one JSON
// object per line on stdout of a Lambda, which CloudWatch Logs turns into
// metrics without a PutMetricData call. There is no official Go library;
// this is the part of the specification we use
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
package emf

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"
)

// Unit is a CloudWatch metric unit.
type Unit string

// The units we emit.
const (
	Milliseconds Unit = "Milliseconds"
	Seconds      Unit = "Seconds"
	Count        Unit = "Count"
)

// Metric is one value of one metric.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Logger writes records for one namespace with fixed dimensions.
type Logger struct {
	mu         sync.Mutex
	w          io.Writer
	namespace  string
	dimensions map[string]string
	now        func() time.Time
}

// New returns a Logger. Every record carries all dimensions as one
// dimension set.
func New(w io.Writer, namespace string, dimensions map[string]string) *Logger {
	return &Logger{w: w, namespace: namespace, dimensions: dimensions, now: time.Now}
}

type metricDirective struct {
	Namespace  string             `json:"Namespace"`
	Dimensions [][]string         `json:"Dimensions"`
	Metrics    []metricDefinition `json:"Metrics"`
}

type metricDefinition struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit"`
}

// Emit writes one record with the metrics and extra properties (searchable
// in Logs Insights, not metrics). Names must not collide.
func (l *Logger) Emit(metrics []Metric, properties map[string]any) error {
	record := map[string]any{}
	for k, v := range properties {
		record[k] = v
	}
	for k, v := range l.dimensions {
		record[k] = v
	}
	directive := metricDirective{Namespace: l.namespace, Dimensions: [][]string{slices.Sorted(maps.Keys(l.dimensions))}}
	for _, m := range metrics {
		if _, taken := record[m.Name]; taken || m.Name == "_aws" {
			return fmt.Errorf("emf: metric %q collides with a dimension or property", m.Name)
		}
		record[m.Name] = m.Value
		directive.Metrics = append(directive.Metrics, metricDefinition{Name: m.Name, Unit: m.Unit})
	}
	record["_aws"] = map[string]any{
		"Timestamp":         l.now().UnixMilli(),
		"CloudWatchMetrics": []metricDirective{directive},
	}
	line, err := json.Marshal(record)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.w.Write(append(line, '\n'))
	return err
}
