/**
 * The KHO concepts page's example: preserve a folio and a subtree, kexec, restore them.
 * Type-checked by `npm test` and run by packages/core/test/docs/kho-example.test.ts.
 */
import { bootKernel, defineKernelBuild, FdtBuilder, kexecBoot, Machine } from "@liveupdate/core";

export function khoHandoverExample(): { survived: boolean; answer: number } {
  const v1 = defineKernelBuild({ version: "6.16.0" });
  const v2 = defineKernelBuild({ version: "6.17.0" });
  const machine = new Machine({ memory: "4G" });

  // Boot 1: allocate a 2 MiB folio, fill it, preserve it, and describe it in a subtree.
  const { kernel, kho } = bootKernel(machine, { build: v1, cmdline: "kho=on" });
  const folio = kernel.allocPages(9);
  machine.memory.fill(folio, 2 * 1024 * 1024, 0xa5);
  kho.preserveFolio(folio, 9);
  const state = new FdtBuilder()
    .beginNode("")
    .propString("compatible", "example-v1")
    .propU64le("buffer", BigInt(folio)) // physical addresses only: the next kernel's virtual layout differs
    .propU32("answer", 42)
    .endNode()
    .finish();
  kho.publishSubtree("example", state);
  kho.finalize();

  // kexec: load the next build, then reboot. Everything not preserved is poisoned.
  kernel.kexecLoad(v2);
  const next = kexecBoot(kernel.reboot());

  // Boot 2: find the subtree, restore the folio it points to, check the contents.
  const subtree = next.kho.retrieveSubtree("example");
  const buffer = Number(subtree.tree.root.getU64le("buffer"));
  next.kho.restoreFolio(buffer, 9);
  const survived = machine.memory.read(buffer, 2 * 1024 * 1024).every((byte) => byte === 0xa5);
  return { survived, answer: subtree.tree.root.getU32("answer") };
}
