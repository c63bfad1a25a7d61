// Batch-norm statistics in training mode (torch.nn.BatchNorm2d, batch statistics, biased variance, eps 1e-5),
// in two entry points for precision: per-(image, channel) blocks are summed with a two-pass mean/M2, then the
// blocks of a channel are combined exactly (equal block sizes).
//
// Bindings:
//   0 x     : array<f32>        [N][C][HW], row-major
//   1 part  : array<vec2<f32>>  [C][N]: (block mean, block sum of squared deviations)
//   2 stats : array<vec4<f32>>  [C]: (mean, gamma / sqrt(var + EPS), beta, 1 / sqrt(var + EPS)), so that the
//                               node kernel normalises as (x - mean) * stats.y + stats.z (.w: for the backward)
//   3 affine: array<f32>        [2][C]: gamma then beta
// Dispatch: `partial` x = ceil(N*C/WG); `finalize` x = ceil(C/WG). VEC4 (HW a multiple of 4) reads x as vec4s.

#if ${VEC4}
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
#else
@group(0) @binding(0) var<storage, read> x: array<f32>;
#endif
@group(0) @binding(1) var<storage, read_write> part: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> stats: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> affine: array<f32>;

// Invocations per workgroup: 64, fewer for small dispatches (workgroupFor).
override WG: u32 = 64u;
override N: u32;
override C: u32;
override HW: u32;
const EPS: f32 = 1e-5;

@compute @workgroup_size(WG)
fn partial(@builtin(global_invocation_id) gid: vec3<u32>) {
  // No early return (see conv2d.wgsl): clamp the index and skip only the store.
  let live = gid.x < N * C;
  let i = min(gid.x, N * C - 1u);
#if ${VEC4}
  // HW is a multiple of 4: the block is HW/4 vec4s.
  let base = i * HW / 4u;
  var s4 = vec4<f32>(0.0);
  for (var p = 0u; p < HW / 4u; p++) {
    s4 += x[base + p];
  }
  let m = (s4.x + s4.y + s4.z + s4.w) / f32(HW);
  var q4 = vec4<f32>(0.0);
  for (var p = 0u; p < HW / 4u; p++) {
    let d = x[base + p] - vec4<f32>(m);
    q4 += d * d;
  }
  let q = q4.x + q4.y + q4.z + q4.w;
#else
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
#endif
  let n = i / C;
  let c = i % C;
  if (live) {
    part[c * N + n] = vec2<f32>(m, q);
  }
}

@compute @workgroup_size(WG)
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
    stats[c] = vec4<f32>(mean, inverseSqrt(v + EPS) * affine[c], affine[C + c], inverseSqrt(v + EPS));
  }
}
