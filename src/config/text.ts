/**
 * Text helpers that match knockd's C behaviour byte for byte: knockd trims with isspace() in the C
 * locale and compares keys after toupper(), both ASCII-only. JavaScript's trim() and toLowerCase()
 * know Unicode (trim eats U+00A0, 'K' (Kelvin) lower-cases to 'k'), which would change what a
 * command means or let an exotic spelling match a key knockd would refuse.
 */
/** isspace() in the C locale: ' ', '\t', '\n', '\v', '\f', '\r' (char codes, for the loops that run per config line). */
function isCSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13);
}

export function cTrim(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isCSpace(text.charCodeAt(start))) start++;
  while (end > start && isCSpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

const ASCII_UPPER = /[A-Z]/;

export function asciiLower(text: string): string {
  // Most keys and protocols are written in lower case already: no new string for them.
  if (!ASCII_UPPER.test(text)) return text;
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** Lines as knockd's fgets() sees them (split on LF only; a CR before it is trimmed like any space). */
export function splitLines(text: string): string[] {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  return body.split('\n');
}

/**
 * `splitLines(text).forEach(visit)` with 1-based line numbers, without the array: a line no longer
 * needed is garbage at once, instead of being kept (and copied by each young GC) until the last one.
 */
export function forEachLine(text: string, visit: (raw: string, line: number) => void): void {
  const from = text.startsWith('\uFEFF') ? 1 : 0;
  for (let start = from, line = 1; ; line++) {
    const newline = text.indexOf('\n', start);
    visit(text.slice(start, newline === -1 ? text.length : newline), line);
    if (newline === -1) return;
    start = newline + 1;
  }
}

export const CONTROL_CHARACTER = /[\u0000-\u0008\u000a-\u001f\u007f]/;
