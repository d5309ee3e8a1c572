package provider

import (
	"cmp"
	"context"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/calcgrid/calcgrid/provider/internal/client"
)

// ---------------------------------------------------------------- task types

type taskTypesDataSource struct{ client *client.Client }

var _ datasource.DataSourceWithConfigure = (*taskTypesDataSource)(nil)

func newTaskTypesDataSource() datasource.DataSource { return &taskTypesDataSource{} }

type taskTypeModel struct {
	Name          types.String `tfsdk:"name"`
	Description   types.String `tfsdk:"description"`
	Queue         types.String `tfsdk:"queue"`
	TimeoutS      types.Int64  `tfsdk:"timeout_s"`
	MaxRetry      types.Int64  `tfsdk:"max_retry"`
	PayloadSchema types.String `tfsdk:"payload_schema"`
}

type taskTypesModel struct {
	TaskTypes []taskTypeModel `tfsdk:"task_types"`
}

func (d *taskTypesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_task_types"
}

func (d *taskTypesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The task types this calcgrid environment runs (GET /v1/task-types), e.g. to check that a client's type exists " +
			"or to give a key exactly the priorities of the types it submits. Needs the `read` scope: the bootstrap admin token has `admin` only, " +
			"so give the provider an admin key that may also read (403 otherwise).",
		Attributes: map[string]schema.Attribute{
			"task_types": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "Every task type, in the API's order.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":           schema.StringAttribute{Computed: true, MarkdownDescription: "The type's name, e.g. `option.price`."},
					"description":    schema.StringAttribute{Computed: true, MarkdownDescription: "What the type computes."},
					"queue":          schema.StringAttribute{Computed: true, MarkdownDescription: "The queue its tasks go to by default."},
					"timeout_s":      schema.Int64Attribute{Computed: true, MarkdownDescription: "The longest a task may run, in seconds."},
					"max_retry":      schema.Int64Attribute{Computed: true, MarkdownDescription: "How often a failed task is retried."},
					"payload_schema": schema.StringAttribute{Computed: true, MarkdownDescription: "The payload's JSON Schema, as JSON text (`jsondecode` it)."},
				}},
			},
		},
	}
}

func (d *taskTypesDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *taskTypesDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	tts, err := d.client.TaskTypes(ctx)
	if err != nil {
		apiError(&resp.Diagnostics, "reading task types", err)
		return
	}
	out := taskTypesModel{TaskTypes: make([]taskTypeModel, len(tts))}
	for i, t := range tts {
		out.TaskTypes[i] = taskTypeModel{
			Name: types.StringValue(t.Name), Description: types.StringValue(t.Description), Queue: types.StringValue(t.Queue),
			TimeoutS: types.Int64Value(t.TimeoutS), MaxRetry: types.Int64Value(t.MaxRetry), PayloadSchema: types.StringValue(string(t.PayloadSchema)),
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, out)...)
}

// ---------------------------------------------------------------- queues

type queuesDataSource struct{ client *client.Client }

var _ datasource.DataSourceWithConfigure = (*queuesDataSource)(nil)

func newQueuesDataSource() datasource.DataSource { return &queuesDataSource{} }

type queueStatsModel struct {
	Name       types.String `tfsdk:"name"`
	Paused     types.Bool   `tfsdk:"paused"`
	MaxPending types.Int64  `tfsdk:"max_pending"`
	Weight     types.Int64  `tfsdk:"weight"`
	Pending    types.Int64  `tfsdk:"pending"`
	Active     types.Int64  `tfsdk:"active"`
	Scheduled  types.Int64  `tfsdk:"scheduled"`
	Retry      types.Int64  `tfsdk:"retry"`
	Completed  types.Int64  `tfsdk:"completed"`
}

type queuesModel struct {
	Queues []queueStatsModel `tfsdk:"queues"`
}

func (d *queuesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_queues"
}

func (d *queuesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	count := func(what string) schema.Int64Attribute {
		return schema.Int64Attribute{Computed: true, MarkdownDescription: what}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "calcgrid's queues with their settings and live counts, as read at refresh (GET /v1/admin/queues; needs the admin scope). " +
			"The counts change all the time: use them for outputs and checks, not as inputs of other resources.",
		Attributes: map[string]schema.Attribute{
			"queues": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "Every queue, highest priority first.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":        schema.StringAttribute{Computed: true, MarkdownDescription: "The queue's name."},
					"paused":      schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether workers stop taking its tasks."},
					"max_pending": count("Pending tasks above which submissions are refused; `0` is the environment's cap."),
					"weight":      count("Its share when workers pick their next task (1 to 100)."),
					"pending":     count("Tasks waiting for a worker."),
					"active":      count("Tasks running now."),
					"scheduled":   count("Tasks waiting for their start time."),
					"retry":       count("Failed tasks waiting for a retry."),
					"completed":   count("Completed tasks still kept."),
				}},
			},
		},
	}
}

func (d *queuesDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *queuesDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	qs, err := d.client.Queues(ctx)
	if err != nil {
		apiError(&resp.Diagnostics, "reading queues", err)
		return
	}
	sortQueues(qs)
	out := queuesModel{Queues: make([]queueStatsModel, len(qs))}
	for i, q := range qs {
		out.Queues[i] = queueStatsModel{
			Name: types.StringValue(q.Name), Paused: types.BoolValue(q.Paused), MaxPending: types.Int64Value(q.MaxPending),
			Weight: types.Int64Value(q.Weight), Pending: types.Int64Value(q.Pending), Active: types.Int64Value(q.Active),
			Scheduled: types.Int64Value(q.Scheduled), Retry: types.Int64Value(q.Retry), Completed: types.Int64Value(q.Completed),
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, out)...)
}

// sortQueues puts calcgrid's queues first, highest priority first, and any
// other by name: the API's order is not part of its contract.
func sortQueues(qs []client.Queue) {
	rank := func(name string) int {
		if i := slices.Index(QueueNames(), name); i >= 0 {
			return i
		}
		return len(QueueNames())
	}
	slices.SortStableFunc(qs, func(a, b client.Queue) int {
		return cmp.Or(cmp.Compare(rank(a.Name), rank(b.Name)), cmp.Compare(a.Name, b.Name))
	})
}
