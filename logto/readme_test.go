package logto_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeQuickStartsCompile: each quick start of README.md is, line for
// line, the body of an Example function, which go vet and go test compile.
// Edit one, and this fails until the other says the same.
func TestReadmeQuickStartsCompile(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for heading, example := range map[string]struct{ file, fn string }{
		"## Quick start: Fiber v2": {"../fiberlogto/example_test.go", "ExampleWithLogto"},
		"## Quick start: Fiber v3": {"../fiberlogto/v3/example_test.go", "ExampleWithLogto"},
		"## Quick start: net/http": {"../logtohttp/example_test.go", "ExampleLogto_Handler"},
	} {
		block := quickStart(t, string(readme), heading)
		src, err := os.ReadFile(example.file)
		if err != nil {
			t.Fatal(err)
		}
		body := functionBody(t, string(src), example.fn)
		if !strings.Contains(body, block) {
			t.Errorf("README's %q is not the body of %s in %s:\n--- README\n%s\n--- %s\n%s", heading, example.fn, example.file, block, example.fn, body)
		}
	}
}

var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// quickStart is the first Go block after heading that is not an import
// list.
func quickStart(t *testing.T, readme, heading string) string {
	t.Helper()
	i := strings.Index(readme, heading+"\n")
	if i < 0 {
		t.Fatalf("README has no %q", heading)
	}
	section := readme[i+len(heading):]
	if next := strings.Index(section, "\n## "); next >= 0 {
		section = section[:next]
	}
	for _, m := range goBlock.FindAllStringSubmatch(section, -1) {
		if !strings.HasPrefix(m[1], "import") {
			return normalize(m[1])
		}
	}
	t.Fatalf("README's %q has no Go block", heading)
	return ""
}

// functionBody is the body of func name() in src, one indentation level
// less.
func functionBody(t *testing.T, src, name string) string {
	t.Helper()
	start := strings.Index(src, "func "+name+"() {\n")
	if start < 0 {
		t.Fatalf("no func %s", name)
	}
	rest := src[start+len("func "+name+"() {\n"):]
	end := strings.Index(rest, "\n}\n")
	if end < 0 {
		t.Fatalf("func %s does not end", name)
	}
	lines := strings.Split(rest[:end], "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "\t")
	}
	return normalize(strings.Join(lines, "\n"))
}

func normalize(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n")
}
