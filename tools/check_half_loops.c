/* The float16 and bfloat16 loops of src/half.c, at the level lrelu_simd_init picks (or
 * LRELU_SIMD forces), against the rule computed one element at a time with lrelu_half.h's
 * software conversions (which tests/test_half.py holds to NumPy's): every one of the 65,536
 * bit patterns of x, every operation, several alphas and every tail length. NaN must meet
 * NaN; differing NaN payloads are counted, not failed. Built and run by check_half_loops.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "simd.h"
#include "lrelu_half.h"

static int isnan16(uint16_t b, int bf) { return bf ? (b & 0x7fff) > 0x7f80 : (b & 0x7fff) > 0x7c00; }

int main(void)
{
    const float alphas[] = {0.01f, 0.0f, -0.3f, 5.0f, 1e-30f, 3e-39f, 0.2f, 65504.0f};
    const int N = 1 << 16;
    uint16_t *x = malloc(N * 2), *g = malloc(N * 2), *out = malloc(N * 2), one;
    long bad = 0, payload = 0, checked = 0;
    int bf, a, mode, k;
    printf("level %s baseline %s\n", lrelu_simd_init(), lrelu_simd_baseline());
    for (k = 0; k < N; k++) { x[k] = (uint16_t)k; g[k] = (uint16_t)(k * 40503u + 7); }
    for (bf = 0; bf < 2; bf++) {
        one = bf ? 0x3f80 : 0x3c00;
        for (a = 0; a < (int)(sizeof alphas / sizeof *alphas); a++) {
            /* float16's alpha is rounded to half first; bfloat16's stays float32 */
            float alpha = bf ? alphas[a] : lrelu_half_to_float(lrelu_float_to_half(alphas[a]));
            for (mode = 0; mode < 4; mode++) {   /* forward, derivative, backward, backward gt */
                const uint16_t *gp = mode == 0 ? x : mode == 1 ? &one : g;
                int flags = mode == 3 ? LRELU_AT_ZERO_ALPHA : 0;
                ptrdiff_t n = N - (mode * 3 + a) % 8;   /* tails of every length */
                if (bf) lrelu_contig_bfloat16(n, gp, mode == 1, x, alpha, out, flags);
                else lrelu_contig_half(n, gp, mode == 1, x, alpha, out, flags);
                for (k = 0; k < n; k++) {
                    float xv = bf ? lrelu_bfloat16_to_float(x[k]) : lrelu_half_to_float(x[k]);
                    uint16_t graw = mode == 1 ? one : gp[k];
                    float gv = bf ? lrelu_bfloat16_to_float(graw) : lrelu_half_to_float(graw);
                    float s = (flags ? xv > 0 : xv >= 0) ? 1.0f : alpha;
                    float p = gv * s;
                    uint16_t e = bf ? lrelu_float_to_bfloat16(p) : lrelu_float_to_half(p);
                    checked++;
                    if (isnan16(e, bf) || isnan16(out[k], bf)) {
                        if (isnan16(e, bf) != isnan16(out[k], bf)) bad++;
                        else if (e != out[k]) payload++;
                    } else if (e != out[k]) {
                        if (bad < 5) printf("%s mode %d alpha %g x %04x: got %04x want %04x\n", bf ? "bf16" : "f16", mode, alpha, x[k], out[k], e);
                        bad++;
                    }
                }
            }
        }
    }
    printf("checked %ld, wrong %ld, NaN payloads differing %ld\n", checked, bad, payload);
    return bad != 0;
}
