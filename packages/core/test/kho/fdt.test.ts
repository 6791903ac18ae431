import { describe, expect, it } from "vitest";
import { LiveUpdateError } from "../../src/common/errors.js";
import {
  createFdtTree,
  decodeFdt,
  encodeFdt,
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_MAGIC,
  FDT_NOP,
  FDT_PROP,
  FdtBadLayoutError,
  FdtBadMagicError,
  FdtBadNameError,
  FdtBadStateError,
  FdtBadStringError,
  FdtBadStructureError,
  FdtBadValueError,
  FdtBadVersionError,
  FdtBuilder,
  FdtDuplicateNameError,
  FdtError,
  FdtNode,
  FdtNotFoundError,
  FdtTooDeepError,
  FdtTruncatedError,
  fdtToDts,
  isValidFdtNodeName,
  isValidFdtPropertyName,
  readFdtHeader,
} from "../../src/kho/fdt/index.js";
import { assemble, struct, toHex, u32At, withU32 } from "./fdt-helpers.js";

/** The KHO handover root as upstream kho-v1 lays it out (native-endian = little-endian u64s). */
function khoBlob(subtrees = 2): Uint8Array {
  const b = new FdtBuilder()
    .beginNode("")
    .propString("compatible", "kho-v1")
    .propU64le("preserved-memory-map", 0x1234_5000n);
  for (let i = 0; i < subtrees; i++)
    b.beginNode(`sub${i}`)
      .propU64le("fdt", 0x2000_0000n + BigInt(i) * 0x1000n)
      .endNode();
  return b.endNode().finish();
}

/** Expects `fn` to throw an FDT error with `code`, returning it for context checks. */
function expectFdtError(fn: () => unknown, code: string): FdtError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FdtError);
    expect(e).toBeInstanceOf(LiveUpdateError);
    const err = e as FdtError;
    expect(err.code, err.message).toBe(code);
    expect(err.name).toBe(err.constructor.name);
    return err;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

const ROOT = (...inner: (number | string | Uint8Array)[]) =>
  struct(FDT_BEGIN_NODE, "", ...inner, FDT_END_NODE, FDT_END);

describe("FDT errors", () => {
  it("maps each failure kind to its own LiveUpdateError subclass with a stable code and context", () => {
    const kinds: [new (message: string, context?: Readonly<Record<string, unknown>>) => FdtError, string][] =
      [
        [FdtBadMagicError, "FDT_BAD_MAGIC"],
        [FdtBadVersionError, "FDT_BAD_VERSION"],
        [FdtTruncatedError, "FDT_TRUNCATED"],
        [FdtBadLayoutError, "FDT_BAD_LAYOUT"],
        [FdtBadStructureError, "FDT_BAD_STRUCTURE"],
        [FdtBadStringError, "FDT_BAD_STRING"],
        [FdtBadNameError, "FDT_BAD_NAME"],
        [FdtDuplicateNameError, "FDT_DUPLICATE_NAME"],
        [FdtTooDeepError, "FDT_TOO_DEEP"],
        [FdtNotFoundError, "FDT_NOT_FOUND"],
        [FdtBadValueError, "FDT_BAD_VALUE"],
        [FdtBadStateError, "FDT_BAD_STATE"],
      ];
    expect(new Set(kinds.map(([, code]) => code)).size).toBe(kinds.length);
    for (const [Kind, code] of kinds) {
      const e = new Kind("message", { offset: 4 });
      expect(e).toBeInstanceOf(FdtError);
      expect(e).toBeInstanceOf(LiveUpdateError);
      expect(e.code).toBe(code);
      expect(e.name).toBe(Kind.name);
      expect(e.context).toEqual({ offset: 4 });
    }
    // Thrown errors are instances of the specific class.
    expect(() => new FdtNode("").getChild("x")).toThrow(FdtNotFoundError);
    expect(() => decodeFdt(new Uint8Array(8))).toThrow(FdtBadMagicError);
  });
});

