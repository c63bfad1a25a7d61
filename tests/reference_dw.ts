/**
 * Plain float64 reference of the depthwise convolution, written straight from
 * torch.nn.Conv2d(C, C, k, stride, padding, dilation, groups=C, bias=False) semantics, for the GPU tests.
 * @module
 */

import { type T4, zeros } from "./reference.ts";

/**
 * Depthwise convolution with zero padding and optional ReLU on the input (applied before padding, which is
 * the same since relu(0) = 0). w: [c][1][k][k]. Output size floor((H + 2p - d(k-1) - 1)/s) + 1.
 */
export function dwConv2d(
  x: T4,
  w: ArrayLike<number>,
  k: number,
  stride: number,
  pad: number,
  dilation: number,
  relu = false,
): T4 {
  const span = dilation * (k - 1) + 1;
  const ho = Math.floor((x.h + 2 * pad - span) / stride) + 1;
  const wo = Math.floor((x.w + 2 * pad - span) / stride) + 1;
  const y = zeros(x.n, x.c, ho, wo);
  for (let n = 0; n < x.n; n++) {
    for (let c = 0; c < x.c; c++) {
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          let s = 0;
          for (let ky = 0; ky < k; ky++) {
            const iy = oy * stride + ky * dilation - pad;
            if (iy < 0 || iy >= x.h) continue;
            for (let kx = 0; kx < k; kx++) {
              const ix = ox * stride + kx * dilation - pad;
              if (ix < 0 || ix >= x.w) continue;
              let v = x.d[((n * x.c + c) * x.h + iy) * x.w + ix]!;
              if (relu && v < 0) v = 0;
              s += w[(c * k + ky) * k + kx]! * v;
            }
          }
          y.d[((n * x.c + c) * ho + oy) * wo + ox] = s;
        }
      }
    }
  }
  return y;
}
