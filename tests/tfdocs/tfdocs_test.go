package tfdocs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsCurrent fails while a module README's tables differ from the
// module's variables and outputs.
func TestDocsCurrent(t *testing.T) {
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	results, err := Run(root, false)
	if err != nil {
		t.Fatalf("%v\n(fix: %s)", err, FixCommand)
	}
	if len(results) < 2 {
		t.Fatalf("found %d documented modules under %s, expected the modules and the root module", len(results), root)
	}
	for _, r := range results {
		if r.Stale {
			t.Errorf("%s: Inputs/Outputs tables are not current; fix: %s", r.README, FixCommand)
		}
	}
}

// A module with a multi-line object type, a default, a sensitive variable,
// and <placeholders> and a | in descriptions.
const sampleModule = `
variable "sizing" {
  description = "Per <role>: memory | cpus."
  type = object({
    memory_mb = number
    cpus      = optional(number, 0.5)
  })
  default = { memory_mb = 64 }
}

variable "password" {
  description = "Password."
  type        = string
  sensitive   = true
}

output "name" {
  description = "calcgrid-<env>-api-1."
  value       = "x"
}
`

func TestTables(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(sampleModule), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Tables(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "## Inputs\n\n" +
		"| Name | Description | Type | Default |\n| --- | --- | --- | --- |\n" +
		"| `sizing` | Per &lt;role&gt;: memory \\| cpus. | `object({ memory_mb = number, cpus = optional(number, 0.5) })` | `{\"memory_mb\":64}` |\n" +
		"| `password` | Password. Sensitive. | `string` | required |\n" +
		"\n## Outputs\n\n" +
		"| Name | Description |\n| --- | --- |\n" +
		"| `name` | calcgrid-&lt;env&gt;-api-1. |\n"
	if got != want {
		t.Errorf("Tables:\n%s\nwant:\n%s", got, want)
	}
}

func TestSplice(t *testing.T) {
	readme := "# m\n\nProse.\n\n" + BeginMarker + "\nold tables\n" + EndMarker + "\n\nMore prose.\n"
	got, err := Splice(readme, "new tables\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# m\n\nProse.\n\n" + BeginMarker + "\nnew tables\n" + EndMarker + "\n\nMore prose.\n"
	if got != want {
		t.Errorf("Splice:\n%q\nwant:\n%q", got, want)
	}
	if _, err := Splice("# m\n\n## Inputs\n", "x"); !errors.Is(err, ErrNoMarkers) {
		t.Errorf("Splice without markers: %v, want ErrNoMarkers", err)
	}
}

// Run reports a stale README and, with write, makes it current.
func TestRunWrites(t *testing.T) {
	root := t.TempDir()
	mod := filepath.Join(root, "modules", "m")
	for _, d := range []string{mod, filepath.Join(root, "terraform")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "main.tf"), []byte(sampleModule), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "README.md"), []byte("# m\n\n"+BeginMarker+"\n"+EndMarker+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, write := range []bool{false, true, false} {
		results, err := Run(root, write)
		if err != nil {
			t.Fatal(err)
		}
		wantStale := i < 2
		for _, r := range results {
			if r.Stale != wantStale {
				t.Errorf("pass %d (write=%v): %s stale=%v, want %v", i, write, r.README, r.Stale, wantStale)
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(mod, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "| `password` | Password. Sensitive. | `string` | required |") {
		t.Errorf("written README lacks the password row:\n%s", b)
	}
}
