/** Pads rows of cells into aligned columns separated by two spaces (trailing spaces trimmed). */
export function textTable(rows: readonly (readonly string[])[], separator = "  "): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, c) => {
      widths[c] = Math.max(widths[c] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join(separator)
      .trimEnd(),
  );
}
