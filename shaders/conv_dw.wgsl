// Convolution weight gradient, per image, register-blocked over TC output x TCI input channels:
//   part[n,co,ci,ky,kx] = sum_{oy,ox} dy[n,co,oy,ox] * f(x[n,ci,oy*S+ky-PAD,ox*S+kx-PAD]),  f = ReLU when RELU
// (zero padding). conv_backward.wgsl's dw_reduce then sums the images in order. One invocation computes the
// K*K taps of TC output and TCI input channels of one image; the loops over taps and channels are unrolled
// by backward.ts into scalar registers (a_<out>_<in>_<tap>). Each inner step takes PX neighbouring output
// pixels (stride 1), which share their input loads; pixels are accumulated in raster order. With G > 1 one
// invocation sums G consecutive images (in order) into one partial, so the partial buffer stays within the
// binding size limit for wide layers; G = 1 (each image its own partial) unless that limit forces more.
//
// Bindings:
//   0 x    : array<f32>  [N][CIN][H][W] the forward input (before f)
//   1 dy   : array<f32>  [N][COUT][HO][WO]
//   2 part : array<f32>  [ceil(N/G)][COUT][CIN][K*K]
// Dispatch: x = ceil(ceil(N/G) * ceil(COUT/TC) * ceil(CIN/TCI) / WG).

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;

// Invocations per workgroup: 64, fewer for small dispatches (workgroupFor).
override WG: u32 = 64u;
override N: u32;
override CIN: u32;
override H: u32;
override W: u32;
override COUT: u32;
override HO: u32;
override WO: u32;
override G: u32 = 1u;

const K: u32 = ${K}u;
const S: u32 = ${S}u;
const PAD: i32 = ${PAD};
const TC: u32 = ${TC}u;
const TCI: u32 = ${TCI}u;
const PX: u32 = ${PX}u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let cob_count = (COUT + TC - 1u) / TC;
  let cib_count = (CIN + TCI - 1u) / TCI;
  let ng_count = (N + G - 1u) / G;
  let total = ng_count * cob_count * cib_count;
  // No early return (see conv2d.wgsl): clamp the index and guard only the stores.
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let cib = i % cib_count;
  let cob = (i / cib_count) % cob_count;
  let ng = i / (cib_count * cob_count);
${DECL}
  for (var n = ng * G; n < min(N, ng * G + G); n++) {
    let xbase = (n * CIN + cib * TCI) * H * W;
    for (var oy = 0u; oy < HO; oy++) {
      for (var ox = 0u; ox < WO; ox += PX) {
        let yb = i32(oy * S) - PAD;
        let ix0 = i32(ox * S) - PAD;
${BODY}
      }
    }
  }
${STORE}
}
