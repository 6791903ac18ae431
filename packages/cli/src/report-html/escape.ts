/** Text for HTML content and attribute values: `& < > " '` escaped (report strings are user-controlled). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Milliseconds with one decimal, from nanoseconds. */
export function msText(ns: number): string {
  return `${(ns / 1e6).toFixed(ns < 1e6 ? 3 : 1)} ms`;
}
