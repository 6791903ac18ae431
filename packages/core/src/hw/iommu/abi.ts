/**
 * The Intel VT-d (scalable mode) architectural constants, pinned in one place: register offsets,
 * register bit positions, table entry sizes and field positions, invalidation descriptor types and
 * fault reason codes. Positions follow the VT-d specification (rev. 3.x/4.x); QEMU's
 * `hw/i386/intel_iommu_internal.h` and Linux's `drivers/iommu/intel/` use the same values.
 * Sizes are asserted when this module loads.
 *
 * Bit positions are given as numbers (bit index within a 64-bit qword); the walker reads qwords as
 * two u32 halves, so a field at bit `b >= 32` is bit `b - 32` of the high half.
 *
 * @module
 */
import { assertAbi } from "../../common/errors.js";

// ---- register file -----------------------------------------------------------------------------

/** Offsets of the emulated registers in the remapping unit's 4 KiB register page. */
export const VTD_REG = {
  /** Version (32-bit, read-only). */
  VER: 0x00,
  /** Capability (64-bit, read-only). */
  CAP: 0x08,
  /** Extended capability (64-bit, read-only). */
  ECAP: 0x10,
  /** Global command (32-bit, write-only: reads as 0). */
  GCMD: 0x18,
  /** Global status (32-bit, read-only). */
  GSTS: 0x1c,
  /** Root table address (64-bit): RTA in 63:12, TTM in 11:10. */
  RTADDR: 0x20,
  /** Context command (64-bit): register-based context-cache invalidation. */
  CCMD: 0x28,
  /** Fault status (32-bit, RW1C bits). */
  FSTS: 0x34,
  /** Fault event control (32-bit). */
  FECTL: 0x38,
  /** Fault event data (32-bit). */
  FEDATA: 0x3c,
  /** Fault event address (32-bit). */
  FEADDR: 0x40,
  /** Fault event upper address (32-bit). */
  FEUADDR: 0x44,
  /** Invalidation queue head (64-bit, read-only): byte offset of the next descriptor in 18:4. */
  IQH: 0x80,
  /** Invalidation queue tail (64-bit): byte offset in 18:4; a write makes hardware process. */
  IQT: 0x88,
  /** Invalidation queue address (64-bit): base in 63:12, DW in bit 11, QS in 2:0. */
  IQA: 0x90,
  /** Invalidation completion status (32-bit, RW1C). */
  ICS: 0x9c,
  /** Invalidation event control (32-bit). */
  IECTL: 0xa0,
  /** Invalidation queue error record (64-bit, read-only). */
  IQERCD: 0xb0,
  /** IOTLB register block, advertised through ECAP.IRO: IVA_REG at +0, IOTLB_REG at +8. */
  IOTLB_BLOCK: 0x400,
  /** Invalidate address (64-bit): ADDR in 63:12, IH in bit 6, AM in 5:0. */
  IVA: 0x400,
  /** IOTLB invalidate (64-bit): register-based IOTLB invalidation. */
  IOTLB: 0x408,
  /** First fault recording register (128 bits each), advertised through CAP.FRO. */
  FRCD: 0x420,
} as const;

/** Number of architectural fault recording registers (CAP.NFR + 1). */
export const VTD_FAULT_RECORDS = 8;
/** Bytes of one fault recording register. */
export const VTD_FRCD_SIZE = 16;
/** Bytes of the register page. */
export const VTD_REGISTER_PAGE = 0x1000;

/** GCMD_REG / GSTS_REG bits (same positions: command bit and its status bit). */
export const VTD_GCMD = {
  /** Translation enable / TES. */
  TE: 31,
  /** Set root table pointer / RTPS. */
  SRTP: 30,
  /** Set fault log / FLS (not emulated). */
  SFL: 29,
  /** Write buffer flush (not needed: RWBF = 0). */
  WBF: 27,
  /** Queued invalidation enable / QIES. */
  QIE: 26,
  /** Interrupt remapping enable (not emulated: ECAP.IR = 0). */
  IRE: 25,
} as const;

/** RTADDR_REG fields. */
export const VTD_RTADDR = {
  /** Translation table mode, bits 11:10. */
  TTM_SHIFT: 10,
  /** TTM field mask (after shifting). */
  TTM_MASK: 0x3,
  /** TTM = 00b: legacy mode (not emulated). */
  TTM_LEGACY: 0,
  /** TTM = 01b: scalable mode. */
  TTM_SCALABLE: 1,
  /** TTM = 11b: abort-DMA mode (not emulated: ECAP.ADMS = 0). */
  TTM_ABORT: 3,
} as const;

