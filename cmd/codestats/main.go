// Command codestats prints the measures of this module's shape that `make
// measure` reports beside go vet, staticcheck and duplicates: lines per
// package (code and tests) and the largest functions.
//
//	codestats [dir]
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	root := "."
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	type fn struct {
		name  string
		lines int
	}
	var fns []fn
	pkgLines := map[string][2]int{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), "cdk.out") || d.Name() == "node_modules" || d.Name() == ".git" || d.Name() == "build" || d.Name() == "tools") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		n := strings.Count(string(data), "\n")
		c := pkgLines[rel]
		if strings.HasSuffix(p, "_test.go") {
			c[1] += n
		} else {
			c[0] += n
		}
		pkgLines[rel] = c
		if strings.HasSuffix(p, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, parseErr := parser.ParseFile(fset, p, data, 0)
		if parseErr != nil {
			return nil // not Go this toolchain parses (a template): not counted
		}
		for _, decl := range f.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && fd.Body != nil {
				l := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
				r, _ := filepath.Rel(root, p)
				fns = append(fns, fn{r + ":" + fd.Name.Name, l})
			}
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "codestats:", err)
		os.Exit(1)
	}
	var pkgs []string
	for k := range pkgLines {
		pkgs = append(pkgs, k)
	}
	sort.Strings(pkgs)
	fmt.Println("package\tlines\ttest-lines")
	t0, t1 := 0, 0
	for _, k := range pkgs {
		fmt.Printf("%s\t%d\t%d\n", k, pkgLines[k][0], pkgLines[k][1])
		t0 += pkgLines[k][0]
		t1 += pkgLines[k][1]
	}
	fmt.Printf("TOTAL\t%d\t%d\n", t0, t1)
	sort.Slice(fns, func(i, j int) bool { return fns[i].lines > fns[j].lines })
	fmt.Println("\nlargest functions")
	for _, f := range fns[:15] {
		fmt.Printf("%4d %s\n", f.lines, f.name)
	}
	over := 0
	for _, f := range fns {
		if f.lines > 60 {
			over++
		}
	}
	fmt.Printf("functions: %d, over 60 lines: %d\n", len(fns), over)
}
