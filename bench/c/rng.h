/*
 * The random numbers of app/internal/quant, in C: PCG-DXSM with a 128-bit
 * LCG state (math/rand/v2's PCG, same constants and output function),
 * streams seeded by splitmix64 of (seed, chunk), and Marsaglia–Tsang's
 * 128-strip ziggurat for N(0,1) (the algorithm of rand.NormFloat64, with the
 * tables computed the same way). The Go and C kernels therefore draw the same
 * numbers and do the same arithmetic, which makes the speed comparison fair.
 */
#ifndef CALCGRID_BENCH_RNG_H
#define CALCGRID_BENCH_RNG_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef unsigned __int128 u128;

typedef struct {
	u128 state;
} pcg;

static inline uint64_t pcg_next(pcg *p) {
	const u128 mul = ((u128)2549297995355413924ULL << 64) | 4865540595714422341ULL;
	const u128 inc = ((u128)6364136223846793005ULL << 64) | 1442695040888963407ULL;
	p->state = p->state * mul + inc;
	uint64_t hi = (uint64_t)(p->state >> 64), lo = (uint64_t)p->state;
	hi ^= hi >> 32;
	hi *= 0xda942042e4dd58b5ULL;
	hi ^= hi >> 48;
	hi *= (lo | 1);
	return hi;
}

static inline uint64_t splitmix(uint64_t x) {
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline pcg pcg_stream(uint64_t seed, uint64_t chunk) {
	pcg p;
	uint64_t hi = splitmix(seed), lo = splitmix(seed ^ (chunk + 1) * 0x9e3779b97f4a7c15ULL);
	p.state = ((u128)hi << 64) | lo;
	return p;
}

#define ZIG_R 3.442619855899

static uint32_t zig_k[128];
static double zig_w[128], zig_f[128];

static void zig_init(void) {
	const double v = 9.91256303526217e-3, m1 = 2147483648.0;
	double dn = ZIG_R, tn = ZIG_R, q = v / exp(-0.5 * dn * dn);
	zig_k[0] = (uint32_t)(dn / q * m1);
	zig_k[1] = 0;
	zig_w[0] = q / m1;
	zig_w[127] = dn / m1;
	zig_f[0] = 1;
	zig_f[127] = exp(-0.5 * dn * dn);
	for (int i = 126; i >= 1; i--) {
		dn = sqrt(-2 * log(v / dn + exp(-0.5 * dn * dn)));
		zig_k[i + 1] = (uint32_t)(dn / tn * m1);
		tn = dn;
		zig_f[i] = exp(-0.5 * dn * dn);
		zig_w[i] = dn / m1;
	}
}

static inline double uniform(pcg *p) { return ((double)(pcg_next(p) >> 11) + 0.5) * 0x1p-53; }

static inline uint32_t abs32(int32_t j) { return j < 0 ? (uint32_t)(-j) : (uint32_t)j; }

static double normal_slow(pcg *p, int32_t j, uint64_t i) {
	for (;;) {
		double x = (double)j * zig_w[i];
		if (i == 0) {
			double y;
			do {
				x = -log(uniform(p)) / ZIG_R;
				y = -log(uniform(p));
			} while (y + y < x * x);
			return j > 0 ? ZIG_R + x : -ZIG_R - x;
		}
		if (zig_f[i] + uniform(p) * (zig_f[i - 1] - zig_f[i]) < exp(-0.5 * x * x))
			return x;
		uint64_t u = pcg_next(p);
		j = (int32_t)u;
		i = (u >> 32) & 0x7f;
		if (abs32(j) < zig_k[i])
			return (double)j * zig_w[i];
	}
}

static inline double normal(pcg *p) {
	uint64_t u = pcg_next(p);
	int32_t j = (int32_t)u;
	uint64_t i = (u >> 32) & 0x7f;
	if (abs32(j) < zig_k[i])
		return (double)j * zig_w[i];
	return normal_slow(p, j, i);
}

/* chunk_size mirrors quant.chunkSize: about 2^20 units of work per chunk. */
static inline long chunk_size(long per_item) {
	long n = (1L << 20) / (per_item > 1 ? per_item : 1);
	if (n < 16)
		n = 16;
	return n;
}

/* cpu_seconds is process CPU time, as the Go benchmarks measure. */
static inline double cpu_seconds(void) {
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
