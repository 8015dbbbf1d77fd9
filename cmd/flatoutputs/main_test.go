package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "flat-outputs.json")
	if err := run("testdata/all-outputs.json", out); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	var flat map[string]string
	if err := json.Unmarshal(data, &flat); err != nil {
		t.Fatal(err)
	}
	if len(flat) != 4 || flat["ApiEndpoint"] != "https://api.pr123.payments.example.com/" ||
		!strings.HasSuffix(flat["AlbDnsName"], ".elb.amazonaws.com") || !strings.Contains(flat["DashboardUrl"], "payments-dashboard-pr123") {
		t.Errorf("flat outputs %v", flat)
	}

	t.Run("ErrDuplicateKey", func(t *testing.T) {
		_, err := Flatten(map[string]map[string]string{"A": {"Url": "1"}, "B": {"Url": "2"}})
		if err == nil || !strings.Contains(err.Error(), `"Url" is in both A and B`) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("ErrNotOutputs", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.json")
		os.WriteFile(bad, []byte(`["not","outputs"]`), 0o644)
		if err := run(bad, out); err == nil {
			t.Fatal("accepted a file that is not a CDK outputs file")
		}
	})
}
