package quant

import (
	"math"
	"time"
)

// Estimate is what one kernel run takes: CPU time on one core, and the most
// bytes of heap it holds at once. Task types compare it with their
// environment's budgets before a run is accepted.
type Estimate struct {
	// Units counts the kernel's own unit of work (path-steps, tree nodes,
	// scenario terms), pricings included; CPU is Units at the measured rate.
	Units  float64
	CPU    time.Duration
	Memory int64
}

// CPU cost of one unit of each kernel, in nanoseconds of one core: a vCPU of
// the project's 2-vCPU Intel Xeon @ 2.0 GHz while its sibling is busy too, as
// on a worker whose two slots both run (a busy sibling hyperthread slows a
// kernel by up to half). Each rate is the slowest seen, rounded up, in
// process CPU time of
//
//	go test -count=1 -run TestEstimateCalibration -v ./app/internal/quant
//	GOMAXPROCS=1 go test -run '^$' -bench . ./app/internal/quant   # two at once
//
// and in the run times of TestLargestAcceptedTasksOnADevWorker
// (app/cmd/calcgrid), which runs the largest payloads two at a time.
// Measured (ns a unit, alone – with the sibling busy): European path 24.5 –
// 36; Asian path-step 22–24 – 27–38 (56–63 a one-step path); barrier 35–42 –
// 49–55; Longstaff–Schwartz path-step 86–97 at the money, 117–153 deep in
// the money (every path regressed), 132 in the two-at-a-time run, 48 a
// one-step path; tree node 1.3–1.9, American 31–48 – 75 at 10,000 steps;
// VaR scenario 267 with one position, 41,400 with 200 (fit 234 +
// 31·positions + 1.74·products), 30,600 with 200 in the two-at-a-time run.
const (
	nsEuropeanPath                   = 40
	nsAsianPath, nsAsianPathStep     = 70, 40
	nsBarrierPath, nsBarrierPathStep = 90, 55
	nsLSMPath, nsLSMPathStep         = 60, 40
	nsLSMRegression                  = 120 // a path-step of the backward pass
	nsTreeNode, nsAmericanTreeNode   = 3, 80
	nsScenario, nsScenarioPosition   = 300, 40
	nsScenarioProduct                = 2
)

// Memory beside the arrays that grow with the payload, in bytes.
const (
	// baseMemory is what every run holds beside the arrays counted:
	// goroutine stacks, a path's normals per goroutine (≤ 80 KB each), the
	// decoded payload and the result.
	baseMemory    int64 = 4 << 20
	bytesPerFloat       = 8
	sumsBytes           = 72  // one chunk's sums
	lsmChunkBytes       = 208 // sums, normal-equation partials and a block's slice header
	// corrTempFloats counts the n×n matrices alive while the correlation is
	// factored: the payload's, gonum's symmetric copy and Cholesky factor,
	// its triangular copy and the factor ValueAtRisk keeps.
	corrTempFloats = 5
)

// Pricings is the number of full valuations s asks for: with greeks, every
// method but the closed-form European revalues under eight bumps.
func Pricings(o Option, s Settings) int {
	if s.Greeks && !(o.Style == European && s.Method == Analytic) {
		return 9
	}
	return 1
}

// EstimatePrice is what Price(o, s) takes. Bumped revaluations run one after
// another and each frees its arrays, so memory is that of one pricing.
func EstimatePrice(o Option, s Settings) Estimate {
	units, ns, mem := 0.0, 0.0, baseMemory
	paths, steps := float64(s.Paths), float64(s.Steps)
	switch {
	case s.Method == Binomial:
		n := float64(s.Steps | 1)
		units = (n + 1) * (n + 2) / 2 // nodes
		ns = units * nsTreeNode
		if o.Style == American {
			ns = units * nsAmericanTreeNode
		}
		mem += int64(n+1) * bytesPerFloat
	case s.Method != MonteCarlo:
		// Closed forms: nothing to count.
	case o.Style == European:
		pairs := (s.Paths + 1) / 2
		units = 2 * float64(pairs)
		ns = units * nsEuropeanPath
		mem += chunks(pairs, chunkSize(2)) * sumsBytes
	case o.Style == Asian:
		units = paths * steps
		ns = paths*nsAsianPath + units*nsAsianPathStep
		mem += chunks(s.Paths, chunkSize(s.Steps)) * sumsBytes
	case o.Style == Barrier:
		units = paths * steps
		ns = paths*nsBarrierPath + units*nsBarrierPathStep
		mem += chunks(s.Paths, chunkSize(s.Steps))*sumsBytes + int64(s.Steps)*bytesPerFloat
	case o.Style == American:
		// Simulated forward, then regressed at every date but the last,
		// keeping every path at every date and its cash flow.
		units = paths * steps
		ns = paths*nsLSMPath + units*nsLSMPathStep + paths*(steps-1)*nsLSMRegression
		mem += int64(s.Paths)*int64(s.Steps+1)*bytesPerFloat + chunks(s.Paths, chunkSize(s.Steps))*lsmChunkBytes
	}
	k := float64(Pricings(o, s))
	return Estimate{Units: units * k, CPU: nanoseconds(ns * k), Memory: mem}
}

// EstimateVaR is what ValueAtRisk takes for simulations scenarios of a
// portfolio of n positions whose correlation factor has the given rank and
// products (see Factor.Size).
func EstimateVaR(n, rank, products, simulations int) Estimate {
	sims := float64(simulations)
	units := sims * float64(n+products) // a normal and an exp per position, the factor's multiply-adds
	ns := sims * (nsScenario + nsScenarioPosition*float64(n) + nsScenarioProduct*float64(products))
	// The P&L of every scenario and the merge sort's buffer of the same size.
	mem := baseMemory + 2*int64(simulations)*bytesPerFloat +
		chunks(simulations, chunkSize(n*rank/2+4*n))*sumsBytes +
		corrTempFloats*int64(n)*int64(n)*bytesPerFloat
	return Estimate{Units: units, CPU: nanoseconds(ns), Memory: mem}
}

func chunks(items, size int) int64 { return int64((items + size - 1) / size) }

func nanoseconds(ns float64) time.Duration {
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(math.Ceil(ns))
}
