/**
 * DARTS search space as used by NAS-Bench-301 (NB301): genotypes, their three text forms, seeded uniform
 * sampling, one-step mutation, and the parameter / multiply-accumulate count of the CIFAR-10 network. Pure
 * logic, no GPU.
 *
 * A genotype has a normal and a reduction cell. Each cell has two input nodes (0, 1 = outputs of the two
 * previous cells) and four intermediate nodes 2..5; node k receives exactly two edges `(op, input)` with two
 * DIFFERENT inputs in 0..k-1 and sums them; the cell output is the channel concatenation of nodes 2, 3, 4, 5
 * (`concat = [2, 3, 4, 5]`, fixed). A cell is stored as 8 edges, edges 2(k-2) and 2(k-2)+1 feeding node k.
 * Ops are the seven of {@link DARTS_OPS}; `none` (DARTS' zero op) is rejected: the DARTS derivation never
 * keeps it, NB301's configuration space and NASLib's compact encoding have no index for it.
 *
 * Three text forms are parsed:
 * - canonical arch string (this project's, CSV-safe: no commas, no quotes), NB201-like:
 *   `normal=|op~a|op~b|+|op~a|op~b|+|op~a|op~b|+|op~a|op~b|;reduce=|...same...|`, one `|op~a|op~b|` group per
 *   node 2..5, e.g. `normal=|max_pool_3x3~0|dil_conv_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|+|...`.
 *   {@link formatDartsArch} writes the two edges of each node in increasing input order, so genotypes that
 *   differ only in the order of a node's two edges (the node sums them) format identically. Nodes are NOT
 *   relabelled: permuting intermediate nodes changes the concat order and NB301 treats such cells as
 *   different configurations.
 * - the DARTS repr `Genotype(normal=[('op', i), ...], normal_concat=[2, 3, 4, 5], reduce=[...],
 *   reduce_concat=[2, 3, 4, 5])` (edge order as written is kept);
 * - NASLib's compact encoding `[[(input, opIndex)] * 8, [(input, opIndex)] * 8]`, op index into
 *   {@link DARTS_OPS} (edge order as written is kept).
 * Parse errors are {@link ArchParseError}s naming the token, its 1-based position and the expected form.
 *
 * Network ({@link dartsNetworkCost}): DARTS NetworkCIFAR as NB301 trains it: C = 32, 8 cells, reduction cells
 * at floor(8/3) = 2 and floor(16/3) = 5, stem Conv3x3(3 -> 3C) + BN. Two variants differ only in BatchNorm
 * affinity inside cells and a BN after pools; `"naslib"` (NASLib's NasBench301SearchSpace, the model that
 * produced the `params` column of NASLib's NB301 zero-cost table) reproduces that column exactly for all 725
 * rows; `"darts"` is the DARTS evaluation network (affine BNs in every op), i.e. the trained NB301 model.
 *
 * @example
 * ```ts
 * import { dartsNetworkCost, formatDartsArch, parseDartsGenotypeRepr } from "./darts.ts";
 * const g = parseDartsGenotypeRepr(
 *   "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), " +
 *     "('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], " +
 *     "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), " +
 *     "('max_pool_3x3', 0), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), " +
 *     "('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])",
 * );
 * console.log(formatDartsArch(g));
 * console.log(dartsNetworkCost(g, { variant: "naslib" }).params);
 * ```
 * @module
 */

import { ArchParseError } from "./nb201.ts";
import { deriveSeed, Rng } from "./rng.ts";

/** The seven DARTS edge operations, in NASLib's compact op-index order (index 0..6). */
export const DARTS_OPS = [
  "max_pool_3x3",
  "avg_pool_3x3",
  "skip_connect",
  "sep_conv_3x3",
  "sep_conv_5x5",
  "dil_conv_3x3",
  "dil_conv_5x5",
] as const;

/** One DARTS edge operation. */
export type DartsOp = typeof DARTS_OPS[number];

/** One edge of a cell: `op` applied to node `input` (0, 1 = cell inputs; 2.. = earlier intermediate nodes). */
export interface DartsEdge {
  /** Operation on the edge. */
  readonly op: DartsOp;
  /** Source node, 0..k-1 for an edge into node k. */
  readonly input: number;
}

/** A cell: 8 edges; edges 2j and 2j+1 (j = 0..3) feed intermediate node j + 2 and have different inputs. */
export type DartsCell = readonly DartsEdge[];

/** A DARTS genotype (concat is always nodes [2, 3, 4, 5] in both cells). */
export interface DartsGenotype {
  /** The normal cell (stride 1). */
  readonly normal: DartsCell;
  /** The reduction cell (edges from nodes 0 and 1 have stride 2). */
  readonly reduce: DartsCell;
}

