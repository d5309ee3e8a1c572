package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/calcgrid/calcgrid/provider/internal/client"
)

// TestSchemasAreValidAndDescribed: the framework accepts every schema, and
// every attribute has a description, since the docs are generated from them.
func TestSchemasAreValidAndDescribed(t *testing.T) {
	srv := providerserver.NewProtocol6(New("test")())()
	resp, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Errorf("schema diagnostic: %s: %s", d.Summary, d.Detail)
	}
	check := func(kind, name string, s *tfprotov6.Schema) {
		if s.Block.Description == "" {
			t.Errorf("%s %s has no description", kind, name)
		}
		var walk func(prefix string, attrs []*tfprotov6.SchemaAttribute)
		walk = func(prefix string, attrs []*tfprotov6.SchemaAttribute) {
			for _, a := range attrs {
				if a.Description == "" {
					t.Errorf("%s %s: attribute %s%s has no description", kind, name, prefix, a.Name)
				}
				if a.NestedType != nil {
					walk(prefix+a.Name+".", a.NestedType.Attributes)
				}
			}
		}
		walk("", s.Block.Attributes)
	}
	check("provider", "calcgrid", resp.Provider)
	want := map[string]bool{"calcgrid_tenant": true, "calcgrid_api_key": true, "calcgrid_queue": true}
	for name, s := range resp.ResourceSchemas {
		check("resource", name, s)
		delete(want, name)
	}
	for name, s := range resp.DataSourceSchemas {
		check("data source", name, s)
	}
	if len(want) > 0 || len(resp.DataSourceSchemas) != 2 {
		t.Errorf("missing resources %v or data sources (have %d)", want, len(resp.DataSourceSchemas))
	}
	for _, name := range []string{"token"} {
		for _, a := range resp.Provider.Block.Attributes {
			if a.Name == name && !a.Sensitive {
				t.Errorf("provider setting %s is not sensitive", name)
			}
		}
	}
}

func validate(v validator.String, s string) []string {
	resp := &validator.StringResponse{}
	v.ValidateString(context.Background(), validator.StringRequest{Path: path.Root("x"), ConfigValue: types.StringValue(s)}, resp)
	var out []string
	for _, d := range resp.Diagnostics {
		out = append(out, d.Summary()+": "+d.Detail())
	}
	return out
}

func TestValidators(t *testing.T) {
	cases := []struct {
		v    validator.String
		in   string
		want string // "" = valid
	}{
		{oneOf{what: "scope", allowed: Scopes()}, "admin", ""},
		{oneOf{what: "scope", allowed: Scopes()}, "write", `Unknown scope: "write" is not a scope calcgrid knows: use one of submit, read, cancel, admin.`},
		{oneOf{what: "queue name", allowed: QueueNames()}, "default", `use one of high, medium, low`},
		{nameValidator{what: "tenant"}, "acme-2", ""},
		{nameValidator{what: "tenant"}, "-acme", "Invalid tenant name"},
		{nameValidator{what: "tenant"}, strings.Repeat("a", 64), "Invalid tenant name"},
		{nameValidator{what: "tenant"}, strings.Repeat("a", 63), ""},
		{nameValidator{what: "key"}, "Acme", "Invalid key name"},
		{durationValidator{}, "90s", ""},
		{durationValidator{}, "0s", "Invalid duration"},
		{durationValidator{}, "ten", "Invalid duration"},
		{rfc3339Validator{}, "2030-01-01T00:00:00+02:00", ""},
		{rfc3339Validator{}, "2030-01-01", "Invalid timestamp"},
	}
	for _, c := range cases {
		got := strings.Join(validate(c.v, c.in), "; ")
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%T(%q): got %q, want %q", c.v, c.in, got, c.want)
		}
	}
	// Unknown and null values are not judged at plan time.
	resp := &validator.StringResponse{}
	oneOf{what: "scope", allowed: Scopes()}.ValidateString(context.Background(),
		validator.StringRequest{ConfigValue: types.StringUnknown()}, resp)
	if resp.Diagnostics.HasError() {
		t.Error("an unknown value was rejected")
	}
}

func TestSortQueues(t *testing.T) {
	qs := []client.Queue{{Name: "zeta"}, {Name: "low"}, {Name: "high"}, {Name: "alpha"}, {Name: "medium"}}
	sortQueues(qs)
	var got []string
	for _, q := range qs {
		got = append(got, q.Name)
	}
	if strings.Join(got, ",") != "high,medium,low,alpha,zeta" {
		t.Errorf("order %v", got)
	}
}