/** FSTS_REG bits. */
export const VTD_FSTS = {
  /** Primary fault overflow (RW1C). */
  PFO: 0,
  /** Primary pending fault (read-only: some FRCD has F set). */
  PPF: 1,
  /** Invalidation queue error (RW1C). */
  IQE: 4,
  /** Invalidation completion error (RW1C; never set: no device-TLB). */
  ICE: 5,
  /** Invalidation time-out error (RW1C; never set). */
  ITE: 6,
  /** Fault record index, bits 15:8. */
  FRI_SHIFT: 8,
} as const;

/** FECTL_REG / IECTL_REG bits. */
export const VTD_EVENT_CONTROL = {
  /** Interrupt pending (read-only). */
  IP: 30,
  /** Interrupt mask. */
  IM: 31,
} as const;

/** CCMD_REG fields. */
export const VTD_CCMD = {
  /** Invalidate context cache: set by software, cleared by hardware when done. */
  ICC: 63,
  /** Request granularity, bits 62:61 (the context-cache granularities). */
  CIRG_SHIFT: 61,
  /** Actual granularity, bits 60:59. */
  CAIG_SHIFT: 59,
  /** Function mask, bits 33:32. */
  FM_SHIFT: 32,
  /** Source id, bits 31:16. */
  SID_SHIFT: 16,
} as const;

/** IOTLB_REG fields. */
export const VTD_IOTLB_REG = {
  /** Invalidate IOTLB: set by software, cleared by hardware when done. */
  IVT: 63,
  /** Request granularity, bits 61:60 (the IOTLB granularities). */
  IIRG_SHIFT: 60,
  /** Actual granularity, bits 58:57. */
  IAIG_SHIFT: 57,
  /** Domain id, bits 47:32. */
  DID_SHIFT: 32,
} as const;

/** ICS_REG bit: invalidation wait descriptor complete (RW1C). */
export const VTD_ICS_IWC = 0;

/** IQA_REG fields. */
export const VTD_IQA = {
  /** Queue size: 2^QS 4 KiB pages, bits 2:0. */
  QS_MASK: 0x7,
  /** Descriptor width: 0 = 128-bit, 1 = 256-bit (required for scalable mode). */
  DW: 11,
} as const;

/** IQH/IQT: byte offset of a descriptor, bits 18:4. */
export const VTD_IQ_OFFSET_MASK = 0x7fff0;

/** IQERCD_REG.IQEI values (bits 3:0): why the invalidation queue stopped. */
export const VTD_IQEI = {
  /** The tail pointer is beyond the queue. */
  INVALID_TAIL: 1,
  /** A descriptor could not be read from memory. */
  FETCH_ERROR: 2,
  /** A descriptor of a type that is not supported. */
  INVALID_TYPE: 3,
  /** A descriptor with reserved bits set. */
  RESERVED: 4,
  /** A 256-bit-only descriptor in a 128-bit queue. */
  INVALID_WIDTH: 5,
  /** In 256-bit mode, the tail is not 32-byte aligned. */
  TAIL_MISALIGNED: 6,
} as const;

// ---- capabilities: what is emulated -------------------------------------------------------------

/** CAP_REG field positions. */
export const VTD_CAP = {
  /** ND (number of domains), bits 2:0: 6 = 64 Ki domain ids. */
  ND: 0,
  /** SAGAW bitmap, bits 12:8: bit 2 = 48-bit 4-level second-stage tables. */
  SAGAW: 8,
  /** MGAW - 1, bits 21:16. */
  MGAW: 16,
  /** FRO: fault recording register offset / 16, bits 33:24. */
  FRO: 24,
  /** SLLPS bitmap, bits 37:34: bit 0 = 2 MiB, bit 1 = 1 GiB second-stage leaves. */
  SLLPS: 34,
  /** Page-selective invalidation supported. */
  PSI: 39,
  /** NFR: number of fault recording registers - 1, bits 47:40. */
  NFR: 40,
  /** MAMV: maximum address mask value, bits 53:48. */
  MAMV: 48,
  /** First-stage 1 GiB pages supported. */
  FS1GP: 56,
} as const;

