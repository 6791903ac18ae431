import { LiveUpdateError } from "../../common/errors.js";
import {
  SchemaDeclarationError,
  SchemaDowngradeRefusedError,
  SchemaMigrationFailedError,
} from "../errors.js";
import {
  MIGRATOR_KINDS,
  type MigrationContext,
  type MigratorSpec,
  type NeighbourMigrator,
} from "./migrator.js";

function context(driver: string, from: number, to: number): MigrationContext {
  const direction = to < from ? "down" : "up";
  return Object.freeze({
    driver,
    from,
    to,
    refuse(path: string, reason?: string): never {
      if (direction === "up") {
        throw new SchemaMigrationFailedError(
          `up-migrator v${from}→v${to} refused field ${path}, but up-migrators must be total`,
          { driver, version: to, from, to, path },
        );
      }
      throw new SchemaDowngradeRefusedError(
        `v${to} cannot express the value of ${path}${reason === undefined ? "" : `: ${reason}`}`,
        { driver, version: to, from, to, path, reason },
      );
    },
  });
}

function run(
  driver: string,
  from: number,
  to: number,
  fn: (v: unknown, c: MigrationContext) => unknown,
  value: unknown,
): unknown {
  try {
    return fn(value, context(driver, from, to));
  } catch (e) {
    if (e instanceof LiveUpdateError) throw e;
    throw new SchemaMigrationFailedError(
      `migrator v${from}→v${to} threw: ${String(e)}`,
      { driver, version: to, from, to },
      { cause: e },
    );
  }
}

/**
 * Wraps a driver author's {@link MigratorSpec} between `lower` and `lower + 1` as a
 * {@link NeighbourMigrator}.
 *
 * @param driver - driver name.
 * @param lower - the lower version N.
 * @param spec - the author's migrator.
 */
export function neighbourMigrator(
  driver: string,
  lower: number,
  spec: MigratorSpec<unknown, unknown>,
): NeighbourMigrator {
  if (
    typeof spec !== "object" ||
    spec === null ||
    typeof spec.up !== "function" ||
    typeof spec.down !== "function"
  ) {
    throw new SchemaDeclarationError(`migrator v${lower}↔v${lower + 1} needs up and down functions`, {
      driver,
    });
  }
  if (!MIGRATOR_KINDS.includes(spec.kind)) {
    throw new SchemaDeclarationError(
      `migrator v${lower}↔v${lower + 1}: unknown kind ${JSON.stringify(spec.kind)}`,
      {
        driver,
      },
    );
  }
  const up = spec.up.bind(spec);
  const down = spec.down.bind(spec);
  return Object.freeze({
    driver,
    lower,
    upper: lower + 1,
    kind: spec.kind,
    name: `${driver} v${lower}↔v${lower + 1}`,
    up: (value: unknown) => run(driver, lower, lower + 1, up, value),
    down: (value: unknown) => run(driver, lower + 1, lower, down, value),
  });
}
