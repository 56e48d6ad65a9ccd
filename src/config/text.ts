/**
 * Text helpers that match knockd's C behaviour byte for byte: knockd trims with isspace() in the C
 * locale and compares keys after toupper(), both ASCII-only. JavaScript's trim() and toLowerCase()
 * know Unicode (trim eats U+00A0, 'K' (Kelvin) lower-cases to 'k'), which would change what a
 * command means or let an exotic spelling match a key knockd would refuse.
 */
const C_SPACE = new Set([' ', '\t', '\n', '\v', '\f', '\r']);

export function cTrim(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && C_SPACE.has(text[start] as string)) start++;
  while (end > start && C_SPACE.has(text[end - 1] as string)) end--;
  return text.slice(start, end);
}

export function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** Lines as knockd's fgets() sees them (split on LF only; a CR before it is trimmed like any space). */
export function splitLines(text: string): string[] {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  return body.split('\n');
}

export const CONTROL_CHARACTER = /[\u0000-\u0008\u000a-\u001f\u007f]/;
