package provider

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// TestAccQueueDrift: the example's settings reach the API; a pause through
// the admin API outside Terraform shows as a change in the next plan and
// apply reverts it; import by name; destroy resumes the queue and gives it
// the environment's cap back.
func TestAccQueueDrift(t *testing.T) {
	s := startStack(t)
	queue := func(name string) map[string]any {
		code, q := s.call("GET", "/v1/admin/queues/"+name, s.AdminToken, nil)
		if code != http.StatusOK {
			t.Fatalf("GET queue %s: %d %v", name, code, q)
		}
		return q
	}
	// The environment's settings of low, as the API reports them untouched.
	before := queue("low")
	cfg := withProvider(t, example(t, "resources/calcgrid_queue/resource.tf"))
	resumed := withProvider(t, `
resource "calcgrid_queue" "low" {
  name        = "low"
  max_pending = 2000
}

resource "calcgrid_queue" "high" {
  name   = "high"
  weight = 8
}
`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6Factories,
		CheckDestroy: func(*terraform.State) error {
			if q := queue("low"); q["paused"] != false || q["max_pending"] != before["max_pending"] {
				return fmt.Errorf("queue low after destroy: %v, want resumed with the environment's cap %v", q, before["max_pending"])
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("calcgrid_queue.low", "paused", "true"),
					resource.TestCheckResourceAttr("calcgrid_queue.low", "max_pending", "2000"),
					resource.TestCheckResourceAttrSet("calcgrid_queue.low", "weight"),
					// unset: reported, not managed
					resource.TestCheckResourceAttr("calcgrid_queue.high", "max_pending", fmt.Sprint(before["max_pending"])),
					resource.TestCheckResourceAttr("calcgrid_queue.high", "weight", "8"),
					resource.TestCheckResourceAttr("calcgrid_queue.high", "paused", "false"),
					func(*terraform.State) error {
						if q := queue("low"); q["paused"] != true || q["max_pending"] != float64(2000) {
							return fmt.Errorf("the API has low = %v", q)
						}
						if q := queue("high"); q["weight"] != float64(8) {
							return fmt.Errorf("the API has high = %v", q)
						}
						return nil
					},
				),
			},
			{ // resume in place
				Config: resumed,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("calcgrid_queue.low", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("calcgrid_queue.high", plancheck.ResourceActionNoop),
				}},
				Check: func(*terraform.State) error {
					if q := queue("low"); q["paused"] != false {
						return fmt.Errorf("the API has low = %v after resuming", q)
					}
					return nil
				},
			},
			{ // someone pauses low and changes high's weight through the admin API: drift
				PreConfig: func() {
					if code, q := s.call("PATCH", "/v1/admin/queues/low", s.AdminToken, map[string]any{"paused": true}); code != http.StatusOK {
						t.Fatalf("pausing low out of band: %d %v", code, q)
					}
					if code, q := s.call("PATCH", "/v1/admin/queues/high", s.AdminToken, map[string]any{"weight": 3}); code != http.StatusOK {
						t.Fatalf("reweighting high out of band: %d %v", code, q)
					}
				},
				Config:             resumed,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{ // apply reverts both
				Config: resumed,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("calcgrid_queue.low", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("calcgrid_queue.high", plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					if q := queue("low"); q["paused"] != false {
						return fmt.Errorf("apply left low = %v", q)
					}
					if q := queue("high"); q["weight"] != float64(8) {
						return fmt.Errorf("apply left high = %v", q)
					}
					return nil
				},
			},
			{
				ResourceName:                         "calcgrid_queue.low",
				ImportState:                          true,
				ImportStateId:                        "low",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
			},
		},
	})
}
