import type { AnyStruct } from "../schema/declare/types.js";
import { folioFieldsOf } from "../schema/values/folios.js";
import { LuoFolioFieldError } from "./errors.js";

/** Who a state belongs to, for errors: the driver (or FLB) and, for an object, its session and token. */
export interface FolioFieldOwner {
  readonly driver: string;
  readonly session?: string;
  readonly token?: bigint;
}

/**
 * Checks every folio field of `value` (a state of `struct`) against the folios its object owns:
 * each address must be one of `folios` with the declared order (0 passes for a nullable field).
 * Nothing to do, at the cost of one cached lookup, for schemas without folio fields.
 *
 * @param struct - the state's struct (the version it is encoded or was decoded at).
 * @param value - the state.
 * @param folios - the object's folios: preserved by it (serialize), or listed for it (restore);
 *   entries marked `data` (the orchestrator's encoding of the state) never count.
 * @param owner - driver, session and token, for the error (built only on failure).
 * @param when - `serialize` or `restore`, for the message.
 * @throws {@link LuoFolioFieldError} naming the first field that does not match.
 */
export function checkFolioFields(
  struct: AnyStruct,
  value: unknown,
  folios: readonly { readonly phys: number; readonly order: number; readonly data?: boolean }[],
  owner: () => FolioFieldOwner,
  when: "serialize" | "restore",
): void {
  const refs = folioFieldsOf(struct, value);
  for (let i = 0; i < refs.length; i++) {
    const { path, phys, spec } = refs[i]!;
    if (phys === 0n && spec.nullable) continue;
    const addr = Number(phys);
    if (
      phys <= BigInt(Number.MAX_SAFE_INTEGER) &&
      folios.some((f) => f.phys === addr && f.order === spec.order && f.data !== true)
    )
      continue;
    const who = owner();
    const object =
      who.session === undefined
        ? `FLB ${who.driver}`
        : `${who.driver} (session "${who.session}" token ${who.token})`;
    const why =
      when === "serialize"
        ? "the object did not preserve that folio (preserveFolio in its prepare hook), so it would not survive the kexec"
        : "the handover does not list that folio for this object";
    throw new LuoFolioFieldError(
      `${object}: folio field ${path} = 0x${phys.toString(16)} (order ${spec.order}) at ${when}: ${why}`,
      { ...who, field: path, phys: addr, order: spec.order, at: when },
    );
  }
}
