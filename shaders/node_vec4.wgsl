// Node kernel, vec4 path (used when H*W is a multiple of 32 and W of 4): the same sum of terms as node.wgsl
// (bn, raw, relu, pool3, pool2; see there for the formulas and the PyTorch modules they mirror), but each
// invocation reads and writes its 32 units as 8 vec4s, loads a bn term's channel statistics once, and builds
// 3x3 pools from 3 vec4 rows plus their neighbours. On llvmpipe every per-invocation load has a fixed cost,
// so this path makes 4x-9x fewer of them.
//
// Bindings:
//   0 out   : array<vec4<f32>>  [N][C][H][W]
//   1 codes : array<u32>        [N][WORDS], WORDS = C*H*W/32, bit b of word w = unit 32*w + b (if PACK)
//   then per term t: src_t (array<vec4<f32>>) and, for bn terms, stats_t (array<vec4<f32>> [C]:
//   mean, invstd * gamma, beta, 0) from bn_stats.finalize.
// Dispatch: x = ceil(N*WORDS/64).

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
#if ${PACK}
@group(0) @binding(1) var<storage, read_write> codes: array<u32>;
#endif
${BINDINGS}

override N: u32;
override C: u32;
override H: u32;
override W: u32;
${OVERRIDES}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let hw = H * W;
  let words = C * hw / 32u;
  let live = gid.x < N * words;
  let t = min(gid.x, N * words - 1u);
  let n = t / words;
  let wd = t % words;
  let c = (wd * 32u) / hw;
  let p0 = (wd * 32u) % hw;
  let cb = (n * C + c) * hw;
${SETUP}
  var bits = 0u;
  for (var q = 0u; q < 8u; q++) {
    let p = p0 + 4u * q;
    let y = p / W;
    let x = p % W;
    let o4 = (cb + p) / 4u;
    var v = vec4<f32>(0.0);
${TERMS}
    if (live) {
      out[o4] = v;
    }
    bits = bits | (select(0u, 1u, v.x > 0.0) << (4u * q)) | (select(0u, 2u, v.y > 0.0) << (4u * q))
      | (select(0u, 4u, v.z > 0.0) << (4u * q)) | (select(0u, 8u, v.w > 0.0) << (4u * q));
  }
#if ${PACK}
  if (live) {
    codes[t] = bits;
  }
#endif
}