/** Intermediate nodes per cell. */
export const DARTS_NUM_NODES = 4;
/** Edges per cell (2 per intermediate node). */
export const DARTS_EDGES_PER_CELL = 8;
/** The fixed concat list of both cells. */
export const DARTS_CONCAT: readonly number[] = Object.freeze([2, 3, 4, 5]);

/** Shape of the canonical arch string, shown in error messages. */
export const DARTS_ARCH_FORM =
  "normal=|op~a|op~b|+|op~a|op~b|+|op~a|op~b|+|op~a|op~b|;reduce=|op~a|op~b|+...(same)";
/** Shape of the DARTS repr, shown in error messages. */
export const DARTS_GENOTYPE_FORM =
  "Genotype(normal=[('op', input), ...8 edges], normal_concat=[2, 3, 4, 5], reduce=[...8 edges], reduce_concat=[2, 3, 4, 5])";
/** Shape of NASLib's compact encoding, shown in error messages. */
export const DARTS_COMPACT_FORM = "[[(input, opIndex), ...8 pairs], [(input, opIndex), ...8 pairs]]";

const OPS_LIST = DARTS_OPS.join(", ");
const OP_INDEX: ReadonlyMap<string, number> = new Map(DARTS_OPS.map((op, i) => [op, i]));
const CELL_NAMES = ["normal", "reduce"] as const;

/** True when `s` is one of {@link DARTS_OPS}. */
export function isDartsOp(s: string): s is DartsOp {
  return OP_INDEX.has(s);
}

/** Node (2..5) fed by edge `e` (0..7) of a cell. */
export function dartsEdgeNode(e: number): number {
  return 2 + (e >> 1);
}

/**
 * Why `g` is not a valid genotype (shape, ops, input ranges, distinct inputs per node), or null when it is.
 * Accepts any value.
 */
export function dartsGenotypeProblem(g: unknown): string | null {
  if (typeof g !== "object" || g === null) return "not an object";
  for (const name of CELL_NAMES) {
    const cell = (g as Record<string, unknown>)[name];
    if (!Array.isArray(cell)) return `${name} is not an array`;
    if (cell.length !== DARTS_EDGES_PER_CELL) return `${name} has ${cell.length} edges, expected 8`;
    for (let e = 0; e < DARTS_EDGES_PER_CELL; e++) {
      const edge = cell[e] as Partial<DartsEdge> | null;
      const node = dartsEdgeNode(e);
      if (typeof edge !== "object" || edge === null) return `${name}[${e}] is not an edge`;
      if (typeof edge.op !== "string" || !isDartsOp(edge.op)) {
        return `${name}[${e}].op ${JSON.stringify(edge.op)} is not one of ${OPS_LIST}`;
      }
      const i = edge.input;
      if (typeof i !== "number" || !Number.isInteger(i) || i < 0 || i >= node) {
        return `${name}[${e}].input ${i} is out of range 0..${node - 1} for node ${node}`;
      }
      if (e % 2 === 1 && (cell[e - 1] as DartsEdge).input === i) {
        return `${name}: both edges into node ${node} come from node ${i}`;
      }
    }
  }
  return null;
}

/** True when `g` is a valid {@link DartsGenotype}. */
export function isDartsGenotype(g: unknown): g is DartsGenotype {
  return dartsGenotypeProblem(g) === null;
}

function checkGenotype(g: DartsGenotype, fn: string): void {
  const p = dartsGenotypeProblem(g);
  if (p !== null) throw new TypeError(`${fn}: invalid DARTS genotype: ${p}`);
}

function freezeCell(edges: readonly DartsEdge[]): DartsCell {
  return Object.freeze(edges.map((e) => Object.freeze({ op: e.op, input: e.input })));
}

function freezeGenotype(normal: readonly DartsEdge[], reduce: readonly DartsEdge[]): DartsGenotype {
  return Object.freeze({ normal: freezeCell(normal), reduce: freezeCell(reduce) });
}

/** `g` with the two edges of every node ordered by increasing input (frozen; the cells' function is unchanged). */
export function canonicalDartsGenotype(g: DartsGenotype): DartsGenotype {
  checkGenotype(g, "canonicalDartsGenotype");
  const sortCell = (cell: DartsCell): DartsEdge[] => {
    const out: DartsEdge[] = [];
    for (let e = 0; e < DARTS_EDGES_PER_CELL; e += 2) {
      const a = cell[e]!;
      const b = cell[e + 1]!;
      if (a.input < b.input) out.push(a, b);
      else out.push(b, a);
    }
    return out;
  };
  return freezeGenotype(sortCell(g.normal), sortCell(g.reduce));
}

