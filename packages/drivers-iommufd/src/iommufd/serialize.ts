import type { Luo, ObjectHookContext, PhysAddr } from "@liveupdate/core";
import type { GuestmemFile } from "@liveupdate/guestmemfs";
import { NO_PASID, TOP_LEVEL } from "../abi.js";
import { IommufdNotPreservableError } from "../errors.js";
import type { IommuCore } from "../iommu-core.js";
import { ATTACH_WITH_PASID, type IommufdV2Value } from "../schema.js";
import type { IommufdContext } from "./objects.js";

/**
 * The token of `file` in the session the context is preserved in.
 *
 * @throws {@link IommufdNotPreservableError} when the file is not preserved there: the next kernel
 *   could not tell the memory the area maps from any other memory.
 */
function fileToken(file: GuestmemFile, luo: Luo, hook: ObjectHookContext): bigint {
  const at = luo.whereIs(file);
  if (at === undefined || at.direction !== "outgoing" || at.session !== hook.session) {
    throw new IommufdNotPreservableError(
      `guestmemfs file "${file.name}" is mapped but not preserved in session "${hook.session}"`,
      { driver: hook.driver, session: hook.session, token: hook.token, file: file.name, ino: file.ino },
    );
  }
  return at.token;
}

/**
 * Every page the next kernel needs to adopt `ctx`: each HWPT's table pages and each bound device's
 * PASID directory and tables. Checks first that every mapped file is preserved in the same session.
 */
export function preservedPages(
  ctx: IommufdContext,
  core: IommuCore,
  luo: Luo,
  hook: ObjectHookContext,
): PhysAddr[] {
  for (const ioas of ctx.ioas.values()) for (const area of ioas.areas.areas) fileToken(area.file, luo, hook);
  const pages: PhysAddr[] = [];
  for (const hwpt of ctx.hwpts.values()) for (const page of hwpt.table.pages) pages.push(page);
  for (const device of ctx.devices.values()) pages.push(...core.tables.devicePages(device.requesterId));
  return pages;
}

/** The context as an `iommufd-v2` value (physical addresses only). */
export function serializeContext(
  ctx: IommufdContext,
  core: IommuCore,
  luo: Luo,
  hook: ObjectHookContext,
): IommufdV2Value {
  const tokens = new Map<GuestmemFile, bigint>();
  const tokenOf = (file: GuestmemFile): bigint => {
    let t = tokens.get(file);
    if (t === undefined) {
      t = fileToken(file, luo, hook);
      tokens.set(file, t);
    }
    return t;
  };
  const ioas = [...ctx.ioas.values()];
  const areas = ioas.flatMap((io) =>
    io.areas.areas.map((a) => ({
      iova: BigInt(a.iova),
      length: BigInt(a.length),
      file_offset: BigInt(a.offset),
      file_token: tokenOf(a.file),
      ioas_id: io.id,
      flags: a.flags,
    })),
  );
  const hwpts = [...ctx.hwpts.values()].map((h) => ({
    top_table_phys: BigInt(h.table.top),
    hwpt_id: h.id,
    ioas_id: h.ioas.id,
    domain_id: h.domainId,
    top_level: TOP_LEVEL,
    large_pages: h.largePages ? 1 : 0,
    dirty_tracking: h.dirtyTracking ? 1 : 0,
    nest_parent: h.nestParent ? 1 : 0,
  }));
  const viommus = [...ctx.viommus.values()];
  const devices = [...ctx.devices.values()];
  return {
    next_id: ctx.nextId,
    ioas_ids: ioas.map((io) => io.id),
    areas,
    hwpts,
    devices: devices.map((d) => ({
      pasid_dir_phys: BigInt(core.tables.devices.get(d.requesterId)?.pasidDirectory ?? 0),
      dev_id: d.id,
      rid: d.requesterId,
    })),
    attachments: devices.flatMap((d) =>
      [...d.attachments.values()].map((a) =>
        a.pasid === NO_PASID
          ? { dev_id: d.id, hwpt_id: a.hwpt.id, pasid: 0, flags: 0 }
          : { dev_id: d.id, hwpt_id: a.hwpt.id, pasid: a.pasid, flags: ATTACH_WITH_PASID },
      ),
    ),
    viommus: viommus.map((v) => ({ viommu_id: v.id, parent_hwpt_id: v.parent.id })),
    vdevices: viommus.flatMap((v) =>
      [...v.vdevices.values()].map((d) => ({
        vdevice_id: d.id,
        viommu_id: v.id,
        dev_id: d.device.id,
        virtual_id: d.virtualId,
      })),
    ),
    nested: [...ctx.nested.values()].map((n) => ({
      first_stage_gpa: BigInt(n.firstStageTable),
      hwpt_id: n.id,
      viommu_id: n.viommu.id,
      domain_id: n.domainId,
    })),
  };
}
