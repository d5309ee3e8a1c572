package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestAccDataSources applies both data source examples against the API.
func TestAccDataSources(t *testing.T) {
	startStack(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6Factories,
		Steps: []resource.TestStep{{
			Config: withProvider(t,
				example(t, "data-sources/calcgrid_task_types/data-source.tf"),
				example(t, "data-sources/calcgrid_queues/data-source.tf")),
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttrSet("data.calcgrid_task_types.all", "task_types.0.name"),
				resource.TestCheckResourceAttrSet("data.calcgrid_task_types.all", "task_types.0.payload_schema"),
				resource.TestCheckResourceAttr("data.calcgrid_queues.live", "queues.#", "3"),
				resource.TestCheckResourceAttr("data.calcgrid_queues.live", "queues.0.name", QueueNames()[0]),
				resource.TestCheckResourceAttr("data.calcgrid_queues.live", "queues.1.name", QueueNames()[1]),
				resource.TestCheckResourceAttr("data.calcgrid_queues.live", "queues.2.name", QueueNames()[2]),
				resource.TestCheckResourceAttr("data.calcgrid_queues.live", "queues.2.paused", "false"),
			),
		}},
	})
}
