/**
 * Catching state that never crossed physical memory: after kexec nothing of the old kernel's
 * software state survives, but in one JS process its objects still exist. A restore that returns
 * an old object kept in module state, or copies one, would pass every comparison. So between the
 * reboot and the next boot the testkit scrambles the old objects (undoing it after the restore),
 * and after the restore it looks for objects the restored ones share with the old ones.
 */
import type { Machine } from "../hw/machine.js";

/** Nodes walked per object graph at most (graphs are small driver objects, not kernels). */
const MAX_NODES = 5000;
/** Depth walked at most. */
const MAX_DEPTH = 6;

function isObject(value: unknown): value is object {
  return (typeof value === "object" && value !== null) || typeof value === "function";
}

/** Own enumerable children of `node`, with the path step to each. */
function children(node: object): [string, unknown][] {
  if (ArrayBuffer.isView(node) || typeof node === "function") return [];
  if (node instanceof Map) return [...node.entries()].map(([k, v], i) => [`<map ${String(k) || i}>`, v]);
  if (node instanceof Set) return [...node.values()].map((v, i) => [`<set ${i}>`, v]);
  return Object.entries(node).map(([k, v]) => [Array.isArray(node) ? `[${k}]` : `.${k}`, v]);
}

/**
 * Every mutable object reachable from `roots` (their own fields, arrays, maps, sets), with the path
 * from its root. Frozen objects (harmless to share) and `boundary` objects (hardware and kernel
 * services, which legitimately outlive a boot or belong to it) are not entered.
 */
export function objectGraph(roots: readonly unknown[], boundary: ReadonlySet<object>): Map<object, string> {
  const seen = new Map<object, string>();
  const walk = (value: unknown, path: string, depth: number): void => {
    if (!isObject(value) || seen.has(value) || boundary.has(value) || Object.isFrozen(value)) return;
    if (typeof value === "function" || seen.size >= MAX_NODES || depth > MAX_DEPTH) return;
    let kids: [string, unknown][];
    try {
      kids = children(value);
    } catch {
      // A kernel-bound driver instance of the old boot refuses every access by itself (it throws
      // KernelGoneError): nothing to scramble, and a restore cannot reuse it unnoticed.
      return;
    }
    seen.set(value, path);
    for (const [step, child] of kids) walk(child, `${path}${step}`, depth + 1);
  };
  roots.forEach((root, i) => {
    walk(root, `#${i + 1}`, 0);
  });
  return seen;
}

/**
 * Objects that may be shared across a kexec: the machine and its parts, and every PCI function on
 * its bus (hardware survives; a driver object that points at its device must not have the device
 * scrambled).
 */
export function hardwareOf(machine: Machine, more: readonly unknown[] = []): Set<object> {
  const out = new Set<object>();
  const add = (value: unknown, depth: number): void => {
    if (!isObject(value) || out.has(value)) return;
    out.add(value);
    if (depth < 2) for (const [, child] of children(value)) add(child, depth + 1);
  };
  add(machine, 0);
  for (const fn of machine.pci.list()) out.add(fn);
  for (const m of more) if (isObject(m)) out.add(m);
  return out;
}

/**
 * The first object reachable from `restored` that is one of the old kernel's (`old`, from
 * {@link objectGraph}): where it sits in the restored object and in the old one.
 */
export function sharedObject(
  restored: unknown,
  old: ReadonlyMap<object, string>,
  boundary: ReadonlySet<object>,
): { restoredPath: string; oldPath: string } | undefined {
  for (const [object, path] of objectGraph([restored], boundary)) {
    const oldPath = old.get(object);
    if (oldPath !== undefined) return { restoredPath: path.replace(/^#1/, "restored"), oldPath };
  }
  return undefined;
}

function scrambled(value: unknown): unknown {
  if (typeof value === "number") return Number.isInteger(value) ? (value ^ 0x5a5a5a5a) >>> 0 : -value - 1;
  if (typeof value === "bigint") return value ^ 0x5a5a5a5an;
  if (typeof value === "boolean") return !value;
  if (typeof value === "string") return `⟂${value}`;
  return value;
}

/**
 * Overwrites every scalar field and typed-array byte of the objects of `graph` with something
 * recognizably wrong (the old kernel is gone: its objects hold garbage now) and returns the undo.
 */
export function scramble(graph: ReadonlyMap<object, string>): () => void {
  const undo: (() => void)[] = [];
  for (const object of graph.keys()) {
    if (object instanceof Uint8Array || object instanceof Uint16Array || object instanceof Uint32Array) {
      const copy = object.slice();
      object.fill(0xa5);
      undo.push(() => object.set(copy));
      continue;
    }
    if (ArrayBuffer.isView(object) || object instanceof Map || object instanceof Set) continue;
    for (const [key, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(object))) {
      if (!("value" in descriptor) || descriptor.writable !== true || isObject(descriptor.value)) continue;
      const next = scrambled(descriptor.value);
      if (next === descriptor.value) continue;
      const record = object as Record<string, unknown>;
      record[key] = next;
      undo.push(() => {
        record[key] = descriptor.value;
      });
    }
  }
  return () => {
    for (const u of undo.reverse()) u();
  };
}

/** Same own fields, recursively (typed arrays byte for byte); class identity is ignored. */
export function sameFields(a: unknown, b: unknown, depth = 0): boolean {
  if (Object.is(a, b)) return true;
  if (!isObject(a) || !isObject(b) || depth > MAX_DEPTH || typeof a === "function") return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    return x.length === y.length && Array.from(x).every((v, i) => Object.is(v, y[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  return ka.every((k) => sameFields(ra[k], rb[k], depth + 1));
}