describe("FdtBuilder", () => {
  it("writes a v17 header and libfdt's block layout: rsvmap at 48, struct, then strings", () => {
    const blob = khoBlob();
    const h = readFdtHeader(blob);
    expect(h).toMatchObject({ magic: FDT_MAGIC, version: 17, lastCompVersion: 16, bootCpuidPhys: 0 });
    expect(h.offMemRsvmap).toBe(48);
    expect(h.offDtStruct).toBe(48 + 16); // one zero terminator entry
    expect(h.offDtStrings).toBe(h.offDtStruct + h.sizeDtStruct);
    expect(h.totalsize).toBe(h.offDtStrings + h.sizeDtStrings);
    expect(blob.length).toBe(h.totalsize);
    expect(h.sizeDtStruct % 4).toBe(0);
    // Each property name is stored once, newest first, as libfdt's fdt_find_add_string_ does.
    const strings = new TextDecoder().decode(blob.subarray(h.offDtStrings));
    expect(strings).toBe("fdt\0preserved-memory-map\0compatible\0");
  });

  it("is byte-for-byte identical to libfdt's sequential writer (golden from pylibfdt FdtSw)", () => {
    const blob = new FdtBuilder()
      .addReservation(0x1000n, 0x2000n)
      .beginNode("")
      .propString("phandle", "x")
      .propString("linux,phandle", "y")
      .propU64("reg", 5)
      .beginNode("c@1")
      .propString("phandle", "z") // reuses the tail of "linux,phandle", as libfdt does
      .propEmpty("empty")
      .endNode()
      .endNode()
      .finish();
    expect(toHex(blob)).toBe(
      "d00dfeed000000dc00000050000000bc00000030000000110000001000000000000000200000006c00000000000000000000000000" +
        "00100000000000000020000000000000000000000000000000000000000001000000000000000300000002000000187800000000" +
        "000003000000020000000a79000000000000030000000800000006000000000000000500000001634031000000000300000002" +
        "000000107a000000000000030000000000000000000000020000000200000009656d70747900726567006c696e75782c706861" +
        "6e646c65007068616e646c6500",
    );
  });

  it("encodes typed properties: big-endian cells, explicit u64le/u64be, strings, string lists, bytes, empty", () => {
    const blob = new FdtBuilder({ bootCpuidPhys: 3 })
      .addReservation(0x8000_0000n, 0x10_0000n)
      .beginNode("")
      .propU32("u32", 0x01020304)
      .propU32Array("cells", [1, 0xffffffff])
      .propU64("u64", 0x0102030405060708n)
      .propU64be("be", 0x0102030405060708n)
      .propU64le("le", 0x0102030405060708n)
      .propString("str", "héllo ☃ 🎉")
      .propStringList("list", ["a", "", "bc"])
      .propStringList("nolist", [])
      .propBytes("bytes", Uint8Array.of(1, 2, 3))
      .propEmpty("flag")
      .endNode()
      .finish();
    const tree = decodeFdt(blob);
    const r = tree.root;
    expect(tree.bootCpuidPhys).toBe(3);
    expect(tree.reservations).toEqual([{ address: 0x8000_0000n, size: 0x10_0000n }]);
    expect(toHex(r.getBytes("u32"))).toBe("01020304");
    expect(r.getU32("u32")).toBe(0x01020304);
    expect(r.getU32Array("cells")).toEqual([1, 0xffffffff]);
    expect(toHex(r.getBytes("u64"))).toBe("0102030405060708");
    expect(toHex(r.getBytes("be"))).toBe("0102030405060708");
    expect(toHex(r.getBytes("le"))).toBe("0807060504030201");
    expect(r.getU64("u64")).toBe(0x0102030405060708n);
    expect(r.getU64be("be")).toBe(0x0102030405060708n);
    expect(r.getU64le("le")).toBe(0x0102030405060708n);
    expect(r.getU64le("be")).toBe(0x0807060504030201n);
    expect(r.getString("str")).toBe("héllo ☃ 🎉");
    expect(r.getStringList("list")).toEqual(["a", "", "bc"]);
    expect(toHex(r.getBytes("list"))).toBe("610000626300");
    expect(r.getStringList("nolist")).toEqual([]);
    expect(r.getBytes("bytes")).toEqual(Uint8Array.of(1, 2, 3));
    expect(r.getBytes("flag").length).toBe(0);
    expect(r.hasProperty("flag")).toBe(true);
  });

  it("is deterministic and re-encodes a decoded blob to the same bytes", () => {
    expect(toHex(khoBlob(5))).toBe(toHex(khoBlob(5)));
    const blob = khoBlob(5);
    expect(toHex(encodeFdt(decodeFdt(blob)))).toBe(toHex(blob));
  });

  it("grows its single buffer for thousands of subtrees", () => {
    const blob = new FdtBuilder({ initialCapacity: 16 }).beginNode("").propString("compatible", "kho-v1");
    for (let i = 0; i < 5000; i++)
      blob
        .beginNode(`driver-${i}`)
        .propU64le("fdt", BigInt(i) << 12n)
        .endNode();
    const bytes = blob.endNode().finish();
    const tree = decodeFdt(bytes);
    expect(tree.root.children).toHaveLength(5000);
    expect(tree.root.getChild("driver-4321").getU64le("fdt")).toBe(4321n << 12n);
    // "fdt" and "compatible" are stored once each.
    expect(readFdtHeader(bytes).sizeDtStrings).toBe("fdt\0compatible\0".length);
  });

  it("rejects misuse with FDT_BAD_STATE", () => {
    expectFdtError(() => new FdtBuilder().beginNode("").endNode().addReservation(1, 1), "FDT_BAD_STATE");
    expectFdtError(() => new FdtBuilder().propU32("x", 1), "FDT_BAD_STATE");
    expectFdtError(() => new FdtBuilder().endNode(), "FDT_BAD_STATE");
    expectFdtError(() => new FdtBuilder().finish(), "FDT_BAD_STATE");
    expectFdtError(() => new FdtBuilder().beginNode("").finish(), "FDT_BAD_STATE");
    expectFdtError(() => new FdtBuilder().beginNode("").endNode().beginNode(""), "FDT_BAD_STATE");
    expectFdtError(() => new FdtBuilder().beginNode("").endNode().endNode(), "FDT_BAD_STATE");
    const err = expectFdtError(
      () => new FdtBuilder().beginNode("").beginNode("a").endNode().propU32("late", 1),
      "FDT_BAD_STATE",
    );
    expect(err.context).toMatchObject({ operation: "property", path: "/" });
    const done = new FdtBuilder().beginNode("").endNode();
    done.finish();
    expectFdtError(() => done.finish(), "FDT_BAD_STATE");
    expectFdtError(() => done.beginNode(""), "FDT_BAD_STATE");
  });

  it("stays usable after a rejected call (validation happens before anything is written)", () => {
    const b = new FdtBuilder().beginNode("").propU32("a", 1);
    expectFdtError(() => b.propU32("b", -1), "FDT_BAD_VALUE");
    expectFdtError(() => b.propU64("b", -1n), "FDT_BAD_VALUE");
    expectFdtError(() => b.propString("b", "\0"), "FDT_BAD_VALUE");
    expectFdtError(() => b.propU32Array("b", [1, -1]), "FDT_BAD_VALUE");
    expectFdtError(() => b.propU32("a", 2), "FDT_DUPLICATE_NAME");
    expectFdtError(() => b.beginNode("bad name"), "FDT_BAD_NAME");
    const blob = b.propU32("b", 2).beginNode("c").endNode().endNode().finish();
    expect(toHex(blob)).toBe(
      toHex(
        new FdtBuilder()
          .beginNode("")
          .propU32("a", 1)
          .propU32("b", 2)
          .beginNode("c")
          .endNode()
          .endNode()
          .finish(),
      ),
    );
  });

  it("rejects bad names, duplicates and out-of-range values", () => {
    expectFdtError(() => new FdtBuilder().beginNode("root"), "FDT_BAD_NAME");
    expectFdtError(() => new FdtBuilder().beginNode("").beginNode(""), "FDT_BAD_NAME");
    expectFdtError(() => new FdtBuilder().beginNode("").beginNode("a/b"), "FDT_BAD_NAME");
    expectFdtError(() => new FdtBuilder().beginNode("").beginNode("a@1@2"), "FDT_BAD_NAME");
    expectFdtError(() => new FdtBuilder().beginNode("").propEmpty("bad name"), "FDT_BAD_NAME");
    expectFdtError(() => new FdtBuilder().beginNode("").propEmpty(""), "FDT_BAD_NAME");
    const dupNode = expectFdtError(
      () => new FdtBuilder().beginNode("").beginNode("a@1").endNode().beginNode("a@1"),
      "FDT_DUPLICATE_NAME",
    );
    expect(dupNode.context).toMatchObject({ kind: "node", name: "a@1", path: "/" });
    const dupProp = expectFdtError(
      () => new FdtBuilder().beginNode("").beginNode("n").propEmpty("p").propU32("p", 1),
      "FDT_DUPLICATE_NAME",
    );
    expect(dupProp.context).toMatchObject({ kind: "property", name: "p", path: "/n" });
    expectFdtError(() => new FdtBuilder().beginNode("").propU32("x", -1), "FDT_BAD_VALUE");
    expectFdtError(() => new FdtBuilder().beginNode("").propU32("x", 2 ** 32), "FDT_BAD_VALUE");
    expectFdtError(() => new FdtBuilder().beginNode("").propU32("x", 1.5), "FDT_BAD_VALUE");
    expectFdtError(() => new FdtBuilder().beginNode("").propU32Array("x", [1, Number.NaN]), "FDT_BAD_VALUE");
    expectFdtError(() => new FdtBuilder().beginNode("").propU64le("x", -1n), "FDT_BAD_VALUE");
    expectFdtError(() => new FdtBuilder().beginNode("").propU64("x", 1n << 64n), "FDT_BAD_VALUE");
    expectFdtError(() => new FdtBuilder().beginNode("").propU64("x", 2 ** 60), "FDT_BAD_VALUE");
    expectFdtError(() => new FdtBuilder().beginNode("").propString("x", "a\0b"), "FDT_BAD_VALUE");
    expectFdtError(() => new FdtBuilder().beginNode("").propStringList("x", ["a", "\0"]), "FDT_BAD_VALUE");
    expectFdtError(() => new FdtBuilder().addReservation(0x1000n, 0n), "FDT_BAD_VALUE");
    expectFdtError(() => new FdtBuilder({ bootCpuidPhys: -1 }), "FDT_BAD_VALUE");
    // The largest values are fine.
    const blob = new FdtBuilder()
      .addReservation((1n << 64n) - 1n, (1n << 64n) - 1n)
      .beginNode("")
      .propU64("max", (1n << 64n) - 1n)
      .propU32("max32", 0xffffffff)
      .endNode()
      .finish();
    expect(decodeFdt(blob).root.getU64("max")).toBe((1n << 64n) - 1n);
  });
});

