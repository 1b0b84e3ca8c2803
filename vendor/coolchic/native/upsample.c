/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Cool-chic's x2 upsampling stage (coolchic.upsampling.UpsamplingTConv): along
 * rows, then along columns, a transposed convolution of stride 2 with an even
 * kernel K of k taps, replicate padding of k/2 and the crop that brings n
 * samples to 2n. With p = k/2, output o of a line of n inputs x is
 *
 *     out[o] = sum over m < p of K[2m + r] * x[clamp(h - m - p, 0, n - 1)]
 *
 * where u = o + 3p - 1, r = u mod 2 and h = u div 2. torch runs each pass as a
 * one-channel convolution, on its slowest paths, forward and backward; here
 * each pass is a loop over the lines. Planes are [planes, height, width]
 * float32; the row pass's result is computed again in the backward instead of
 * being kept. Kernel gradients are summed in double, in a fixed order.
 */
#include <stdlib.h>
#include <string.h>

static inline long clamp_index(long i, long n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); }

/* One line: out[0 .. 2n) from x[0 .. n) (stride 1). */
static void line_forward(const float *restrict x, long n, const float *restrict kernel, int k,
                         float *restrict out)
{
    const int p = k / 2;
    for (long o = 0; o < 2 * n; o++) {
        const long u = o + 3 * p - 1, h = u >> 1;
        const int r = (int)(u & 1);
        float total = 0.0f;
        for (int m = 0; m < p; m++) total += kernel[2 * m + r] * x[clamp_index(h - m - p, n)];
        out[o] = total;
    }
}

/* The row pass of every plane: tmp [planes, height, 2 width]. */
static void rows_forward(const float *x, long planes, long height, long width,
                         const float *kernel, int k, float *tmp)
{
    for (long line = 0; line < planes * height; line++)
        line_forward(x + line * width, width, kernel, k, tmp + line * 2 * width);
}

/* The column pass: whole rows at once, each output row a sum of p input rows. */
static void columns_forward(const float *restrict tmp, long planes, long height, long width2,
                            const float *restrict kernel, int k, float *restrict out)
{
    const int p = k / 2;
    for (long plane = 0; plane < planes; plane++) {
        const float *in = tmp + plane * height * width2;
        float *planeout = out + plane * 2 * height * width2;
        for (long o = 0; o < 2 * height; o++) {
            const long u = o + 3 * p - 1, h = u >> 1;
            const int r = (int)(u & 1);
            float *row = planeout + o * width2;
            memset(row, 0, sizeof(float) * width2);
            for (int m = 0; m < p; m++) {
                const float w = kernel[2 * m + r];
                const float *src = in + clamp_index(h - m - p, height) * width2;
                for (long c = 0; c < width2; c++) row[c] += w * src[c];
            }
        }
    }
}

int upsample_forward(const float *x, long planes, long height, long width, const float *kernel,
                     int k, float *out)
{
    float *tmp = malloc(sizeof(float) * planes * height * 2 * width);
    if (!tmp) return -1;
    rows_forward(x, planes, height, width, kernel, k, tmp);
    columns_forward(tmp, planes, height, 2 * width, kernel, k, out);
    free(tmp);
    return 0;
}

/* Gradients of upsample_forward's out: gx [planes, height, width] and gkernel [k], both
 * overwritten. Returns 0, or -1 when out of memory. */
int upsample_backward(const float *restrict x, const float *restrict gout, long planes,
                      long height, long width, const float *restrict kernel, int k,
                      float *restrict gx, float *restrict gkernel)
{
    const int p = k / 2;
    const long width2 = 2 * width;
    float *tmp = malloc(sizeof(float) * planes * height * width2);
    float *gtmp = calloc((size_t)(planes * height * width2), sizeof(float));
    double *gk = calloc((size_t)k, sizeof(double));
    if (!tmp || !gtmp || !gk) {
        free(tmp);
        free(gtmp);
        free(gk);
        return -1;
    }
    rows_forward(x, planes, height, width, kernel, k, tmp);
    /* Column pass, adjoint: each output row goes back to the p rows it was made of. */
    for (long plane = 0; plane < planes; plane++) {
        const float *in = tmp + plane * height * width2;
        float *gin = gtmp + plane * height * width2;
        const float *planegout = gout + plane * 2 * height * width2;
        for (long o = 0; o < 2 * height; o++) {
            const long u = o + 3 * p - 1, h = u >> 1;
            const int r = (int)(u & 1);
            const float *grow = planegout + o * width2;
            for (int m = 0; m < p; m++) {
                const float w = kernel[2 * m + r];
                const long source = clamp_index(h - m - p, height) * width2;
                float *gsrc = gin + source;
                const float *src = in + source;
                float dot = 0.0f;
                for (long c = 0; c < width2; c++) {
                    gsrc[c] += w * grow[c];
                    dot += grow[c] * src[c];
                }
                gk[2 * m + r] += dot;
            }
        }
    }
    /* Row pass, adjoint. */
    memset(gx, 0, sizeof(float) * planes * height * width);
    for (long line = 0; line < planes * height; line++) {
        const float *xl = x + line * width, *gl = gtmp + line * width2;
        float *gxl = gx + line * width;
        float dots[64] = {0};  /* per tap of this line; k <= 64 */
        for (long o = 0; o < width2; o++) {
            const long u = o + 3 * p - 1, h = u >> 1;
            const int r = (int)(u & 1);
            for (int m = 0; m < p; m++) {
                const long i = clamp_index(h - m - p, width);
                gxl[i] += kernel[2 * m + r] * gl[o];
                dots[2 * m + r] += gl[o] * xl[i];
            }
        }
        for (int t = 0; t < k; t++) gk[t] += dots[t];
    }
    for (int t = 0; t < k; t++) gkernel[t] = (float)gk[t];
    free(tmp);
    free(gtmp);
    free(gk);
    return 0;
}
