package provider

import (
	"context"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/calcgrid/calcgrid/provider/internal/client"
)

type queueResource struct{ client *client.Client }

var (
	_ resource.ResourceWithConfigure   = (*queueResource)(nil)
	_ resource.ResourceWithImportState = (*queueResource)(nil)
)

func newQueueResource() resource.Resource { return &queueResource{} }

type queueModel struct {
	Name       types.String `tfsdk:"name"`
	Paused     types.Bool   `tfsdk:"paused"`
	MaxPending types.Int64  `tfsdk:"max_pending"`
	Weight     types.Int64  `tfsdk:"weight"`
}

func (r *queueResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_queue"
}

func (r *queueResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The settings of one of calcgrid's queues (`" + strings.Join(QueueNames(), "`, `") + "`), which always exist: " +
			"creating the resource takes the queue over and applies the settings, and every refresh reads the live settings, " +
			"so a change made outside Terraform (a pause through the admin API) shows in the next plan and `apply` reverts it. " +
			"Destroying the resource hands the queue back: it is resumed and its cap goes back to the environment's (`max_pending` 0 in the admin API). " +
			"The weight stays as last applied, since the admin API has no value that means the environment's weight.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "The queue: one of `" + strings.Join(QueueNames(), "`, `") + "`.",
				Validators:          []validatorString{oneOf{what: "queue name", allowed: QueueNames()}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"paused": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Whether workers stop taking the queue's tasks (submissions are still accepted and wait). Defaults to `false`.",
			},
			"max_pending": schema.Int64Attribute{
				Optional: true, Computed: true,
				MarkdownDescription: "Pending tasks above which submissions to the queue are refused (429), at least 1. Unset, the queue keeps the cap " +
					"it has (the environment's, unless changed) and Terraform only reports it: the API shows the cap in force, so a cap equal " +
					"to the environment's cannot be told from no cap set.",
				Validators:    []validator.Int64{int64validator.AtLeast(1)},
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"weight": schema.Int64Attribute{
				Optional: true, Computed: true,
				MarkdownDescription: "The queue's share when workers pick their next task, 1 to 100; workers take a changed weight when they start. " +
					"Unset, the queue keeps the weight it has (the environment's, unless changed) and Terraform only reports it.",
				Validators:    []validator.Int64{int64validator.Between(1, 100)},
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *queueResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func queueState(q *client.Queue) queueModel {
	return queueModel{Name: types.StringValue(q.Name), Paused: types.BoolValue(q.Paused),
		MaxPending: types.Int64Value(q.MaxPending), Weight: types.Int64Value(q.Weight)}
}

// apply sends the planned settings; an unknown max_pending or weight (unset
// on create) is left as the queue has it.
func (r *queueResource) apply(ctx context.Context, plan queueModel) (*client.Queue, error) {
	u := client.QueueUpdate{Paused: plan.Paused.ValueBoolPointer()}
	if !plan.MaxPending.IsUnknown() && !plan.MaxPending.IsNull() {
		u.MaxPending = plan.MaxPending.ValueInt64Pointer()
	}
	if !plan.Weight.IsUnknown() && !plan.Weight.IsNull() {
		u.Weight = plan.Weight.ValueInt64Pointer()
	}
	return r.client.UpdateQueue(ctx, plan.Name.ValueString(), u)
}

// Create takes the queue over: a queue always exists, so creating and
// updating both set the planned settings.
func (r *queueResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.set(ctx, req.Plan, &resp.State, &resp.Diagnostics)
}

func (r *queueResource) set(ctx context.Context, p tfsdk.Plan, st *tfsdk.State, diags *diag.Diagnostics) {
	var plan queueModel
	diags.Append(p.Get(ctx, &plan)...)
	if diags.HasError() {
		return
	}
	q, err := r.apply(ctx, plan)
	if err != nil {
		apiError(diags, "setting queue "+plan.Name.ValueString(), err)
		return
	}
	diags.Append(st.Set(ctx, queueState(q))...)
}

func (r *queueResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state queueModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	q, err := r.client.GetQueue(ctx, state.Name.ValueString())
	if client.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "reading queue "+state.Name.ValueString(), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, queueState(q))...)
}

func (r *queueResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	r.set(ctx, req.Plan, &resp.State, &resp.Diagnostics)
}

// Delete resumes the queue and gives it back the environment's cap
// (max_pending 0 in the admin API).
func (r *queueResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state queueModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	paused, maxPending := false, int64(0)
	_, err := r.client.UpdateQueue(ctx, state.Name.ValueString(), client.QueueUpdate{Paused: &paused, MaxPending: &maxPending})
	if err != nil && !client.IsNotFound(err) {
		apiError(&resp.Diagnostics, "resetting queue "+state.Name.ValueString(), err)
	}
}

// ImportState takes the queue's name.
func (r *queueResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("name"), req, resp)
}
