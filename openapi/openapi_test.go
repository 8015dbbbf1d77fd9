package openapi_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/fintech/payments-platform/openapi"
	"github.com/fintech/payments-platform/payments"
)

func load(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Document)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// The document is valid OpenAPI 3.0.3 (kin-openapi's validation), and
// follows the house rules: every operation is named and tagged, and every
// error it can answer is a problem.
func TestLint(t *testing.T) {
	doc := load(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %s, want 3.0.3 (what API Gateway imports)", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableSchemaPatternValidation(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("invalid OpenAPI: %v", err)
	}
	ids := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" || ids[op.OperationID] || op.Summary == "" || len(op.Tags) == 0 {
				t.Errorf("%s: operationId %q (unique), summary and tags are required", where, op.OperationID)
			}
			ids[op.OperationID] = true
			for status, ref := range op.Responses.Map() {
				response := ref.Value
				if status[0] != '4' && status[0] != '5' {
					continue
				}
				media := response.Content.Get("application/problem+json")
				if media == nil || media.Schema == nil || media.Schema.Ref != "#/components/schemas/Problem" || len(response.Content) != 1 {
					t.Errorf("%s %s: errors are application/problem+json Problems only", where, status)
				}
			}
		}
	}
}

// The currencies the contract accepts are the domain's, exactly.
func TestCurrenciesAreTheDomains(t *testing.T) {
	doc := load(t)
	var got []string
	for _, v := range doc.Components.Schemas["NewPayment"].Value.Properties["currency"].Value.Enum {
		got = append(got, v.(string))
	}
	if want := payments.Currencies(); !slices.Equal(got, want) {
		t.Errorf("currency enum has %d codes, the domain %d: regenerate the enum from payments.Currencies()", len(got), len(want))
	}
	if desc := doc.Components.Schemas["NewPayment"].Value.Properties["currency"].Value.Description; !strings.Contains(desc, payments.CurrenciesAsOf) {
		t.Errorf("the currency's description does not date the list (%s): %q", payments.CurrenciesAsOf, desc)
	}
}

// API Gateway's model is the document's schema, as JSON Schema draft 4; a
// keyword draft 4 would read differently is refused.
func TestDraftFourSchema(t *testing.T) {
	got, err := openapi.DraftFourSchema("NewPayment")
	if err != nil {
		t.Fatal(err)
	}
	if got["$schema"] != "http://json-schema.org/draft-04/schema#" || got["additionalProperties"] != false {
		t.Errorf("schema %v", got)
	}
	if _, err := openapi.DraftFourSchema("Nothing"); err == nil {
		t.Error("a missing schema was found")
	}
	original := openapi.Document
	defer func() { openapi.Document = original }()
	var doc map[string]any
	_ = json.Unmarshal(original, &doc)
	doc["components"].(map[string]any)["schemas"].(map[string]any)["NewPayment"].(map[string]any)["properties"].(map[string]any)["reference"].(map[string]any)["nullable"] = true
	openapi.Document, _ = json.Marshal(doc)
	if _, err := openapi.DraftFourSchema("NewPayment"); err == nil || !strings.Contains(err.Error(), `"nullable"`) {
		t.Errorf("got %v, want nullable refused", err)
	}
}
