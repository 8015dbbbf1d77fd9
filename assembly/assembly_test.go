package assembly

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		stacks, err := Load("../diagram/testdata/assembly")
		if err != nil {
			t.Fatal(err)
		}
		if len(stacks) != 2 || stacks[0].Name != "App-x" || stacks[1].Name != "Data-x" || stacks[0].Region != "ap-southeast-1" {
			t.Errorf("stacks %+v", stacks)
		}
		if got := stacks[1].Template.Resources["Cluster"].Path(); got != "Data-x/Database/Cluster/Resource" {
			t.Errorf("path %q", got)
		}
	})
	t.Run("ErrNoManifest", func(t *testing.T) {
		if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "manifest.json") {
			t.Errorf("got %v, want an error naming manifest.json", err)
		}
	})
	t.Run("ErrNoStacks", func(t *testing.T) {
		dir := write(t, map[string]string{"manifest.json": `{"artifacts":{"Tree":{"type":"cdk:tree"}}}`})
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no stacks") {
			t.Errorf("got %v, want an error saying there are no stacks", err)
		}
	})
	t.Run("ErrNoPathMetadata", func(t *testing.T) {
		dir := write(t, map[string]string{
			"manifest.json": `{"artifacts":{"S":{"type":"aws:cloudformation:stack","environment":"aws://1/r","properties":{"templateFile":"S.json"}}}}`,
			"S.json":        `{"Resources":{"Queue":{"Type":"AWS::SQS::Queue"}}}`,
		})
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "Queue has no aws:cdk:path") {
			t.Errorf("got %v, want an error naming the resource without a path", err)
		}
	})
}

func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestInt(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want int
	}{{10.0, 10}, {"512", 512}, {map[string]any{"Ref": "X"}, 0}, {nil, 0}, {"x", 0}} {
		if got := Int(tc.in); got != tc.want {
			t.Errorf("Int(%#v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
