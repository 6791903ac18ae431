// @ts-check
// A local typedoc plugin: `{@link Name}` to a symbol of another module of the same package resolves.
// The reference is organised in modules per layer (driver, testkit, schema, hw, kernel, kho, luo),
// and typedoc only looks a bare name up in the scopes around the comment — so a link from kho to
// kernel's `CmdlineError` that resolved when everything was one flat module would now fail
// (warnings are errors). Before links are resolved, this points every unresolved bare `Name` or
// `Name.member` link at the one exported declaration of that name; ambiguous names are left to
// typedoc (and then warn, as they should).
import { Converter, Reflection, ReflectionKind } from "typedoc";

const LINK_TAGS = new Set(["@link", "@linkcode", "@linkplain"]);
const NAME = /^\s*([A-Za-z_$][\w$]*)(?:\.([A-Za-z_$][\w$]*))?\s*(?:\||$)/;

/** @param {import("typedoc").Application} app */
export function load(app) {
  app.converter.on(
    Converter.EVENT_RESOLVE_BEGIN,
    (context) => {
      const project = context.project;
      /** @type {Map<string, Reflection[]>} */
      const byName = new Map();
      for (const reflection of Object.values(project.reflections)) {
        if (
          !reflection.kindOf(ReflectionKind.SomeExport) ||
          !reflection.parent?.kindOf(ReflectionKind.SomeModule)
        )
          continue;
        const list = byName.get(reflection.name) ?? [];
        list.push(reflection);
        byName.set(reflection.name, list);
      }
      /** @param {readonly import("typedoc").CommentDisplayPart[]} parts */
      const fix = (parts) => {
        for (const part of parts) {
          if (part.kind !== "inline-tag" || !LINK_TAGS.has(part.tag)) continue;
          if (typeof part.target === "string" || part.target instanceof Reflection) continue;
          if (part.target !== undefined && project.getReflectionsFromSymbolId(part.target).length > 0)
            continue;
          const match = NAME.exec(part.text);
          const candidates = match === null ? undefined : byName.get(match[1] ?? "");
          if (match === null || candidates === undefined || candidates.length !== 1) continue;
          const owner = candidates[0];
          const member = match[2] === undefined ? owner : owner?.getChildByName(match[2]);
          if (member !== undefined) /** @type {{ target: unknown }} */ (part).target = member;
        }
      };
      for (const reflection of Object.values(project.reflections)) {
        const comment = reflection.comment;
        if (comment === undefined) continue;
        fix(comment.summary);
        for (const tag of comment.blockTags) fix(tag.content);
      }
    },
    // Before typedoc's own handlers of this event.
    200,
  );
}
