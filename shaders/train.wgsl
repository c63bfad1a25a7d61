// Kernels of on-GPU training (GenNAS): parameters live in one flat buffer; weights are packed for the
// convolution kernels by gathers; the loss is a weighted MSE on regression heads; SGD updates in place.
//
//   gather : out[i] = idx[i] == 0 ? 0 : p[idx[i] - 1]                            (i < COUNT)
//            idx holds flat parameter positions + 1 (0 = padding), computed once per layout on the host by
//            applying the host-side packing to position numbers, so the GPU copy is exact data movement.
//   mse    : d[i] = 2 * W * (y[i] - t[i]) / COUNT; sq[i] = (y[i] - t[i])^2         (i < COUNT)
//            the gradient of W * mean((y - t)^2), and the squared errors for reading the loss back
//   sgd    : with g = grad[u.g + i] (0 when ZERO_GRAD) and w = p[u.p + i], i < u.count:
//            d = g + WD * w; v = MOMENTUM * v + d; w = w - LR * v
//            PyTorch's SGD (dampening 0, not Nesterov); its first step sets v = d, which equals
//            MOMENTUM * 0 + d exactly, so v starts at zero.
//
// gather lives here; mse in train_mse.wgsl, sgd in train_sgd.wgsl.
// Bindings: gather (p, idx, out). Dispatch: x = ceil(COUNT / 64).

@group(0) @binding(0) var<storage, read> p: array<f32>;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override COUNT: u32 = 1u;

@compute @workgroup_size(64)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= COUNT) {
    return;
  }
  let j = idx[gid.x];
  out[gid.x] = select(0.0, p[max(j, 1u) - 1u], j != 0u);
}
