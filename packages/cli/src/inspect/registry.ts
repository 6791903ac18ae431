import type {
  BootData,
  KhoHandoverImage,
  PhysAddr,
  PhysicalMemory,
  RetrievedSubtree,
  VersionedSchema,
} from "@liveupdate/core";
import type { HandoverRecordImage } from "@liveupdate/core/testkit";
import type { ShippedBuilds } from "../builds/shipped.js";

/** Preserved memory a decoder knows the purpose of: the per-owner summary counts it there. */
export interface FolioClaim {
  /** First byte. */
  readonly phys: PhysAddr;
  /** Length in bytes. */
  readonly size: number;
  /** Who owns it, e.g. `luo session "vm" token 0x1 (counter-ring-v2)`. */
  readonly owner: string;
}

/** Something an inspection could not read; the command then exits non-zero. */
export interface InspectProblem {
  /** What was being read (subtree, object, field). */
  readonly where: string;
  /** The typed error's code. */
  readonly code: string;
  /** The typed error's message. */
  readonly message: string;
  /** The typed error's context (addresses, field). */
  readonly context: Readonly<Record<string, unknown>>;
}

/** What a decoder makes of its part of the handover. */
export interface Inspection {
  /** For `--json`. */
  readonly json: unknown;
  /** For a terminal, already indented relative to the part's heading. */
  readonly lines: readonly string[];
  /** Preserved memory it accounts for. */
  readonly claims: readonly FolioClaim[];
  /** What it could not read. */
  readonly problems: readonly InspectProblem[];
}

/** The versioned schemas of the drivers the shipped builds carry, by driver name. */
export interface StateSchemas {
  /** The schema of `driver` that declares `version`, if a shipped build has one. */
  find(driver: string, version: number): VersionedSchema | undefined;
}

/** What a {@link SubtreeDecoder} gets. */
export interface SubtreeContext {
  /** The image's memory. */
  readonly memory: PhysicalMemory;
  /** The boot data. */
  readonly bootData: BootData;
  /** The validated KHO handover. */
  readonly kho: KhoHandoverImage;
  /** The subtree to decode. */
  readonly subtree: RetrievedSubtree;
  /** Schemas of the shipped builds' drivers. */
  readonly schemas: StateSchemas;
  /** Decoders of preserved objects, by driver. */
  readonly objects: readonly ObjectDecoder[];
}

/** Decodes one kind of KHO subtree, chosen by the `compatible` property of the blob's root. */
export interface SubtreeDecoder {
  /** The subtree blob's `compatible` (`luo-v1`, `kho-test-v1`, …). */
  readonly compatible: string;
  /** Decodes it; throws only typed errors (reported as problems of the subtree). */
  inspect(ctx: SubtreeContext): Inspection;
}

/** What an {@link ObjectDecoder} gets: one preserved object (or FLB) whose state decoded. */
export interface ObjectContext {
  /** The image's memory. */
  readonly memory: PhysicalMemory;
  /** The driver (compatible string without `-vN`). */
  readonly driver: string;
  /** The version written. */
  readonly version: number;
  /** The decoded state, at `version`. */
  readonly state: unknown;
  /** The record in the LUO handover (folios, addresses). */
  readonly record: HandoverRecordImage;
}

/**
 * Shows what a driver's preserved state refers to beyond the state itself (the counters in a
 * ring's page; the domains and table pages of an iommufd object). Driver packages add theirs to
 * the {@link InspectRegistry}.
 */
export interface ObjectDecoder {
  /** The driver name it decodes. */
  readonly driver: string;
  /** Describes the object; throws only typed errors. */
  describe(ctx: ObjectContext): Omit<Inspection, "problems">;
}

/** What `liveupdate inspect` knows how to decode. */
export interface InspectRegistry {
  /** Builds whose drivers' schemas decode preserved state. */
  readonly builds: readonly ShippedBuilds[];
  /** Subtree decoders. */
  readonly subtrees: readonly SubtreeDecoder[];
  /** Object decoders. */
  readonly objects: readonly ObjectDecoder[];
}
