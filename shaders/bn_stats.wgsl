// Batch-norm statistics in training mode (torch.nn.BatchNorm2d, batch statistics, biased variance, eps 1e-5),
// in two entry points for precision: per-(image, channel) blocks are summed with a two-pass mean/M2, then the
// blocks of a channel are combined exactly (equal block sizes).
//
// Bindings:
//   0 x     : array<f32>        [N][C][HW], row-major
//   1 part  : array<vec2<f32>>  [C][N]: (block mean, block sum of squared deviations)
//   2 stats : array<vec2<f32>>  [C]: (mean, 1 / sqrt(var + EPS))
// Dispatch: `partial` x = ceil(N*C/64); `finalize` x = ceil(C/64).

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> part: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> stats: array<vec2<f32>>;

override N: u32;
override C: u32;
override HW: u32;
const EPS: f32 = 1e-5;

@compute @workgroup_size(64)
fn partial(@builtin(global_invocation_id) gid: vec3<u32>) {
  // No early return (see conv2d.wgsl): clamp the index and skip only the store.
  let live = gid.x < N * C;
  let i = min(gid.x, N * C - 1u);
  let base = i * HW;
  var s = 0.0;
  for (var p = 0u; p < HW; p++) {
    s += x[base + p];
  }
  let m = s / f32(HW);
  var q = 0.0;
  for (var p = 0u; p < HW; p++) {
    let d = x[base + p] - m;
    q += d * d;
  }
  let n = i / C;
  let c = i % C;
  if (live) {
    part[c * N + n] = vec2<f32>(m, q);
  }
}

@compute @workgroup_size(64)
fn finalize(@builtin(global_invocation_id) gid: vec3<u32>) {
  let live = gid.x < C;
  let c = min(gid.x, C - 1u);
  var s = 0.0;
  for (var n = 0u; n < N; n++) {
    s += part[c * N + n].x;
  }
  let mean = s / f32(N);
  var m2 = 0.0;
  for (var n = 0u; n < N; n++) {
    let b = part[c * N + n];
    let d = b.x - mean;
    m2 += b.y + f32(HW) * d * d;
  }
  let v = max(m2 / f32(N * HW), 0.0);
  if (live) {
    stats[c] = vec2<f32>(mean, inverseSqrt(v + EPS));
  }
}
