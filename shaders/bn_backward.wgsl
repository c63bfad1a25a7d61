// Batch-norm backward in training mode (torch.nn.BatchNorm2d, batch statistics, biased variance): given the
// normalised input y, its statistics and dz = dL/dz for z = gamma * xhat + beta, xhat = (y - mean) * invstd,
//   dbeta = sum dz,  dgamma = sum dz * xhat,
//   dy    = gamma * invstd * (dz - dbeta / M - xhat * dgamma / M),   M = N * HW (per channel),
// in three entry points: per-(image, channel) partial sums, an exact per-channel combine in image order, and
// the elementwise apply (which overwrites dy, or adds into it when ACC).
//
// Bindings:
//   0 y     : array<f32>        [N][C][HW] the batch-norm input of the forward pass
//   1 dz    : array<f32>        [N][C][HW]
//   2 stats : array<vec4<f32>>  [C] from bn_stats: (mean, gamma * invstd, beta, invstd)
//   3 part  : array<vec2<f32>>  [C][N]: (sum dz, sum dz * xhat) of one (image, channel)
//   4 coef  : array<vec4<f32>>  [C]: (gamma * invstd, dbeta / M, dgamma / M, 0)
//   5 dparam: array<f32>        [2][C]: dgamma then dbeta (overwritten)
//   6 dy    : array<f32>        [N][C][HW]
// Dispatch: partial x = ceil(N*C/WG); finalize x = ceil(C/WG); apply x = ceil(N*C*ceil(HW/CH)/WG) (flat_id).

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> dz: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> part: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> coef: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> dparam: array<f32>;
@group(0) @binding(6) var<storage, read_write> dy: array<f32>;

// Invocations per workgroup: 64, fewer for small dispatches (workgroupFor).
override WG: u32 = 64u;
override N: u32;
override C: u32;
override HW: u32;
override ACC: bool = false;
override CH: u32 = 16u;

@compute @workgroup_size(WG)
fn partial(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let live = gid.x < N * C;
  let i = min(gid.x, N * C - 1u);
  let n = i / C;
  let c = i % C;
  let s = stats[c];
  let base = i * HW;
  var sg = 0.0;
  var sgx = 0.0;
  for (var p = 0u; p < HW; p++) {
    let g = dz[base + p];
    sg += g;
    sgx += g * ((y[base + p] - s.x) * s.w);
  }
  if (live) {
    part[c * N + n] = vec2<f32>(sg, sgx);
  }
}

@compute @workgroup_size(WG)
fn finalize(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let live = gid.x < C;
  let c = min(gid.x, C - 1u);
  var sg = 0.0;
  var sgx = 0.0;
  for (var n = 0u; n < N; n++) {
    let b = part[c * N + n];
    sg += b.x;
    sgx += b.y;
  }
  let m = f32(N * HW);
  if (live) {
    coef[c] = vec4<f32>(stats[c].y, sg / m, sgx / m, 0.0);
    dparam[c] = sgx;
    dparam[C + c] = sg;
  }
}

@compute @workgroup_size(WG)
fn apply(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  // CH consecutive elements of one (image, channel) plane per invocation: the channel's coefficients are
  // loaded once for them, and small batches still give many invocations.
  let chunks = (HW + CH - 1u) / CH;
  let total = N * C * chunks;
  let live = gid.x < total;
  let j = min(gid.x, total - 1u);
  let plane = j / chunks;
  let c = plane % C;
  let k = coef[c];
  let s = stats[c];
  let p0 = (j % chunks) * CH;
  let base = plane * HW;
  for (var p = p0; p < min(p0 + CH, HW); p++) {
    let xhat = (y[base + p] - s.x) * s.w;
    var v = k.x * (dz[base + p] - k.y - xhat * k.z);
    if (ACC) {
      v += dy[base + p];
    }
    if (live) {
      dy[base + p] = v;
    }
  }
}
