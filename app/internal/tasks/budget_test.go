package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// dev is the budget of a dev worker (environments/dev.tfvars): 384 MiB and
// 0.5 CPUs shared by 2 slots, a minute of one core a task.
func dev(t *testing.T) Budget {
	t.Helper()
	b, err := SlotBudget(Worker{MemoryLimit: 384 << 20, CPUs: 0.5, Concurrency: 2, TaskCPU: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSlotBudget(t *testing.T) {
	for _, c := range []struct {
		name string
		w    Worker
		want Budget
		err  string
	}{
		// 384 MiB × 0.9 (GOMEMLIMIT) × 0.8 / 2 slots.
		{"dev", Worker{MemoryLimit: 384 << 20, CPUs: 0.5, Concurrency: 2, TaskCPU: time.Minute},
			Budget{CPU: time.Minute, Memory: 144955146, SlotCPUs: 0.25}, ""},
		{"staging", Worker{MemoryLimit: 1024 << 20, CPUs: 1, Concurrency: 2},
			Budget{Memory: 386547056, SlotCPUs: 0.5}, ""},
		{"prod", Worker{MemoryLimit: 2048 << 20, CPUs: 2, Concurrency: 4},
			Budget{Memory: 386547056, SlotCPUs: 0.5}, ""},
		{"override within the soft limit", Worker{MemoryLimit: 384 << 20, Concurrency: 2, TaskMemory: 172 << 20},
			Budget{Memory: 172 << 20}, ""},
		{"override over the soft limit", Worker{MemoryLimit: 384 << 20, Concurrency: 2, TaskMemory: 173 << 20},
			Budget{}, "task memory 173 MiB × 2 slots exceeds 345.6 MiB, the Go memory limit of a 384 MiB worker (90%)"},
		{"override without a container limit", Worker{Concurrency: 3, TaskMemory: 1 << 30}, Budget{Memory: 1 << 30}, ""},
		{"no limits at all", Worker{Concurrency: 1}, Budget{}, ""},
		{"no slots", Worker{}, Budget{}, "concurrency must be ≥ 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := SlotBudget(c.w)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("SlotBudget(%+v) = %+v, %v; want an error with %q", c.w, b, err, c.err)
				}
				return
			}
			if err != nil || b != c.want {
				t.Errorf("SlotBudget(%+v) = %+v, %v; want %+v", c.w, b, err, c.want)
			}
		})
	}
}

func TestWorkLimit(t *testing.T) {
	for _, c := range []struct {
		name      string
		b         Budget
		timeout   time.Duration
		want      time.Duration
		byTimeout bool
	}{
		{"the environment's budget", Budget{CPU: time.Minute, SlotCPUs: 0.25}, 30 * time.Minute, time.Minute, false},
		{"80% of the timeout at the slot's share", Budget{CPU: time.Hour, SlotCPUs: 0.25}, 30 * time.Minute, 360 * time.Second, true},
		{"no budget: 80% of the timeout on one core", Budget{}, 30 * time.Minute, 24 * time.Minute, true},
		{"several cores a slot", Budget{SlotCPUs: 2}, 15 * time.Minute, 24 * time.Minute, true},
		{"budget equal to the timeout's", Budget{CPU: 24 * time.Minute}, 30 * time.Minute, 24 * time.Minute, false},
	} {
		got, by := c.b.WorkLimit(c.timeout)
		if got != c.want || by != c.byTimeout {
			t.Errorf("%s: WorkLimit = %s (by timeout %v), want %s (%v)", c.name, got, by, c.want, c.byTimeout)
		}
	}
}

