// @ts-check
// A local typedoc plugin: puts each exported declaration into a category named after the folder or
// file it is declared in (the table below), so a module page reads by topic — decorators, hook
// contracts, hook contexts… — instead of one alphabetical list per kind. The layout of the source is
// the architecture (DESIGN.md §4), so the categories follow it without tagging declarations by hand;
// an explicit @category wins. Error classes are left to error-groups.mjs.
import { Comment, CommentTag, Converter, ReflectionKind } from "typedoc";

/** Path fragment (under a package's src/) → category; the first match wins. */
const CATEGORIES = [
  ["driver/decorators/", "Decorators"],
  ["driver/hooks/", "Hook contracts"],
  ["luo/handlers/contexts.", "Hook contexts"],
  ["luo/handlers/hook-", "Hook tables"],
  ["luo/handlers/metadata", "Declarations"],
  ["luo/handlers/types.", "Declarations"],
  ["luo/handlers/tokens.", "Injection tokens"],
  ["driver/phase-table.", "Phase guards"],
  ["testkit/harness.", "Harness"],
  ["testkit/conformance.", "Conformance suite"],
  ["testkit/report.", "Conformance suite"],
  ["testkit/", "Tools for tests"],
  ["schema/declare/", "Declaring structs"],
  ["schema/versions/", "Versions and migrators"],
  ["schema/codec/", "Codecs"],
  ["schema/catalog/", "Catalogs and negotiation"],
  ["schema/laws/", "Law checks"],
  ["schema/layout/", "Layouts"],
  ["schema/lock/", "Schema locks"],
  ["schema/dump/", "Dumps and C headers"],
  ["schema/validate/", "Validation and values"],
  ["schema/values/", "Validation and values"],
  ["schema/memory/", "Schema memory"],
  ["common/range-set.", "Validation and values"],
  ["hw/machine.", "Machine"],
  ["hw/clock.", "Machine"],
  ["hw/dma.", "DMA"],
  ["hw/", "Physical memory"],
  ["kernel/buddy.", "Allocators"],
  ["kernel/memblock.", "Allocators"],
  ["kernel/ranges.", "Allocators"],
  ["kernel/", "Boot and kexec"],
  ["kho/fdt/", "Flattened device tree"],
  ["kho/abi.", "kho-v1 format"],
  ["kho/incoming.", "Incoming handover"],
  ["kho/memory-map-reader.", "Incoming handover"],
  ["kho/handover-image.", "Incoming handover"],
  ["kho/", "Preservation"],
  ["luo/handover-", "LUO handover format"],
  ["luo/timeline.", "Timeline"],
  ["luo/boot.", "Booting a live-update kernel"],
  ["luo/container.", "Booting a live-update kernel"],
  ["luo/", "Orchestrator"],
  ["common/", "Utilities"],
  // @liveupdate/cli
  ["cli/src/builds/", "Shipped builds"],
  ["cli/src/matrix/", "Compatibility matrix"],
  ["cli/src/inspect/", "Inspection"],
  ["cli/src/artifacts/", "Handover artifacts"],
  ["cli/src/selftest/", "KHO self-test"],
  ["cli/src/progress/", "Progress"],
  ["cli/src/", "Command"],
];

/** @param {import("typedoc").Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!reflection.parent?.kindOf(ReflectionKind.SomeModule)) return;
    const file = context.getSymbolFromReflection(reflection)?.declarations?.[0]?.getSourceFile().fileName;
    const category =
      file === undefined
        ? undefined
        : CATEGORIES.find(([fragment]) =>
            file.includes(fragment.startsWith("cli/") ? `/${fragment}` : `/src/${fragment}`),
          );
    if (category === undefined) return;
    reflection.comment ??= new Comment();
    if (reflection.comment.blockTags.some((tag) => tag.tag === "@category" || tag.tag === "@group")) return;
    reflection.comment.blockTags.push(new CommentTag("@category", [{ kind: "text", text: category[1] }]));
  });
}
