// dwconv: depthwise 2-D convolution, NCHW float32, no bias, zero padding; mirrors
// torch.nn.Conv2d(C, C, K, stride=S, padding=PAD, dilation=D, groups=C, bias=False). Optionally applies ReLU
// to the input as it is loaded (DARTS's ReLU->depthwise conv ordering in sep_conv and dil_conv).
//
// Bindings:
//   0 x  : array<f32>  input   [N][C][H][W], row-major
//   1 wt : array<f32>  weights [C][1][K][K], PyTorch layout (no re-lay)
//   2 y  : array<f32>  output  [N][C][HO][WO], HO = floor((H + 2*PAD - D*(K-1) - 1)/S) + 1 (WO likewise)
// Formula: y[n,c,oy,ox] = sum_{ky,kx} wt[c,0,ky,kx] * f(x[n,c,oy*S+ky*D-PAD, ox*S+kx*D-PAD]),
//          f = relu or identity, x outside [0,H) x [0,W) reads as 0.
// Register blocking: one invocation computes a TH x TP tile of output pixels of one (n, c) plane. dwconv.ts
// unrolls everything into scalars: the K*K weights of the channel (w_<ky>_<kx>, loaded once), the
// accumulators (a_<row>_<pixel>) and each needed input row segment (v<col>), so that every loaded input
// value feeds all the taps and output rows that use it. Only the input columns and rows some tap reads are
// loaded (with S = D = 2 that is every other one). No early return and no branches around loads: indices
// are clamped and out-of-range values replaced by select, since divergent control flow makes llvmpipe mask
// every register write.
// Dispatch: (GX, GY) workgroups of 64, tiles numbered t = gid.y * GX * 64 + gid.x over
// N*C*ceil(HO/TH)*ceil(WO/TP) tiles, tile column fastest, then tile row, then plane n*C + c.

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

override N: u32;
override C: u32;
override H: u32;
override W: u32;
override HO: u32;
override WO: u32;
override GX: u32;

const K: u32 = ${K}u;
const S: u32 = ${S}u;
const D: u32 = ${D}u; // dilation, baked into the unrolled tap offsets
const PAD: i32 = ${PAD};
const TP: u32 = ${TP}u;
const TH: u32 = ${TH}u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let xblocks = (WO + TP - 1u) / TP;
  let yblocks = (HO + TH - 1u) / TH;
  let total = N * C * yblocks * xblocks;
  let t0 = gid.y * GX * 64u + gid.x;
  // No early return: divergent control flow makes llvmpipe mask every register write below.
  let live = t0 < total;
  let t = min(t0, total - 1u);
  let xb = t % xblocks;
  let yb = (t / xblocks) % yblocks;
  let plane = t / (xblocks * yblocks);
  let c = plane % C;
  let ox0 = xb * TP;
  let oy0 = yb * TH;
  let ix0 = i32(ox0 * S) - PAD;
  let iy0 = i32(oy0 * S) - PAD;
  let xbase = plane * H * W;
  let wbase = c * K * K;
${DECL}
${BODY}
${STORE}
}
