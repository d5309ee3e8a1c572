/*
 * European call by Monte Carlo with antithetic pairs, the algorithm of
 * quant.mcEuropean: exact terminal sampling, one normal per pair.
 * Usage: european PATHS SEED. Prints: european <paths/s> <price> <std error>.
 */
#include "rng.h"

int main(int argc, char **argv) {
	long paths = argc > 1 ? atol(argv[1]) : 10000000;
	uint64_t seed = argc > 2 ? strtoull(argv[2], 0, 10) : 1;
	const double s0 = 100, k = 100, r = 0.05, q = 0.01, vol = 0.2, t = 1;
	zig_init();
	double t0 = cpu_seconds();
	const double drift = (r - q - 0.5 * vol * vol) * t, diff = vol * sqrt(t), df = exp(-r * t);
	long pairs = (paths + 1) / 2, size = chunk_size(2), chunks = (pairs + size - 1) / size;
	double sum = 0, sum_sq = 0;
	for (long c = 0; c < chunks; c++) {
		pcg g = pcg_stream(seed, (uint64_t)c);
		long m = pairs - c * size < size ? pairs - c * size : size;
		for (long i = 0; i < m; i++) {
			double z = diff * normal(&g);
			double up = s0 * exp(drift + z), down = s0 * exp(drift - z);
			double v = 0.5 * df * (fmax(up - k, 0) + fmax(down - k, 0));
			sum += v;
			sum_sq += v * v;
		}
	}
	double el = cpu_seconds() - t0, mean = sum / pairs;
	double se = sqrt((sum_sq / pairs - mean * mean) / (pairs - 1));
	printf("european %.0f %.6f %.6f\n", 2.0 * pairs / el, mean, se);
	return 0;
}