// ---------------------------------------------------------------------------------------------------------
// Formatting

/** Canonical arch string of `g` (see the module comment); equal for genotypes equal up to edge order in a node. */
export function formatDartsArch(g: DartsGenotype): string {
  const c = canonicalDartsGenotype(g);
  const cell = (edges: DartsCell): string => {
    const nodes: string[] = [];
    for (let e = 0; e < DARTS_EDGES_PER_CELL; e += 2) {
      const a = edges[e]!;
      const b = edges[e + 1]!;
      nodes.push(`|${a.op}~${a.input}|${b.op}~${b.input}|`);
    }
    return nodes.join("+");
  };
  return `normal=${cell(c.normal)};reduce=${cell(c.reduce)}`;
}

/** The DARTS repr of `g`, edge order as stored: `Genotype(normal=[('op', i), ...], normal_concat=[2, 3, 4, 5], ...)`. */
export function formatDartsGenotypeRepr(g: DartsGenotype): string {
  checkGenotype(g, "formatDartsGenotypeRepr");
  const cell = (edges: DartsCell) => `[${edges.map((e) => `('${e.op}', ${e.input})`).join(", ")}]`;
  return `Genotype(normal=${cell(g.normal)}, normal_concat=[2, 3, 4, 5], reduce=${cell(g.reduce)}, ` +
    `reduce_concat=[2, 3, 4, 5])`;
}

/** NASLib's compact encoding of `g`, edge order as stored: `[[(input, opIndex), ...8], [...8]]`. */
export function formatNaslibCompact(g: DartsGenotype): string {
  checkGenotype(g, "formatNaslibCompact");
  const cell = (edges: DartsCell) =>
    `[${edges.map((e) => `(${e.input}, ${OP_INDEX.get(e.op)})`).join(", ")}]`;
  return `[${cell(g.normal)}, ${cell(g.reduce)}]`;
}

// ---------------------------------------------------------------------------------------------------------
// Parsing: one tokenizer for the three forms, a recursive-descent parser per form, one validator.

interface Token {
  kind: "ident" | "int" | "str" | "punct" | "end" | "bad";
  /** Token text as it appears in the input (strings with their quotes). */
  text: string;
  /** 1-based position of the first character. */
  pos: number;
}

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const ch = s[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const start = i;
    if (/[A-Za-z_]/.test(ch)) {
      while (i < s.length && /[A-Za-z0-9_]/.test(s[i]!)) i++;
      out.push({ kind: "ident", text: s.slice(start, i), pos: start + 1 });
    } else if (/[0-9-]/.test(ch)) {
      i++;
      while (i < s.length && /[0-9A-Za-z_.]/.test(s[i]!)) i++;
      const text = s.slice(start, i);
      out.push({ kind: /^[0-9]+$/.test(text) ? "int" : "bad", text, pos: start + 1 });
    } else if (ch === "'" || ch === '"') {
      const close = s.indexOf(ch, i + 1);
      i = close < 0 ? s.length : close + 1;
      out.push({ kind: close < 0 ? "bad" : "str", text: s.slice(start, i), pos: start + 1 });
    } else if ("()[],=|+~;".includes(ch)) {
      i++;
      out.push({ kind: "punct", text: ch, pos: start + 1 });
    } else {
      i++;
      out.push({ kind: "bad", text: ch, pos: start + 1 });
    }
  }
  out.push({ kind: "end", text: "", pos: s.length + 1 });
  return out;
}

function quoteInput(s: string): string {
  return JSON.stringify(s.length > 200 ? s.slice(0, 200) + "..." : s);
}

/** An edge as parsed, with the tokens to blame in errors. */
interface RawEdge {
  opText: string;
  opTok: Token;
  input: number;
  inputTok: Token;
}

class Parser {
  #toks: Token[];
  #k = 0;
  constructor(readonly input: string, readonly form: string) {
    this.#toks = tokenize(input);
  }

  peek(): Token {
    return this.#toks[this.#k]!;
  }

  next(): Token {
    const t = this.#toks[this.#k]!;
    if (t.kind !== "end") this.#k++;
    return t;
  }

  fail(what: string, tok: Token, expected: string): never {
    const shown = tok.kind === "end" ? "end of input" : JSON.stringify(tok.text);
    throw new ArchParseError(
      `${what} ${shown} at position ${tok.pos} of ${quoteInput(this.input)}; expected ${expected} ` +
        `(form ${this.form})`,
      this.input,
      tok.text,
      tok.pos,
    );
  }

