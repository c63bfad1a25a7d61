// Weighted Hamming accumulation for the NASWOT kernel matrix (Mellor et al. 2021).
// codes holds, for each of N images, the binary code [x > 0] of one tensor bit-packed into WORDS u32 words
// (bit b of word w = unit 32*w + b; padding bits are 0 for every image, so they never differ).
// For every pair (i, j): ham[i][j] += WEIGHT * popcount(code_i XOR code_j), WEIGHT = number of ReLUs that read
// the tensor (blk.x). The kernel K = N_A - ham is formed later; K itself is never rounded.
//
// Bindings:
//   0 codes : array<u32>  [N][WORDS]
//   1 ham   : array<u32>  [N][N], accumulated in place
//   2 blk   : vec4<u32>   .x = WEIGHT
// Blocking: invocation j (lanes differ in j) handles rows i0..i0+TI-1 (the same for the whole workgroup, so
// their code words are broadcast loads). Dispatch: x = ceil(N/64), y = ceil(N/TI).

@group(0) @binding(0) var<storage, read> codes: array<u32>;
@group(0) @binding(1) var<storage, read_write> ham: array<u32>;
@group(0) @binding(2) var<uniform> blk: vec4<u32>;

override N: u32;
override WORDS: u32;
const TI: u32 = 8u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let live = gid.x < N;
  let j = min(gid.x, N - 1u);
  let i0 = wid.y * TI;
  var acc: array<u32, TI>;
  var h0 = 0u; var h1 = 0u; var h2 = 0u; var h3 = 0u; var h4 = 0u; var h5 = 0u; var h6 = 0u; var h7 = 0u;
  let r0 = min(i0 + 0u, N - 1u) * WORDS;
  let r1 = min(i0 + 1u, N - 1u) * WORDS;
  let r2 = min(i0 + 2u, N - 1u) * WORDS;
  let r3 = min(i0 + 3u, N - 1u) * WORDS;
  let r4 = min(i0 + 4u, N - 1u) * WORDS;
  let r5 = min(i0 + 5u, N - 1u) * WORDS;
  let r6 = min(i0 + 6u, N - 1u) * WORDS;
  let r7 = min(i0 + 7u, N - 1u) * WORDS;
  let rj = j * WORDS;
  for (var w = 0u; w < WORDS; w++) {
    let cj = codes[rj + w];
    h0 += countOneBits(codes[r0 + w] ^ cj);
    h1 += countOneBits(codes[r1 + w] ^ cj);
    h2 += countOneBits(codes[r2 + w] ^ cj);
    h3 += countOneBits(codes[r3 + w] ^ cj);
    h4 += countOneBits(codes[r4 + w] ^ cj);
    h5 += countOneBits(codes[r5 + w] ^ cj);
    h6 += countOneBits(codes[r6 + w] ^ cj);
    h7 += countOneBits(codes[r7 + w] ^ cj);
  }
  acc[0] = h0; acc[1] = h1; acc[2] = h2; acc[3] = h3; acc[4] = h4; acc[5] = h5; acc[6] = h6; acc[7] = h7;
  if (live) {
    for (var t = 0u; t < TI; t++) {
      let i = i0 + t;
      if (i < N) {
        ham[i * N + j] += blk.x * acc[t];
      }
    }
  }
}
