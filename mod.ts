/**
 * untrained: training-free neural architecture search on WebGPU. Score untrained NAS-Bench-201 networks
 * (NASWOT: log|det| of the Hamming kernel of binary ReLU codes) on one minibatch, rank them, and check the
 * ranking against the benchmark's trained accuracies.
 *
 * Run as a CLI: `deno run --allow-read --allow-write mod.ts search` (see `mod.ts --help`), or use the API:
 *
 * @example
 * ```ts ignore
 * import { Gpu, lowerNb201, naswot, parseArch, syntheticBatch } from "./mod.ts";
 * const gpu = await Gpu.open();
 * const batch = syntheticBatch({ batch: 16, seed: 0 });
 * const plan = lowerNb201(parseArch("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|nor_conv_1x1~2|"));
 * const input = gpu.upload(batch.data, "batch");
 * const { score } = await naswot(gpu, plan, input, 16, 0);
 * console.log(score);
 * gpu.dispose();
 * ```
 * @module
 */

export { Gpu, GpuKernelError, NoAdapterError } from "./shaders/gpu.ts";
export {
  archToIndex,
  enumerateArchs,
  formatArch,
  indexToArch,
  mutateArch,
  NB201_OPS,
  NB201_SIZE,
  type Nb201Arch,
  type Nb201Op,
  parseArch,
  sampleIndices,
} from "./spaces/nb201.ts";
export { lowerNb201, type Nb201NetworkOptions } from "./spaces/nb201_network.ts";
export type { NetworkPlan, ReluCount } from "./spaces/plan.ts";
export { initParams } from "./spaces/init.ts";
export { deriveSeed, Rng } from "./spaces/rng.ts";
export { logdetFromHamming, naswot, type NaswotResult } from "./proxies/naswot.ts";
export { GRADIENT_PROXIES, type GradientProxy, gradientScore } from "./proxies/gradient.ts";
export { synflowScore } from "./proxies/synflow.ts";
export { type GradOptions, type GradResult, runGradients } from "./proxies/_backward.ts";
export { loadBatch, syntheticBatch } from "./datasets/minibatch.ts";
export type { ImageBatch } from "./datasets/types.ts";
export { kendallTauB, spearmanRho } from "./pipeline/_stats.ts";
export { runSample } from "./pipeline/sample.ts";
export { runBuild } from "./pipeline/build.ts";
export { runMerge, runScore } from "./pipeline/score.ts";
export { runRank } from "./pipeline/rank.ts";
export { runEvaluate } from "./pipeline/evaluate.ts";
export { runSearch } from "./pipeline/search.ts";
export { ALGOS, runProtocol } from "./pipeline/search_protocol.ts";
export {
  areaPopulation,
  chooseBest,
  randomSearchDraws,
  type ReaParams,
  regularizedEvolution,
} from "./pipeline/protocols.ts";
export { ensembleRows } from "./pipeline/ensemble.ts";
export { main } from "./pipeline/cli.ts";

if (import.meta.main) {
  const { main } = await import("./pipeline/cli.ts");
  Deno.exit(await main(Deno.args));
}
