package provider

import (
	"net/http"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestAccDataSources applies both data source examples against the API,
// with an admin key that may also read (GET /v1/task-types needs read; the
// bootstrap token has the admin scope only).
func TestAccDataSources(t *testing.T) {
	s := startStack(t)
	if code, body := s.call("POST", "/v1/admin/tenants", s.AdminToken, map[string]any{"name": "ops"}); code != http.StatusCreated {
		t.Fatalf("POST /v1/admin/tenants: %d %v", code, body)
	}
	code, key := s.call("POST", "/v1/admin/keys", s.AdminToken, map[string]any{"tenant": "ops", "name": "terraform",
		"scopes": []string{"admin", "read"}, "rate_per_second": 0, "max_pending": 0, "priorities": []string{}, "expires_at": nil})
	if code != http.StatusCreated {
		t.Fatalf("POST /v1/admin/keys: %d %v", code, key)
	}
	t.Setenv(EnvToken, key["secret"].(string))
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
