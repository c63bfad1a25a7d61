// The check every network test makes after a GPU forward: each ReLU input of a float64 reference forward is
// a plan tensor with the same ReLU count and values, N_A adds up, and the GPU's Hamming matrix equals the one
// computed from its own tensors' codes (exact: K is integer valued).
import type { ForwardResult } from "../proxies/_forward.ts";
import type { NetworkPlan } from "../spaces/plan.ts";
import { assertClose, assertExact } from "./_helpers.ts";
import { hammingRef, type T4 } from "./reference.ts";

/**
 * Asserts that the GPU forward `r` (run with naswot and keepTensors) has the reference's ReLU inputs.
 * `reluIn` maps plan tensor names to the reference tensor and its ReLU count. With `prunedZero`, a reference
 * tensor the plan dropped must be identically zero (lowerings remove zero tensors and count their units in
 * zeroReluUnits); otherwise every reference tensor must be in the plan, and every plan tensor read by a ReLU
 * must be in the reference.
 */
export function assertReluInputs(
  plan: NetworkPlan,
  r: ForwardResult,
  reluIn: ReadonlyMap<string, { t: T4; count: number }>,
  n: number,
  tolerance: number,
  prunedZero = false,
): void {
  let units = 0;
  const codes: { bits: Uint8Array[]; weight: number }[] = [];
  for (const [name, { t, count }] of reluIn) {
    const pt = plan.tensors.find((p) => p.name === name && p.reluUses > 0);
    const u = t.c * t.h * t.w;
    units += count * u;
    if (!pt) {
      if (prunedZero && t.d.every((v) => v === 0)) continue;
      throw new Error(`${name}: no plan tensor read by a ReLU (reference: ${count} ReLUs, not all zero)`);
    }
    if (pt.reluUses !== count) throw new Error(`${name}: ${pt.reluUses} ReLUs, reference ${count}`);
    const got = r.tensors!.get(pt.id)!;
    assertClose(got, t.d, tolerance, `ReLU input ${name}`);
    codes.push({
      bits: Array.from(
        { length: n },
        (_, i) => Uint8Array.from(got.subarray(i * u, (i + 1) * u), (v) => (v > 0 ? 1 : 0)),
      ),
      weight: count,
    });
  }
  if (!prunedZero && plan.tensors.filter((p) => p.reluUses > 0).length !== reluIn.size) {
    throw new Error(`the plan has ReLU inputs the reference does not`);
  }
  if (units !== r.units) throw new Error(`N_A ${r.units} != reference ${units}`);
  assertExact(r.ham!, hammingRef(codes, n), "weighted Hamming matrix");
}
