/**
 * Stage 2, build: lowers each architecture into a network plan and records its size (parameters, MACs,
 * layers, ReLU units). Pure core `buildPlans`; file shell `runBuild` writing plans.jsonl.
 * @module
 */

import { getSpace } from "../spaces/registry.ts";
import type { NetworkPlan, Shape3 } from "../spaces/plan.ts";
import { DataError, UsageError } from "./_errors.ts";
import { readJsonl, toJsonl, writeFileAtomic } from "./_io.ts";
import { type ArchRecord, SPACES } from "./sample.ts";

/** One line of plans.jsonl. */
export interface PlanRecord extends ArchRecord {
  input: Shape3;
  classes: number;
  /** Parameters of the full network (classifier included). */
  params: number;
  /** Multiply-accumulates per image (convolutions and classifier). */
  macs: number;
  /** Layers of the full network. */
  layers: number;
  /** Tensors computed after removing identically zero and unread ones. */
  tensors: number;
  /** ReLU units counted once each (NASWOT's N_A with --relu-count paper). */
  relu_units: number;
  /** With --detail: every layer (name, type, in/out shapes, params, macs per image). */
  layer_list?: NetworkPlan["layers"];
  /** With --detail: the computed tensors (name, shape, terms, ReLUs reading each). */
  tensor_list?: NetworkPlan["tensors"];
}

/** Input shape and classes per dataset (the NB201 heads). */
export const DATASET_SHAPES: Record<string, { input: Shape3; classes: number }> = {
  cifar10: { input: { c: 3, h: 32, w: 32 }, classes: 10 },
  cifar100: { input: { c: 3, h: 32, w: 32 }, classes: 100 },
  imagenet16: { input: { c: 3, h: 16, w: 16 }, classes: 120 },
};

/** Looks up a dataset's shape or throws a UsageError naming the flag. */
export function datasetShape(dataset: string): { input: Shape3; classes: number } {
  const s = DATASET_SHAPES[dataset];
  if (!s) {
    throw new UsageError(
      `--dataset: unknown dataset "${dataset}"; known: ${Object.keys(DATASET_SHAPES).join(", ")}`,
    );
  }
  return s;
}

/** Summarises a plan as a plans.jsonl record (with its layers and tensors when `detail`). */
export function planRecord(rec: ArchRecord, plan: NetworkPlan, detail = false): PlanRecord {
  const units = plan.tensors.reduce((s, t) => s + t.reluUses * t.shape.c * t.shape.h * t.shape.w, 0) +
    plan.zeroReluUnits;
  return {
    space: rec.space,
    index: rec.index,
    arch_str: rec.arch_str,
    input: plan.input,
    classes: plan.classes,
    params: plan.paramCount,
    macs: plan.macs,
    layers: plan.layers.length,
    tensors: plan.tensors.length,
    relu_units: units,
    ...(detail ? { layer_list: plan.layers, tensor_list: plan.tensors } : {}),
  };
}

/** Validates archs.jsonl records (file and line in errors). */
export function checkArchRecords(path: string, rows: Record<string, unknown>[]): ArchRecord[] {
  return rows.map((r, i) => {
    const where = `${path}:${i + 1}`;
    if (typeof r.space !== "string" || !SPACES.includes(r.space)) {
      throw new DataError(`${where}: unknown space ${JSON.stringify(r.space)}; known: ${SPACES.join(", ")}`);
    }
    const space = getSpace(r.space);
    if (typeof r.arch_str !== "string") throw new DataError(`${where}: missing "arch_str"`);
    let index: number;
    try {
      index = space.indexOf(r.arch_str);
    } catch (e) {
      throw new DataError(`${where}: ${(e as Error).message}`);
    }
    if (typeof r.index !== "number" || !Number.isInteger(r.index) || r.index < -1) {
      throw new DataError(`${where}: missing or bad "index" (an integer, -1 when the space has none)`);
    }
    if (space.size !== null && r.index !== index) {
      throw new DataError(
        `${where}: "index" ${r.index} does not match arch_str ${r.arch_str} (index ${index})`,
      );
    }
    return { space: r.space, index: r.index, arch_str: r.arch_str };
  });
}

/** Lowers every record for a dataset's input shape and head. */
export function buildPlans(records: ArchRecord[], dataset: string, detail = false): PlanRecord[] {
  const { input, classes } = datasetShape(dataset);
  return records.map((r) => planRecord(r, getSpace(r.space).lower(r.arch_str, { input, classes }), detail));
}

/** Options of the build stage. */
export interface BuildOptions {
  /** Also write every layer and tensor of each plan. */
  detail?: boolean;
  inPath: string;
  outPath: string;
  dataset: string;
}

/** Reads archs.jsonl, writes plans.jsonl. */
export async function runBuild(o: BuildOptions): Promise<PlanRecord[]> {
  const records = checkArchRecords(o.inPath, await readJsonl(o.inPath));
  if (records.length === 0) throw new UsageError(`${o.inPath}: no architectures`);
  const plans = buildPlans(records, o.dataset, o.detail);
  await writeFileAtomic(o.outPath, toJsonl(plans));
  return plans;
}
