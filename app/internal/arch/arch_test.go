// Package arch_test holds the architecture rules of the module as tests, read
// from `go list` (the build's own view of the imports, so build tags, test
// variants and vendoring are counted as the compiler counts them):
//
//   - quant is pure maths: it imports nothing of this module, so it can be
//     tested, benchmarked and reused without Redis, asynq or the task model.
//     Its tests are held to the same rule.
//   - api and worker never depend on each other, directly or through another
//     package: they are separate roles sharing only taskstore, tasks and
//     metrics, and either must be changeable without rebuilding the other.
//     The rule is on production code; api's integration tests run a real
//     worker through apptest, which is what they are for.
//   - the command-line client (cli, and client under it) talks to the API
//     over HTTP only: it never depends on api, worker or taskstore, so it
//     follows the published contract (openapi.yaml) rather than the server's
//     internals, and a server refactoring cannot silently change what the
//     client sends or reads. Its tests run a real API and worker, as api's do.
//   - app/cmd is wiring: it parses the command line, builds the parts from
//     app/internal and runs them. Concretely:
//     (1) besides the standard library and app/internal it imports only
//     go-redis (to open the one client the parts share); routing (chi),
//     asynq, Prometheus and the rest belong inside an internal package;
//     (2) it declares no HTTP handler: no function or closure takes an
//     http.ResponseWriter;
//     (3) its non-test Go files total at most cmdLineBudget lines. The budget
//     is a tripwire, not a target: when it is hit, move the logic into an
//     internal package rather than raising it.
package arch_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const (
	module = "github.com/calcgrid/calcgrid"
	app    = module + "/app"
	quant  = app + "/internal/quant"
	api    = app + "/internal/api"
	worker = app + "/internal/worker"
	cli    = app + "/internal/cli"
	client = app + "/internal/client"
	store  = app + "/internal/taskstore"
	cmd    = app + "/cmd/"

	// cmdLineBudget bounds the non-test lines of each app/cmd package.
	cmdLineBudget = 300
)

// cmdThirdParty are the only non-standard, non-module imports app/cmd may use.
var cmdThirdParty = []string{"github.com/redis/go-redis/v9"}

// pkg is the part of `go list -json` output the rules read.
type pkg struct {
	ImportPath string
	ForTest    string
	Dir        string
	GoFiles    []string
	Imports    []string
	Deps       []string
	Standard   bool
	Error      *struct{ Err string }
}

// base drops the test-variant suffix: "p [p.test]" is package p.
func base(importPath string) string {
	path, _, _ := strings.Cut(importPath, " ")
	return path
}

func inModule(importPath string) bool { return strings.HasPrefix(base(importPath), module+"/") }

// packages lists every package of app/... with its tests and dependencies,
// keyed by import path (test variants under their own "p [p.test]" key).
func packages(t *testing.T) map[string]pkg {
	t.Helper()
	pkgs, err := listOnce()
	if err != nil {
		t.Fatal(err)
	}
	for path, p := range pkgs {
		if p.Error != nil && inModule(path) {
			t.Errorf("go list %s: %s", path, p.Error.Err)
		}
	}
	// A rule about a package that is not there would pass silently.
	for _, want := range []string{quant, api, worker, cli, client, store} {
		if _, ok := pkgs[want]; !ok {
			t.Fatalf("go list did not report %s; update the rules if it moved", want)
		}
	}
	return pkgs
}

// listOnce runs go list once for all the tests of this package.
var listOnce = sync.OnceValues(func() (map[string]pkg, error) {
	var stdout, stderr bytes.Buffer
	c := exec.Command("go", "list", "-e", "-deps", "-test", "-json", app+"/...")
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return nil, fmt.Errorf("go list: %w\n%s", err, stderr.Bytes())
	}
	out := map[string]pkg{}
	dec := json.NewDecoder(&stdout)
	for {
		var p pkg
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decode go list output: %w", err)
		}
		out[p.ImportPath] = p
	}
})

