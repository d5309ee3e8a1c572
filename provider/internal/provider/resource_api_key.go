package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/calcgrid/calcgrid/provider/internal/client"
)

type apiKeyResource struct{ client *client.Client }

var (
	_ resource.ResourceWithConfigure   = (*apiKeyResource)(nil)
	_ resource.ResourceWithImportState = (*apiKeyResource)(nil)
)

func newAPIKeyResource() resource.Resource { return &apiKeyResource{} }

type apiKeyModel struct {
	ID            types.String `tfsdk:"id"`
	Tenant        types.String `tfsdk:"tenant"`
	Name          types.String `tfsdk:"name"`
	Scopes        types.Set    `tfsdk:"scopes"`
	RatePerSecond types.Int64  `tfsdk:"rate_per_second"`
	MaxPending    types.Int64  `tfsdk:"max_pending"`
	Priorities    types.Set    `tfsdk:"priorities"`
	ExpiresAt     types.String `tfsdk:"expires_at"`
	CreatedAt     types.String `tfsdk:"created_at"`
	Secret        types.String `tfsdk:"secret"`
}

func (r *apiKeyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_key"
}

func (r *apiKeyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	emptySet := types.SetValueMust(types.StringType, []attr.Value{})
	resp.Schema = schema.Schema{
		MarkdownDescription: "An API key of a calcgrid tenant, sent by clients as `Authorization: Bearer <secret>`. " +
			"The API stores only the SHA-256 of the secret and shows the secret once, when the key is created: " +
			"it is the sensitive attribute `secret`, kept in the Terraform state (protect the state accordingly). " +
			"Every setting but the tenant changes in place; destroying the resource revokes the key, and its secret fails with 401 at once. " +
			"A key revoked outside Terraform is gone from the API (404): the next plan creates a new one.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The key's id (`key_` and 26 base32 characters): not a secret, the handle for import and the admin API.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"tenant": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "The tenant the key belongs to (and whose tasks it sees). Changing it replaces the key: a new secret.",
				Validators:          []validatorString{nameValidator{what: "tenant"}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "A name for people: lowercase letters, digits and `-`, at most 63 characters.",
				Validators:          []validatorString{nameValidator{what: "key"}},
			},
			"scopes": schema.SetAttribute{
				Required:    true,
				ElementType: types.StringType,
				MarkdownDescription: "What the key may do, at least one of: `submit` (POST /v1/tasks), `read` (GET of tasks, task types and queues), " +
					"`cancel` (DELETE /v1/tasks/{id}), `admin` (the admin API).",
				Validators: []validator.Set{
					setvalidator.SizeAtLeast(1),
					setvalidator.ValueStringsAre(oneOf{what: "scope", allowed: Scopes()}),
				},
			},
			"rate_per_second": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(0),
				MarkdownDescription: "Requests per second the key may send (a token bucket, burst = max(1, rate)); beyond it 429 with Retry-After. " +
					"`0`, the default, is unlimited.",
				Validators: []validator.Int64{int64validator.AtLeast(0)},
			},
			"max_pending": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(0),
				MarkdownDescription: "Tasks of this key that may be pending or active at once; beyond it submissions get 429. `0`, the default, is unlimited.",
				Validators:          []validator.Int64{int64validator.AtLeast(0)},
			},
			"priorities": schema.SetAttribute{
				Optional: true, Computed: true, ElementType: types.StringType, Default: setdefault.StaticValue(emptySet),
				MarkdownDescription: "The queues (priorities) the key may submit to, of `" + strings.Join(QueueNames(), "`, `") +
					"`; a submission to another gets 403. Empty, the default, allows all.",
				Validators: []validator.Set{setvalidator.ValueStringsAre(oneOf{what: "priority", allowed: QueueNames()})},
			},
			"expires_at": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "When the key stops working (RFC 3339, e.g. `2027-01-01T00:00:00Z`); unset, the key does not expire.",
				Validators:          []validatorString{rfc3339Validator{}},
			},
			"created_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "When the key was created (RFC 3339).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"secret": schema.StringAttribute{
				Computed:  true,
				Sensitive: true,
				MarkdownDescription: "The key's secret (`cgk_…`), known only to the Terraform run that created the key. " +
					"An imported key has none: the API never shows a secret again.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *apiKeyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// settings is what the plan asks for, in the client's terms.
func (m apiKeyModel) settings(ctx context.Context, diags *diag.Diagnostics) client.KeyUpdate {
	u := client.KeyUpdate{
		Name: m.Name.ValueString(), RatePerSecond: m.RatePerSecond.ValueInt64(), MaxPending: m.MaxPending.ValueInt64(),
		Scopes: []string{}, Priorities: []string{},
	}
	diags.Append(m.Scopes.ElementsAs(ctx, &u.Scopes, false)...)
	if !m.Priorities.IsNull() && !m.Priorities.IsUnknown() {
		diags.Append(m.Priorities.ElementsAs(ctx, &u.Priorities, false)...)
	}
	sort.Strings(u.Scopes)
	sort.Strings(u.Priorities)
	if !m.ExpiresAt.IsNull() {
		t, err := time.Parse(time.RFC3339, m.ExpiresAt.ValueString())
		if err != nil {
			diags.AddAttributeError(path.Root("expires_at"), "Invalid timestamp", err.Error())
		}
		u.ExpiresAt = &t
	}
	return u
}

// fromAPI sets m from the API's view of the key. m's own expires_at (the
// planned or stored one) is kept when it names the same instant, so that
// +02:00 and Z spellings of one time do not show as changes.
func (m *apiKeyModel) fromAPI(k *client.Key, diags *diag.Diagnostics) {
	m.ID = types.StringValue(k.ID)
	m.Tenant = types.StringValue(k.Tenant)
	m.Name = types.StringValue(k.Name)
	m.RatePerSecond = types.Int64Value(k.RatePerSecond)
	m.MaxPending = types.Int64Value(k.MaxPending)
	m.Scopes = stringSet(k.Scopes, diags)
	m.Priorities = stringSet(k.Priorities, diags)
	m.CreatedAt = types.StringValue(k.CreatedAt.UTC().Format(time.RFC3339))
	switch {
	case k.ExpiresAt == nil:
		m.ExpiresAt = types.StringNull()
	case sameInstant(m.ExpiresAt, *k.ExpiresAt):
		// keep the configuration's spelling
	default:
		m.ExpiresAt = types.StringValue(k.ExpiresAt.UTC().Format(time.RFC3339))
	}
}

func sameInstant(v types.String, t time.Time) bool {
	if v.IsNull() || v.IsUnknown() {
		return false
	}
	p, err := time.Parse(time.RFC3339, v.ValueString())
	return err == nil && p.Equal(t)
}

func stringSet(values []string, diags *diag.Diagnostics) types.Set {
	elems := make([]attr.Value, len(values))
	for i, v := range values {
		elems[i] = types.StringValue(v)
	}
	s, d := types.SetValue(types.StringType, elems)
	diags.Append(d...)
	return s
}

func (r *apiKeyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan apiKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s := plan.settings(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	k, err := r.client.CreateKey(ctx, client.NewKey{Tenant: plan.Tenant.ValueString(), KeyUpdate: s})
	if err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("creating key %s of tenant %s", s.Name, plan.Tenant.ValueString()), err)
		return
	}
	plan.fromAPI(&k.Key, &resp.Diagnostics)
	plan.Secret = types.StringValue(k.Secret)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *apiKeyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state apiKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	k, err := r.client.GetKey(ctx, state.ID.ValueString())
	if client.IsNotFound(err) {
		// Revoked or deleted outside Terraform: gone, the next plan creates it anew.
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "reading key "+state.ID.ValueString(), err)
		return
	}
	state.fromAPI(k, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

func (r *apiKeyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state apiKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s := plan.settings(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	k, err := r.client.UpdateKey(ctx, state.ID.ValueString(), s)
	if err != nil {
		apiError(&resp.Diagnostics, "updating key "+state.ID.ValueString(), err)
		return
	}
	plan.fromAPI(k, &resp.Diagnostics)
	plan.Secret = state.Secret
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *apiKeyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state apiKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.RevokeKey(ctx, state.ID.ValueString())
	if err != nil && !errors.Is(err, client.ErrNotFound) {
		apiError(&resp.Diagnostics, "revoking key "+state.ID.ValueString(), err)
	}
}

// ImportState takes the key's id; the secret stays unknown to Terraform.
func (r *apiKeyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("secret"), types.StringNull())...)
}
