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
