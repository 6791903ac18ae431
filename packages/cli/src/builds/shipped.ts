import type { KernelBuild } from "@liveupdate/core";
import { ShippedBuildsInvalidError } from "../errors.js";

/** An update between two builds of one {@link ShippedBuilds} set, by version string. */
export interface BuildPair {
  /** Version of the running build. */
  readonly from: string;
  /** Version of the target build. */
  readonly to: string;
}

/**
 * Kernel builds one package ships that are meant to update to each other (a product line), and the
 * updates between them it declares supported. `liveupdate matrix` fails when a supported update is
 * refused; `liveupdate inspect` decodes preserved state with the schemas of these builds' drivers.
 */
export interface ShippedBuilds {
  /** Name of the set (the package that ships it, or a product line of it). */
  readonly name: string;
  /** What the set shows, one line. */
  readonly description: string;
  /** The builds, oldest first (that order decides what is an upgrade). */
  readonly builds: readonly KernelBuild[];
  /** Updates the builds declare supported. */
  readonly supported: readonly BuildPair[];
}

/**
 * Checks and freezes a set of shipped builds: versions unique, supported pairs naming two distinct
 * builds of the set.
 *
 * @throws {@link ShippedBuildsInvalidError} naming the set and the version.
 */
export function defineShippedBuilds(set: ShippedBuilds): ShippedBuilds {
  const versions = new Set<string>();
  for (const build of set.builds) {
    if (versions.has(build.version)) {
      throw new ShippedBuildsInvalidError(set.name, `build ${build.version} listed twice`, {
        build: build.version,
      });
    }
    versions.add(build.version);
  }
  for (const pair of set.supported) {
    for (const version of [pair.from, pair.to]) {
      if (!versions.has(version)) {
        throw new ShippedBuildsInvalidError(set.name, `supported update names unknown build ${version}`, {
          ...pair,
        });
      }
    }
    if (pair.from === pair.to) {
      throw new ShippedBuildsInvalidError(set.name, `supported update from ${pair.from} to itself`, {
        ...pair,
      });
    }
  }
  return Object.freeze({
    ...set,
    builds: Object.freeze([...set.builds]),
    supported: Object.freeze(set.supported.map((p) => Object.freeze({ from: p.from, to: p.to }))),
  });
}

/** Every update between distinct builds of a set, both ways — for sets whose builds all interoperate. */
export function allPairs(versions: readonly string[]): BuildPair[] {
  return versions.flatMap((from) => versions.filter((to) => to !== from).map((to) => ({ from, to })));
}