  punct(p: string, where: string): Token {
    const t = this.next();
    if (t.kind !== "punct" || t.text !== p) this.fail(`unexpected token`, t, `"${p}" ${where}`);
    return t;
  }

  ident(name: string, where: string): Token {
    const t = this.next();
    if (t.kind !== "ident" || t.text !== name) this.fail(`unexpected token`, t, `"${name}" ${where}`);
    return t;
  }

  int(where: string): { value: number; tok: Token } {
    const t = this.next();
    if (t.kind !== "int") this.fail(`bad integer`, t, `a non-negative integer ${where}`);
    return { value: Number(t.text), tok: t };
  }

  end(): void {
    const t = this.peek();
    if (t.kind !== "end") this.fail("unexpected trailing token", t, "end of input");
  }

  /** Checks ops, input ranges and distinct inputs of a cell's 8 edges; returns the typed cell. */
  cell(name: string, raw: RawEdge[]): DartsEdge[] {
    const out: DartsEdge[] = [];
    raw.forEach((r, e) => {
      const node = dartsEdgeNode(e);
      if (r.opText === "none" || r.opText === "zero") {
        this.fail(
          `op ${JSON.stringify(r.opText)} (the zero op) is not in the DARTS / NB301 space:`,
          r.opTok,
          `one of ${OPS_LIST}`,
        );
      }
      if (!isDartsOp(r.opText)) this.fail("unknown op", r.opTok, `one of ${OPS_LIST}`);
      if (r.input >= node) {
        this.fail(
          `input node out of range for edge ${e + 1} of the ${name} cell (node ${node}):`,
          r.inputTok,
          `an input 0..${node - 1}`,
        );
      }
      if (e % 2 === 1 && raw[e - 1]!.input === r.input) {
        this.fail(
          `both edges into node ${node} of the ${name} cell come from node ${r.input}: second input`,
          r.inputTok,
          `an input 0..${node - 1} other than ${r.input} (two different inputs per node)`,
        );
      }
      out.push({ op: r.opText as DartsOp, input: r.input });
    });
    return out;
  }

  /** Reads a list of exactly 8 items with `item`, between `[` and `]`. */
  list8(name: string, item: (e: number) => RawEdge): RawEdge[] {
    this.punct("[", `opening the ${name} cell's edge list`);
    const out: RawEdge[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === "punct" && t.text === "]") {
        if (out.length !== DARTS_EDGES_PER_CELL) {
          this.fail(
            `wrong number of edges in the ${name} cell (found ${out.length}):`,
            t,
            `8 edges (2 per node 2..5)`,
          );
        }
        this.next();
        return out;
      }
      if (out.length > 0) this.punct(",", `or "]" after edge ${out.length} of the ${name} cell`);
      if (out.length === DARTS_EDGES_PER_CELL) {
        this.fail(`wrong number of edges in the ${name} cell: 9th edge`, this.peek(), `"]" after 8 edges`);
      }
      out.push(item(out.length));
    }
  }
}

/**
 * Parses the canonical arch string `normal=|op~a|op~b|+...;reduce=|op~a|op~b|+...` (see the module comment;
 * whitespace between tokens is ignored; a node's two edges may come in either order and are kept as written).
 * Throws {@link ArchParseError} naming the offending token and its 1-based position.
 */
