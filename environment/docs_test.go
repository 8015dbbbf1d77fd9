package environment_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// The README and docs/ are checked here, beside the README's posture table:
// reading them needs no synthesis.

// Every relative link of the README and the reference pages leads to a file
// that exists, and every #anchor to a heading of its page (GitHub's slugs):
// moving a section must not leave a reader at a dead end.
func TestDocLinksResolve(t *testing.T) {
	pages, _ := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	pages = append(pages, filepath.Join("..", "README.md"))
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	checked := 0
	for _, page := range pages {
		text, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), file)
			}
			checked++
			data, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%s links %s: %v", page, target, err)
				continue
			}
			if anchor != "" && !slices.Contains(headingSlugs(string(data)), anchor) {
				t.Errorf("%s links %s: %s has no such heading", page, target, path)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d links checked: the pattern no longer finds them", checked)
	}
}

// headingSlugs are the anchors GitHub gives a page's headings: lower case,
// punctuation but hyphens and underscores dropped, spaces as hyphens.
func headingSlugs(page string) []string {
	var slugs []string
	fence := false
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		if fence || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range title {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		slugs = append(slugs, b.String())
	}
	return slugs
}
