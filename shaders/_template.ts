/**
 * Renders WGSL template files: `${NAME}` placeholders are replaced by parameter values, and
 * `#if ${FLAG}` / `#elif ${FLAG}` / `#else` / `#endif` lines are resolved by `wgsl-preprocessor`.
 * Rendering is a pure function (template and parameters in, WGSL text out), so generated kernels can be
 * reviewed and tested without a GPU.
 * @module
 */

import { wgsl } from "wgsl-preprocessor";

/** Template parameter values: numbers and strings are substituted, booleans drive `#if`. */
export type TemplateParams = Record<string, number | string | boolean>;

/** Substitutes `${NAME}` placeholders and resolves preprocessor conditionals. */
export function renderWgsl(template: string, params: TemplateParams): string {
  const strings: string[] = [];
  const values: (number | string | boolean)[] = [];
  const re = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
  let last = 0;
  for (const m of template.matchAll(re)) {
    const name = m[1]!;
    if (!(name in params)) throw new Error(`WGSL template: no value for \${${name}}`);
    strings.push(template.slice(last, m.index));
    values.push(params[name]!);
    last = m.index! + m[0].length;
  }
  strings.push(template.slice(last));
  const raw = Object.assign([...strings], { raw: [...strings] }) as unknown as TemplateStringsArray;
  return (wgsl as (s: TemplateStringsArray, ...v: unknown[]) => string)(raw, ...values);
}