export function parseDartsArch(s: string): DartsGenotype {
  const p = new Parser(s, DARTS_ARCH_FORM);
  if (p.peek().kind === "end") p.fail("empty arch string:", p.peek(), "an arch string");
  const cells: DartsEdge[][] = [];
  for (let c = 0; c < 2; c++) {
    const name = CELL_NAMES[c]!;
    if (c === 1) p.punct(";", `between the normal and the reduce cell`);
    p.ident(name, c === 0 ? "at the start" : 'after ";"');
    p.punct("=", `after "${name}"`);
    const raw: RawEdge[] = [];
    for (let n = 0; n < DARTS_NUM_NODES; n++) {
      const node = n + 2;
      if (n > 0) {
        const t = p.peek();
        if (!(t.kind === "punct" && t.text === "+")) {
          p.fail(
            `wrong number of nodes in the ${name} cell (found ${n}):`,
            t,
            `"+" and node ${node} (4 nodes)`,
          );
        }
        p.next();
      }
      p.punct("|", `opening node ${node} of the ${name} cell`);
      for (let j = 0; j < 2; j++) {
        const opTok = p.next();
        if (opTok.kind !== "ident") {
          p.fail(
            `wrong number of edges into node ${node} of the ${name} cell (found ${j}):`,
            opTok,
            `an edge "op~input" (2 per node)`,
          );
        }
        p.punct("~", `after the op ${JSON.stringify(opTok.text)}`);
        const { value, tok } = p.int(`(input node) after "~"`);
        raw.push({ opText: opTok.text, opTok, input: value, inputTok: tok });
        const close = p.next();
        if (!(close.kind === "punct" && close.text === "|")) {
          p.fail("unexpected token", close, `"|" after an edge`);
        }
      }
      const t = p.peek();
      if (t.kind === "ident") {
        p.fail(
          `wrong number of edges into node ${node} of the ${name} cell: 3rd edge`,
          t,
          `"+" or ";" (2 per node)`,
        );
      }
    }
    const t = p.peek();
    if (t.kind === "punct" && t.text === "+") {
      p.fail(`wrong number of nodes in the ${name} cell: 5th node after`, t, `4 nodes`);
    }
    cells.push(p.cell(name, raw));
  }
  p.end();
  return freezeGenotype(cells[0]!, cells[1]!);
}

/**
 * Parses the DARTS repr `Genotype(normal=[('op', i), ...8], normal_concat=[2, 3, 4, 5], reduce=[...8],
 * reduce_concat=[2, 3, 4, 5])` as printed by Python (single or double quotes, any spacing). Edge order is kept.
 * Throws {@link ArchParseError} naming the offending token and its 1-based position.
 */
export function parseDartsGenotypeRepr(s: string): DartsGenotype {
  const p = new Parser(s, DARTS_GENOTYPE_FORM);
  p.ident("Genotype", "at the start");
  p.punct("(", `after "Genotype"`);
  const cells: DartsEdge[][] = [];
  for (let c = 0; c < 2; c++) {
    const name = CELL_NAMES[c]!;
    if (c === 1) p.punct(",", `after normal_concat`);
    p.ident(name, c === 0 ? `after "Genotype("` : `after normal_concat`);
    p.punct("=", `after "${name}"`);
    const raw = p.list8(name, (e) => {
      p.punct("(", `opening edge ${e + 1} of the ${name} cell`);
      const opTok = p.next();
      if (opTok.kind !== "str") p.fail("bad op", opTok, `a quoted op name, one of ${OPS_LIST}`);
      p.punct(",", `after the op of edge ${e + 1}`);
      const { value, tok } = p.int(`(input node) in edge ${e + 1} of the ${name} cell`);
      p.punct(")", `closing edge ${e + 1} of the ${name} cell`);
      return { opText: opTok.text.slice(1, -1), opTok, input: value, inputTok: tok };
    });
    cells.push(p.cell(name, raw));
    p.punct(",", `after the ${name} cell`);
    p.ident(`${name}_concat`, `after the ${name} cell`);
    p.punct("=", `after "${name}_concat"`);
    p.punct("[", `opening ${name}_concat`);
    for (let k = 0; k < DARTS_CONCAT.length; k++) {
      if (k > 0) p.punct(",", `in ${name}_concat`);
      const { value, tok } = p.int(`in ${name}_concat`);
      if (value !== DARTS_CONCAT[k]) {
        p.fail(`bad ${name}_concat entry`, tok, `${DARTS_CONCAT[k]} (concat = [2, 3, 4, 5])`);
      }
    }
    p.punct("]", `closing ${name}_concat = [2, 3, 4, 5]`);
  }
  p.punct(")", "closing Genotype(...)");
  p.end();
  return freezeGenotype(cells[0]!, cells[1]!);
}

/**
 * Parses NASLib's compact encoding `[[(input, opIndex), ...8], [(input, opIndex), ...8]]` (normal cell first;
 * pairs may also be written as `[input, opIndex]`). Edge order is kept. Throws {@link ArchParseError} naming the
 * offending token and its 1-based position.
 */
