/**
 * A state file that is no longer JSON (cut short by a full disk, mangled by an editor) still holds
 * the stop commands of doors that are open: every record that can be read is kept, and every one
 * that cannot is named (door, source) so the admin knows what to close by hand. Pure.
 */
import { parseState, STATE_FORMAT, STATE_VERSION, type ParsedState } from './state-format.js';

const MAX_NAMED = 64;

/** parseState, and when the text is not JSON at all, the records that survive in it. */
export function parseStateLeniently(text: string): ParsedState {
  const parsed = parseState(text);
  if (parsed.readable || !parsed.problems[0]?.startsWith('not valid JSON') || !text.includes(`"${STATE_FORMAT}"`)) return parsed;
  const { complete, cutOff } = recordTexts(text);
  const recovered = complete.map((record) => {
    try {
      return parseState(`{"format":"${STATE_FORMAT}","version":${STATE_VERSION},"pending":[${record}]}`);
    } catch {
      return undefined;
    }
  });
  const pending = recovered.flatMap((result) => (result?.readable ? result.pending : []));
  const problems = [`${parsed.problems[0]}; ${pending.length} record(s) recovered`];
  recovered.forEach((result, index) => {
    if (!result?.readable) problems.push(`a record could not be read${named(complete[index] as string)}`);
    else for (const problem of result.problems) problems.push(problem.replace(/^pending\[0\]/, 'a recovered record'));
  });
  for (const record of cutOff.slice(0, MAX_NAMED)) problems.push(`a record was cut off${named(record)}: close its door by hand`);
  if (cutOff.length > MAX_NAMED) problems.push(`${cutOff.length - MAX_NAMED} more records were cut off`);
  return { pending, problems, readable: pending.length > 0 };
}

/** The texts of the objects inside the "pending" array: complete ones, and ones the file cuts off. */
function recordTexts(text: string): { complete: string[]; cutOff: string[] } {
  const complete: string[] = [];
  const stack: string[] = [];
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (c === '{' && stack.length === 2 && stack[0] === '{' && stack[1] === '[') start = i;
      stack.push(c);
    } else if (c === '}' || c === ']') {
      stack.pop();
      if (c === '}' && stack.length === 2 && start >= 0) {
        complete.push(text.slice(start, i + 1));
        start = -1;
      }
    }
  }
  return { complete, cutOff: start >= 0 ? [text.slice(start)] : [] };
}

function named(record: string): string {
  const field = (name: string) => new RegExp(`"${name}"\\s*:\\s*"((?:[^"\\\\]|\\\\.){0,256})`).exec(record)?.[1];
  const parts = [['door', field('door')], ['source', field('source')]].filter(([, value]) => value !== undefined).map(([name, value]) => `${name} "${value}"`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}
