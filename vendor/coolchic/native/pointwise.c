/* SPDX-License-Identifier: BSD-3-Clause
 *
 * A run of two 1x1 convolutions with a ReLU between them (the first layers of
 * Cool-chic's synthesis: 48-1-linear-relu, X-1-linear-none), forward and
 * backward, on float32 planes laid out [channels, pixels].
 *
 * torch runs it as five full-resolution passes over the hidden activation
 * (convolution, ReLU, and in the backward the ReLU's mask, the two weight
 * gradients and a zero fill), each streaming hid x pixels floats. Here pixels
 * go by tiles of TILE: the hidden values of a tile live in a buffer that stays
 * in the first-level cache and are computed again in the backward instead of
 * being kept. Sums over pixels use LANES partial sums, added in a fixed order,
 * so a result depends only on the inputs and this binary.
 */
#include <stdlib.h>
#include <string.h>

#include "lanes.h"

#define TILE 256

void pointwise_forward(const float *restrict x, long n, int cin, int hid, int cout,
                       const float *restrict w1, const float *restrict b1,
                       const float *restrict w2, const float *restrict b2,
                       float *restrict y)
{
    float h[TILE];
    for (long start = 0; start < n; start += TILE) {
        int m = (int)(n - start < TILE ? n - start : TILE);
        for (int k = 0; k < cout; k++) {
            float *yk = y + k * n + start;
            for (int p = 0; p < m; p++) yk[p] = b2[k];
        }
        for (int j = 0; j < hid; j++) {
            for (int p = 0; p < m; p++) h[p] = b1[j];
            for (int i = 0; i < cin; i++) {
                const float w = w1[j * cin + i];
                const float *xi = x + i * n + start;
                for (int p = 0; p < m; p++) h[p] += w * xi[p];
            }
            for (int p = 0; p < m; p++) h[p] = h[p] > 0.0f ? h[p] : 0.0f;
            for (int k = 0; k < cout; k++) {
                const float w = w2[k * hid + j];
                float *yk = y + k * n + start;
                for (int p = 0; p < m; p++) yk[p] += w * h[p];
            }
        }
    }
}

/* Gradients of pointwise_forward's y: gx [cin, n], gw1 [hid, cin], gb1 [hid],
 * gw2 [cout, hid], gb2 [cout], all overwritten. Returns 0, or -1 when out of memory. */
int pointwise_backward(const float *restrict x, const float *restrict gy, long n, int cin,
                       int hid, int cout, const float *restrict w1, const float *restrict b1,
                       const float *restrict w2, float *restrict gx, float *restrict gw1,
                       float *restrict gb1, float *restrict gw2, float *restrict gb2)
{
    /* Tiles of x and gy, zero past the image's end so every loop runs whole tiles;
     * the hidden values, their gradient, and the gradient of x for one tile. */
    float *buffers = aligned_alloc(64, sizeof(float) * TILE * (cin + cout + 2 + cin));
    float *acc = calloc((size_t)LANES * (hid * cin + hid + cout * hid + cout), sizeof(float));
    if (!buffers || !acc) {
        free(buffers);
        free(acc);
        return -1;
    }
    float *xt = buffers, *gt = xt + TILE * cin, *h = gt + TILE * cout, *g = h + TILE;
    float *gxt = g + TILE;
    float *acc_w1 = acc, *acc_b1 = acc_w1 + LANES * hid * cin;
    float *acc_w2 = acc_b1 + LANES * hid, *acc_b2 = acc_w2 + LANES * cout * hid;
    for (long start = 0; start < n; start += TILE) {
        int m = (int)(n - start < TILE ? n - start : TILE);
        for (int i = 0; i < cin; i++) {
            memcpy(xt + i * TILE, x + i * n + start, sizeof(float) * m);
            memset(xt + i * TILE + m, 0, sizeof(float) * (TILE - m));
        }
        for (int k = 0; k < cout; k++) {
            memcpy(gt + k * TILE, gy + k * n + start, sizeof(float) * m);
            memset(gt + k * TILE + m, 0, sizeof(float) * (TILE - m));
            lane_sum(acc_b2 + LANES * k, gt + k * TILE, TILE);
        }
        memset(gxt, 0, sizeof(float) * TILE * cin);
        for (int j = 0; j < hid; j++) {
            for (int p = 0; p < TILE; p++) h[p] = b1[j];
            for (int i = 0; i < cin; i++) {
                const float w = w1[j * cin + i];
                const float *xi = xt + i * TILE;
                for (int p = 0; p < TILE; p++) h[p] += w * xi[p];
            }
            for (int p = 0; p < TILE; p++) g[p] = 0.0f;
            for (int k = 0; k < cout; k++) {
                const float w = w2[k * hid + j];
                const float *gk = gt + k * TILE;
                for (int p = 0; p < TILE; p++) g[p] += w * gk[p];
            }
            for (int p = 0; p < TILE; p++) {
                const int on = h[p] > 0.0f;
                h[p] = on ? h[p] : 0.0f;
                g[p] = on ? g[p] : 0.0f;
            }
            for (int k = 0; k < cout; k++)
                lane_dot(acc_w2 + LANES * (k * hid + j), gt + k * TILE, h, TILE);
            lane_sum(acc_b1 + LANES * j, g, TILE);
            for (int i = 0; i < cin; i++) {
                const float w = w1[j * cin + i];
                float *gxi = gxt + i * TILE;
                lane_dot(acc_w1 + LANES * (j * cin + i), g, xt + i * TILE, TILE);
                for (int p = 0; p < TILE; p++) gxi[p] += w * g[p];
            }
        }
        for (int i = 0; i < cin; i++) memcpy(gx + i * n + start, gxt + i * TILE, sizeof(float) * m);
    }
    for (int q = 0; q < hid * cin; q++) gw1[q] = lanes_total(acc_w1 + LANES * q);
    for (int q = 0; q < hid; q++) gb1[q] = lanes_total(acc_b1 + LANES * q);
    for (int q = 0; q < cout * hid; q++) gw2[q] = lanes_total(acc_w2 + LANES * q);
    for (int q = 0; q < cout; q++) gb2[q] = lanes_total(acc_b2 + LANES * q);
    free(buffers);
    free(acc);
    return 0;
}
