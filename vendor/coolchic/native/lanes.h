/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Sums over a tile kept in LANES partial sums, added in a fixed order at the
 * end: the compiler vectorises them, and a result depends only on the inputs.
 * Lengths are multiples of LANES.
 */
#ifndef COOLCHIC_LANES_H
#define COOLCHIC_LANES_H

#define LANES 8

/* acc[LANES] += a[p] * b[p] for p < length, lane by lane. */
static inline void lane_dot(float *restrict acc, const float *restrict a,
                            const float *restrict b, int length)
{
    float s[LANES];
    for (int l = 0; l < LANES; l++) s[l] = acc[l];
    for (int p = 0; p < length; p += LANES)
        for (int l = 0; l < LANES; l++) s[l] += a[p + l] * b[p + l];
    for (int l = 0; l < LANES; l++) acc[l] = s[l];
}

/* acc[LANES] += a[p] for p < length, lane by lane. */
static inline void lane_sum(float *restrict acc, const float *restrict a, int length)
{
    float s[LANES];
    for (int l = 0; l < LANES; l++) s[l] = acc[l];
    for (int p = 0; p < length; p += LANES)
        for (int l = 0; l < LANES; l++) s[l] += a[p + l];
    for (int l = 0; l < LANES; l++) acc[l] = s[l];
}

static inline float lanes_total(const float *acc)
{
    float total = 0.0f;
    for (int l = 0; l < LANES; l++) total += acc[l];
    return total;
}

#endif