export function parseNaslibCompact(s: string): DartsGenotype {
  const p = new Parser(s, DARTS_COMPACT_FORM);
  p.punct("[", "opening the compact encoding");
  const cells: DartsEdge[][] = [];
  for (let c = 0; c < 2; c++) {
    const name = CELL_NAMES[c]!;
    if (c === 1) p.punct(",", `after the normal cell`);
    const raw = p.list8(name, (e) => {
      const open = p.next();
      if (!(open.kind === "punct" && (open.text === "(" || open.text === "["))) {
        p.fail("unexpected token", open, `"(" opening pair ${e + 1} of the ${name} cell`);
      }
      const { value, tok } = p.int(`(input node) in pair ${e + 1} of the ${name} cell`);
      p.punct(",", `after the input of pair ${e + 1}`);
      const op = p.int(`(op index 0..6) in pair ${e + 1} of the ${name} cell`);
      if (op.value >= DARTS_OPS.length) {
        p.fail("op index out of range", op.tok, `an op index 0..6 into ${OPS_LIST}`);
      }
      p.punct(open.text === "(" ? ")" : "]", `closing pair ${e + 1} of the ${name} cell`);
      return { opText: DARTS_OPS[op.value]!, opTok: op.tok, input: value, inputTok: tok };
    });
    cells.push(p.cell(name, raw));
  }
  const t = p.peek();
  if (t.kind === "punct" && t.text === ",") p.fail("too many cells: unexpected", t, `"]" after 2 cells`);
  p.punct("]", "closing the compact encoding after 2 cells");
  p.end();
  return freezeGenotype(cells[0]!, cells[1]!);
}

/**
 * Parses any of the three forms, chosen by the first non-blank character: `G` = DARTS repr, `[` = NASLib compact,
 * otherwise the canonical arch string. Throws {@link ArchParseError}.
 */
export function parseDartsAny(s: string): DartsGenotype {
  const t = s.trimStart();
  if (t.startsWith("Genotype")) return parseDartsGenotypeRepr(s);
  if (t.startsWith("[")) return parseNaslibCompact(s);
  return parseDartsArch(s);
}

// ---------------------------------------------------------------------------------------------------------
// Sampling and mutation

/**
 * One genotype drawn from `rng` as NASLib / NB301 sample the DARTS space: for each cell (normal, then reduce)
 * and each node k = 2..5, an ordered pair of two different inputs uniform among 0..k-1, each edge with a uniform
 * op. Draws 4 integers per node (first input, second input, two ops), 32 in all. Same distribution as NASLib's
 * `sample_random_architecture`, not its numpy stream.
 */
export function sampleDartsGenotype(rng: Rng): DartsGenotype {
  const cells: DartsEdge[][] = [];
  for (let c = 0; c < 2; c++) {
    const edges: DartsEdge[] = [];
    for (let node = 2; node < 2 + DARTS_NUM_NODES; node++) {
      const a = rng.int(node);
      let b = rng.int(node - 1);
      if (b >= a) b++;
      edges.push({ op: DARTS_OPS[rng.int(DARTS_OPS.length)]!, input: a });
      edges.push({ op: DARTS_OPS[rng.int(DARTS_OPS.length)]!, input: b });
    }
    cells.push(edges);
  }
  return freezeGenotype(cells[0]!, cells[1]!);
}

/**
 * `n` genotypes; genotype t is {@link sampleDartsGenotype} on the stream `deriveSeed(seed, "darts.sample", t)`,
 * so draws are independent of `n` (the first k of n equal the draws for n = k). Drawn with replacement
 * (duplicates are possible but rare: the space has about 10^18 canonical genotypes).
 */
export function sampleDartsGenotypes(n: number, seed: number): DartsGenotype[] {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`sampleDartsGenotypes: n must be a non-negative integer, got ${n}`);
  }
  const out: DartsGenotype[] = [];
  for (let t = 0; t < n; t++) out.push(sampleDartsGenotype(new Rng(deriveSeed(seed, "darts.sample", t))));
  return out;
}

/**
 * A copy of `g` changed in exactly one edge (REA's mutation, adapted to DARTS): a uniform cell (2), a uniform
 * edge (8), then with probability 1/2 the edge's op becomes a uniform DIFFERENT op (6 choices), else its input
 * becomes a uniform input of 0..k-1 that is neither its current input nor the other edge's input into the same
 * node (k - 2 choices for node k). Node 2 has no such input (its edges come from 0 and 1), so there the op is
 * changed instead. The child is valid and its canonical string differs from the parent's. Draws 4 integers.
 */
export function mutateDartsGenotype(g: DartsGenotype, rng: Rng): DartsGenotype {
  checkGenotype(g, "mutateDartsGenotype");
  const c = rng.int(2);
  const e = rng.int(DARTS_EDGES_PER_CELL);
  const changeInput = rng.int(2) === 1;
  const cell = (c === 0 ? g.normal : g.reduce).slice();
  const edge = cell[e]!;
  const node = dartsEdgeNode(e);
  if (changeInput && node > 2) {
    const other = cell[e ^ 1]!.input;
    const lo = Math.min(edge.input, other);
    const hi = Math.max(edge.input, other);
    let v = rng.int(node - 2);
    if (v >= lo) v++;
    if (v >= hi) v++;
    cell[e] = { op: edge.op, input: v };
  } else {
    const cur = OP_INDEX.get(edge.op)!;
    cell[e] = {
      op: DARTS_OPS[(cur + 1 + rng.int(DARTS_OPS.length - 1)) % DARTS_OPS.length]!,
      input: edge.input,
    };
  }
  return c === 0 ? freezeGenotype(cell, g.reduce) : freezeGenotype(g.normal, cell);
}

