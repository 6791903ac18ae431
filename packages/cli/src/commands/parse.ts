import { InvalidArgumentError } from "commander";

/** A commander argument parser for an integer option in `min..max` (a usage error otherwise). */
export function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer in ${min}..${max}`);
    return n;
  };
}
