// The committed NASWOT scores of the 725 NASLib archs against NASLib's own `nwot` column: the semantics are
// the same (their images, batch size and initialisation differ), so the rankings must agree closely.
import { sharedData } from "./_helpers.ts";
import { parseFloatField, readCsv } from "../pipeline/_io.ts";
import { spearmanRho } from "../pipeline/_stats.ts";

const root = new URL("..", import.meta.url).pathname;
const ours = `${root}results/nb201/cifar10/naswot-naslib725/scores.csv`;
const present = await Deno.stat(ours).then(() => true, () => false);
const ref = sharedData("nasbench201/nb201_zc_proxies_naslib.csv");

Deno.test({
  name: "NASWOT scores of the 725 NASLib cifar10 archs rank like NASLib's nwot (Spearman >= 0.98)",
  ignore: !present || ref === null,
  async fn() {
    const table = await readCsv(ref!, ["dataset", "index", "nwot"]);
    const nwot = new Map<number, number>();
    for (const r of table.rows) {
      if (r.dataset === "cifar10") nwot.set(Number(r.index), parseFloatField(r.nwot!, "nwot"));
    }
    const scores = await readCsv(ours, ["index", "score"]);
    const x: number[] = [];
    const y: number[] = [];
    for (const r of scores.rows) {
      const v = nwot.get(Number(r.index));
      if (v === undefined) throw new Error(`index ${r.index} is not in the NASLib table`);
      x.push(parseFloatField(r.score!, "score"));
      y.push(v);
    }
    if (x.length !== 725) throw new Error(`${x.length} rows, expected 725`);
    const rho = spearmanRho(x, y);
    console.log(`Spearman(ours, NASLib nwot) over ${x.length} archs = ${rho.toFixed(4)}`);
    if (!(rho >= 0.98)) throw new Error(`Spearman ${rho} < 0.98`);
  },
});

// The gradient proxies on the first 20 NASLib cifar10 archs against NASLib's columns: same definitions, other
// images, batch and initialisation, so the rankings must agree (a small sample: the bound is loose).
const grads = `${root}results/nb201/cifar10/proxies-naslib20/scores.csv`;
const gradsPresent = await Deno.stat(grads).then(() => true, () => false);
const COLUMN: Record<string, string> = {
  grad_norm: "grad_norm",
  snip: "snip",
  fisher: "fisher",
  jacob_cov: "jacov",
  synflow: "synflow",
};

Deno.test({
  name: "gradient proxies of 20 NASLib cifar10 archs rank like NASLib's columns (Spearman >= 0.9 each)",
  ignore: !gradsPresent || ref === null,
  async fn() {
    const table = await readCsv(ref!, ["dataset", "index", ...Object.values(COLUMN)]);
    const theirs = new Map<string, Map<number, number>>();
    for (const r of table.rows) {
      if (r.dataset !== "cifar10") continue;
      for (const [p, c] of Object.entries(COLUMN)) {
        if (!theirs.has(p)) theirs.set(p, new Map());
        // One reference synflow value is missing (empty): skip it.
        if ((r[c] ?? "").trim() !== "") theirs.get(p)!.set(Number(r.index), parseFloatField(r[c]!, c));
      }
    }
    const scores = await readCsv(grads, ["index", "proxy", "score"]);
    for (const p of Object.keys(COLUMN)) {
      const x: number[] = [];
      const y: number[] = [];
      for (const r of scores.rows.filter((r) => r.proxy === p)) {
        const v = theirs.get(p)!.get(Number(r.index));
        if (v === undefined || !Number.isFinite(v)) continue;
        x.push(parseFloatField(r.score!, "score"));
        y.push(v);
      }
      if (x.length < 19) throw new Error(`${p}: ${x.length} rows`);
      const rho = spearmanRho(x, y);
      console.log(`Spearman(ours, NASLib ${COLUMN[p]}) over ${x.length} archs = ${rho.toFixed(4)}`);
      if (!(rho >= 0.9)) throw new Error(`${p}: Spearman ${rho} < 0.9`);
    }
  },
});

// synflow on all 725 NASLib cifar10 archs: Spearman with NASLib's synflow column >= 0.95, and its Spearman
// with validation accuracy within 0.03 of the reference column's (issue #6's bar).
const syn725 = `${root}results/nb201/cifar10/synflow-naslib725/scores.csv`;
const syn725Present = await Deno.stat(syn725).then(() => true, () => false);

Deno.test({
  name: "synflow of the 725 NASLib cifar10 archs ranks like NASLib's synflow and predicts accuracy as well",
  ignore: !syn725Present || ref === null,
  async fn() {
    const table = await readCsv(ref!, ["dataset", "index", "synflow", "val_accuracy"]);
    const theirs = new Map<number, { s: number; acc: number }>();
    for (const r of table.rows) {
      if (r.dataset !== "cifar10" || (r.synflow ?? "").trim() === "") continue;
      theirs.set(Number(r.index), {
        s: parseFloatField(r.synflow!, "synflow"),
        acc: parseFloatField(r.val_accuracy!, "acc"),
      });
    }
    const scores = await readCsv(syn725, ["index", "score"]);
    const x: number[] = [], y: number[] = [], acc: number[] = [];
    for (const r of scores.rows) {
      const t = theirs.get(Number(r.index));
      if (!t) continue; // the one arch whose reference synflow is missing
      x.push(parseFloatField(r.score!, "score"));
      y.push(t.s);
      acc.push(t.acc);
    }
    if (x.length < 724) throw new Error(`${x.length} rows`);
    const rho = spearmanRho(x, y);
    const ours = spearmanRho(x, acc);
    const refAcc = spearmanRho(y, acc);
    console.log(
      `synflow: Spearman vs NASLib ${rho.toFixed(4)}; vs accuracy ours ${ours.toFixed(4)}, NASLib ${
        refAcc.toFixed(4)
      }`,
    );
    if (!(rho >= 0.95)) throw new Error(`Spearman ${rho} < 0.95`);
    if (!(Math.abs(ours - refAcc) <= 0.03)) throw new Error(`accuracy Spearman ${ours} vs ${refAcc}`);
  },
});
