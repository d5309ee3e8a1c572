package provider

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestAccWrongToken: a token the API does not know answers 401, and the
// diagnostic says so and where the token comes from.
func TestAccWrongToken(t *testing.T) {
	startStack(t)
	t.Setenv(EnvToken, "cgk_"+strings.Repeat("A", 43))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6Factories,
		Steps: []resource.TestStep{{
			Config:      withProvider(t, example(t, "resources/calcgrid_tenant/resource.tf")),
			ExpectError: wrapped(`(?s)401.*did not accept the provider's token.*CALCGRID_TOKEN`),
		}},
	})
}

// TestAccPlanTimeValidation: an unknown scope, priority or queue name and a
// bad timestamp fail at plan time, before any request, with the allowed
// values in the message.
func TestAccPlanTimeValidation(t *testing.T) {
	startStack(t)
	cases := []struct {
		from, to string
		want     string
	}{
		{`scopes          = ["submit", "read"]`, `scopes          = ["submit", "write"]`,
			`(?s)Unknown scope.*"write" is not a scope calcgrid knows: use one of submit, read, cancel, admin`},
		{`priorities      = ["medium", "low"]`, `priorities      = ["urgent"]`,
			`(?s)Unknown priority.*use one of high, medium, low`},
		{`expires_at      = "2030-01-01T00:00:00Z"`, `expires_at      = "next year"`, `(?s)Invalid timestamp.*RFC 3339`},
		{`name            = "batch-pricer"`, `name            = "Batch Pricer"`, `(?s)Invalid key name`},
		{`scopes          = ["submit", "read"]`, `scopes          = []`, `(?s)scopes.*at least 1`},
	}
	steps := make([]resource.TestStep, 0, len(cases)+2)
	for _, c := range cases {
		steps = append(steps, resource.TestStep{Config: keyConfig(t, c.from, c.to), PlanOnly: true, ExpectError: wrapped(c.want)})
	}
	steps = append(steps,
		resource.TestStep{
			Config:      withProvider(t, `resource "calcgrid_queue" "q" { name = "default" }`),
			PlanOnly:    true,
			ExpectError: wrapped(`(?s)Unknown queue name.*"default" is not a queue name calcgrid knows: use one of high, medium, low`),
		},
		resource.TestStep{
			Config:      withProvider(t, `resource "calcgrid_queue" "q" {`+"\n name = \"low\"\n weight = 0\n}"),
			PlanOnly:    true,
			ExpectError: wrapped(`(?s)weight.*between 1 and 100`),
		},
		resource.TestStep{
			Config:      withProvider(t, `resource "calcgrid_queue" "q" {`+"\n name = \"low\"\n max_pending = 0\n}"),
			PlanOnly:    true,
			ExpectError: wrapped(`(?s)max_pending.*at least 1`),
		},
	)
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: protoV6Factories, Steps: steps})
}

// wrapped compiles pattern with each space matching any run of white space:
// Terraform wraps diagnostics at its terminal width.
func wrapped(pattern string) *regexp.Regexp {
	return regexp.MustCompile(strings.ReplaceAll(pattern, " ", `\s+`))
}

// TestAccMissingSettings: no endpoint or no token fails before any request,
// naming the setting and its environment variable.
func TestAccMissingSettings(t *testing.T) {
	startStack(t)
	cfg := withProvider(t, example(t, "resources/calcgrid_tenant/resource.tf"))
	t.Run("endpoint", func(t *testing.T) {
		t.Setenv(EnvEndpoint, "")
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6Factories,
			Steps:                    []resource.TestStep{{Config: cfg, ExpectError: wrapped(`(?s)Missing calcgrid endpoint.*CALCGRID_ENDPOINT`)}},
		})
	})
	t.Run("token", func(t *testing.T) {
		t.Setenv(EnvToken, "")
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6Factories,
			Steps:                    []resource.TestStep{{Config: cfg, ExpectError: wrapped(`(?s)Missing calcgrid token.*CALCGRID_TOKEN`)}},
		})
	})
}
