// Package openapi holds the payment API's contract, openapi.json (OpenAPI
// 3.0.3), the single source both sides read: the service serves it at
// GET /v1/openapi.json and its tests validate every response against it;
// infra builds API Gateway's request model from its schemas. It imports
// only the standard library.
package openapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// Document is openapi.json.
//
//go:embed openapi.json
var Document []byte

// Path is where the service serves Document.
const Path = "/v1/openapi.json"

// draftFourKeywords are the schema keywords that mean the same in OpenAPI
// 3.0's schema objects and in JSON Schema draft 4, the dialect of API
// Gateway's models. A schema using any other (nullable, readOnly, $ref, ...)
// cannot become a model as it is.
var draftFourKeywords = []string{
	"type", "properties", "required", "additionalProperties", "items", "enum",
	"pattern", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
	"format", "description", "title", "default",
}

// DraftFourSchema returns the named schema of components/schemas as a JSON
// Schema draft 4 document, the form API Gateway's request models take, or
// an error naming the first keyword draft 4 would read differently.
func DraftFourSchema(name string) (map[string]any, error) {
	var doc struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(Document, &doc); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	schema, ok := doc.Components.Schemas[name]
	if !ok {
		return nil, fmt.Errorf("openapi.json has no schema %q", name)
	}
	if err := checkDraftFour(name, schema); err != nil {
		return nil, err
	}
	out := maps.Clone(schema)
	out["$schema"] = "http://json-schema.org/draft-04/schema#"
	out["title"] = name
	return out, nil
}

func checkDraftFour(path string, schema map[string]any) error {
	for _, key := range slices.Sorted(maps.Keys(schema)) {
		if !slices.Contains(draftFourKeywords, key) {
			return fmt.Errorf("openapi.json: %s uses %q, which JSON Schema draft 4 (API Gateway's models) does not read the same way", path, key)
		}
	}
	properties, _ := schema["properties"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(properties)) {
		property, ok := properties[name].(map[string]any)
		if !ok {
			return fmt.Errorf("openapi.json: %s.%s is not a schema", path, name)
		}
		if err := checkDraftFour(path+"."+name, property); err != nil {
			return err
		}
	}
	if items, ok := schema["items"].(map[string]any); ok {
		return checkDraftFour(path+"[]", items)
	}
	return nil
}
