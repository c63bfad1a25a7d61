/**
 * Memoises pure kernel generators by their JSON-serialisable arguments: generating a register-blocked
 * kernel builds a large WGSL string, and the same few shapes recur for every architecture.
 * @module
 */

/** Wraps `f` so that calls with equal (JSON-equal) arguments return the first result. */
export function memoize<A extends unknown[], R>(f: (...args: A) => R): (...args: A) => R {
  const cache = new Map<string, R>();
  return (...args: A): R => {
    const key = JSON.stringify(args);
    let r = cache.get(key);
    if (r === undefined) {
      r = f(...args);
      cache.set(key, r);
    }
    return r;
  };
}