/** ECAP_REG field positions. */
export const VTD_ECAP = {
  /** Page-walk coherency (the emulation reads memory directly). */
  C: 0,
  /** Queued invalidation. */
  QI: 1,
  /** Pass-through (PGTT = 100b). */
  PT: 6,
  /** IRO: IOTLB register offset / 16, bits 17:8. */
  IRO: 8,
  /** Nested translation. */
  NEST: 26,
  /** PSS: PASID size - 1, bits 39:35. */
  PSS: 35,
  /** PASID support. */
  PASID: 40,
  /** Scalable-mode translation. */
  SMTS: 43,
  /** Second-stage translation. */
  SSTS: 46,
  /** First-stage translation. */
  FSTS: 47,
  /** Scalable-mode page-walk coherency. */
  SMPWCS: 48,
  /** RID_PASID support (requests without PASID use the context entry's RID_PASID). */
  RPS: 49,
} as const;

/** Version register value: major 1, minor 0. */
export const VTD_VERSION = 0x10;
/** Input address width of second-stage and first-stage tables: 48 bits, 4 levels. */
export const VTD_ADDRESS_WIDTH = 48;
/** Host address width: table pointers and leaf addresses must be below 2^46 (the machine's limit). */
export const VTD_HOST_ADDRESS_WIDTH = 46;
/** PASIDs are 20 bits. */
export const VTD_PASID_BITS = 20;
/** Largest address mask (AM) of a page-selective invalidation: 2^18 pages = 1 GiB. */
export const VTD_MAX_ADDRESS_MASK = 18;

// ---- in-memory structures ----------------------------------------------------------------------

/** Bytes of one scalable-mode root entry (lower and upper context-table pointers). */
export const VTD_ROOT_ENTRY_SIZE = 16;
/** Bytes of one scalable-mode context entry. */
export const VTD_CONTEXT_ENTRY_SIZE = 32;
/** Context entries per context table (the lower table serves devfn 0..127, the upper 128..255). */
export const VTD_CONTEXT_ENTRIES = 128;
/** Bytes of one PASID directory entry. */
export const VTD_PASID_DIR_ENTRY_SIZE = 8;
/** Bytes of one scalable-mode PASID table entry. */
export const VTD_PASID_ENTRY_SIZE = 64;
/** PASID table entries per PASID table page (PASID bits 5:0 index it). */
export const VTD_PASID_TABLE_ENTRIES = 64;
/** Bytes of one paging-structure entry (both stages). */
export const VTD_PTE_SIZE = 8;
/** Entries per 4 KiB table. */
export const VTD_TABLE_ENTRIES = 512;
/** Paging levels of a 48-bit table (both stages). */
export const VTD_LEVELS = 4;

/** Root entry (per qword: lower at +0, upper at +8): present bit 0, table pointer 63:12. */
export const VTD_ROOT_ENTRY = { PRESENT: 0 } as const;

/** Scalable-mode context entry, qword 0 and qword 1 fields. */
export const VTD_CONTEXT = {
  /** qw0: present. */
  PRESENT: 0,
  /** qw0: fault processing disable. */
  FPD: 1,
  /** qw0: device-TLB enable (not supported: reserved). */
  DTE: 2,
  /** qw0: PASID enable (requests with PASID allowed). */
  PASIDE: 3,
  /** qw0: page request enable (not supported: reserved). */
  PRE: 4,
  /** qw0: PASID directory size, bits 11:9: 2^(PDTS + 7) directory entries. */
  PDTS_SHIFT: 9,
  /** qw1: RID_PASID, bits 19:0. */
  RID_PASID_MASK: 0xfffff,
  /** qw1: RID_PRIV (bit 20). */
  RID_PRIV: 20,
} as const;

/** PASID directory entry: present bit 0, FPD bit 1, PASID table pointer 63:12. */
export const VTD_PASID_DIR = { PRESENT: 0, FPD: 1 } as const;

/** PASID granular translation types (PASID entry qw0 bits 8:6). */
export const VTD_PGTT = {
  /** First-stage only. */
  FIRST_STAGE: 1,
  /** Second-stage only. */
  SECOND_STAGE: 2,
  /** Nested: first stage over second stage. */
  NESTED: 3,
  /** Pass-through: addresses are host-physical. */
  PASS_THROUGH: 4,
} as const;

