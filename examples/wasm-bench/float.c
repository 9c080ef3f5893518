/*
 * Benchmark program (tests/bench/bench_wasm_mix.sh): floating point.  The
 * spectral norm of the Benchmarks Game (an infinite matrix applied as a
 * function), a Mandelbrot set counted in doubles, and a Horner-evaluated
 * polynomial with divisions and square roots.  Argument: the spectral
 * norm's size.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static double
a(int i, int j)
{
	return 1.0 / ((i + j) * (i + j + 1) / 2 + i + 1);
}

static void
mul_av(const double *v, double *out, int n)
{
	for (int i = 0; i < n; i++) {
		double s = 0;
		for (int j = 0; j < n; j++)
			s += a(i, j) * v[j];
		out[i] = s;
	}
}

static void
mul_atv(const double *v, double *out, int n)
{
	for (int i = 0; i < n; i++) {
		double s = 0;
		for (int j = 0; j < n; j++)
			s += a(j, i) * v[j];
		out[i] = s;
	}
}

static double
spectral(int n)
{
	double *u = malloc(n * sizeof(double)), *v = malloc(n * sizeof(double)),
	       *t = malloc(n * sizeof(double));
	for (int i = 0; i < n; i++)
		u[i] = 1;
	for (int k = 0; k < 10; k++) {
		mul_av(u, t, n);
		mul_atv(t, v, n);
		mul_av(v, t, n);
		mul_atv(t, u, n);
	}
	double vbv = 0, vv = 0;
	for (int i = 0; i < n; i++) {
		vbv += u[i] * v[i];
		vv += v[i] * v[i];
	}
	free(u);
	free(v);
	free(t);
	return sqrt(vbv / vv);
}

static long
mandelbrot(int size)
{
	long inside = 0;
	for (int y = 0; y < size; y++)
		for (int x = 0; x < size; x++) {
			double cr = 2.0 * x / size - 1.5,
			       ci = 2.0 * y / size - 1.0;
			double zr = 0, zi = 0;
			int k = 0;
			while (k < 50 && zr * zr + zi * zi <= 4.0) {
				double t = zr * zr - zi * zi + cr;
				zi = 2.0 * zr * zi + ci;
				zr = t;
				k++;
			}
			inside += k == 50;
		}
	return inside;
}

static double
poly(int n)
{
	static const double c[] = { 1.0, -0.5, 0.25, -0.125, 0.0625, 0.03125 };
	double acc = 0;
	for (int i = 1; i <= n; i++) {
		double x = (double)i / n, y = 0;
		for (int k = 0; k < 6; k++)
			y = y * x + c[k];
		acc += sqrt(fabs(y)) / (1.0 + x * x);
	}
	return acc;
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	printf("spectral %.9f mandelbrot %ld poly %.9f\n", spectral(n),
	    mandelbrot(n), poly(n * 4000));
	return 0;
}
