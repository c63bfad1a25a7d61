// conv3x3 by Winograd F(2x2, 3x3) (Lavin & Gray 2016): stride 1, padding 1, NCHW float32, no bias; the same
// function as conv2d.wgsl with K=3, S=1, PAD=1, in 16 multiplies per 2x2 outputs and input channel instead
// of 36. Optionally applies ReLU to the input as it is loaded.
//   V = B^T d B  (d: the 4x4 input tile at (2i-1, 2j-1), zero padded), B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//   M = sum over input channels of U (.) V, U = G g G^T from the host (packWinogradWeights)
//   Y = A^T M A (the 2x2 outputs), A^T = [1 1 1 0; 0 1 -1 -1]
// Fused: one invocation computes TH2 x TT Winograd tiles (2*TH2 x 2*TT output pixels) for TC output channels,
// transforming its input patch in registers per input channel; the unrolled parts come from winograd.ts.
//
// Bindings:
//   0 x  : array<f32>        input  [N][CIN][H][W]
//   1 wt : array<vec4<f32>>  this block's slice of U: [CIN][16][TC] (TC = 4*TC4; channels beyond COUT zero);
//                            a uniform buffer when it fits 64 KiB, else storage
//   2 y  : array<f32>        output [N][COUT][H][W]
//   3 blk: vec4<u32>         .x = index of the output-channel block (one dispatch per block)
// Dispatch: x = ceil(N * ceil(H/(2*TH2)) * ceil(W/(2*TT)) / 64), once per block of TC output channels.

@group(0) @binding(0) var<storage, read> x: array<f32>;
#if ${WUNIFORM}
@group(0) @binding(1) var<uniform> wt: array<vec4<f32>, ${NW4}>;
#else
@group(0) @binding(1) var<storage, read> wt: array<vec4<f32>>;
#endif
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> blk: vec4<u32>;

override N: u32;
override CIN: u32;
override H: u32;
override W: u32;
override COUT: u32;

const TT: u32 = ${TT}u;
const TH2: u32 = ${TH2}u;
const TC4: u32 = ${TC4}u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let xblocks = (W + 2u * TT - 1u) / (2u * TT);
  let yblocks = (H + 2u * TH2 - 1u) / (2u * TH2);
  let total = N * yblocks * xblocks;
  // No early return (see conv2d.wgsl): clamp the index and guard only the stores.
  let live = gid.x < total;
  let t = min(gid.x, total - 1u);
  let xb = t % xblocks;
  let yb = (t / xblocks) % yblocks;
  let n = t / (xblocks * yblocks);
  let cob = blk.x;
  let ox0 = xb * 2u * TT;
  let oy0 = yb * 2u * TH2;
  let ix0 = i32(ox0) - 1;
  let iy0 = i32(oy0) - 1;
${DECL}
  for (var ci = 0u; ci < CIN; ci++) {
    let xbase = (n * CIN + ci) * H * W;
    let wbase = ci * 16u * TC4;
${BODY}
  }
${STORE}
}