// ---------------------------------------------------------------------------------------------------------
// Network cost

/** Options of {@link dartsNetworkCost}; all but `variant` default to NB301's CIFAR-10 network. */
export interface DartsNetworkOptions {
  /**
   * `"naslib"`: NASLib's NasBench301SearchSpace (BatchNorms inside cell ops non-affine, every pool followed by a
   * non-affine BN); reproduces the `params` column of NASLib's NB301 zero-cost table. `"darts"`: the DARTS
   * evaluation network NetworkCIFAR that NB301 trained (every BN affine, bare pools).
   */
  variant: "naslib" | "darts";
  /** Initial channels C (cells of stage 1 have C channels per node). Default 32. */
  channels?: number;
  /** Number of cells; reduction cells at floor(layers/3) and floor(2*layers/3). Default 8. */
  layers?: number;
  /** Classifier outputs. Default 10. */
  classes?: number;
  /** Input height = width in pixels (3 channels); must be divisible by 4. Default 32. */
  imageSize?: number;
  /**
   * Include DARTS' auxiliary CIFAR head after the second reduction cell (ReLU, AvgPool 5 s3, Conv1x1 -> 128, BN,
   * ReLU, Conv2x2 -> 768, BN, ReLU, Linear -> classes; needs an 8..10 pixel map there). NB301 trains with it;
   * NASLib's `params` column does NOT count it. Default false.
   */
  auxiliary?: boolean;
}

/** Size of the network of one genotype for one image. */
export interface DartsCost {
  /** Trainable parameters: conv weights (no biases), affine BN weight + bias, linear weight + bias. */
  params: number;
  /** Multiply-accumulates of all convolutions and linear layers for one image (bias additions not counted). */
  macs: number;
  /**
   * FLOPs as tensorwatch / torchstat count them (what NASLib's `flops` column reports, in units of 1): `macs`
   * plus, per layer, BN input elements (x2 when affine), ReLU input elements, pool output elements x 9, global
   * average pool input elements. NASLib's column equals this plus 8,704 for every one of the 725 rows
   * (a constant whose origin was not identified).
   */
  flops: number;
}

/**
 * Parameter count, multiply-accumulates and torchstat FLOPs of the CIFAR network built from `g` (see
 * {@link DartsNetworkOptions}). Stem Conv3x3(3 -> 3C) + BN; per cell, input s0 is preprocessed by
 * FactorizedReduce when the previous cell was a reduction cell, else ReLU-Conv1x1-BN, and s1 by ReLU-Conv1x1-BN,
 * both to the cell's C (doubled in reduction cells); ops: sep_conv_k = 2 x (ReLU, depthwise kxk, pointwise, BN),
 * dil_conv_k = ReLU, depthwise kxk dilation 2, pointwise, BN; pools 3x3 pad 1; skip_connect with stride 2 =
 * FactorizedReduce (ReLU, two 1x1 stride-2 convs to C/2 on x and x shifted by one pixel, concat, BN); cell
 * output = concat of nodes 2..5 (4C channels); global average pool; Linear(4C -> classes).
 */