describe("FdtNode", () => {
  it("looks children up by full name or by unit name, and resolves paths", () => {
    const root = new FdtNode("");
    const soc = root.addChild("soc");
    const s0 = soc.addChild("serial@1000");
    const s1 = soc.addChild("serial@2000");
    const plain = soc.addChild("serial-plain");
    expect(soc.child("serial@2000")).toBe(s1);
    expect(soc.child("serial")).toBe(s0); // first unit-address match, like fdt_subnode_offset
    expect(soc.child("serial-plain")).toBe(plain);
    expect(soc.child("serial@3000")).toBeUndefined();
    expect(soc.child("seria")).toBeUndefined();
    expect(s1.path).toBe("/soc/serial@2000");
    expect(s1.unitName).toBe("serial");
    expect(s1.unitAddress).toBe("2000");
    expect(soc.unitAddress).toBeUndefined();
    expect(root.path).toBe("/");
    expect(root.findNode("/soc/serial@2000")).toBe(s1);
    expect(s0.findNode("/soc/serial")).toBe(s0);
    expect(soc.findNode("serial@1000")).toBe(s0);
    expect(s1.findNode("/")).toBe(root);
    expect(root.findNode("/nope/x")).toBeUndefined();
    const err = expectFdtError(() => soc.getChild("uart"), "FDT_NOT_FOUND");
    expect(err.context).toEqual({ path: "/soc", name: "uart" });
    expect(soc.removeChild("serial@1000")).toBe(s0);
    expect(s0.parent).toBeUndefined();
    expect(soc.child("serial")).toBe(s1);
    expect(soc.removeChild("serial@1000")).toBeUndefined();
  });

  it("guards attachment: names, duplicates, re-attaching, cycles", () => {
    const root = new FdtNode("");
    const a = root.addChild("a");
    expectFdtError(() => root.addChild("a"), "FDT_DUPLICATE_NAME");
    expectFdtError(() => root.addChild(new FdtNode("")), "FDT_BAD_NAME");
    expectFdtError(() => new FdtNode("bad name"), "FDT_BAD_NAME");
    expectFdtError(() => new FdtNode("@1"), "FDT_BAD_NAME");
    expectFdtError(() => new FdtNode("x@"), "FDT_BAD_NAME");
    expectFdtError(() => root.addChild(a), "FDT_BAD_STATE");
    const detached = new FdtNode("d");
    const inner = detached.addChild("e");
    expectFdtError(() => inner.addChild(detached), "FDT_BAD_STATE");
    expect(detached.path).toBe("d");
    expect(inner.path).toBe("d/e");
  });

  it("typed getters report missing properties and wrong shapes with context", () => {
    const n = new FdtNode("").addChild("n");
    n.setBytes("three", Uint8Array.of(1, 2, 3))
      .setString("s", "text")
      .setBytes("nonul", Uint8Array.of(0x61))
      .setBytes("twostr", new TextEncoder().encode("a\0b\0"))
      .setBytes("badutf8", Uint8Array.of(0xff, 0))
      .setEmpty("empty");
    const missing = expectFdtError(() => n.getU32("nope"), "FDT_NOT_FOUND");
    expect(missing.context).toEqual({ path: "/n", property: "nope" });
    expect(n.findProperty("nope")).toBeUndefined();
    const wrong = expectFdtError(() => n.getU64le("three"), "FDT_BAD_VALUE");
    expect(wrong.context).toMatchObject({ path: "/n", property: "three", length: 3 });
    expectFdtError(() => n.getU32("three"), "FDT_BAD_VALUE");
    expectFdtError(() => n.getU32Array("three"), "FDT_BAD_VALUE");
    expectFdtError(() => n.getString("nonul"), "FDT_BAD_VALUE");
    expectFdtError(() => n.getString("twostr"), "FDT_BAD_VALUE");
    expectFdtError(() => n.getString("empty"), "FDT_BAD_VALUE");
    expectFdtError(() => n.getString("badutf8"), "FDT_BAD_VALUE");
    expectFdtError(() => n.getStringList("nonul"), "FDT_BAD_VALUE");
    expectFdtError(() => n.getStringList("badutf8"), "FDT_BAD_VALUE");
    expect(n.getStringList("twostr")).toEqual(["a", "b"]);
    expect(n.getString("s")).toBe("text");
    expect(n.getU32Array("empty")).toEqual([]);
    expectFdtError(() => n.setU32("x", 0x1_0000_0000), "FDT_BAD_VALUE");
    expectFdtError(() => n.setU64le("x", -5), "FDT_BAD_VALUE");
    expectFdtError(() => n.setString("x", "\0"), "FDT_BAD_VALUE");
    expectFdtError(() => n.setEmpty("a b"), "FDT_BAD_NAME");
    expect(n.deleteProperty("s")).toBe(true);
    expect(n.hasProperty("s")).toBe(false);
  });

  it("setters keep insertion order, replace in place and copy byte values", () => {
    const bytes = Uint8Array.of(1, 2);
    const n = new FdtNode("").setU32("a", 1).setBytes("b", bytes).setU64("c", 2n);
    bytes[0] = 9;
    n.setU32("a", 7);
    expect([...n.properties.keys()]).toEqual(["a", "b", "c"]);
    expect(n.getU32("a")).toBe(7);
    expect(n.getBytes("b")).toEqual(Uint8Array.of(1, 2));
    expect(n.getU64be("c")).toBe(2n);
  });

  it("validates names like dtc's node_name_chars / property_name_chars checks", () => {
    for (const ok of ["a", "memory@0", "cpu@0,1", "foo_bar+baz-1.2", "A,B"])
      expect(isValidFdtNodeName(ok)).toBe(true);
    for (const bad of ["", "@", "a@", "@0", "a@1@2", "a b", "a/b", "a#", "é", "a*"]) {
      expect(isValidFdtNodeName(bad), bad).toBe(false);
    }
    for (const ok of ["#address-cells", "linux,phandle", "a?", "x*", "_a.b+c"]) {
      expect(isValidFdtPropertyName(ok)).toBe(true);
    }
    for (const bad of ["", "a@b", "a b", "a/b", "é", "a\0"])
      expect(isValidFdtPropertyName(bad), bad).toBe(false);
  });
});

