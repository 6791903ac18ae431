/**
 * Interoperability with the reference devicetree tools: dtc, fdtdump and python libfdt (pylibfdt).
 * The tools are required: a missing tool fails these tests with an install hint.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createFdtTree,
  decodeFdt,
  encodeFdt,
  FdtBuilder,
  FdtNode,
  type FdtTree,
  fdtToDts,
  readFdtHeader,
} from "../../src/kho/fdt/index.js";
import {
  buildTree,
  dtcSafeNames,
  plain,
  runPython,
  runTool,
  scratchDir,
  type TreeSpec,
  toHex,
  treeArb,
} from "./fdt-helpers.js";

let scratch: ReturnType<typeof scratchDir>;
let counter = 0;

beforeAll(() => {
  scratch = scratchDir();
  // Fail loudly (not skip) when a reference tool is missing.
  expect(runTool("dtc", ["--version"]).status).toBe(0);
  expect(runTool("fdtdump", ["-h"]).status).not.toBeNull();
  runPython("import libfdt");
});

afterAll(() => scratch?.cleanup());

function writeBlob(blob: Uint8Array): string {
  return scratch.file(`blob-${counter++}.dtb`, blob);
}

/** `dtc -I dts -O dtb [...args]` of a source; returns the blob and dtc's stderr. */
function compileDts(source: string, args: readonly string[] = []): { blob: Uint8Array; stderr: string } {
  const input = scratch.file(`src-${counter}.dts`, source);
  const output = `${scratch.dir}/out-${counter++}.dtb`;
  const r = runTool("dtc", ["-I", "dts", "-O", "dtb", ...args, "-o", output, input]);
  expect(r.status, r.stderr).toBe(0);
  return { blob: new Uint8Array(readFileSync(output)), stderr: r.stderr };
}

/** `dtc -I dtb -O dts` of a blob; asserts success and no warnings. */
function decompile(blob: Uint8Array): string {
  const r = runTool("dtc", ["-I", "dtb", "-O", "dts", writeBlob(blob)]);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr, "dtc must not warn about our blob").toBe("");
  return r.stdout;
}

function khoTree(): FdtTree {
  const root = new FdtNode("")
    .setStringList("compatible", ["kho-v1"])
    .setU64le("preserved-memory-map", 0x0000_0001_2345_6000n);
  root.addChild("memblock").setU64le("fdt", 0x1_0000_0000n);
  root.addChild("guestmemfs").setU64le("fdt", 0x2000_0000n);
  root.addChild("iommufd").setU64le("fdt", 0xffff_ffff_ffff_f000n);
  return createFdtTree({ root });
}

const PY_WALK = `
import json, sys, libfdt
NF = [libfdt.NOTFOUND]
def walk(off, name):
    props = []
    p = fdt.first_property_offset(off, quiet=NF)
    while p >= 0:
        pr = fdt.get_property_by_offset(p)
        props.append([pr.name, bytes(pr).hex()])
        p = fdt.next_property_offset(p, quiet=NF)
    children = []
    c = fdt.first_subnode(off, quiet=NF)
    while c >= 0:
        children.append(walk(c, fdt.get_name(c)))
        c = fdt.next_subnode(c, quiet=NF)
    return {"name": name, "props": props, "children": children}
out = []
for path in sys.argv[1:]:
    fdt = libfdt.Fdt(open(path, 'rb').read())
    rsv = []
    for i in range(fdt.num_mem_rsv()):
        a, s = fdt.get_mem_rsv(i)
        rsv.append(["%x" % (a % 2**64), "%x" % (s % 2**64)])
    out.append({"root": walk(0, fdt.get_name(0)), "reservations": rsv, "bootCpuidPhys": fdt.boot_cpuid_phys()})
print(json.dumps(out))
`;

/** What python libfdt sees in each blob (one python run), in the shape of {@link plain}. */
function libfdtView(blobs: readonly Uint8Array[]): unknown[] {
  const paths = blobs.map(writeBlob);
  return JSON.parse(
    runPython(`import sys; sys.argv = ["x", *${JSON.stringify(paths)}]\n${PY_WALK}`),
  ) as unknown[];
}