export function dartsNetworkCost(g: DartsGenotype, options: DartsNetworkOptions): DartsCost {
  checkGenotype(g, "dartsNetworkCost");
  const { variant } = options;
  if (variant !== "naslib" && variant !== "darts") {
    throw new TypeError(
      `dartsNetworkCost: variant must be "naslib" or "darts", got ${JSON.stringify(variant)}`,
    );
  }
  const C = options.channels ?? 32;
  const layers = options.layers ?? 8;
  const classes = options.classes ?? 10;
  const size = options.imageSize ?? 32;
  const positive = (v: number, what: string, mult = 1) => {
    if (!Number.isInteger(v) || v <= 0 || v % mult !== 0) {
      throw new RangeError(
        `dartsNetworkCost: ${what} must be a positive integer${
          mult > 1 ? ` divisible by ${mult}` : ""
        }, got ${v}`,
      );
    }
  };
  positive(C, "channels");
  positive(layers, "layers");
  positive(classes, "classes");
  positive(size, "imageSize", 4);
  const opAffine = variant === "darts";
  const poolBn = variant === "naslib";

  let params = 0;
  let macs = 0;
  let flops = 0;
  const conv = (cin: number, cout: number, k: number, hout: number, depthwise = false) => {
    const w = depthwise ? cin * k * k : cin * cout * k * k;
    params += w;
    macs += w * hout * hout;
    flops += w * hout * hout;
  };
  const bn = (c: number, h: number, affine: boolean) => {
    if (affine) params += 2 * c;
    flops += (affine ? 2 : 1) * c * h * h;
  };
  const relu = (c: number, h: number) => {
    flops += c * h * h;
  };
  const reluConvBn = (cin: number, cout: number, h: number) => {
    relu(cin, h);
    conv(cin, cout, 1, h);
    bn(cout, h, true);
  };
  const factorizedReduce = (cin: number, cout: number, h: number, affine: boolean) => {
    relu(cin, h);
    conv(cin, cout / 2, 1, h / 2);
    conv(cin, cout / 2, 1, h / 2);
    bn(cout, h / 2, affine);
  };
  const op = (name: DartsOp, c: number, hin: number, stride: number) => {
    const hout = hin / stride;
    switch (name) {
      case "max_pool_3x3":
      case "avg_pool_3x3":
        flops += 9 * c * hout * hout;
        if (poolBn) bn(c, hout, false);
        return;
      case "skip_connect":
        if (stride === 2) factorizedReduce(c, c, hin, opAffine);
        return;
      case "sep_conv_3x3":
      case "sep_conv_5x5": {
        const k = name === "sep_conv_3x3" ? 3 : 5;
        relu(c, hin);
        conv(c, c, k, hout, true);
        conv(c, c, 1, hout);
        bn(c, hout, opAffine);
        relu(c, hout);
        conv(c, c, k, hout, true);
        conv(c, c, 1, hout);
        bn(c, hout, opAffine);
        return;
      }
      case "dil_conv_3x3":
      case "dil_conv_5x5": {
        const k = name === "dil_conv_3x3" ? 3 : 5;
        relu(c, hin);
        conv(c, c, k, hout, true);
        conv(c, c, 1, hout);
        bn(c, hout, opAffine);
        return;
      }
    }
  };

  conv(3, 3 * C, 3, size);
  bn(3 * C, size, true);
  let cPrevPrev = 3 * C;
  let cPrev = 3 * C;
  let hPrevPrev = size;
  let hPrev = size;
  let c = C;
  let reductionPrev = false;
  const r1 = Math.floor(layers / 3);
  const r2 = Math.floor((2 * layers) / 3);
  let aux: { c: number; h: number } | null = null;
  for (let i = 0; i < layers; i++) {
    const reduction = i === r1 || i === r2;
    if (reduction) c *= 2;
    if (reductionPrev) factorizedReduce(cPrevPrev, c, hPrevPrev, true);
    else reluConvBn(cPrevPrev, c, hPrevPrev);
    reluConvBn(cPrev, c, hPrev);
    const h = hPrev;
    const hOut = reduction ? h / 2 : h;
    const cell = reduction ? g.reduce : g.normal;
    for (const edge of cell) {
      const fromInput = edge.input < 2;
      const stride = reduction && fromInput ? 2 : 1;
      op(edge.op, c, fromInput ? h : hOut, stride);
    }
    cPrevPrev = cPrev;
    cPrev = DARTS_CONCAT.length * c;
    hPrevPrev = hPrev;
    hPrev = hOut;
    reductionPrev = reduction;
    if (i === r2) aux = { c: cPrev, h: hOut };
  }
  flops += cPrev * hPrev * hPrev; // global average pool
  params += cPrev * classes + classes;
  macs += cPrev * classes;
  flops += cPrev * classes;

  if (options.auxiliary ?? false) {
    const { c: ca, h: ha } = aux!;
    const hp = Math.floor((ha - 5) / 3) + 1;
    if (hp !== 2) {
      throw new RangeError(
        `dartsNetworkCost: the auxiliary head needs an 8..10 pixel map after cell ${r2}, got ${ha} ` +
          `(imageSize ${size})`,
      );
    }
    relu(ca, ha);
    flops += 25 * ca * hp * hp;
    conv(ca, 128, 1, hp);
    bn(128, hp, true);
    relu(128, hp);
    conv(128, 768, 2, 1);
    bn(768, 1, true);
    relu(768, 1);
    params += 768 * classes + classes;
    macs += 768 * classes;
    flops += 768 * classes;
  }
  return { params, macs, flops };
}