// chain is the shortest import path from one package to another, for
// failure messages ("api → apptest → worker").
func chain(pkgs map[string]pkg, from, to string) string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if base(cur) == to {
			var hops []string
			for p := cur; p != ""; p = prev[p] {
				hops = append(hops, strings.TrimPrefix(base(p), app+"/"))
			}
			slices.Reverse(hops)
			return strings.Join(hops, " → ")
		}
		for _, next := range pkgs[cur].Imports {
			if _, seen := prev[next]; !seen {
				prev[next] = cur
				queue = append(queue, next)
			}
		}
	}
	return strings.TrimPrefix(from, app+"/") + " → … → " + strings.TrimPrefix(to, app+"/")
}

func TestQuantImportsNothingOfTheModule(t *testing.T) {
	pkgs := packages(t)
	allowed := []string{quant, quant + "_test", quant + ".test"}
	reported := map[[2]string]bool{} // a test variant repeats its package's findings
	for _, path := range slices.Sorted(maps.Keys(pkgs)) {
		if !slices.Contains(allowed, base(path)) {
			continue
		}
		for _, dep := range pkgs[path].Deps {
			key := [2]string{base(path), base(dep)}
			if inModule(dep) && !slices.Contains(allowed, base(dep)) && !reported[key] {
				reported[key] = true
				t.Errorf("%s depends on %s (%s): quant is pure maths and imports nothing of %s",
					key[0], key[1], chain(pkgs, path, key[1]), module)
			}
		}
	}
}

func TestAPIAndWorkerAreIndependent(t *testing.T) {
	pkgs := packages(t)
	for _, pair := range [][2]string{{api, worker}, {worker, api}} {
		from, to := pair[0], pair[1]
		for _, dep := range pkgs[from].Deps {
			if base(dep) == to {
				t.Errorf("%s depends on %s (%s): the api and worker roles share only taskstore, tasks and metrics",
					from, to, chain(pkgs, from, to))
			}
		}
	}
}

func TestClientUsesOnlyTheHTTPAPI(t *testing.T) {
	pkgs := packages(t)
	for _, from := range []string{cli, client} {
		for _, dep := range pkgs[from].Deps {
			if to := base(dep); to == api || to == worker || to == store {
				t.Errorf("%s depends on %s (%s): the client talks to the API over HTTP only",
					from, to, chain(pkgs, from, to))
			}
		}
	}
}

func TestCmdIsWiring(t *testing.T) {
	pkgs := packages(t)
	var checked int
	for path, p := range pkgs {
		if !strings.HasPrefix(path, cmd) || p.ForTest != "" || strings.HasSuffix(path, ".test") {
			continue
		}
		checked++
		for _, imp := range p.Imports {
			if pkgs[imp].Standard || strings.HasPrefix(imp, app+"/internal/") || slices.Contains(cmdThirdParty, imp) {
				continue
			}
			t.Errorf("%s imports %s: cmd only wires app/internal packages together (third-party allowed: %v); "+
				"move the code that needs it into an internal package", path, imp, cmdThirdParty)
		}
		lines := 0
		fset := token.NewFileSet()
		for _, name := range p.GoFiles {
			file := filepath.Join(p.Dir, name)
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			lines += bytes.Count(src, []byte("\n"))
			f, err := parser.ParseFile(fset, file, src, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, pos := range handlers(f) {
				t.Errorf("%s: HTTP handler in %s: handlers belong in api, monitor or serve; cmd only wires them",
					fset.Position(pos), path)
			}
		}
		if lines > cmdLineBudget {
			t.Errorf("%s has %d lines of non-test Go, over the budget of %d: move logic into an internal package",
				path, lines, cmdLineBudget)
		}
	}
	if checked == 0 {
		t.Fatalf("go list reported no package under %s", cmd)
	}
}

// handlers returns the position of every function or closure in f that
// takes an http.ResponseWriter.
func handlers(f *ast.File) []token.Pos {
	httpName := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "net/http" {
			httpName = "http"
			if imp.Name != nil {
				httpName = imp.Name.Name
			}
		}
	}
	if httpName == "" {
		return nil
	}
	var out []token.Pos
	ast.Inspect(f, func(n ast.Node) bool {
		ft, ok := n.(*ast.FuncType)
		if !ok || ft.Params == nil {
			return true
		}
		for _, field := range ft.Params.List {
			if sel, ok := field.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "ResponseWriter" {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == httpName {
					out = append(out, ft.Pos())
				}
			}
		}
		return true
	})
	return out
}
