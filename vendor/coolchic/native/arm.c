/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Cool-chic's ARM MLP (coolchic.arm.Arm) over a batch of contexts, forward
 * and backward: `hidden` residual layers a' = relu(a + W a + b) of width n,
 * then a linear layer to 2 outputs, plus an optional linear stabiliser from
 * the context to the 2 outputs. Contexts are [batch, n] float32, outputs
 * [batch, 2].
 *
 * torch runs it as a dozen operators over [batch, n] tensors, each a pass
 * over memory (several MiB for an image's latents). Here the batch goes by
 * tiles of TILE contexts, transposed into a feature-major buffer that stays in
 * cache; the backward computes the tile's activations again. Sums over the
 * batch use LANES partial sums added in a fixed order.
 */
#include <stdlib.h>
#include <string.h>

#include "lanes.h"

#define TILE 128

typedef struct {
    int n, hidden, stabiliser;
    const float *w, *b;    /* [hidden][n][n], [hidden][n] */
    const float *wo, *bo;  /* [2][n], [2] */
    const float *ws, *bs;  /* [2][n], [2]; unused without stabiliser */
} arm_net;

/* acts[0] = the tile's contexts (zero past m), acts[l + 1] = layer l's output. */
static void tile_forward(const arm_net *net, const float *restrict context, long start, int m,
                         float *restrict acts)
{
    const int n = net->n;
    float *x = acts;
    for (int i = 0; i < n; i++) {
        float *xi = x + i * TILE;
        for (int p = 0; p < m; p++) xi[p] = context[(start + p) * n + i];
        for (int p = m; p < TILE; p++) xi[p] = 0.0f;
    }
    for (int layer = 0; layer < net->hidden; layer++) {
        const float *in = acts + layer * n * TILE;
        float *out = acts + (layer + 1) * n * TILE;
        const float *w = net->w + layer * n * n, *b = net->b + layer * n;
        for (int j = 0; j < n; j++) {
            float *oj = out + j * TILE;
            const float *ij = in + j * TILE;
            for (int p = 0; p < TILE; p++) oj[p] = b[j] + ij[p];
            for (int i = 0; i < n; i++) {
                const float wji = w[j * n + i];
                const float *ii = in + i * TILE;
                for (int p = 0; p < TILE; p++) oj[p] += wji * ii[p];
            }
            for (int p = 0; p < TILE; p++) oj[p] = oj[p] > 0.0f ? oj[p] : 0.0f;
        }
    }
}

static void tile_outputs(const arm_net *net, const float *restrict acts, float *restrict o)
{
    const int n = net->n;
    const float *last = acts + net->hidden * n * TILE, *x = acts;
    for (int k = 0; k < 2; k++) {
        float *ok = o + k * TILE;
        const float bias = net->bo[k] + (net->stabiliser ? net->bs[k] : 0.0f);
        for (int p = 0; p < TILE; p++) ok[p] = 0.0f;
        for (int i = 0; i < n; i++) {
            const float w = net->wo[k * n + i];
            const float *li = last + i * TILE;
            for (int p = 0; p < TILE; p++) ok[p] += w * li[p];
        }
        if (net->stabiliser) {
            for (int i = 0; i < n; i++) {
                const float w = net->ws[k * n + i];
                const float *xi = x + i * TILE;
                for (int p = 0; p < TILE; p++) ok[p] += w * xi[p];
            }
        }
        for (int p = 0; p < TILE; p++) ok[p] += bias;
    }
}

static float *tile_buffer(const arm_net *net, int extra_planes)
{
    return aligned_alloc(64, sizeof(float) * TILE * ((net->hidden + 1) * net->n + extra_planes));
}

int arm_forward(const float *context, long batch, int n, int hidden, const float *w,
                const float *b, const float *wo, const float *bo, int stabiliser,
                const float *ws, const float *bs, float *out)
{
    const arm_net net = {n, hidden, stabiliser, w, b, wo, bo, ws, bs};
    float *acts = tile_buffer(&net, 2);
    if (!acts) return -1;
    float *o = acts + (hidden + 1) * n * TILE;
    for (long start = 0; start < batch; start += TILE) {
        const int m = (int)(batch - start < TILE ? batch - start : TILE);
        tile_forward(&net, context, start, m, acts);
        tile_outputs(&net, acts, o);
        for (int p = 0; p < m; p++) {
            out[(start + p) * 2] = o[p];
            out[(start + p) * 2 + 1] = o[TILE + p];
        }
    }
    free(acts);
    return 0;
}

/* Gradients of arm_forward's out (gout [batch, 2]): gcontext [batch, n] and every
 * parameter's (same layouts as the parameters), all overwritten. 0, or -1 out of memory. */
int arm_backward(const float *context, const float *gout, long batch, int n, int hidden,
                 const float *w, const float *b, const float *wo, const float *bo,
                 int stabiliser, const float *ws, const float *bs, float *gcontext, float *gw,
                 float *gb, float *gwo, float *gbo, float *gws, float *gbs)
{
    const arm_net net = {n, hidden, stabiliser, w, b, wo, bo, ws, bs};
    /* activations, then 2 planes of output gradient, n of running gradient, n of the
     * stabiliser's input gradient, n of the gradient before the ReLU. */
    float *acts = tile_buffer(&net, 2 + 3 * n);
    const long n_acc = (long)hidden * n * n + hidden * n + 2 * n + 2 + 2 * n + 2;
    float *acc = calloc((size_t)(LANES * n_acc), sizeof(float));
    if (!acts || !acc) {
        free(acts);
        free(acc);
        return -1;
    }
    float *go = acts + (hidden + 1) * n * TILE, *g = go + 2 * TILE, *gs = g + n * TILE;
    float *gz = gs + n * TILE;
    float *acc_w = acc, *acc_b = acc_w + LANES * hidden * n * n;
    float *acc_wo = acc_b + LANES * hidden * n, *acc_bo = acc_wo + LANES * 2 * n;
    float *acc_ws = acc_bo + LANES * 2, *acc_bs = acc_ws + LANES * 2 * n;
    for (long start = 0; start < batch; start += TILE) {
        const int m = (int)(batch - start < TILE ? batch - start : TILE);
        tile_forward(&net, context, start, m, acts);
        for (int k = 0; k < 2; k++) {
            float *gk = go + k * TILE;
            for (int p = 0; p < m; p++) gk[p] = gout[(start + p) * 2 + k];
            for (int p = m; p < TILE; p++) gk[p] = 0.0f;
            lane_sum(acc_bo + LANES * k, gk, TILE);
            if (stabiliser) lane_sum(acc_bs + LANES * k, gk, TILE);
        }
        const float *last = acts + hidden * n * TILE, *x = acts;
        for (int i = 0; i < n; i++) {
            float *gi = g + i * TILE, *gsi = gs + i * TILE;
            for (int p = 0; p < TILE; p++) gi[p] = 0.0f;
            for (int p = 0; p < TILE; p++) gsi[p] = 0.0f;
            for (int k = 0; k < 2; k++) {
                const float *gk = go + k * TILE;
                const float w_out = wo[k * n + i];
                for (int p = 0; p < TILE; p++) gi[p] += w_out * gk[p];
                lane_dot(acc_wo + LANES * (k * n + i), gk, last + i * TILE, TILE);
                if (stabiliser) {
                    const float w_stab = ws[k * n + i];
                    for (int p = 0; p < TILE; p++) gsi[p] += w_stab * gk[p];
                    lane_dot(acc_ws + LANES * (k * n + i), gk, x + i * TILE, TILE);
                }
            }
        }
        for (int layer = hidden - 1; layer >= 0; layer--) {
            const float *in = acts + layer * n * TILE, *out = acts + (layer + 1) * n * TILE;
            const float *wl = w + layer * n * n;
            for (int j = 0; j < n; j++) {
                const float *oj = out + j * TILE, *gj = g + j * TILE;
                float *zj = gz + j * TILE;
                for (int p = 0; p < TILE; p++) zj[p] = oj[p] > 0.0f ? gj[p] : 0.0f;
                lane_sum(acc_b + LANES * (layer * n + j), zj, TILE);
                for (int i = 0; i < n; i++)
                    lane_dot(acc_w + LANES * ((layer * n + j) * n + i), zj, in + i * TILE,
                             TILE);
            }
            /* The gradient at the layer's input: the residual path plus W^T gz. */
            for (int i = 0; i < n; i++) {
                float *gi = g + i * TILE;
                const float *zi = gz + i * TILE;
                for (int p = 0; p < TILE; p++) gi[p] = zi[p];
                for (int j = 0; j < n; j++) {
                    const float wji = wl[j * n + i];
                    const float *zj = gz + j * TILE;
                    for (int p = 0; p < TILE; p++) gi[p] += wji * zj[p];
                }
            }
        }
        for (int p = 0; p < m; p++)
            for (int i = 0; i < n; i++)
                gcontext[(start + p) * n + i] = g[i * TILE + p] + gs[i * TILE + p];
    }
    for (long q = 0; q < (long)hidden * n * n; q++) gw[q] = lanes_total(acc_w + LANES * q);
    for (long q = 0; q < (long)hidden * n; q++) gb[q] = lanes_total(acc_b + LANES * q);
    for (int q = 0; q < 2 * n; q++) gwo[q] = lanes_total(acc_wo + LANES * q);
    for (int q = 0; q < 2; q++) gbo[q] = lanes_total(acc_bo + LANES * q);
    if (stabiliser) {
        for (int q = 0; q < 2 * n; q++) gws[q] = lanes_total(acc_ws + LANES * q);
        for (int q = 0; q < 2; q++) gbs[q] = lanes_total(acc_bs + LANES * q);
    }
    free(acts);
    free(acc);
    return 0;
}
