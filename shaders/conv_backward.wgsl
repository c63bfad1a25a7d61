// Convolution backward (torch.nn.Conv2d, no bias) for y = conv(f(x), w), f = ReLU when RELU, any stride and
// padding:
//   dx[n,ci,iy,ix] = f'(x) * sum_{co,ky,kx: iy = oy*S + ky - PAD, ix = ox*S + kx - PAD} w[co,ci,ky,kx] * dy[n,co,oy,ox]
//   dw[co,ci,ky,kx] = sum_{n,oy,ox} dy[n,co,oy,ox] * f(x[n,ci,oy*S+ky-PAD,ox*S+kx-PAD])
// dw is summed per image first (conv_dw.wgsl, register-blocked), then over images in order (dw_reduce), so
// results never depend on scheduling.
//
// Bindings:
//   0 x    : array<f32>  [N][CIN][H][W] the forward input (before f)
//   1 w    : array<f32>  [COUT][CIN][K][K]
//   2 dy   : array<f32>  [N][COUT][HO][WO]
//   3 dx   : array<f32>  [N][CIN][H][W]   (dx: overwritten, or added into when ACC)
//   4 part : array<f32>  [N][COUT][CIN][K*K] (from conv_dw.wgsl)
//   5 dw   : array<f32>  [COUT][CIN][K*K]  (overwritten, or added into when ACC)
// Dispatch: dx x = ceil(N*CIN*H*W/WG); dw_reduce x = ceil(COUT*CIN*K*K/WG).

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<storage, read_write> part: array<f32>;
@group(0) @binding(5) var<storage, read_write> dw: array<f32>;

// Invocations per workgroup: 64, fewer for small dispatches (workgroupFor).
override WG: u32 = 64u;
override N: u32;
override CIN: u32;
override H: u32;
override W: u32;
override COUT: u32;
override HO: u32;
override WO: u32;
override ACC: bool = false;

const K: u32 = ${K}u;
const S: u32 = ${S}u;
const PAD: i32 = ${PAD};
const RELU: bool = ${RELU};

@compute @workgroup_size(WG)
fn dx_main(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = N * CIN * H * W;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let ix = i32(i % W);
  let iy = i32((i / W) % H);
  let ci = (i / (W * H)) % CIN;
  let n = i / (W * H * CIN);
  var s = 0.0;
  for (var co = 0u; co < COUT; co++) {
    for (var ky = 0u; ky < K; ky++) {
      let ty = iy + PAD - i32(ky);
      let oy = ty / i32(S);
      let oky = ty >= 0 && ty % i32(S) == 0 && oy < i32(HO);
      for (var kx = 0u; kx < K; kx++) {
        let tx = ix + PAD - i32(kx);
        let ox = tx / i32(S);
        let ok = oky && tx >= 0 && tx % i32(S) == 0 && ox < i32(WO);
        let cy = u32(clamp(oy, 0, i32(HO) - 1));
        let cx = u32(clamp(ox, 0, i32(WO) - 1));
        let v = w[((co * CIN + ci) * K + ky) * K + kx] * dy[((n * COUT + co) * HO + cy) * WO + cx];
        s += select(0.0, v, ok);
      }
    }
  }
  if (RELU) {
    s = select(0.0, s, x[i] > 0.0);
  }
  if (ACC) {
    s += dx[i];
  }
  if (live) {
    dx[i] = s;
  }
}

@compute @workgroup_size(WG)
fn dw_reduce(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = COUT * CIN * K * K;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  var s = 0.0;
  for (var n = 0u; n < N; n++) {
    s += part[n * total + i];
  }
  if (ACC) {
    s += dw[i];
  }
  if (live) {
    dw[i] = s;
  }
}