// TestCheck: a cost at a bound is accepted, one unit over it refused, on the
// formula's first field, with a message naming the fields, the estimate
// and the bound.
func TestCheck(t *testing.T) {
	b := dev(t)
	work := Formula{Text: "paths × steps = 1000 × 252 = 252000 path-steps", Fields: []string{"paths", "steps"}}
	space := Formula{Text: "16 bytes × simulations", Fields: []string{"simulations"}}
	for _, c := range []struct {
		name    string
		b       Budget
		timeout time.Duration
		cost    Cost
		want    []FieldError
	}{
		{"work at the budget", b, 30 * time.Minute, Cost{CPU: time.Minute, Work: work}, nil},
		{"work over the budget", b, 30 * time.Minute, Cost{CPU: time.Minute + 1, Work: work}, []FieldError{{"paths",
			"paths × steps = 1000 × 252 = 252000 path-steps needs about 61 s of one core, more than the work budget of this environment: 60 s of one core a task; lower paths or steps"}}},
		{"work at the timeout", b, 2 * time.Minute, Cost{CPU: 24 * time.Second, Work: work}, nil},
		{"work over the timeout", b, 2 * time.Minute, Cost{CPU: 24*time.Second + 1, Work: work}, []FieldError{{"paths",
			"paths × steps = 1000 × 252 = 252000 path-steps needs about 25 s of one core, more than what a t.x task can do within 80% of its 2 minutes timeout: 24 s of one core at 0.25 cores per task slot; lower paths or steps"}}},
		{"memory at the budget", b, time.Hour, Cost{Memory: b.Memory, Space: space}, nil},
		{"memory over the budget", b, time.Hour, Cost{Memory: b.Memory + 1, Space: space}, []FieldError{{"simulations",
			"16 bytes × simulations needs about 138 MiB of memory, more than the 138 MiB per task slot of this environment's workers (its memory budget); lower simulations"}}},
		{"no memory budget", Budget{}, time.Hour, Cost{Memory: 1 << 50, Space: space}, nil},
		{"both over", b, 30 * time.Minute, Cost{CPU: 52 * 24 * time.Hour, Memory: 1200 << 20, Work: work, Space: space}, []FieldError{
			{"paths", "paths × steps = 1000 × 252 = 252000 path-steps needs about 52 days of one core, more than the work budget of this environment: 60 s of one core a task; lower paths or steps"},
			{"simulations", "16 bytes × simulations needs about 1.17 GiB of memory, more than the 138 MiB per task slot of this environment's workers (its memory budget); lower simulations"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.b.Check("t.x", c.timeout, c.cost)
			if len(got) != len(c.want) {
				t.Fatalf("Check = %+v, want %+v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("Check[%d] =\n  %+v\nwant\n  %+v", i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestWording(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Duration(1500 * time.Millisecond), "1.5 s"},
		{Duration(90 * time.Second), "90 s"},
		{Duration(450 * time.Second), "7.5 minutes"},
		{Duration(38 * time.Hour), "38 hours"},
		{Duration(52 * 24 * time.Hour), "52 days"},
		{Bytes(512), "512 bytes"},
		{Bytes(144955146), "138 MiB"},
		{Bytes(1200 << 20), "1.17 GiB"},
		{Count(99206), "99206"},
		{Count(4.5e12), "4.5e12"},
		{Count(1e7), "1e7"},
		{alternatives([]string{"paths", "steps", "greeks"}), "paths, steps or greeks"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// sized is a payload whose cost is its size: n milliseconds of one core
// and n MiB.
type sized struct {
	N int64 `json:"n"`
}

func (*sized) Normalize() []FieldError { return nil }

var sizedSpec = Spec[sized]{
	Name: "t.sized", Queue: QueueMedium, Timeout: time.Hour, CostModel: CostModel{Work: "n ms", Memory: "n MiB", Fields: []string{"n"}},
	Cost: func(p sized) Cost {
		f := Formula{Text: "n", Fields: []string{"n"}}
		return Cost{CPU: time.Duration(p.N) * time.Millisecond, Memory: p.N << 20, Work: f, Space: f}
	},
}

// TestDefinitionHoldsItsBudget: Prepare refuses a payload over the budget
// as a client mistake on "payload.<field>"; Handle refuses it permanently
// without running it (a task accepted under a larger budget); both accept
// what fits.
func TestDefinitionHoldsItsBudget(t *testing.T) {
	ran := 0
	d := Define(sizedSpec, func(context.Context, sized, Reporter) (int, error) { ran++; return 1, nil })
	d.Budget = Budget{CPU: time.Second, Memory: 100 << 20}

	if _, err := d.Prepare(json.RawMessage(`{"n":100}`)); err != nil {
		t.Errorf("at the budget: %v", err)
	}
	_, err := d.Prepare(json.RawMessage(`{"n":101}`))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Field != "payload.n" ||
		!strings.Contains(ve.Errors[0].Message, "more than the 100 MiB per task slot") {
		t.Errorf("over the memory budget: %v, want one field error on payload.n naming 100 MiB", err)
	}
	if _, err := d.Handle(context.Background(), json.RawMessage(`{"n":100}`), Discard{}); err != nil || ran != 1 {
		t.Errorf("Handle at the budget: %v (ran %d)", err, ran)
	}
	_, err = d.Handle(context.Background(), json.RawMessage(`{"n":1001}`), Discard{})
	if !errors.Is(err, ErrOverBudget) || !errors.Is(err, ErrPermanent) || ran != 1 ||
		!strings.Contains(err.Error(), "payload.n: n needs about 1.1 s of one core, more than the work budget of this environment: 1 s") {
		t.Errorf("Handle over the budget: %v (ran %d), want ErrOverBudget naming payload.n and the bound, nothing run", err, ran)
	}
}

func TestRegistryGivesItsBudget(t *testing.T) {
	r := NewRegistry()
	if err := r.Register(Define(sizedSpec, func(context.Context, sized, Reporter) (int, error) { return 0, nil })); err != nil {
		t.Fatal(err)
	}
	b := Budget{CPU: time.Second, Memory: 1 << 20, SlotCPUs: 0.5}
	r.SetBudget(b)
	if d, _ := r.Lookup("t.sized"); d.Budget != b {
		t.Errorf("Lookup: budget %+v, want %+v", d.Budget, b)
	}
	if d := r.All()[0]; d.Budget != b {
		t.Errorf("All: budget %+v, want %+v", d.Budget, b)
	}
	spec := sizedSpec
	spec.Name, spec.CostModel = "t.unsaid", CostModel{}
	if err := r.Register(Define(spec, func(context.Context, sized, Reporter) (int, error) { return 0, nil })); err == nil {
		t.Error("a type that does not say how its cost grows was registered")
	}
}
