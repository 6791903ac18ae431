import "reflect-metadata";
import { injectable } from "tsyringe";
import { DriverDeclarationError } from "../../luo/handlers/errors.js";

/** TypeScript's key for constructor parameter types (emitted with `emitDecoratorMetadata`). */
const PARAMTYPES = "design:paramtypes";
/** tsyringe's key for `@inject()` parameter tokens: own metadata, which subclasses do not see. */
const INJECTION_TOKENS = "injectionTokens";

type AnyClass = abstract new (...args: never[]) => unknown;

/**
 * Gives `target` the constructor metadata of the class whose constructor it actually runs. A class
 * without its own constructor runs its base's, but TypeScript emits no metadata for it, and tsyringe
 * reads `@inject()` tokens only from the class itself — so without this an inherited constructor
 * would silently receive `undefined` (or the wrong tokens). Walking up, the first class with
 * metadata supplies it, as NestJS and tsyringe look it up; a constructor that takes parameters but
 * carries no metadata (an undecorated base) cannot be injected and is refused.
 *
 * @throws {@link DriverDeclarationError} when the inherited constructor takes parameters and no
 *   class on the chain carries their types.
 */
function inheritConstructorMetadata(target: AnyClass, owner: string): void {
  if (Reflect.hasOwnMetadata(PARAMTYPES, target)) return;
  for (
    let c: unknown = Object.getPrototypeOf(target);
    typeof c === "function" && c !== Function.prototype;
    c = Object.getPrototypeOf(c)
  ) {
    const base = c as AnyClass;
    const paramtypes = Reflect.getOwnMetadata(PARAMTYPES, base) as unknown[] | undefined;
    if (paramtypes !== undefined) {
      // Copies: tsyringe writes the tokens into the array it reads, which must not be the base's.
      Reflect.defineMetadata(PARAMTYPES, [...paramtypes], target);
      const tokens = Reflect.getOwnMetadata(INJECTION_TOKENS, base) as object | undefined;
      const own = Reflect.getOwnMetadata(INJECTION_TOKENS, target) as object | undefined;
      if (tokens !== undefined || own !== undefined)
        Reflect.defineMetadata(INJECTION_TOKENS, { ...tokens, ...own }, target);
      return;
    }
    // An implicit (inherited) constructor has length 0: the first one with parameters is the one run.
    if (base.length > 0) {
      throw new DriverDeclarationError(
        `${owner} (${target.name}) inherits the constructor of ${base.name}, which takes ${base.length} parameter(s) but carries no type metadata: decorate ${base.name} with @injectable() or give ${target.name} its own constructor`,
        { driver: owner, base: base.name, parameters: base.length },
      );
    }
  }
}

/**
 * Makes a driver or FLB class injectable by the per-boot container, with the constructor metadata
 * it inherits (see {@link inheritConstructorMetadata}).
 *
 * @param target - the decorated class.
 * @param owner - the driver or FLB name, for errors.
 * @throws {@link DriverDeclarationError} when an inherited constructor cannot be injected.
 */
export function injectableUnit(target: AnyClass, owner: string): void {
  inheritConstructorMetadata(target, owner);
  injectable()(target as unknown as new (...args: unknown[]) => unknown);
}
