// log|det K| of the NASWOT kernel by Cholesky factorisation (numpy.linalg.slogdet's log-absolute value for a
// positive semi-definite K), in three entry points:
//   fill   : K' = T^T K T / N_A with T = [e1, e2 - e1, ..., eN - e1] (det T = 1, so det K' = det K / N_A^N),
//            computed exactly in integers before the division (h = ham, whose diagonal is 0 for NASWOT):
//            K'[0][0] = N_A - h00,  K'[0][j] = h00 - h0j,  K'[i][j] = hi0 + h0j - hij - h00  (i, j >= 1).
//            K = N_A - ham is close to N_A * 1 1^T; the congruence leaves that common part in K'[0][0] alone.
//   column : one dispatch per column j (blk.x = j), one invocation per row i >= j: left-looking Cholesky,
//            L[j][j] = sqrt(d_j), d_j = K'[j][j] - sum_k<j L[j][k]^2; L[i][j] = (K'[i][j] - sum_k<j L[i][k] L[j][k]) / L[j][j].
//            Each invocation loops at most 2N times: llvmpipe caps a loop at 65,535 iterations in total, which a
//            single-invocation factorisation (N^3/6 steps) exceeds from N = 96 on.
//   finish : sum of log d_j + N log N_A; a pivot not above N * eps_f32 (a singular K: equal codes for two
//            images, or every code constant) gives -inf instead of NaN.
//
// Bindings:
//   0 ham    : array<u32>  [N][N] weighted Hamming distances
//   1 a      : array<f32>  [N][N] scratch: K', factorised in place below the diagonal
//   2 out    : array<f32>  [N + 1]: pivots d_j, then log|det K|
//   3 params : vec4<u32>   .x = N_A (low 32 bits), .y = N_A high bits (N_A = x + y * 2^32)
//   4 blk    : vec4<u32>   .x = column j (column entry)
// Dispatch: fill x = ceil(N*N/64); column x = ceil(N/64) for j = 0..N-1; finish x = 1.

@group(0) @binding(0) var<storage, read> ham: array<u32>;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: vec4<u32>;
@group(0) @binding(4) var<uniform> blk: vec4<u32>;

override N: u32;

@compute @workgroup_size(64)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>) {
  let live = gid.x < N * N;
  let t = min(gid.x, N * N - 1u);
  let i = t / N;
  let j = t % N;
  let na = f32(params.x) + f32(params.y) * 4294967296.0;
  let h00 = i32(ham[0]);
  var v: f32;
  if (i == 0u && j == 0u) {
    v = na - f32(h00);
  } else if (i == 0u) {
    v = f32(h00 - i32(ham[j]));
  } else if (j == 0u) {
    v = f32(h00 - i32(ham[i * N]));
  } else {
    v = f32(i32(ham[i * N]) + i32(ham[j]) - i32(ham[i * N + j]) - h00);
  }
  if (live) {
    a[t] = v / na;
  }
}

@compute @workgroup_size(64)
fn column(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = blk.x;
  let i = gid.x;
  if (i < j || i >= N) {
    return;
  }
  var d = a[j * N + j];
  for (var k = 0u; k < j; k++) {
    let l = a[j * N + k];
    d -= l * l;
  }
  let ljj = sqrt(max(d, 0.0));
  if (i == j) {
    // The diagonal stays unfactored: other invocations of this dispatch still read it. Only the pivot
    // d_j is kept (for the log-determinant); later columns use the off-diagonal L only.
    out[j] = d;
    return;
  }
  var s = a[i * N + j];
  for (var k = 0u; k < j; k++) {
    s -= a[i * N + k] * a[j * N + k];
  }
  a[i * N + j] = s / ljj;
}

@compute @workgroup_size(1)
fn finish() {
  let na = f32(params.x) + f32(params.y) * 4294967296.0;
  var logdet = f32(N) * log(na);
  var singular = false;
  for (var j = 0u; j < N; j++) {
    let d = out[j];
    if (!(d > f32(N) * 1.2e-7)) {
      singular = true;
    }
    logdet += log(max(d, 1e-30));
  }
  if (singular) {
    out[N] = -bitcast<f32>(0x7f800000u);
  } else {
    out[N] = logdet;
  }
}
