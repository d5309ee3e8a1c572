// Package tfdocs keeps the Inputs and Outputs tables of the Terraform module
// READMEs (modules/*/README.md and terraform/README.md) generated from the
// modules' own variable and output blocks, read with terraform-config-inspect.
//
// Each README holds the generated part between BeginMarker and EndMarker; the
// prose around it stays hand-written. `go run ./cmd/tfdocs -write` (from
// tests/) rewrites the tables, and TestDocsCurrent fails while any README
// differs from what the code says.
package tfdocs

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"
)

// The markers around the generated part of a README.
const (
	BeginMarker = "<!-- BEGIN_TF_DOCS -->"
	EndMarker   = "<!-- END_TF_DOCS -->"
)

// FixCommand regenerates every README; it runs from the tests/ folder.
const FixCommand = "cd tests && go run ./cmd/tfdocs -write"

// ModuleDirs lists the documented module folders of the repository at root,
// relative to it: every modules/<name> with a README.md, then terraform.
func ModuleDirs(root string) ([]string, error) {
	readmes, err := filepath.Glob(filepath.Join(root, "modules", "*", "README.md"))
	if err != nil {
		return nil, err
	}
	dirs := make([]string, 0, len(readmes)+1)
	for _, r := range readmes {
		rel, err := filepath.Rel(root, filepath.Dir(r))
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, rel)
	}
	sort.Strings(dirs)
	return append(dirs, "terraform"), nil
}

// Tables renders the Inputs and Outputs sections of the module in dir, in
// the order the blocks appear in its files.
func Tables(dir string) (string, error) {
	mod, diags := tfconfig.LoadModule(dir)
	if diags.HasErrors() {
		return "", fmt.Errorf("%s: %w", dir, diags.Err())
	}
	vars := make([]*tfconfig.Variable, 0, len(mod.Variables))
	for _, v := range mod.Variables {
		vars = append(vars, v)
	}
	sort.Slice(vars, func(i, j int) bool { return before(vars[i].Pos, vars[j].Pos) })
	outs := make([]*tfconfig.Output, 0, len(mod.Outputs))
	for _, o := range mod.Outputs {
		outs = append(outs, o)
	}
	sort.Slice(outs, func(i, j int) bool { return before(outs[i].Pos, outs[j].Pos) })

	var b strings.Builder
	b.WriteString("## Inputs\n\n")
	if len(vars) == 0 {
		b.WriteString("None.\n")
	} else {
		b.WriteString("| Name | Description | Type | Default |\n| --- | --- | --- | --- |\n")
		for _, v := range vars {
			def := "required"
			if !v.Required {
				d, err := json.Marshal(v.Default)
				if err != nil {
					return "", fmt.Errorf("%s: default of %s: %w", dir, v.Name, err)
				}
				def = code(string(d))
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", v.Name, text(v.Description, v.Sensitive), code(oneLine(v.Type)), def)
		}
	}
	b.WriteString("\n## Outputs\n\n")
	if len(outs) == 0 {
		b.WriteString("None.\n")
	} else {
		b.WriteString("| Name | Description |\n| --- | --- |\n")
		for _, o := range outs {
			fmt.Fprintf(&b, "| `%s` | %s |\n", o.Name, text(o.Description, o.Sensitive))
		}
	}
	return b.String(), nil
}

func before(a, b tfconfig.SourcePos) bool {
	if a.Filename != b.Filename {
		return a.Filename < b.Filename
	}
	return a.Line < b.Line
}

// oneLine writes a type expression spread over several lines on one, with a
// comma where a line break separated two attributes.
func oneLine(s string) string {
	var out string
	for _, line := range strings.Split(s, "\n") {
		line = strings.Join(strings.Fields(line), " ")
		switch {
		case line == "":
		case out == "":
			out = line
		case strings.HasSuffix(out, "{") || strings.HasSuffix(out, "(") || strings.HasSuffix(out, ",") ||
			strings.HasPrefix(line, "}") || strings.HasPrefix(line, ")"):
			out += " " + line
		default:
			out += ", " + line
		}
	}
	return out
}

// code formats s as a code span that is safe in a table cell.
func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}

// text makes a description safe in a table cell: one line, no column breaks,
// and <placeholders> shown instead of read as HTML.
func text(s string, sensitive bool) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
	if sensitive {
		s = strings.TrimSpace(s + " Sensitive.")
	}
	return s
}

// ErrNoMarkers is returned for a README without the generated part's markers.
var ErrNoMarkers = errors.New("no " + BeginMarker + " and " + EndMarker + " lines: add both where the tables go")

// Splice returns readme with the text between the markers replaced by tables.
func Splice(readme, tables string) (string, error) {
	i := strings.Index(readme, BeginMarker)
	j := strings.Index(readme, EndMarker)
	if i < 0 || j < i {
		return "", ErrNoMarkers
	}
	return readme[:i] + BeginMarker + "\n" + tables + EndMarker + readme[j+len(EndMarker):], nil
}

// Result is what Run found for one README.
type Result struct {
	README string // path relative to the repository root
	Stale  bool   // its tables differ from the code (before a write)
}

// Run renders the tables of every documented module of the repository at
// root and compares them with its README; with write it also rewrites the
// stale ones. It fails on a module that does not load or a README without
// markers.
func Run(root string, write bool) ([]Result, error) {
	dirs, err := ModuleDirs(root)
	if err != nil {
		return nil, err
	}
	var results []Result
	var errs []error
	for _, dir := range dirs {
		rel := filepath.Join(dir, "README.md")
		path := filepath.Join(root, rel)
		old, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		tables, err := Tables(filepath.Join(root, dir))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		updated, err := Splice(string(old), tables)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", rel, err))
			continue
		}
		stale := updated != string(old)
		results = append(results, Result{README: rel, Stale: stale})
		if stale && write {
			if err := os.WriteFile(path, []byte(updated), 0o644); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return results, errors.Join(errs...)
}

// FindRoot walks up from dir to the repository root: the first folder that
// holds both modules/ and terraform/.
func FindRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if isDir(filepath.Join(dir, "modules")) && isDir(filepath.Join(dir, "terraform")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no folder with modules/ and terraform/ above the working directory")
		}
		dir = parent
	}
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}
