// conv2d: NCHW float32, no bias, zero padding; mirrors torch.nn.Conv2d(cin, cout, K, stride=S, padding=PAD,
// bias=False). Optionally applies ReLU to the input as it is loaded (the ReLU of NB201's ReLU->Conv->BN).
//
// Bindings:
//   0 x  : array<f32>        input  [N][CIN][H][W], row-major
//   1 wt : array<vec4<f32>>  this block's slice of the weights re-laid by packConvWeights: [CIN][K][K][TC]
//                            (TC = 4*TC4; output channels beyond COUT are zero); a uniform buffer when the
//                            slice fits 64 KiB (llvmpipe gathers it branch-free; storage loads loop over lanes)
//   2 y  : array<f32>        output [N][COUT][HO][WO], HO = (H + 2*PAD - K)/S + 1
//   3 blk: vec4<u32>         .x = index of the output-channel block (one dispatch per block)
//   4 m  : array<f32>        (epilogue addMasked only) [N][COUT][HO][WO]: y += (m > 0 ? out : 0)
//   5 xq : array<vec4<f32>>  (vec4 blocking only) x again, as vec4s; binding 0 is then absent when every load
//                            of a row is a vec4 (conv1x1)
// With the vec4 blocking, y and m are read and written as vec4s (each tile row is 4 aligned outputs).
// Epilogue (conv2d.ts): store y = out; add y += out; addMasked as above (the ReLU backward, fused).
// Formula: y[n,co,oy,ox] = sum_{ci,ky,kx} w[co,ci,ky,kx] * f(x[n,ci,oy*S+ky-PAD,ox*S+kx-PAD]), f = relu or id.
// Register blocking: one invocation computes a TH x TP tile of output pixels for TC output channels;
// the loops over taps, pixels and channels are unrolled by conv2d.ts into scalar registers (a_<row>_<pixel>_<c4>).
// Dispatch: x = ceil(N*ceil(HO/TH)*ceil(WO/TP) / WG), once per block of TC output channels.

#if ${XSCALAR}
@group(0) @binding(0) var<storage, read> x: array<f32>;
#endif
#if ${WUNIFORM}
@group(0) @binding(1) var<uniform> wt: array<vec4<f32>, ${NW4}>;
#else
@group(0) @binding(1) var<storage, read> wt: array<vec4<f32>>;
#endif
#if ${VEC4}
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;
#else
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
#endif
@group(0) @binding(3) var<uniform> blk: vec4<u32>;
#if ${MASKED}
#if ${VEC4}
@group(0) @binding(4) var<storage, read> m: array<vec4<f32>>;
#else
@group(0) @binding(4) var<storage, read> m: array<f32>;
#endif
#endif
#if ${VEC4}
@group(0) @binding(5) var<storage, read> xq: array<vec4<f32>>;
#endif

override N: u32;
override CIN: u32;
override H: u32;
override W: u32;
override COUT: u32;
override HO: u32;
override WO: u32;

const K: u32 = ${K}u;
const S: u32 = ${S}u;
const PAD: i32 = ${PAD};
const TP: u32 = ${TP}u;
const TH: u32 = ${TH}u;
const TC4: u32 = ${TC4}u;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let xblocks = (WO + TP - 1u) / TP;
  let yblocks = (HO + TH - 1u) / TH;
  let total = N * yblocks * xblocks;
  // No early return: divergent control flow makes llvmpipe mask every register write in the loop below.
  let live = gid.x < total;
  let t = min(gid.x, total - 1u);
  let xb = t % xblocks;
  let yb = (t / xblocks) % yblocks;
  let n = t / (xblocks * yblocks);
  let cob = blk.x;
  let ox0 = xb * TP;
  let oy0 = yb * TH;
  let ix0 = i32(ox0 * S) - PAD;
  let iy0 = i32(oy0 * S) - PAD;
${DECL}
  for (var ci = 0u; ci < CIN; ci++) {
    let xbase = (n * CIN + ci) * H * W;
    let wbase = ci * K * K * TC4;
${BODY}
  }
${STORE}
}
