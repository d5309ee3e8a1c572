package quant

import (
	"math"
	"math/rand/v2"
)

// normals draws standard normal variates with the Marsaglia–Tsang ziggurat
// (the algorithm behind rand.NormFloat64) straight from a concrete PCG, so
// the hot loops make no interface calls. bench/c/rng.h is the same generator
// in C, which keeps the Go/C comparison fair.
type normals struct {
	src rand.PCG
}

// newNormals returns the stream of chunk under seed. Streams depend only on
// (seed, chunk), never on which goroutine runs the chunk, which is what
// makes results identical on any core count.
func newNormals(seed uint64, chunk int) *normals {
	g := &normals{}
	g.src.Seed(splitmix(seed), splitmix(seed^(uint64(chunk)+1)*0x9e3779b97f4a7c15))
	return g
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// fill sets dst to independent N(0,1) variates. Kernels draw a path's or a
// batch's normals at once: the ziggurat's fast path then runs in this tight
// loop instead of costing a call per variate.
func (g *normals) fill(dst []float64) {
	for n := range dst {
		u := g.src.Uint64()
		j := int32(u)
		i := u >> 32 & 0x7f
		if absInt32(j) < zig.k[i] {
			dst[n] = float64(j) * zig.w[i]
		} else {
			dst[n] = g.slow(j, i)
		}
	}
}

// uniform returns a float64 in the open interval (0, 1).
func (g *normals) uniform() float64 {
	return (float64(g.src.Uint64()>>11) + 0.5) * 0x1p-53
}

func (g *normals) slow(j int32, i uint64) float64 {
	for {
		x := float64(j) * zig.w[i]
		if i == 0 {
			// Base strip: sample the tail beyond zigR.
			for {
				x = -math.Log(g.uniform()) / zigR
				y := -math.Log(g.uniform())
				if y+y >= x*x {
					break
				}
			}
			if j > 0 {
				return zigR + x
			}
			return -zigR - x
		}
		if zig.f[i]+g.uniform()*(zig.f[i-1]-zig.f[i]) < math.Exp(-0.5*x*x) {
			return x
		}
		u := g.src.Uint64()
		j = int32(u)
		i = u >> 32 & 0x7f
		if absInt32(j) < zig.k[i] {
			return float64(j) * zig.w[i]
		}
	}
}

func absInt32(i int32) uint32 {
	if i < 0 {
		return uint32(-i)
	}
	return uint32(i)
}

const zigR = 3.442619855899

type zigTables struct {
	k [128]uint32
	w [128]float64
	f [128]float64
}

// zig is computed once at start-up and only read afterwards.
var zig = newZigTables()

// newZigTables is Marsaglia and Tsang's zigset for 128 strips.
func newZigTables() *zigTables {
	const (
		v  = 9.91256303526217e-3
		m1 = 2147483648.0
	)
	t := &zigTables{}
	dn, tn := zigR, zigR
	q := v / math.Exp(-0.5*dn*dn)
	t.k[0] = uint32(dn / q * m1)
	t.k[1] = 0
	t.w[0] = q / m1
	t.w[127] = dn / m1
	t.f[0] = 1
	t.f[127] = math.Exp(-0.5 * dn * dn)
	for i := 126; i >= 1; i-- {
		dn = math.Sqrt(-2 * math.Log(v/dn+math.Exp(-0.5*dn*dn)))
		t.k[i+1] = uint32(dn / tn * m1)
		tn = dn
		t.f[i] = math.Exp(-0.5 * dn * dn)
		t.w[i] = dn / m1
	}
	return t
}
