// Package assembly reads a synthesized CDK cloud assembly (cdk.out): its
// manifest, the CloudFormation templates of its stacks, and the reports the
// compliance packs and CDK's validation write beside them. The diagram, the
// cost model, the compliance summary and the infra tests all read it here,
// so they describe what would be deployed. It imports only the standard
// library.
package assembly

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Stack is one CloudFormation stack of the assembly.
type Stack struct {
	Name, Region string
	Template     Template
}

// Template is the part of a CloudFormation template the readers use.
type Template struct {
	Resources map[string]Resource
	Outputs   map[string]Output
}

// Output is a stack output.
type Output struct {
	Value  any
	Export struct{ Name string }
}

// Resource is one template resource.
type Resource struct {
	Type       string
	Properties map[string]any
	Metadata   map[string]any
}

// Path is the construct path CDK records in the resource's metadata.
func (r Resource) Path() string {
	p, _ := r.Metadata["aws:cdk:path"].(string)
	return p
}

// Load reads the stacks of a cloud assembly directory, sorted by name.
// Every resource must carry its construct path (the CDK CLI records it by
// default), except CDK's own metadata resource.
func Load(dir string) ([]*Stack, error) {
	artifacts, err := stackArtifacts(dir)
	if err != nil {
		return nil, err
	}
	var stacks []*Stack
	for _, a := range artifacts {
		s := &Stack{Name: a.name, Region: a.region}
		if err := readJSON(a.template, &s.Template); err != nil {
			return nil, err
		}
		for id, r := range s.Template.Resources {
			if r.Path() == "" && r.Type != "AWS::CDK::Metadata" {
				return nil, fmt.Errorf("%s: resource %s has no aws:cdk:path metadata (synthesize with path metadata, as the CDK CLI does by default)", a.name, id)
			}
		}
		stacks = append(stacks, s)
	}
	return stacks, nil
}

// Templates reads every stack's template whole, by stack name, for readers
// that need more of it than Template holds (tests).
func Templates(dir string) (map[string]map[string]any, error) {
	artifacts, err := stackArtifacts(dir)
	if err != nil {
		return nil, err
	}
	templates := map[string]map[string]any{}
	for _, a := range artifacts {
		var t map[string]any
		if err := readJSON(a.template, &t); err != nil {
			return nil, err
		}
		templates[a.name] = t
	}
	return templates, nil
}

// stackArtifact is a stack of the manifest: its name, region and template
// file.
type stackArtifact struct{ name, region, template string }

// stackArtifacts reads the manifest's stacks, sorted by name.
func stackArtifacts(dir string) ([]stackArtifact, error) {
	var manifest struct {
		Artifacts map[string]struct {
			Type        string
			Environment string
			Properties  struct{ TemplateFile string }
		}
	}
	if err := readJSON(filepath.Join(dir, "manifest.json"), &manifest); err != nil {
		return nil, err
	}
	var out []stackArtifact
	for name, a := range manifest.Artifacts {
		if a.Type == "aws:cloudformation:stack" {
			out = append(out, stackArtifact{name, a.Environment[strings.LastIndex(a.Environment, "/")+1:], filepath.Join(dir, a.Properties.TemplateFile)})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no stacks in the manifest", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Int reads an integer property, which a template holds as a JSON number or
// a numeric string. Anything else (an intrinsic, an absent property) is 0.
func Int(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case string:
		i, _ := strconv.Atoi(n)
		return i
	}
	return 0
}
