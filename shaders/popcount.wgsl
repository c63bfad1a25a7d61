// Weighted Hamming accumulation for the NASWOT kernel matrix (Mellor et al. 2021).
// codes holds, for each of N images, the binary code [x > 0] of one tensor bit-packed into WORDS u32 words
// (bit b of word w = unit 32*w + b; padding bits are 0 for every image, so they never differ).
// For every pair (i, j): ham[i][j] += WEIGHT * popcount(code_i XOR code_j), WEIGHT = number of ReLUs that read
// the tensor (blk.x). The kernel K = N_A - ham is formed later; K itself is never rounded.
//
// Bindings:
//   0 codes : array<u32> [N][WORDS], or array<vec4<u32>> [N][WORDS/4] when VEC4 (WORDS a multiple of 4)
//   1 ham   : array<u32>  [N][N], accumulated in place
//   2 blk   : vec4<u32>   .x = WEIGHT * 64 + b: the weight, and (VEC4) the row block b of this dispatch,
//             i0 = b * TI (a range of the runtime's shared index buffer, so no buffer is made per dispatch)
//   3 rows  : (VEC4 only) the codes of rows i0..i0+TI-1 again, as a uniform buffer range: llvmpipe reads a
//             uniform buffer at an index it cannot prove uniform (here the word loop's) by a branch-free
//             gather, a storage buffer by a loop over the lanes
// Blocking: invocation j (lanes differ in j) handles rows i0..i0+TI-1, the same for the whole workgroup;
// only code_j differs between invocations, and each of its words is shared by TI popcounts.
// Dispatch: x = ceil(N/WG), y = ceil(N/TI), all pairs. With VEC4 one dispatch per row block (y = 1), and only
// the columns j >= i0 (the matrix is symmetric): x = ceil((N - i0)/WG), j = i0 + gid.x; an invocation right
// of the block's own TI columns also adds its TI sums into ham[j][i0..i0+TI-1] (no other invocation writes
// there), so every entry is still written, with 9/16 of the popcounts at N = 128.

#if ${VEC4}
@group(0) @binding(0) var<storage, read> codes: array<vec4<u32>>;
@group(0) @binding(3) var<uniform> rows: array<vec4<u32>, ${ROWLEN}>;
#else
@group(0) @binding(0) var<storage, read> codes: array<u32>;
#endif
@group(0) @binding(1) var<storage, read_write> ham: array<u32>;
@group(0) @binding(2) var<uniform> blk: vec4<u32>;

override N: u32;
override WORDS: u32;
const TI: u32 = ${TI}u;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let weight = blk.x / 64u;
#if ${VEC4}
  let i0 = (blk.x % 64u) * TI;
  let col = i0 + gid.x;
  let len = WORDS / 4u;
#else
  let i0 = wid.y * TI;
  let col = gid.x;
  let len = WORDS;
#endif
  let live = col < N;
  let j = min(col, N - 1u);
#if ${VEC4}
  let mirror = j >= i0 + TI;
#endif
  let rj = j * len;
${DECL}
  for (var w = 0u; w < len; w++) {
    let cj = codes[rj + w];
${BODY}
  }
  if (live) {
${STORE}
  }
}
