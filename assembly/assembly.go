// Package assembly reads a synthesized CDK cloud assembly (cdk.out): its
// manifest and the CloudFormation templates of its stacks. The diagram and
// the cost model are both drawn from it, so they describe what would be
// deployed.
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
	var stacks []*Stack
	for name, a := range manifest.Artifacts {
		if a.Type != "aws:cloudformation:stack" {
			continue
		}
		s := &Stack{Name: name, Region: a.Environment[strings.LastIndex(a.Environment, "/")+1:]}
		if err := readJSON(filepath.Join(dir, a.Properties.TemplateFile), &s.Template); err != nil {
			return nil, err
		}
		for id, r := range s.Template.Resources {
			if r.Path() == "" && r.Type != "AWS::CDK::Metadata" {
				return nil, fmt.Errorf("%s: resource %s has no aws:cdk:path metadata (synthesize with path metadata, as the CDK CLI does by default)", name, id)
			}
		}
		stacks = append(stacks, s)
	}
	if len(stacks) == 0 {
		return nil, fmt.Errorf("%s: no stacks in the manifest", dir)
	}
	sort.Slice(stacks, func(i, j int) bool { return stacks[i].Name < stacks[j].Name })
	return stacks, nil
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
