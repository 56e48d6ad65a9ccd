/**
 * The dotted quad of four bytes, as core/address.ts's formatIPv4 writes it, built as one flat string.
 * A template literal concatenates seven pieces, allocating an intermediate string for each and ending
 * in a cons string that the matcher's hash then flattens into yet another copy: for a spoofed flood,
 * where every packet has a new source, that was most of the decoder's garbage. Here the character
 * codes go into a scratch array and one String.fromCharCode call of the exact arity makes the string.
 */
const codes = new Uint8Array(15);
const DOT = 0x2e;
const ZERO = 0x30;

function putOctet(value: number, at: number): number {
  if (value >= 100) {
    codes[at++] = ZERO + ((value / 100) | 0);
    codes[at++] = ZERO + (((value / 10) | 0) % 10);
  } else if (value >= 10) {
    codes[at++] = ZERO + ((value / 10) | 0);
  }
  codes[at++] = ZERO + (value % 10);
  return at;
}

export function ipv4Text(bytes: Uint8Array, offset: number): string {
  let n = putOctet(bytes[offset] as number, 0);
  codes[n++] = DOT;
  n = putOctet(bytes[offset + 1] as number, n);
  codes[n++] = DOT;
  n = putOctet(bytes[offset + 2] as number, n);
  codes[n++] = DOT;
  n = putOctet(bytes[offset + 3] as number, n);
  const c = codes;
  switch (n) {
    case 7:
      return String.fromCharCode(c[0]!, c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!);
    case 8:
      return String.fromCharCode(c[0]!, c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!);
    case 9:
      return String.fromCharCode(c[0]!, c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!, c[8]!);
    case 10:
      return String.fromCharCode(c[0]!, c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!, c[8]!, c[9]!);
    case 11:
      return String.fromCharCode(c[0]!, c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!, c[8]!, c[9]!, c[10]!);
    case 12:
      return String.fromCharCode(c[0]!, c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!, c[8]!, c[9]!, c[10]!, c[11]!);
    case 13:
      return String.fromCharCode(c[0]!, c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!, c[8]!, c[9]!, c[10]!, c[11]!, c[12]!);
    case 14:
      return String.fromCharCode(c[0]!, c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!, c[8]!, c[9]!, c[10]!, c[11]!, c[12]!, c[13]!);
    default:
      return String.fromCharCode(c[0]!, c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!, c[8]!, c[9]!, c[10]!, c[11]!, c[12]!, c[13]!, c[14]!);
  }
}