/** Scalable-mode PASID table entry fields (qword index in the name). */
export const VTD_PASID_ENTRY = {
  /** qw0: present. */
  PRESENT: 0,
  /** qw0: fault processing disable. */
  FPD: 1,
  /** qw0: AW, bits 4:2 (010b = 48-bit 4-level second stage). */
  AW_SHIFT: 2,
  /** qw0: second-stage execute enable (bit 5). */
  SSEE: 5,
  /** qw0: PGTT, bits 8:6. */
  PGTT_SHIFT: 6,
  /** qw0: second-stage A/D enable (bit 9; not supported: reserved). */
  SSADE: 9,
  /** qw1: domain id, bits 15:0. */
  DID_MASK: 0xffff,
  /** qw2: FLPM (first-stage paging mode), bits 3:2: 00b = 4-level. */
  FLPM_SHIFT: 2,
  /** qw2: write protect enable (bit 4). */
  WPE: 4,
  /** qw2: no-execute enable (bit 5): makes first-stage bit 63 (XD) valid. */
  NXE: 5,
} as const;

/** AW encoding for a 48-bit, 4-level second-stage table. */
export const VTD_AW_48 = 2;

/** Second-stage paging entry bits. */
export const VTD_SS_PTE = {
  /** Read permission. */
  R: 0,
  /** Write permission. */
  W: 1,
  /** Execute permission (ignored: execute requests are not emulated). */
  X: 2,
  /** Page size: a 1 GiB (level 3) or 2 MiB (level 2) leaf; reserved at level 4. */
  PS: 7,
  /** Snoop (reserved: ECAP.SC = 0). */
  SNP: 11,
  /** Bit 62 (reserved). */
  RSVD_62: 62,
} as const;

/** First-stage (IA-32e) paging entry bits. */
export const VTD_FS_PTE = {
  /** Present. */
  P: 0,
  /** Read/write. */
  RW: 1,
  /** User/supervisor (not checked: requests are treated as supervisor, see docs). */
  US: 2,
  /** Accessed (not updated: deviation). */
  A: 5,
  /** Dirty (not updated: deviation). */
  D: 6,
  /** Page size at levels 3 and 2; reserved at level 4; PAT at level 1. */
  PS: 7,
  /** Execute disable (reserved unless the PASID entry's NXE is set). */
  XD: 63,
} as const;

// ---- invalidation descriptors -------------------------------------------------------------------

/** Invalidation descriptor types (qw0 bits 3:0 plus bits 11:9 as type bits 6:4). */
export const VTD_DESCRIPTOR = {
  /** Context-cache invalidate. */
  CONTEXT_CACHE: 1,
  /** IOTLB invalidate (second-stage-only and pass-through mappings, or all of a domain). */
  IOTLB: 2,
  /** Device-TLB invalidate (not supported: ECAP.DT = 0). */
  DEVICE_TLB: 3,
  /** Interrupt entry cache invalidate (not supported: ECAP.IR = 0). */
  INTERRUPT_ENTRY_CACHE: 4,
  /** Invalidation wait. */
  WAIT: 5,
  /** PASID-based IOTLB invalidate (first-stage and nested mappings). */
  PASID_IOTLB: 6,
  /** PASID-cache invalidate. */
  PASID_CACHE: 7,
} as const;

/** Granularity field position (bits 5:4) shared by descriptors of types 1, 2, 6 and 7. */
export const VTD_DESCRIPTOR_G_SHIFT = 4;

/** Context-cache invalidation granularity. */
export const VTD_CC_GRANULARITY = { GLOBAL: 1, DOMAIN: 2, DEVICE: 3 } as const;
/** IOTLB invalidation granularity. */
export const VTD_IOTLB_GRANULARITY = { GLOBAL: 1, DOMAIN: 2, PAGE: 3 } as const;
/** PASID-based IOTLB invalidation granularity. */
export const VTD_PIOTLB_GRANULARITY = { PASID: 2, PAGE: 3 } as const;
/** PASID-cache invalidation granularity. */
export const VTD_PC_GRANULARITY = { DOMAIN: 0, PASID: 1, GLOBAL: 3 } as const;

/** Wait descriptor flags (qw0). */
export const VTD_WAIT = {
  /** Interrupt flag: set ICS.IWC on completion. */
  IF: 4,
  /** Status write: write the status data (qw0 63:32) to the status address (qw1 63:2). */
  SW: 5,
  /** Fence (no effect: processing is synchronous). */
  FN: 6,
} as const;

// ---- fault reasons -----------------------------------------------------------------------------

/**
 * Architectural scalable-mode fault reason codes (the FR field of a fault record), by condition.
 * `TABLE_LOOP` is not architectural (hardware has no loop detection); see docs.
 */
