import {
  encodeContextEntry,
  encodePasidEntry,
  hex,
  type Kernel,
  type Luo,
  type PhysAddr,
  type RestoreContext,
  readQwords,
  VTD_PASID_ENTRY_SIZE,
  VTD_PASID_TABLE_ENTRIES,
  type VtdPasidEntry,
} from "@liveupdate/core";
import type { GuestmemFile, GuestmemfsDriver } from "@liveupdate/guestmemfs";
import {
  IOMMU_IOAS_MAP_WRITABLE,
  IOVA_LIMIT,
  NO_PASID,
  PASID_DIR_PDTS,
  PASID_LIMIT,
  RID_PASID,
} from "../abi.js";
import { IommufdHandoverMismatchError, IommufdTableNotPreservedError } from "../errors.js";
import type { IommuCore } from "../iommu-core.js";
import { pageAligned } from "../iommufd/areas.js";
import {
  type Attachment,
  Hwpt,
  Ioas,
  type IommufdContext,
  IommufdDevice,
  NestedHwpt,
  Viommu,
} from "../iommufd/objects.js";
import { ATTACH_WITH_PASID, type IommufdV2Value } from "../schema.js";
import { SecondStageTable } from "../vtd/second-stage.js";
import { type ResolvedArea, walkPreservedTree } from "./walk.js";

/** What adopting a context needs from the new kernel. */
export interface AdoptEnvironment {
  /** The new kernel. */
  readonly kernel: Kernel;
  /** Its IOMMU core (restored first, as the FLB). */
  readonly core: IommuCore;
  /** Its guestmemfs (the session's files restored first). */
  readonly gm: GuestmemfsDriver;
  /** Its orchestrator (where restored files are). */
  readonly luo: Luo;
}

/** The session's restored guestmemfs files by token. */
function sessionFiles(env: AdoptEnvironment, session: string): Map<bigint, GuestmemFile> {
  const out = new Map<bigint, GuestmemFile>();
  for (const stat of env.gm.list()) {
    const file = env.gm.open(stat.name);
    const at = env.luo.whereIs(file);
    if (at !== undefined && at.direction === "incoming" && at.session === session) out.set(at.token, file);
  }
  return out;
}

/**
 * Checks a preserved context against the handover, the hardware and the session's files, then
 * adopts it into `ctx` as it is: the tables stay where they are, domain ids are kept, nothing is
 * written to the unit. On any failure the context's devices are blocked (context entries cleared,
 * caches flushed) and the typed error is thrown — no DMA gets through unchecked tables.
 *
 * @throws {@link IommufdHandoverMismatchError}, {@link IommufdTableNotPreservedError},
 *   `IommufdTableFormatError`, `IommufdTableSharedError`, `IommufdLeafOutsideMappingError`.
 */
export function adoptContext(
  ctx: IommufdContext,
  state: IommufdV2Value,
  r: RestoreContext,
  env: AdoptEnvironment,
): void {
  try {
    adopt(ctx, state, r, env);
  } catch (error) {
    for (const d of state.devices) env.core.tables.blockUntrusted(d.rid);
    throw error;
  }
}