describe("decodeFdt", () => {
  it("decodes the KHO handover shape", () => {
    const tree = decodeFdt(khoBlob(3));
    expect(tree.root.getStringList("compatible")).toEqual(["kho-v1"]);
    expect(tree.root.getU64le("preserved-memory-map")).toBe(0x1234_5000n);
    expect(tree.root.children.map((c) => c.name)).toEqual(["sub0", "sub1", "sub2"]);
    expect(tree.root.getChild("sub2").getU64le("fdt")).toBe(0x2000_2000n);
    expect(tree.reservations).toEqual([]);
  });

  it("accepts NOPs, padding inside totalsize, bytes after totalsize, and a subarray view", () => {
    const blob = assemble({
      rsvmap: [[0x1000n, 0x10n]],
      struct: struct(
        FDT_NOP,
        FDT_BEGIN_NODE,
        "",
        FDT_NOP,
        FDT_PROP,
        4,
        0,
        Uint8Array.of(0, 0, 0, 7),
        FDT_NOP,
        FDT_END_NODE,
        FDT_NOP,
        FDT_END,
      ),
      strings: "v\0",
      trailing: 13,
    });
    const tree = decodeFdt(blob);
    expect(tree.root.getU32("v")).toBe(7);
    expect(tree.reservations).toEqual([{ address: 0x1000n, size: 0x10n }]);
    const padded = withU32(blob, 4, blob.length); // totalsize covers the trailing bytes
    expect(decodeFdt(padded).root.getU32("v")).toBe(7);
    const shifted = new Uint8Array(blob.length + 3);
    shifted.set(blob, 3);
    expect(decodeFdt(shifted.subarray(3)).root.getU32("v")).toBe(7);
  });

  it("copies property values out of the input, also for a Node Buffer", () => {
    const buffer = Buffer.from(khoBlob(1));
    const tree = decodeFdt(buffer);
    buffer.fill(0xee);
    expect(tree.root.getU64le("preserved-memory-map")).toBe(0x1234_5000n);
    expect(tree.root.getBytes("preserved-memory-map")).not.toBeInstanceOf(Buffer);
    const source = Buffer.from([1, 2, 3, 4]);
    const node = new FdtNode("").setBytes("b", source);
    source[0] = 9;
    expect(node.getU32("b")).toBe(0x01020304);
  });

  it("decodes version-16 blobs (no size_dt_struct) and accepts last_comp_version 17", () => {
    const v16 = assemble({
      struct: ROOT(FDT_PROP, 0, 0),
      strings: "flag\0",
      header: { version: 16, lastCompVersion: 16, sizeDtStruct: 0xdeadbeef },
    });
    expect(readFdtHeader(v16).sizeDtStruct).toBe(ROOT(FDT_PROP, 0, 0).length);
    expect(decodeFdt(v16).root.hasProperty("flag")).toBe(true);
    const comp17 = assemble({ struct: ROOT(), header: { lastCompVersion: 17 } });
    expect(decodeFdt(comp17).root.children).toEqual([]);
    const future = assemble({ struct: ROOT(), header: { version: 18, lastCompVersion: 16 } });
    expect(decodeFdt(future).root.name).toBe("");
  });

  describe("typed errors with context", () => {
    const good = assemble({ struct: ROOT(FDT_PROP, 4, 0, Uint8Array.of(0, 0, 0, 1)), strings: "p\0" });

    it("FDT_BAD_MAGIC", () => {
      const err = expectFdtError(() => decodeFdt(withU32(good, 0, 0xedfe0dd0)), "FDT_BAD_MAGIC");
      expect(err.context).toMatchObject({ magic: 0xedfe0dd0 });
    });

    it("FDT_BAD_VERSION", () => {
      expect(expectFdtError(() => decodeFdt(withU32(good, 20, 15)), "FDT_BAD_VERSION").context).toMatchObject(
        {
          version: 15,
        },
      );
      expectFdtError(() => decodeFdt(withU32(good, 24, 18)), "FDT_BAD_VERSION");
      expectFdtError(() => decodeFdt(withU32(withU32(good, 20, 16), 24, 17)), "FDT_BAD_VERSION");
    });

    it("FDT_TRUNCATED", () => {
      expectFdtError(() => decodeFdt(new Uint8Array(0)), "FDT_TRUNCATED");
      expectFdtError(() => decodeFdt(good.subarray(0, 3)), "FDT_TRUNCATED");
      expectFdtError(() => decodeFdt(good.subarray(0, 20)), "FDT_TRUNCATED");
      expectFdtError(() => decodeFdt(good.subarray(0, 39)), "FDT_TRUNCATED");
      const short = expectFdtError(() => decodeFdt(good.subarray(0, good.length - 1)), "FDT_TRUNCATED");
      expect(short.context).toMatchObject({ field: "totalsize", value: good.length, limit: good.length - 1 });
      expectFdtError(() => decodeFdt(withU32(good, 4, 39)), "FDT_TRUNCATED");
      expectFdtError(() => decodeFdt(withU32(good, 4, 0xffffffff)), "FDT_TRUNCATED");
      const structPast = expectFdtError(() => decodeFdt(withU32(good, 36, 0x1000)), "FDT_TRUNCATED");
      expect(structPast.context).toMatchObject({ block: "structure" });
      expectFdtError(() => decodeFdt(withU32(good, 32, 0x1000)), "FDT_TRUNCATED");
      expectFdtError(() => decodeFdt(withU32(good, 8, 0x10000)), "FDT_TRUNCATED");
      // Property value running past the structure block.
      const long = assemble({ struct: ROOT(FDT_PROP, 400, 0), strings: "p\0" });
      const past = expectFdtError(() => decodeFdt(long), "FDT_TRUNCATED");
      expect(past.context).toMatchObject({ path: "/", property: "p", length: 400 });
      // Property header cut by the end of the block.
      expectFdtError(
        () => decodeFdt(assemble({ struct: struct(FDT_BEGIN_NODE, "", FDT_PROP, 0), strings: "p\0" })),
        "FDT_TRUNCATED",
      );
      // A reservation block without terminator running to totalsize.
      const noTerm = assemble({
        struct: ROOT(),
        rawRsvmap: Uint8Array.of(...new Array(15).fill(0), 1),
        header: { offDtStruct: 40, sizeDtStruct: 0, offDtStrings: 56, sizeDtStrings: 0 },
      });
      expect(expectFdtError(() => decodeFdt(noTerm), "FDT_TRUNCATED").context).toMatchObject({
        block: "memory reservation",
      });
    });

    it("FDT_BAD_LAYOUT", () => {
      const misaligned = expectFdtError(
        () => decodeFdt(withU32(good, 8, u32At(good, 8) + 2)),
        "FDT_BAD_LAYOUT",
      );
      expect(misaligned.context).toMatchObject({ block: "structure", alignment: 4 });
      expect(expectFdtError(() => decodeFdt(withU32(good, 16, 44)), "FDT_BAD_LAYOUT").context).toMatchObject({
        block: "memory reservation",
        alignment: 8,
      });
      expectFdtError(() => decodeFdt(withU32(good, 16, 8)), "FDT_BAD_LAYOUT"); // inside the header
      expectFdtError(() => decodeFdt(withU32(good, 12, 0)), "FDT_BAD_LAYOUT");
      // Strings overlapping the structure block.
      const overlap = expectFdtError(
        () => decodeFdt(withU32(good, 12, u32At(good, 8) + 4)),
        "FDT_BAD_LAYOUT",
      );
      expect(overlap.context).toMatchObject({ block: "structure", other: "strings" });
      // Reservation block running into the structure block (no terminator before it).
      const rsvInto = assemble({
        struct: ROOT(),
        rawRsvmap: Uint8Array.of(...new Array(15).fill(0), 1),
        strings: "",
      });
      expect(expectFdtError(() => decodeFdt(rsvInto), "FDT_BAD_LAYOUT").context).toMatchObject({
        block: "memory reservation",
        other: "structure",
      });
      // Reservation block starting inside the structure block.
      const rsvInside = withU32(good, 16, u32At(good, 8) + 8);
      expectFdtError(() => decodeFdt(rsvInside), "FDT_BAD_LAYOUT");
    });

    it("FDT_BAD_STRUCTURE", () => {
      const bad = (s: Uint8Array, strings = "p\0") =>
        expectFdtError(() => decodeFdt(assemble({ struct: s, strings })), "FDT_BAD_STRUCTURE");
      expect(bad(ROOT(0x7)).context).toMatchObject({ token: 7, path: "/" });
      expect(bad(struct(FDT_END_NODE, FDT_END)).context).toMatchObject({ token: FDT_END_NODE });
      bad(struct(FDT_BEGIN_NODE, "", FDT_END_NODE)); // missing FDT_END
      bad(struct(FDT_BEGIN_NODE, "", FDT_BEGIN_NODE, "a", FDT_END_NODE, FDT_END)); // unbalanced
      bad(struct(FDT_BEGIN_NODE, "", FDT_END_NODE, FDT_END_NODE, FDT_END));
      bad(struct(FDT_PROP, 0, 0, FDT_BEGIN_NODE, "", FDT_END_NODE, FDT_END)); // property outside a node
      bad(struct(FDT_BEGIN_NODE, "", FDT_END_NODE, FDT_PROP, 0, 0, FDT_END));
      bad(struct(FDT_BEGIN_NODE, "", FDT_END_NODE, FDT_BEGIN_NODE, "", FDT_END_NODE, FDT_END)); // two roots
      bad(struct(FDT_END)); // no root
      bad(struct()); // empty structure block
      bad(struct(FDT_BEGIN_NODE, "", FDT_END_NODE, FDT_END, FDT_NOP)); // data after FDT_END
      const after = bad(ROOT(FDT_BEGIN_NODE, "a", FDT_END_NODE, FDT_PROP, 0, 0)); // property after subnode
      expect(after.context).toMatchObject({ property: "p", path: "/" });
      const inner = bad(struct(FDT_BEGIN_NODE, "", FDT_BEGIN_NODE, "a", FDT_BEGIN_NODE, "b", FDT_END));
      expect(inner.context).toMatchObject({ path: "/a/b" });
      // Version 16 without FDT_END anywhere.
      expectFdtError(
        () =>
          decodeFdt(assemble({ struct: struct(FDT_BEGIN_NODE, "", FDT_END_NODE), header: { version: 16 } })),
        "FDT_BAD_STRUCTURE",
      );
    });

    it("FDT_BAD_STRING", () => {
      const unterminatedNode = assemble({
        struct: struct(FDT_BEGIN_NODE, "", FDT_BEGIN_NODE, Uint8Array.of(0x61, 0x62, 0x63, 0x64)),
      });
      expect(expectFdtError(() => decodeFdt(unterminatedNode), "FDT_BAD_STRING").context).toMatchObject({
        offset: 40 + 16 + 12,
        path: "/",
      });
      const outside = expectFdtError(
        () => decodeFdt(assemble({ struct: ROOT(FDT_PROP, 0, 2), strings: "p\0" })),
        "FDT_BAD_STRING",
      );
      expect(outside.context).toMatchObject({ nameOffset: 2, limit: 2, path: "/" });
      expectFdtError(
        () => decodeFdt(assemble({ struct: ROOT(FDT_PROP, 0, 0xfffffff0), strings: "p\0" })),
        "FDT_BAD_STRING",
      );
      // The name's NUL lies outside the declared strings block.
      expectFdtError(
        () =>
          decodeFdt(
            assemble({ struct: ROOT(FDT_PROP, 0, 0), strings: "pq\0", header: { sizeDtStrings: 2 } }),
          ),
        "FDT_BAD_STRING",
      );
    });

    it("FDT_BAD_NAME", () => {
      const node = (name: Uint8Array | string) =>
        expectFdtError(
          () => decodeFdt(assemble({ struct: ROOT(FDT_BEGIN_NODE, name, FDT_END_NODE) })),
          "FDT_BAD_NAME",
        );
      expect(node("a b").context).toMatchObject({ kind: "node", name: "a b", path: "/" });
      node(""); // a child with an empty name
      node("a@1@2");
      expect(node(Uint8Array.of(0xc3, 0xa9, 0)).context).toMatchObject({ name: "\\xc3\\xa9" });
      expectFdtError(
        () => decodeFdt(assemble({ struct: struct(FDT_BEGIN_NODE, "root", FDT_END_NODE, FDT_END) })),
        "FDT_BAD_NAME",
      );
      const prop = expectFdtError(
        () => decodeFdt(assemble({ struct: ROOT(FDT_PROP, 0, 0), strings: "no/slash\0" })),
        "FDT_BAD_NAME",
      );
      expect(prop.context).toMatchObject({ kind: "property", name: "no/slash" });
      expectFdtError(
        () => decodeFdt(assemble({ struct: ROOT(FDT_PROP, 0, 1), strings: "p\0" })),
        "FDT_BAD_NAME",
      ); // ""
    });

    it("FDT_DUPLICATE_NAME", () => {
      const nodes = expectFdtError(
        () =>
          decodeFdt(
            assemble({
              struct: ROOT(FDT_BEGIN_NODE, "a@1", FDT_END_NODE, FDT_BEGIN_NODE, "a@1", FDT_END_NODE),
            }),
          ),
        "FDT_DUPLICATE_NAME",
      );
      expect(nodes.context).toMatchObject({ kind: "node", name: "a@1", path: "/" });
      const props = expectFdtError(
        () =>
          decodeFdt(
            assemble({
              struct: ROOT(FDT_BEGIN_NODE, "n", FDT_PROP, 0, 0, FDT_PROP, 0, 2, FDT_END_NODE),
              strings: "p\0p\0",
            }),
          ),
        "FDT_DUPLICATE_NAME",
      );
      expect(props.context).toMatchObject({ kind: "property", name: "p", path: "/n" });
      // Sibling names that differ only in unit address are distinct.
      const ok = assemble({
        struct: ROOT(FDT_BEGIN_NODE, "a@1", FDT_END_NODE, FDT_BEGIN_NODE, "a@2", FDT_END_NODE),
      });
      expect(decodeFdt(ok).root.children).toHaveLength(2);
    });

    it("FDT_TOO_DEEP", () => {
      const deep = (levels: number) => {
        const parts: (number | string)[] = [FDT_BEGIN_NODE, ""];
        for (let i = 1; i < levels; i++) parts.push(FDT_BEGIN_NODE, "d");
        for (let i = 0; i < levels; i++) parts.push(FDT_END_NODE);
        parts.push(FDT_END);
        return assemble({ struct: struct(...parts) });
      };
      expect(decodeFdt(deep(64)).root.children).toHaveLength(1);
      const err = expectFdtError(() => decodeFdt(deep(65)), "FDT_TOO_DEEP");
      expect(err.context).toMatchObject({ maxDepth: 64, path: `/${new Array(64).fill("d").join("/")}` });
      expectFdtError(() => decodeFdt(deep(4), { maxDepth: 3 }), "FDT_TOO_DEEP");
      expect(decodeFdt(deep(4), { maxDepth: 4 }).root.children).toHaveLength(1);
      // A deep tree built in memory still encodes (iteratively) and decodes with a raised limit.
      let node = new FdtNode("");
      const root = node;
      for (let i = 0; i < 3000; i++) node = node.addChild("d");
      const blob = encodeFdt(root);
      expectFdtError(() => decodeFdt(blob), "FDT_TOO_DEEP");
      expect(decodeFdt(blob, { maxDepth: 10_000 }).root.children).toHaveLength(1);
      expect(fdtToDts(root).split("\n").length).toBeGreaterThan(6000);
    });
  });
});

