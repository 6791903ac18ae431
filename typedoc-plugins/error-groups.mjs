// @ts-check
// A local typedoc plugin: every class that extends LiveUpdateError (directly or not) goes into an
// "Errors" group (and category) of its module, so a module page lists its API first and its error classes
// apart — errors end up grouped by layer (hw, kernel, kho, schema, luo, driver, testkit) without
// tagging each class by hand. A class that already has an explicit @group keeps it.
import { Comment, CommentTag, Converter, ReflectionKind } from "typedoc";

const ROOT_ERROR = "LiveUpdateError";
const GROUP = "Errors";

/** @param {import("typedoc").Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.Class)) return;
    const symbol = context.getSymbolFromReflection(reflection);
    if (symbol === undefined || !isError(context.checker, context.checker.getDeclaredTypeOfSymbol(symbol)))
      return;
    reflection.comment ??= new Comment();
    const tags = reflection.comment.blockTags;
    // Modules whose API is in categories (source-categories.mjs) list errors as a category too.
    for (const tag of ["@group", "@category"]) {
      if (!tags.some((t) => t.tag === tag)) tags.push(new CommentTag(tag, [{ kind: "text", text: GROUP }]));
    }
  });
}

/**
 * @param {import("typescript").TypeChecker} checker
 * @param {import("typescript").Type} type
 * @returns {boolean}
 */
function isError(checker, type) {
  if (type.getSymbol()?.getName() === ROOT_ERROR) return true;
  if (!type.isClassOrInterface()) return false;
  return (checker.getBaseTypes(type) ?? []).some((base) => isError(checker, base));
}