function adopt(ctx: IommufdContext, state: IommufdV2Value, r: RestoreContext, env: AdoptEnvironment): void {
  const where = { driver: r.driver, session: r.session, token: r.token };
  const mismatch = (field: string, why: string, extra: Record<string, unknown> = {}): never => {
    throw new IommufdHandoverMismatchError(`iommufd (token ${r.token}): ${field} ${why}`, {
      ...where,
      field,
      ...extra,
    });
  };
  const memory = env.kernel.machine.memory;
  const tables = env.core.tables;
  const folios = new Set<PhysAddr>();
  for (const f of r.folios) if (f.order === 0) folios.add(f.phys);
  const ownPage = (page: number, field: string): void => {
    if (!folios.has(page))
      throw new IommufdTableNotPreservedError(
        `iommufd (token ${r.token}): ${field} ${hex(page)} was not preserved for it`,
        {
          ...where,
          field,
          page: hex(page),
        },
      );
  };

  // ---- ids and the IOVA map ----
  const ids = new Set<number>();
  const newId = (id: number, field: string): void => {
    if (id >= state.next_id || ids.has(id)) mismatch(field, `id ${id} is reused or not below next_id`);
    ids.add(id);
  };
  state.ioas_ids.forEach((id, i) => {
    newId(id, `ioas_ids[${i}]`);
  });
  const files = state.areas.length > 0 ? sessionFiles(env, r.session) : new Map<bigint, GuestmemFile>();
  const areasByIoas = new Map<number, ResolvedArea[]>(state.ioas_ids.map((id) => [id, []]));
  state.areas.forEach((a, i) => {
    const field = `areas[${i}]`;
    const list = areasByIoas.get(a.ioas_id) ?? mismatch(`${field}.ioas_id`, `names no IOAS (${a.ioas_id})`);
    const iova = Number(a.iova);
    const length = Number(a.length);
    const offset = Number(a.file_offset);
    if (!pageAligned(iova) || !pageAligned(length) || !pageAligned(offset) || iova + length > IOVA_LIMIT)
      mismatch(field, "is not a 4 KiB-aligned range of the 48-bit IOVA space");
    const file =
      files.get(a.file_token) ??
      mismatch(
        `${field}.file_token`,
        `is not a guestmemfs file restored in session "${r.session}" (retrieve it first)`,
      );
    if (offset + length > file.size) mismatch(`${field}.length`, `goes beyond the end of "${file.name}"`);
    const prev = list[list.length - 1];
    if (prev !== undefined && prev.iova + prev.length > iova)
      mismatch(field, "overlaps or precedes the previous area");
    list.push({ iova, length, flags: a.flags, file, offset });
  });

  // ---- HWPTs: walk every tree ----
  const seen = new Map<PhysAddr, number>();
  const walked = state.hwpts.map((h, i) => {
    const field = `hwpts[${i}]`;
    newId(h.hwpt_id, `${field}.hwpt_id`);
    const areas = areasByIoas.get(h.ioas_id) ?? mismatch(`${field}.ioas_id`, `names no IOAS (${h.ioas_id})`);
    if (!env.core.claimDomainId(h.domain_id))
      mismatch(`${field}.domain_id`, `${h.domain_id} is already in use`);
    const top = Number(h.top_table_phys);
    const walk = walkPreservedTree(memory, top, i, folios, seen, areas, { ...where, field });
    const expected = areas.reduce((n, a) => n + a.length, 0);
    if (walk.mappedBytes !== expected)
      mismatch(field, `maps ${walk.mappedBytes} bytes where its IOAS has ${expected}`);
    return { h, top, walk };
  });
  const hwptById = new Map(walked.map((w) => [w.h.hwpt_id, w]));

  // ---- vIOMMU objects: the guest's first-stage tables are the guest's (not walked); only the
  // pointer's form and the objects' links are checked, and the second stage bounds what it reaches ----
  const viommuById = new Map<number, (typeof walked)[number]>();
  state.viommus.forEach((v, i) => {
    const field = `viommus[${i}]`;
    newId(v.viommu_id, `${field}.viommu_id`);
    const parent = hwptById.get(v.parent_hwpt_id) ?? mismatch(`${field}.parent_hwpt_id`, "names no HWPT");
    if (parent.h.nest_parent !== 1) mismatch(`${field}.parent_hwpt_id`, "is not a nesting parent");
    viommuById.set(v.viommu_id, parent);
  });
  const nestedById = new Map<number, { n: (typeof state.nested)[number]; parent: (typeof walked)[number] }>();
  state.nested.forEach((n, i) => {
    const field = `nested[${i}]`;
    newId(n.hwpt_id, `${field}.hwpt_id`);
    const parent = viommuById.get(n.viommu_id) ?? mismatch(`${field}.viommu_id`, "names no vIOMMU");
    const gpa = Number(n.first_stage_gpa);
    if (!pageAligned(gpa) || gpa >= IOVA_LIMIT)
      mismatch(`${field}.first_stage_gpa`, "is not a 4 KiB-aligned guest address");
    if (!env.core.claimDomainId(n.domain_id))
      mismatch(`${field}.domain_id`, `${n.domain_id} is already in use`);
    nestedById.set(n.hwpt_id, { n, parent });
  });

  // ---- devices: context entry, PASID directory and tables ----
  const devices = state.devices.map((d, i) => {
    const field = `devices[${i}]`;
    newId(d.dev_id, `${field}.dev_id`);
    if (env.core.ownerOf(d.rid) !== undefined)
      mismatch(`${field}.rid`, `${hex(d.rid)} is bound to another context`);
    if (!env.core.keptAcrossUpdate(d.rid))
      mismatch(`${field}.rid`, `${hex(d.rid)} is not a device the IOMMU core's handover lists as kept`);
    const dir = Number(d.pasid_dir_phys);
    const raw = tables.readContextQwords(d.rid);
    if (dir === 0) {
      if (raw !== undefined && (raw[0]! & 1n) !== 0n)
        mismatch(`${field}.pasid_dir_phys`, "is 0 but the context entry is present");
      return { d, dir, pasidTables: new Map<number, PhysAddr>() };
    }
    ownPage(dir, `${field}.pasid_dir_phys`);
    const expected = encodeContextEntry({
      present: true,
      pasidDirectory: dir,
      pasidDirectorySize: PASID_DIR_PDTS,
      ridPasid: RID_PASID,
      pasidEnable: true,
    });
    if (raw === undefined || raw.some((q, k) => q !== expected[k]))
      mismatch(`${field}.pasid_dir_phys`, `is not what the context entry of ${hex(d.rid)} holds`);
    const pasidTables = tables.readPasidDirectory(dir);
    if (typeof pasidTables === "number")
      mismatch(`${field}.pasid_dir_phys`, `entry ${pasidTables} is malformed`);
    for (const [k, page] of pasidTables as Map<number, PhysAddr>) ownPage(page, `${field} PASID table ${k}`);
    return { d, dir, pasidTables: pasidTables as Map<number, PhysAddr> };
  });
  const deviceById = new Map(devices.map((x) => [x.d.dev_id, x]));
  const virtualIds = new Set<string>();
  state.vdevices.forEach((v, i) => {
    const field = `vdevices[${i}]`;
    newId(v.vdevice_id, `${field}.vdevice_id`);
    if (!viommuById.has(v.viommu_id)) mismatch(`${field}.viommu_id`, "names no vIOMMU");
    if (!deviceById.has(v.dev_id)) mismatch(`${field}.dev_id`, "names no device");
    const key = `${v.viommu_id}:${v.virtual_id}`;
    if (virtualIds.has(key)) mismatch(`${field}.virtual_id`, "is used twice on its vIOMMU");
    virtualIds.add(key);
  });

  // ---- attachments: each PASID entry exactly as recorded, and no other present entry ----
  const expectedEntries = new Map<string, bigint[]>();
  state.attachments.forEach((a, i) => {
    const field = `attachments[${i}]`;
    const dev = deviceById.get(a.dev_id) ?? mismatch(`${field}.dev_id`, `names no device (${a.dev_id})`);
    const hw = hwptById.get(a.hwpt_id);
    const nest = nestedById.get(a.hwpt_id);
    if (hw === undefined && nest === undefined) mismatch(`${field}.hwpt_id`, `names no HWPT (${a.hwpt_id})`);
    const withPasid = (a.flags & ATTACH_WITH_PASID) !== 0;
    if (withPasid ? a.pasid < 1 || a.pasid >= PASID_LIMIT : a.pasid !== 0)
      mismatch(`${field}.pasid`, "is out of range");
    const pasid = withPasid ? a.pasid : RID_PASID;
    const key = `${dev.d.rid}:${pasid}`;
    if (expectedEntries.has(key)) mismatch(field, "attaches the same (device, PASID) twice");
    const entry: VtdPasidEntry =
      hw !== undefined
        ? { present: true, type: "second-stage", domainId: hw.h.domain_id, secondStageTable: hw.top }
        : {
            present: true,
            type: "nested",
            domainId: nest!.n.domain_id,
            secondStageTable: nest!.parent.top,
            firstStageTable: Number(nest!.n.first_stage_gpa),
          };
    expectedEntries.set(key, [...encodePasidEntry(entry)]);
  });
  for (const dev of devices) {
    for (const [dirIndex, page] of dev.pasidTables) {
      for (let k = 0; k < VTD_PASID_TABLE_ENTRIES; k++) {
        const slot = page + k * VTD_PASID_ENTRY_SIZE;
        if ((memory.readU64(slot) & 1n) === 0n) continue;
        const pasid = dirIndex * VTD_PASID_TABLE_ENTRIES + k;
        const expected = expectedEntries.get(`${dev.d.rid}:${pasid}`);
        const actual = readQwords(memory, slot, 8);
        if (expected === undefined || actual.some((q, n) => q !== expected[n]))
          mismatch(
            `devices[${dev.d.dev_id}]`,
            `PASID ${pasid} of ${hex(dev.d.rid)} is not the recorded attachment`,
          );
        expectedEntries.delete(`${dev.d.rid}:${pasid}`);
      }
    }
  }
  if (expectedEntries.size > 0)
    mismatch("attachments", `${[...expectedEntries.keys()][0]} is recorded but not present`);

  // ---- every check passed: adopt in place ----
  for (const w of walked) for (const page of w.walk.pages) r.restoreFolio(page, 0);
  for (const dev of devices) {
    if (dev.dir === 0) continue;
    r.restoreFolio(dev.dir, 0);
    for (const page of dev.pasidTables.values()) r.restoreFolio(page, 0);
  }
  ctx.nextId = state.next_id;
  for (const id of state.ioas_ids) {
    const ioas = new Ioas(ctx, id);
    for (const a of areasByIoas.get(id)!) {
      ctx.pins.acquire(a.file, a.offset + a.length, (a.flags & IOMMU_IOAS_MAP_WRITABLE) !== 0);
      ioas.areas.insert(a);
    }
    ctx.ioas.set(id, ioas);
  }
  for (const w of walked) {
    const ioas = ctx.ioas.get(w.h.ioas_id)!;
    const table = new SecondStageTable(memory, env.core.pages, w.top, w.walk.pages);
    const hwpt = new Hwpt(
      ctx,
      w.h.hwpt_id,
      ioas,
      w.h.domain_id,
      table,
      w.h.large_pages === 1,
      w.h.dirty_tracking === 1,
    );
    hwpt.nestParent = w.h.nest_parent === 1;
    ioas.hwpts.add(hwpt);
    ctx.hwpts.set(hwpt.id, hwpt);
  }
  for (const v of state.viommus) {
    const parent = ctx.hwpts.get(v.parent_hwpt_id)!;
    const viommu = new Viommu(ctx, v.viommu_id, parent);
    parent.viommus.add(viommu);
    ctx.viommus.set(viommu.id, viommu);
  }
  for (const n of state.nested) {
    const viommu = ctx.viommus.get(n.viommu_id)!;
    const nested = new NestedHwpt(ctx, n.hwpt_id, viommu, n.domain_id, Number(n.first_stage_gpa));
    viommu.nested.add(nested);
    ctx.nested.set(nested.id, nested);
  }
  for (const dev of devices) {
    const device = new IommufdDevice(ctx, dev.d.dev_id, dev.d.rid);
    ctx.devices.set(device.id, device);
    env.core.setOwner(device.requesterId, ctx);
    if (dev.dir !== 0)
      tables.adoptDevice({ requesterId: dev.d.rid, pasidDirectory: dev.dir, pasidTables: dev.pasidTables });
  }
  for (const a of state.attachments) {
    const device = ctx.devices.get(a.dev_id)!;
    const hwpt = ctx.hwpts.get(a.hwpt_id) ?? ctx.nested.get(a.hwpt_id)!;
    const pasid = (a.flags & ATTACH_WITH_PASID) !== 0 ? a.pasid : NO_PASID;
    const attachment: Attachment = { device, pasid, hwpt };
    device.attachments.set(pasid, attachment);
    hwpt.attachments.add(attachment);
  }
  for (const v of state.vdevices) {
    const viommu = ctx.viommus.get(v.viommu_id)!;
    const device = ctx.devices.get(v.dev_id)!;
    viommu.vdevices.set(v.virtual_id, { id: v.vdevice_id, viommu, device, virtualId: v.virtual_id });
  }
}
