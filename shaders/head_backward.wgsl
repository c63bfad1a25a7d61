// Backward of the classifier head logits = Linear(GAP(ReLU(x))) and the loss gradient dL/dlogits:
//   loss      : dlog[n,k] = softmax(logits[n])[k] - [k == label[n]], divided by N (mean cross-entropy,
//               torch.nn.CrossEntropyLoss); or 1 when ONES (the gradient of the sum of the outputs); with
//               ONES and MASKED, 1 for images whose label is nonzero and 0 for the others (the gradient of
//               the sum of some images' outputs: one image at a time gives the rows of the NTK's Jacobian)
//   feat_grad : df[n,c] = sum_k dlog[n,k] * W[k,c]
//   x_grad    : dx[n,c,p] (+)= (x[n,c,p] > 0) * df[n,c] / HW
//   w_grad    : dwb[k,c] = sum_n dlog[n,k] * feat[n,c] for c < C; dwb[k,C] (the bias) = sum_n dlog[n,k]
//               written as [CLS][C] weights then [CLS] bias, the layout of the forward's packed classifier
//
// Bindings:
//   0 logits : array<f32>  [N][CLS]
//   1 labels : array<u32>  [N]
//   2 dlog   : array<f32>  [N][CLS]
//   3 wb     : array<f32>  [CLS][C] then [CLS]
//   4 feat   : array<f32>  [N][C] from head.gap (mean of ReLU(x) over HW)
//   5 df     : array<f32>  [N][C]
//   6 x      : array<f32>  [N][C][HW]
//   7 dx     : array<f32>  [N][C][HW]
//   8 dwb    : array<f32>  [CLS*C + CLS]
// Dispatch: loss x = ceil(N/64); feat_grad x = ceil(N*C/64); x_grad x = ceil(N*C*HW/64);
//           w_grad x = ceil(CLS*(C+1)/64).

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read_write> dlog: array<f32>;
@group(0) @binding(3) var<storage, read> wb: array<f32>;
@group(0) @binding(4) var<storage, read> feat: array<f32>;
@group(0) @binding(5) var<storage, read_write> df: array<f32>;
@group(0) @binding(6) var<storage, read> x: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;
@group(0) @binding(8) var<storage, read_write> dwb: array<f32>;

override N: u32;
override C: u32 = 1u;
override HW: u32 = 1u;
override CLS: u32;
override ONES: bool = false;
override MASKED: bool = false;
override ACC: bool = false;

@compute @workgroup_size(64)
fn loss(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let live = gid.x < N;
  let n = min(gid.x, N - 1u);
  var mx = logits[n * CLS];
  for (var k = 1u; k < CLS; k++) {
    mx = max(mx, logits[n * CLS + k]);
  }
  var s = 0.0;
  for (var k = 0u; k < CLS; k++) {
    s += exp(logits[n * CLS + k] - mx);
  }
  let y = labels[n];
  for (var k = 0u; k < CLS; k++) {
    var v = (exp(logits[n * CLS + k] - mx) / s - select(0.0, 1.0, k == y)) / f32(N);
    if (ONES) {
      v = select(1.0, select(0.0, 1.0, y != 0u), MASKED);
    }
    if (live) {
      dlog[n * CLS + k] = v;
    }
  }
}

@compute @workgroup_size(64)
fn feat_grad(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let live = gid.x < N * C;
  let i = min(gid.x, N * C - 1u);
  let n = i / C;
  let c = i % C;
  var s = 0.0;
  for (var k = 0u; k < CLS; k++) {
    s += dlog[n * CLS + k] * wb[k * C + c];
  }
  if (live) {
    df[i] = s;
  }
}

@compute @workgroup_size(64)
fn x_grad(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = N * C * HW;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  var v = select(0.0, df[i / HW] / f32(HW), x[i] > 0.0);
  if (ACC) {
    v += dx[i];
  }
  if (live) {
    dx[i] = v;
  }
}

@compute @workgroup_size(64)
fn w_grad(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = CLS * (C + 1u);
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let isBias = i >= CLS * C;
  let k = select(i / C, i - CLS * C, isBias);
  let c = select(i % C, 0u, isBias);
  var s = 0.0;
  for (var n = 0u; n < N; n++) {
    s += dlog[n * CLS + k] * select(feat[n * C + c], 1.0, isBias);
  }
  if (live) {
    dwb[i] = s;
  }
}