export const VTD_FAULT_REASON = {
  /** RTADDR_REG.TTM is not scalable mode (legacy and abort-DMA modes are not emulated). */
  INVALID_TTM: 0x30,
  /** SRT.1: the root entry could not be read. */
  ROOT_ACCESS: 0x38,
  /** SRT.2: the root entry's LP/UP bit is clear. */
  ROOT_NOT_PRESENT: 0x39,
  /** SRT.3: reserved bits set in a present root entry. */
  ROOT_RESERVED: 0x3a,
  /** SCT.1: the context entry could not be read. */
  CONTEXT_ACCESS: 0x40,
  /** SCT.2: the context entry's present bit is clear. */
  CONTEXT_NOT_PRESENT: 0x41,
  /** SCT.3: reserved bits set in a present context entry. */
  CONTEXT_RESERVED: 0x42,
  /** SCT.6: a request with PASID, but PASIDE is clear. */
  PASID_DISABLED: 0x45,
  /** SCT.7: the PASID is beyond the PASID directory size. */
  PASID_TOO_LARGE: 0x46,
  /** SPD.1: the PASID directory entry could not be read. */
  PASID_DIR_ACCESS: 0x50,
  /** SPD.2: the PASID directory entry's present bit is clear. */
  PASID_DIR_NOT_PRESENT: 0x51,
  /** SPD.3: reserved bits set in a present PASID directory entry. */
  PASID_DIR_RESERVED: 0x52,
  /** SPT.1: the PASID table entry could not be read. */
  PASID_ACCESS: 0x58,
  /** SPT.2: the PASID table entry's present bit is clear. */
  PASID_NOT_PRESENT: 0x59,
  /** SPT.3: reserved bits set in a present PASID table entry. */
  PASID_RESERVED: 0x5a,
  /** SPT.4: invalid PASID table entry (PGTT, AW or FLPM not supported). */
  PASID_INVALID: 0x5b,
  /** SFL.1: a first-stage paging entry could not be read. */
  FS_ACCESS: 0x70,
  /** SFL.2: a first-stage paging entry's present bit is clear. */
  FS_NOT_PRESENT: 0x71,
  /** SFL.3: reserved bits set in a first-stage paging entry. */
  FS_RESERVED: 0x72,
  /** SSL.1: a second-stage paging entry could not be read. */
  SS_ACCESS: 0x78,
  /** SSL.3: reserved bits set in a second-stage paging entry. */
  SS_RESERVED: 0x7a,
  /** SGN.1: a first-stage input address is not canonical (above 47 bits). */
  NON_CANONICAL: 0x80,
  /** SGN.4: the input address is beyond the address width. */
  BEYOND_WIDTH: 0x83,
  /** SGN.6: no write permission. */
  NO_WRITE: 0x85,
  /** SGN.7: no read permission (second stage: R = 0; W-only and not-present entries). */
  NO_READ: 0x86,
  /** Emulation-specific: a table page was visited twice in one walk. */
  TABLE_LOOP: 0xf0,
} as const;

/**
 * Throws when a pinned size disagrees with the architecture. Runs at load.
 *
 * @throws {@link AbiDriftError} naming the size that drifted.
 */
export function assertVtdAbi(): void {
  assertAbi("vt-d", [
    ["root entries per table", 4096 / VTD_ROOT_ENTRY_SIZE, 256],
    ["context entries per table", 4096 / VTD_CONTEXT_ENTRY_SIZE, VTD_CONTEXT_ENTRIES],
    ["PASID entries per table", 4096 / VTD_PASID_ENTRY_SIZE, VTD_PASID_TABLE_ENTRIES],
    ["PASID directory entries per page", 4096 / VTD_PASID_DIR_ENTRY_SIZE, 512],
    ["paging entries per table", 4096 / VTD_PTE_SIZE, VTD_TABLE_ENTRIES],
    ["address width", 12 + 9 * VTD_LEVELS, VTD_ADDRESS_WIDTH],
    ["FRCD after the IOTLB block", VTD_REG.FRCD - VTD_REG.IOTLB_BLOCK, 0x20],
    [
      "fault records fit the register page",
      Number(VTD_REG.FRCD + VTD_FAULT_RECORDS * VTD_FRCD_SIZE <= VTD_REGISTER_PAGE),
      1,
    ],
    ["FRO is 16-byte aligned", VTD_REG.FRCD % 16, 0],
    ["IRO is 16-byte aligned", VTD_REG.IOTLB_BLOCK % 16, 0],
  ]);
}

assertVtdAbi();
