// Command flatoutputs turns the CDK CLI's outputs file ({"Stack": {"Key":
// "value"}}) into cfn-outputs/flat-outputs.json ({"Key": "value"}), the file
// the integration tests read. Keys are kept as CDK names them; a key that
// two stacks both output is an error, never a silent overwrite.
//
//	flatoutputs [cfn-outputs/all-outputs.json [cfn-outputs/flat-outputs.json]]
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

func main() {
	in, out := "cfn-outputs/all-outputs.json", "cfn-outputs/flat-outputs.json"
	if len(os.Args) > 1 {
		in = os.Args[1]
	}
	if len(os.Args) > 2 {
		out = os.Args[2]
	}
	if err := run(in, out); err != nil {
		fmt.Fprintln(os.Stderr, "flatoutputs:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var stacks map[string]map[string]string
	if err := json.Unmarshal(data, &stacks); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	flat, err := Flatten(stacks)
	if err != nil {
		return err
	}
	encoded, err := json.MarshalIndent(flat, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(encoded, '\n'), 0o644)
}

// Flatten merges the stacks' outputs into one object.
func Flatten(stacks map[string]map[string]string) (map[string]string, error) {
	names := make([]string, 0, len(stacks))
	for name := range stacks {
		names = append(names, name)
	}
	sort.Strings(names)
	flat := map[string]string{}
	owner := map[string]string{}
	for _, stack := range names {
		for key, value := range stacks[stack] {
			if other, taken := owner[key]; taken {
				return nil, fmt.Errorf("output %q is in both %s and %s", key, other, stack)
			}
			owner[key], flat[key] = stack, value
		}
	}
	return flat, nil
}
