// The sample stage's pure cores: every arch in index order (--all), seeded draws, and --from lists.
import { allArchs, parseArchList, sampleArchs } from "../pipeline/sample.ts";
import { archToIndex, NB201_SIZE, parseArch } from "../spaces/nb201.ts";

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

Deno.test("allArchs lists the 15,625 archs once each, in benchmark index order, strings matching indices", () => {
  const all = allArchs();
  assert(all.length === NB201_SIZE, `${all.length} archs`);
  all.forEach((r, i) => {
    if (r.index !== i || archToIndex(parseArch(r.arch_str)) !== i) {
      throw new Error(`row ${i}: ${JSON.stringify(r)}`);
    }
  });
  assert(new Set(all.map((r) => r.arch_str)).size === NB201_SIZE, "distinct");
});

Deno.test("sampleArchs without replacement is distinct and refuses more than the space", () => {
  const s = sampleArchs(500, 3);
  assert(new Set(s.map((r) => r.index)).size === 500, "distinct");
  let err = "";
  try {
    sampleArchs(NB201_SIZE + 1, 0);
  } catch (e) {
    err = (e as Error).message;
  }
  assert(err.includes("--replace"), err);
});

Deno.test("parseArchList names the file and line of a bad entry", () => {
  let err = "";
  try {
    parseArchList("list.txt", "# header\n9\n|bogus~0|\n");
  } catch (e) {
    err = (e as Error).message;
  }
  assert(err.startsWith("list.txt:3:"), err);
});
