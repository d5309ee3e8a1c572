package api_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v4"

	"github.com/calcgrid/calcgrid/app/internal/api"
	"github.com/calcgrid/calcgrid/app/internal/config"
	"github.com/calcgrid/calcgrid/app/internal/tasks"
	"github.com/calcgrid/calcgrid/app/internal/taskstore"
)

// specPath is the repository's openapi.yaml, seen from this package.
var specPath = filepath.Join("..", "..", "..", "openapi.yaml")

// operationKeys are the keys of an OpenAPI path item that name operations.
var operationKeys = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadSpec(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatalf("read the API description: %v", err)
	}
	var spec map[string]any
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		t.Fatalf("%s is not valid YAML: %v", specPath, err)
	}
	if v, _ := spec["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("%s: openapi = %q, want 3.1.x", specPath, v)
	}
	return spec
}

// operations returns "METHOD /path" for every operation in the spec.
func operations(t *testing.T, spec map[string]any) map[string]map[string]any {
	t.Helper()
	paths, ok := spec["paths"].(map[string]any)
	if !ok {
		t.Fatalf("%s has no paths", specPath)
	}
	ops := map[string]map[string]any{}
	for path, item := range paths {
		for key, op := range item.(map[string]any) {
			if slices.Contains(operationKeys, key) {
				ops[strings.ToUpper(key)+" "+path] = op.(map[string]any)
			}
		}
	}
	return ops
}

// chiParam matches a chi parameter with a regexp, {id:[0-9]+}, which
// OpenAPI writes as {id}.
var chiParam = regexp.MustCompile(`\{([^}:]+):[^}]*\}`)

// servedRoutes returns "METHOD /path" for every route the API's router
// serves. chi.Walk reads only the routing tree, so the store's Redis client
// is never dialled.
func servedRoutes(t *testing.T) []string {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { rdb.Close() })
	router := api.New(api.Options{
		Store: taskstore.New(rdb, taskstore.KeepFor(time.Hour)), Registry: tasks.NewRegistry(),
		Logger: slog.New(slog.DiscardHandler), MaxPending: 1, Weights: config.DefaultWeights(),
	})
	var routes []string
	err := chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = chiParam.ReplaceAllString(route, "{$1}")
		if len(route) > 1 {
			route = strings.TrimSuffix(route, "/")
		}
		routes = append(routes, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) == 0 {
		t.Fatal("chi.Walk found no routes")
	}
	return routes
}

// TestOpenAPIMatchesRouter keeps openapi.yaml and the router in step: every
// served route is documented and every documented operation is served.
func TestOpenAPIMatchesRouter(t *testing.T) {
	ops := operations(t, loadSpec(t))
	served := servedRoutes(t)
	for _, r := range served {
		if _, ok := ops[r]; !ok {
			t.Errorf("router serves %s, which openapi.yaml does not describe", r)
		}
	}
	for op := range ops {
		if !slices.Contains(served, op) {
			t.Errorf("openapi.yaml describes %s, which the router does not serve", op)
		}
	}
}

// TestOpenAPIConsistent checks what a route comparison cannot: every $ref
// resolves, every operation is identifiable, and every error of the /v1 API
// is a problem document.
func TestOpenAPIConsistent(t *testing.T) {
	spec := loadSpec(t)
	for _, ref := range refs(spec) {
		if _, err := resolve(spec, ref); err != nil {
			t.Errorf("$ref %q: %v", ref, err)
		}
	}
	statuses := map[string]bool{}
	for name, op := range operations(t, spec) {
		if id, _ := op["operationId"].(string); id == "" {
			t.Errorf("%s has no operationId", name)
		}
		responses, _ := op["responses"].(map[string]any)
		if len(responses) == 0 {
			t.Errorf("%s lists no responses", name)
		}
		for status, resp := range responses {
			statuses[status] = true
			if !strings.Contains(name, " /v1/") || status < "400" {
				continue
			}
			content := contentOf(t, spec, resp)
			if _, ok := content["application/problem+json"]; !ok || len(content) != 1 {
				t.Errorf("%s: response %s must be application/problem+json only, has %v", name, status, slices.Sorted(maps.Keys(content)))
			}
		}
	}
	// The statuses the API contract promises clients.
	for _, s := range []string{"200", "201", "202", "204", "400", "401", "403", "404", "405", "409", "413", "415", "422", "429", "503"} {
		if !statuses[s] {
			t.Errorf("no operation documents status %s", s)
		}
	}
}

// TestOpenAPITaskMatchesJSON keeps the Task schema in step with the JSON the
// API writes, field by field, and the Queue and State enums with the code's
// lists: renaming a Go field must not rename a field of the contract.
func TestOpenAPITaskMatchesJSON(t *testing.T) {
	spec := loadSpec(t)
	schema := func(name string) map[string]any {
		t.Helper()
		s, err := resolve(spec, "#/components/schemas/"+name)
		if err != nil {
			t.Fatalf("schema %s: %v", name, err)
		}
		return s.(map[string]any)
	}
	keys := func(task taskstore.Task) []string {
		t.Helper()
		b, err := json.Marshal(task)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return slices.Sorted(maps.Keys(m))
	}
	now := time.Now()
	full := keys(taskstore.Task{Result: json.RawMessage(`{}`), Error: "e", StartedAt: &now, CompletedAt: &now})
	task := schema("Task")
	if documented := slices.Sorted(maps.Keys(task["properties"].(map[string]any))); !slices.Equal(full, documented) {
		t.Errorf("a task is written with fields %v; openapi.yaml's Task has %v", full, documented)
	}
	always := keys(taskstore.Task{})
	for _, f := range task["required"].([]any) {
		if !slices.Contains(always, f.(string)) {
			t.Errorf("Task.%s is required in openapi.yaml but omitted from a task's JSON when empty", f)
		}
	}
	for name, want := range map[string][]string{
		"Queue": tasks.Queues(),
		"State": func() (s []string) {
			for _, st := range taskstore.States() {
				s = append(s, string(st))
			}
			return s
		}(),
	} {
		var got []string
		for _, v := range schema(name)["enum"].([]any) {
			got = append(got, v.(string))
		}
		if !slices.Equal(got, want) {
			t.Errorf("openapi.yaml's %s enum is %v; the code has %v", name, got, want)
		}
	}
}

func contentOf(t *testing.T, spec map[string]any, resp any) map[string]any {
	t.Helper()
	m, _ := resp.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		target, err := resolve(spec, ref)
		if err != nil {
			return nil // reported by the $ref check
		}
		m, _ = target.(map[string]any)
	}
	content, _ := m["content"].(map[string]any)
	return content
}

// refs collects every $ref value in the document.
func refs(node any) []string {
	var out []string
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if s, ok := v.(string); ok && k == "$ref" {
				out = append(out, s)
				continue
			}
			out = append(out, refs(v)...)
		}
	case []any:
		for _, v := range n {
			out = append(out, refs(v)...)
		}
	}
	return out
}

// resolve follows a local JSON pointer such as #/components/schemas/Task.
func resolve(spec map[string]any, ref string) (any, error) {
	pointer, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("only local references (#/...) are used in this document")
	}
	var node any = spec
	for _, part := range strings.Split(pointer, "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := node.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q is not an object", part)
		}
		if node, ok = m[part]; !ok {
			return nil, fmt.Errorf("no %q", part)
		}
	}
	return node, nil
}