const PY_BUILD = `
import json, sys, libfdt
out = []
for spec in json.load(sys.stdin):
    sw = libfdt.FdtSw()
    for a, s in spec["rsv"]:
        sw.add_reservemap_entry(int(a, 16), int(s, 16))
    sw.finish_reservemap()
    def node(n):
        sw.begin_node(n["name"])
        for k, v in n["props"]:
            sw.property(k, bytes.fromhex(v))
        for c in n["children"]:
            node(c)
        sw.end_node()
    node(spec["root"])
    f = sw.as_fdt()
    out.append(bytes(f.as_bytearray()[:f.totalsize()]).hex())
print(json.dumps(out))
`;

describe("KHO root blob against the reference tools", () => {
  it("python libfdt reads the native-endian (little-endian) u64 properties back", () => {
    const blob = encodeFdt(khoTree());
    const path = writeBlob(blob);
    const out = runPython(
      `
import json, libfdt
fdt = libfdt.Fdt(open(${JSON.stringify(path)}, 'rb').read())
sub = fdt.subnode_offset(0, 'iommufd')
print(json.dumps({
  "pmm": bytes(fdt.getprop(0, 'preserved-memory-map')).hex(),
  "compatible": fdt.getprop(0, 'compatible').as_str(),
  "memblock": bytes(fdt.getprop(fdt.path_offset('/memblock'), 'fdt')).hex(),
  "iommufd": bytes(fdt.getprop(sub, 'fdt')).hex(),
  "iommufd_le": int.from_bytes(bytes(fdt.getprop(sub, 'fdt')), 'little'),
  "version": fdt.version(), "last_comp": fdt.last_comp_version(), "totalsize": fdt.totalsize(),
  "off_mem_rsvmap": fdt.off_mem_rsvmap(), "num_mem_rsv": fdt.num_mem_rsv(),
}))
`,
    );
    const seen = JSON.parse(out) as Record<string, unknown>;
    expect(seen).toEqual({
      pmm: "0060452301000000", // 0x1_2345_6000 little-endian
      compatible: "kho-v1",
      memblock: "0000000001000000",
      iommufd: "00f0ffffffffffff",
      iommufd_le: 0xffff_ffff_ffff_f000,
      version: 17,
      last_comp: 16,
      totalsize: blob.length,
      off_mem_rsvmap: 48,
      num_mem_rsv: 0,
    });
  });

  it("dtc decompiles it without warnings", () => {
    const dts = decompile(encodeFdt(khoTree()));
    expect(dts).toContain('compatible = "kho-v1";');
    expect(dts).toContain("preserved-memory-map = <0x604523 0x1000000>;");
    expect(dts).toMatch(/memblock \{\s+fdt = <0x00 0x1000000>;/);
    // and the source dtc printed compiles back to the same tree
    expect(plain(decodeFdt(compileDts(dts).blob))).toEqual(plain(khoTree()));
  });

  it("fdtdump shows the header we wrote and the properties", () => {
    const blob = new FdtBuilder({ bootCpuidPhys: 2 })
      .addReservation(0x8000_0000n, 0x1000n)
      .beginNode("")
      .propString("compatible", "kho-v1")
      .propU64le("preserved-memory-map", 0x1_2345_6000n)
      .beginNode("memblock")
      .propU64le("fdt", 0x1_0000_0000n)
      .endNode()
      .endNode()
      .finish();
    const r = runTool("fdtdump", [writeBlob(blob)]);
    expect(r.status, r.stderr).toBe(0);
    const h = readFdtHeader(blob);
    const field = (name: string) => {
      const m = new RegExp(`// ${name}:\\s+(0x[0-9a-f]+|\\d+)`).exec(r.stdout);
      expect(m, `fdtdump prints ${name}`).not.toBeNull();
      return Number(m![1]);
    };
    expect(field("magic")).toBe(0xd00dfeed);
    expect(field("totalsize")).toBe(blob.length);
    expect(field("off_dt_struct")).toBe(h.offDtStruct);
    expect(field("off_dt_strings")).toBe(h.offDtStrings);
    expect(field("off_mem_rsvmap")).toBe(48);
    expect(field("version")).toBe(17);
    expect(field("last_comp_version")).toBe(16);
    expect(field("boot_cpuid_phys")).toBe(2);
    expect(field("size_dt_strings")).toBe(h.sizeDtStrings);
    expect(field("size_dt_struct")).toBe(h.sizeDtStruct);
    expect(r.stdout).toContain("/memreserve/ 0x80000000 0x1000;");
    expect(r.stdout).toContain('compatible = "kho-v1";');
    expect(r.stdout).toContain("preserved-memory-map = <0x00604523 0x01000000>;");
    expect(r.stdout).toMatch(/memblock \{\s+fdt = <0x00000000 0x01000000>;/);
  });
});

describe("byte-for-byte equality with libfdt's sequential writer", () => {
  it("matches pylibfdt FdtSw for random trees", () => {
    const specs = fc.sample(treeArb(), { numRuns: 40, seed: 0x5eed });
    const toJson = (s: TreeSpec) => ({
      rsv: s.reservations.map((r) => [r.address.toString(16), r.size.toString(16)]),
      root: (function node(n: TreeSpec["root"]): unknown {
        return {
          name: n.name,
          props: n.props.map(([k, v]) => [k, toHex(v)]),
          children: n.children.map(node),
        };
      })(s.root),
    });
    const expected = JSON.parse(runPython(PY_BUILD, JSON.stringify(specs.map(toJson)))) as string[];
    specs.forEach((spec, i) => {
      const ours = encodeFdt(buildTree({ ...spec, bootCpuidPhys: 0 }));
      expect(toHex(ours), `tree #${i}`).toBe(expected[i]);
    });
  });

  it("python libfdt walks our random blobs to the same tree", () => {
    const trees = fc.sample(treeArb(), { numRuns: 30, seed: 42 }).map(buildTree);
    expect(libfdtView(trees.map((t) => encodeFdt(t)))).toEqual(trees.map(plain));
  });
});

describe("dtc interop", () => {
  it("decompiles random blobs without warnings, and its source compiles back to the same tree", () => {
    for (const spec of fc.sample(treeArb(dtcSafeNames), { numRuns: 8, seed: 7 })) {
      const tree = buildTree(spec);
      const dts = decompile(encodeFdt(tree));
      const back = decodeFdt(compileDts(dts, ["-b", String(tree.bootCpuidPhys)]).blob);
      expect(plain(back)).toEqual(plain(tree));
    }
  });

  it("fdtToDts output compiles with dtc to the same tree", () => {
    for (const spec of fc.sample(treeArb(dtcSafeNames), { numRuns: 8, seed: 11 })) {
      const tree = buildTree({ ...spec, bootCpuidPhys: 0 });
      const { blob, stderr } = compileDts(fdtToDts(tree));
      expect(stderr).toBe("");
      expect(plain(decodeFdt(blob))).toEqual(plain(tree));
    }
    const special = new FdtNode("")
      .setString("esc", 'a"b\\c\td\ne\rf\x07\x08\x0b\x0c')
      .setStringList("l", ["", "x"]);
    expect(plain(decodeFdt(compileDts(fdtToDts(special)).blob))).toEqual(
      plain(createFdtTree({ root: special })),
    );
  });

  const BOARD = `/dts-v1/;

/memreserve/ 0x10000000 0x4000;
/memreserve/ 0x20000000 0x100000;

/ {
	#address-cells = <2>;
	#size-cells = <1>;
	compatible = "acme,board", "acme,soc";
	model = "Test board";

	memory@80000000 {
		device_type = "memory";
		reg = <0x0 0x80000000 0x40000000>;
	};

	soc@10000000 {
		#address-cells = <1>;
		#size-cells = <1>;
		ranges = <0x0 0x0 0x10000000 0x100000>;

		uart0: serial@1000 {
			compatible = "ns16550a";
			reg = <0x1000 0x100>;
			status = "okay";
			dma-coherent;
		};

		serial@2000 {
			compatible = "ns16550a";
			reg = <0x2000 0x100>;
			status = "disabled";
		};
	};

	chosen {
		bootargs = "console=ttyS0 kho=on";
		stdout-path = &uart0;
	};
};
`;

  function checkBoard(tree: FdtTree): void {
    expect(tree.reservations).toEqual([
      { address: 0x1000_0000n, size: 0x4000n },
      { address: 0x2000_0000n, size: 0x10_0000n },
    ]);
    const root = tree.root;
    expect(root.getU32("#address-cells")).toBe(2);
    expect(root.getStringList("compatible")).toEqual(["acme,board", "acme,soc"]);
    expect(root.getString("model")).toBe("Test board");
    const memory = root.getChild("memory");
    expect(memory.name).toBe("memory@80000000");
    expect(memory.unitAddress).toBe("80000000");
    expect(memory.getU32Array("reg")).toEqual([0, 0x8000_0000, 0x4000_0000]);
    const soc = root.getChild("soc");
    expect(soc.getU32Array("ranges")).toEqual([0, 0, 0x1000_0000, 0x10_0000]);
    expect(soc.getChild("serial@1000").getBytes("dma-coherent").length).toBe(0);
    expect(soc.children.map((c) => c.name)).toEqual(["serial@1000", "serial@2000"]);
    expect(soc.getChild("serial").getString("status")).toBe("okay"); // first unit-address match
    expect(root.findNode("/soc@10000000/serial@2000")?.getString("status")).toBe("disabled");
    expect(root.findNode("/soc/serial@1000")?.getU32Array("reg")).toEqual([0x1000, 0x100]);
    expect(root.getChild("chosen").getString("bootargs")).toBe("console=ttyS0 kho=on");
    expect(root.getChild("chosen").getString("stdout-path")).toBe("/soc@10000000/serial@1000");
  }

  it("decodes dtc-compiled nested nodes, unit addresses, string lists, cells, /memreserve/, empty properties", () => {
    const { blob, stderr } = compileDts(BOARD);
    expect(stderr).toBe("");
    const h = readFdtHeader(blob);
    expect(h.offMemRsvmap).toBe(40); // dtc's layout differs from libfdt's; both must decode
    const tree = decodeFdt(blob);
    checkBoard(tree);
    // Re-encoding gives libfdt's layout and python libfdt reads it identically.
    expect(libfdtView([encodeFdt(tree)])).toEqual([plain(tree)]);
  });

  it("decodes dtc's version-16, padded, extra-reservation-slot and boot-cpu variants", () => {
    const variants: [string, string[]][] = [
      ["version 16", ["-V", "16"]],
      ["padded", ["-p", "256"]],
      ["aligned", ["-a", "64"]],
      ["spare reservation slots", ["-R", "3"]],
      ["boot cpu", ["-b", "5"]],
    ];
    for (const [label, args] of variants) {
      const { blob } = compileDts(BOARD, args);
      const tree = decodeFdt(blob);
      checkBoard(tree);
      if (label === "version 16") expect(readFdtHeader(blob).version).toBe(16);
      if (label === "boot cpu") expect(tree.bootCpuidPhys).toBe(5);
    }
  });

  it("decodes u64 cells, byte strings, labels/phandles and the KHO shape written as dts", () => {
    const { blob, stderr } = compileDts(`/dts-v1/;
/ {
	compatible = "kho-v1";
	preserved-memory-map = [00 60 45 23 01 00 00 00];
	big = /bits/ 64 <0x123456789abcdef0>;
	two64 = /bits/ 64 <0x1 0xffffffffffffffff>;
	cells64 = <0x12345678 0x9abcdef0>;
	bytes = [de ad be ef 01];
	flag;
	mixed = "str", [00 01], <2>;

	target: memblock {
		fdt = [00 00 00 00 01 00 00 00];
	};

	user {
		ref = <&target>;
	};
};
`);
    expect(stderr).toBe("");
    const root = decodeFdt(blob).root;
    expect(root.getStringList("compatible")).toEqual(["kho-v1"]);
    expect(root.getU64le("preserved-memory-map")).toBe(0x1_2345_6000n);
    expect(root.getU64("big")).toBe(0x1234_5678_9abc_def0n);
    expect(root.getU32Array("two64")).toEqual([0, 1, 0xffffffff, 0xffffffff]);
    expect(root.getU64be("cells64")).toBe(0x1234_5678_9abc_def0n);
    expect(toHex(root.getBytes("bytes"))).toBe("deadbeef01");
    expect(root.hasProperty("flag")).toBe(true);
    expect(toHex(root.getBytes("mixed"))).toBe(`${toHex(new TextEncoder().encode("str\0"))}000100000002`);
    const memblock = root.getChild("memblock");
    expect(memblock.getU64le("fdt")).toBe(0x1_0000_0000n);
    expect(root.getChild("user").getU32("ref")).toBe(memblock.getU32("phandle"));
  });
});
