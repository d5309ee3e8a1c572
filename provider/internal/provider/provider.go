// Package provider is terraform-provider-calcgrid: calcgrid's tenants, API
// keys and queue settings as Terraform resources, through the admin API.
package provider

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/calcgrid/calcgrid/provider/internal/client"
)

// Address is where Terraform and OpenTofu find the provider: the local
// filesystem mirror the bootstrap fills (scripts/bootstrap.sh).
const Address = "registry.calcgrid.local/calcgrid/calcgrid"

// Environment variables that stand in for unset provider settings.
const (
	EnvEndpoint = "CALCGRID_ENDPOINT"
	EnvToken    = "CALCGRID_TOKEN"
)

// New returns the provider factory for providerserver.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &calcgridProvider{version: version} }
}

type calcgridProvider struct{ version string }

type providerModel struct {
	Endpoint           types.String `tfsdk:"endpoint"`
	Token              types.String `tfsdk:"token"`
	Timeout            types.String `tfsdk:"timeout"`
	InsecureSkipVerify types.Bool   `tfsdk:"insecure_skip_verify"`
}

func (p *calcgridProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "calcgrid"
	resp.Version = p.version
}

func (p *calcgridProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages calcgrid's access control and queue settings through its admin API: " +
			"tenants, API keys (scopes, limits, allowed priorities, expiry) and the pause, depth cap and weight of each queue. " +
			"The token must carry the `admin` scope: the environment's bootstrap admin token or an admin key.",
		Attributes: map[string]schema.Attribute{
			"endpoint": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Base URL of the calcgrid API, e.g. `https://localhost:8443`. " +
					"Defaults to the environment variable `" + EnvEndpoint + "`; one of the two is required.",
			},
			"token": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				MarkdownDescription: "Bearer token with the `admin` scope. Defaults to the environment variable `" + EnvToken +
					"`; one of the two is required. Keep it out of the configuration: prefer the variable.",
			},
			"timeout": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Time limit of one HTTP request to the API, as a Go duration (`30s`, `2m`). Defaults to `30s`.",
				Validators:          []validatorString{durationValidator{}},
			},
			"insecure_skip_verify": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Accept any TLS certificate from the endpoint (a test stack's self-signed one). " +
					"Defaults to `false`: never turn it on against a shared environment.",
			},
		},
	}
}

func (p *calcgridProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for _, a := range []struct {
		name    string
		unknown bool
	}{
		{"endpoint", cfg.Endpoint.IsUnknown()}, {"token", cfg.Token.IsUnknown()},
		{"timeout", cfg.Timeout.IsUnknown()}, {"insecure_skip_verify", cfg.InsecureSkipVerify.IsUnknown()},
	} {
		if a.unknown {
			resp.Diagnostics.AddAttributeError(path.Root(a.name), "Unknown calcgrid provider setting",
				fmt.Sprintf("%s is only known after apply; the provider needs it to plan. Set it from a value known at plan time.", a.name))
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	endpoint := valueOrEnv(cfg.Endpoint, EnvEndpoint)
	token := valueOrEnv(cfg.Token, EnvToken)
	if endpoint == "" {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Missing calcgrid endpoint",
			"Set endpoint in the provider block or the environment variable "+EnvEndpoint+" (e.g. https://localhost:8443).")
	}
	if token == "" {
		resp.Diagnostics.AddAttributeError(path.Root("token"), "Missing calcgrid token",
			"Set the environment variable "+EnvToken+" (or token in the provider block) to the bootstrap admin token or a key with the admin scope.")
	}
	if resp.Diagnostics.HasError() {
		return
	}
	timeout := client.DefaultTimeout
	if !cfg.Timeout.IsNull() {
		d, err := time.ParseDuration(cfg.Timeout.ValueString())
		if err != nil || d <= 0 {
			resp.Diagnostics.AddAttributeError(path.Root("timeout"), "Invalid timeout", durationMessage(cfg.Timeout.ValueString()))
			return
		}
		timeout = d
	}
	c, err := client.New(client.Config{
		Endpoint: endpoint, Token: token, Timeout: timeout,
		InsecureSkipVerify: cfg.InsecureSkipVerify.ValueBool(),
		UserAgent:          "terraform-provider-calcgrid/" + p.version + " (+" + req.TerraformVersion + ")",
	})
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Invalid calcgrid endpoint", err.Error())
		return
	}
	resp.ResourceData = c
	resp.DataSourceData = c
}

func valueOrEnv(v types.String, env string) string {
	if !v.IsNull() && v.ValueString() != "" {
		return v.ValueString()
	}
	return os.Getenv(env)
}

func (p *calcgridProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{newTenantResource, newAPIKeyResource, newQueueResource}
}

func (p *calcgridProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{newTaskTypesDataSource, newQueuesDataSource}
}
