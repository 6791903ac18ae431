/** Each planted fault of issues 14 and 15 makes its named check fail, with a message to act on. */
import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { type ConformanceReport, verifyDriverConformance } from "../../src/testkit/index.js";
import {
  BlobDriver,
  blobOptions,
  CopiedObjectBlobDriver,
  ForgetfulBlobDriver,
  ForgetfulDownBlobDriver,
  KeptObjectBlobDriver,
  PageTrustingBlobDriver,
  TruncatingBlobDriver,
  VirtualPageBlobDriver,
} from "./drivers.js";

const failuresOf = (report: ConformanceReport, name: string) =>
  report.checks.find((c) => c.name === name)!.failures.map((f) => f.message);

describe("planted faults", () => {
  it("a lossy up fails migrator-laws, naming the field it loses", () => {
    const report = verifyDriverConformance(TruncatingBlobDriver, {
      ...blobOptions(),
      checks: ["migrator-laws"],
    });
    const [first] = failuresOf(report, "migrator-laws");
    expect(first).toMatch(
      /^truncblob v1↔v2: down\(up\(x\)\) = x fails for .*: down\(up\(x\)\) ≠ x: value: expected 65536, got 0 \(down\(up\(x\)\) = /,
    );
  });

  it("a migrator that changes a field it should keep fails migrator-laws, naming the field", () => {
    const report = verifyDriverConformance(ForgetfulDownBlobDriver, {
      ...blobOptions(),
      checks: ["migrator-laws"],
    });
    const failures = failuresOf(report, "migrator-laws");
    expect(failures[0]).toMatch(
      /cookieblob v1↔v2: down\(up\(x\)\) = x fails for .*: down\(up\(x\)\) ≠ x: cookie: expected 1n, got 0n/,
    );
  });

  it("a forgotten page fails poison (and says the plain update passes)", () => {
    const report = verifyDriverConformance(ForgetfulBlobDriver, {
      ...blobOptions(),
      checks: ["update", "poison"],
    });
    expect(failuresOf(report, "update")).toEqual([]);
    expect(failuresOf(report, "poison")[0]).toMatch(
      /depends on memory that was not preserved .*ctx\.preservePages\/preserveFolio/,
    );
  });

  it("a virtual address: the check and the restore's error say so, and name the field", () => {
    const report = verifyDriverConformance(VirtualPageBlobDriver, {
      ...blobOptions(),
      checks: ["update", "virtual-addresses"],
    });
    const va = failuresOf(report, "virtual-addresses");
    expect(va[0]).toMatch(
      /serialized state \(blob-v1\) at 0x[0-9a-f]+ \(field page\) holds 0xffff[0-9a-f]+, which looks like a direct-map virtual address of the old boot \(its __va\(0x[0-9a-f]+\)\): handover data must hold physical addresses only — store the physical address in page/,
    );
    // The restore fails on it: the error names the address as virtual and the field holding it.
    expect(va.at(-1)).toMatch(
      /the update failed: .*folio 0xffff[0-9a-f]+ order 0 is not listed for this object in the handover: it looks like a direct-map virtual address of the old boot \(field page\), not a physical address/,
    );
    expect(failuresOf(report, "update")[0]).toMatch(
      /it looks like a direct-map virtual address of the old boot \(field page\)/,
    );
  });

  it("a restore that returns the old kernel's object (kept in module state) fails update", () => {
    const report = verifyDriverConformance(KeptObjectBlobDriver, { ...blobOptions(), checks: ["update"] });
    expect(failuresOf(report, "update")[0]).toMatch(
      /^token 1: restored is the old kernel's object #1: state that never crossed physical memory \(kept in module state\?\)/,
    );
  });

  it("a restore that copies the old kernel's object instead of decoding its state fails update", () => {
    const report = verifyDriverConformance(CopiedObjectBlobDriver, { ...blobOptions(), checks: ["update"] });
    expect(failuresOf(report, "update")[0]).toMatch(
      /^token 1 is a copy of the old kernel's object, made while the testkit had scrambled it .*: expected \d+, restored \d+/,
    );
  });

  it("corruption trials also flip bits of a driver's own in-place pages: a restore that trusts them crashes", () => {
    const report = verifyDriverConformance(PageTrustingBlobDriver, {
      ...blobOptions(),
      checks: ["corruption"],
      corruption: { trials: 48 },
    });
    const failures = failuresOf(report, "corruption").filter((f) => /in-place page 0x[0-9a-f]+ \+0x/.test(f));
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatch(
      /the restore failed with an untyped exception .*a page it preserved in place changed/,
    );
  });

  it("the correct driver passes the same checks", () => {
    const report = verifyDriverConformance(BlobDriver, {
      ...blobOptions(),
      checks: ["update", "poison", "virtual-addresses"],
    });
    expect(report.checks.flatMap((c) => c.failures)).toEqual([]);
  });
});