describe("fdtToDts", () => {
  it("prints dts source with dtc's value-type guesses", () => {
    const root = new FdtNode("")
      .setStringList("compatible", ["kho-v1", "x"])
      .setU64le("preserved-memory-map", 0x1234_5000n)
      .setU32Array("cells", [1, 0xdeadbeef])
      .setBytes("bytes", Uint8Array.of(1, 2, 0xab))
      .setEmpty("flag")
      .setString("esc", 'q"b\\t\tn\n')
      .setStringList("withempty", ["abc", ""])
      .setBytes("nul", Uint8Array.of(0));
    root.addChild("memory@0").setU32Array("reg", [0, 0x1000]);
    root.addChild("sub").addChild("leaf");
    const tree = createFdtTree({ root, reservations: [{ address: 0x1000n, size: 0x2000n }] });
    expect(fdtToDts(tree)).toBe(
      [
        "/dts-v1/;",
        "",
        "/memreserve/ 0x1000 0x2000;",
        "",
        "/ {",
        '\tcompatible = "kho-v1", "x";',
        "\tpreserved-memory-map = <0x00503412 0x00000000>;",
        "\tcells = <0x00000001 0xdeadbeef>;",
        "\tbytes = [01 02 ab];",
        "\tflag;",
        '\tesc = "q\\"b\\\\t\\tn\\n";',
        '\twithempty = "abc", "";',
        "\tnul = [00];",
        "",
        "\tmemory@0 {",
        "\t\treg = <0x00000000 0x00001000>;",
        "\t};",
        "",
        "\tsub {",
        "\t\tleaf {",
        "\t\t};",
        "\t};",
        "};",
        "",
      ].join("\n"),
    );
    expect(fdtToDts(new FdtNode(""))).toBe("/dts-v1/;\n\n/ {\n};\n");
  });
});
