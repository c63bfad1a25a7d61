// log|det K| of the NASWOT kernel by Cholesky factorisation (numpy.linalg.slogdet's log-absolute value for a
// positive semi-definite K). K = N_A - ham is integer valued; it is scaled by 1/N_A (unit diagonal) before the
// f32 factorisation and log(N_A) * N is added back. A pivot that is not above N * eps_f32 (a singular K:
// equal codes for two images, or every code constant) yields -inf instead of NaN.
//
// Bindings:
//   0 ham  : array<u32>  [N][N] weighted Hamming distances
//   1 a    : array<f32>  [N][N] scratch (factorised in place, lower triangle)
//   2 out  : array<f32>  [1]: log|det K|
//   3 blk  : vec4<u32>   .x = N_A (low 32 bits), .y = N_A high bits (N_A = x + y * 2^32)
// Dispatch: one workgroup of one invocation (N^3/6 multiply-adds; N = 128 takes about a millisecond).

@group(0) @binding(0) var<storage, read> ham: array<u32>;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> blk: vec4<u32>;

override N: u32;

@compute @workgroup_size(1)
fn main() {
  let na = f32(blk.x) + f32(blk.y) * 4294967296.0;
  for (var i = 0u; i < N * N; i++) {
    a[i] = (na - f32(ham[i])) / na;
  }
  var logdet = 0.0;
  var singular = false;
  for (var j = 0u; j < N; j++) {
    var d = a[j * N + j];
    for (var k = 0u; k < j; k++) {
      let l = a[j * N + k];
      d -= l * l;
    }
    // Rounding leaves a pivot of about N * eps (f32) where K is exactly singular: treat that as zero.
    if (!(d > f32(N) * 1.2e-7)) {
      singular = true;
      break;
    }
    let ljj = sqrt(d);
    a[j * N + j] = ljj;
    logdet += log(d);
    for (var i = j + 1u; i < N; i++) {
      var s = a[i * N + j];
      for (var k = 0u; k < j; k++) {
        s -= a[i * N + k] * a[j * N + k];
      }
      a[i * N + j] = s / ljj;
    }
  }
  if (singular) {
    out[0] = -bitcast<f32>(0x7f800000u);
  } else {
    out[0] = logdet + f32(N) * log(na);
  }
}
