/*
 * Arithmetic-average Asian call by Monte Carlo, the algorithm of
 * quant.mcAsian: log-space steps at the fixings, arithmetic and geometric
 * payoffs per path, the geometric one as control variate with its exact
 * discrete-average price.
 * Usage: asian PATHS STEPS SEED. Prints: asian <paths/s> <price> <std error>.
 */
#include "rng.h"

static double cdf(double x) { return 0.5 * erfc(-x / sqrt(2)); }

int main(int argc, char **argv) {
	long paths = argc > 1 ? atol(argv[1]) : 100000;
	int n = argc > 2 ? atoi(argv[2]) : 252;
	uint64_t seed = argc > 3 ? strtoull(argv[3], 0, 10) : 1;
	const double s0 = 100, k = 100, r = 0.05, q = 0.01, vol = 0.2, t = 1;
	zig_init();
	double t0 = cpu_seconds();
	const double dt = t / n, drift = (r - q - 0.5 * vol * vol) * dt, diff = vol * sqrt(dt);
	const double x0 = log(s0), df = exp(-r * t), inv = 1.0 / n;
	long size = chunk_size(n), chunks = (paths + size - 1) / size;
	double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
	for (long c = 0; c < chunks; c++) {
		pcg g = pcg_stream(seed, (uint64_t)c);
		long m = paths - c * size < size ? paths - c * size : size;
		for (long p = 0; p < m; p++) {
			double x = x0, sum = 0, sum_log = 0;
			for (int i = 0; i < n; i++) {
				x += drift + diff * normal(&g);
				sum += exp(x);
				sum_log += x;
			}
			double a = df * fmax(sum * inv - k, 0), b = df * fmax(exp(sum_log * inv) - k, 0);
			sx += a, sy += b, sxx += a * a, syy += b * b, sxy += a * b;
		}
	}
	/* Exact price of the geometric-average call over the n fixings. */
	double mu = log(s0) + (r - q - 0.5 * vol * vol) * t * (n + 1) / (2.0 * n);
	double var = vol * vol * t * (n + 1) * (2.0 * n + 1) / (6.0 * n * n), sd = sqrt(var);
	double d2 = (mu - log(k)) / sd, d1 = d2 + sd;
	double geo = df * (exp(mu + 0.5 * var) * cdf(d1) - k * cdf(d2));
	double N = (double)paths, mx = sx / N, my = sy / N;
	double cxx = sxx - N * mx * mx, cyy = syy - N * my * my, cxy = sxy - N * mx * my;
	double beta = cxy / cyy, price = mx - beta * (my - geo);
	double se = sqrt((cxx - beta * cxy) / (N - 2) / N);
	double el = cpu_seconds() - t0;
	printf("asian %.0f %.6f %.6f\n", N / el, price, se);
	return 0;
}
