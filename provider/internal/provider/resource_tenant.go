package provider

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/calcgrid/calcgrid/provider/internal/client"
)

type tenantResource struct{ client *client.Client }

var (
	_ resource.ResourceWithConfigure   = (*tenantResource)(nil)
	_ resource.ResourceWithImportState = (*tenantResource)(nil)
)

func newTenantResource() resource.Resource { return &tenantResource{} }

type tenantModel struct {
	Name      types.String `tfsdk:"name"`
	CreatedAt types.String `tfsdk:"created_at"`
}

func (r *tenantResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenant"
}

func (r *tenantResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A calcgrid tenant: the owner of API keys and, through them, of tasks. " +
			"A tenant sees, lists and cancels only its own tasks, and its idempotency keys are its own. " +
			"Destroying a tenant fails while it still has keys that are not revoked (destroy the `calcgrid_api_key` resources first; " +
			"Terraform does so by itself when they refer to the tenant).",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "The tenant's name: lowercase letters, digits and `-`, at most 63 characters. Changing it replaces the tenant.",
				Validators:          []validatorString{nameValidator{what: "tenant"}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"created_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "When the tenant was created (RFC 3339).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *tenantResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *tenantResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan tenantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	t, err := r.client.CreateTenant(ctx, plan.Name.ValueString())
	if errors.Is(err, client.ErrConflict) {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "calcgrid: tenant already exists",
			err.Error()+"\n\nImport it instead: terraform import <address> "+plan.Name.ValueString())
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "creating tenant "+plan.Name.ValueString(), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, tenantState(t))...)
}

func tenantState(t *client.Tenant) tenantModel {
	return tenantModel{Name: types.StringValue(t.Name), CreatedAt: types.StringValue(t.CreatedAt.UTC().Format(time.RFC3339))}
}

func (r *tenantResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state tenantModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	t, err := r.client.GetTenant(ctx, state.Name.ValueString())
	if client.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "reading tenant "+state.Name.ValueString(), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, tenantState(t))...)
}

// Update is never called: every attribute replaces or is computed.
func (r *tenantResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan tenantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *tenantResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state tenantModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.DeleteTenant(ctx, state.Name.ValueString())
	if err == nil || client.IsNotFound(err) {
		return
	}
	if errors.Is(err, client.ErrConflict) {
		resp.Diagnostics.AddError("calcgrid: tenant "+state.Name.ValueString()+" still has keys",
			err.Error()+"\n\nRevoke its keys first (destroy their calcgrid_api_key resources, or the keys made outside Terraform).")
		return
	}
	apiError(&resp.Diagnostics, "deleting tenant "+state.Name.ValueString(), err)
}

// ImportState takes the tenant's name.
func (r *tenantResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("name"), req, resp)
}
