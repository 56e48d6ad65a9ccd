/**
 * The knockd.conf text reader, shared by knockd.conf (parse.ts) and nfknock's client.conf: whole-line
 * `#` comments, `[name]` sections, `key = value` split at the first `=`, keys compared without regard
 * to ASCII case, values trimmed of C whitespace and otherwise kept byte for byte. Which keys exist
 * in which section is the dialect's business; everything about the shape of a line is decided here.
 */
import { asciiLower, CONTROL_CHARACTER, cTrim, forEachLine } from './text.js';

export interface SectionEntry {
  /** Trimmed text after the first `=`. */
  value: string;
  line: number;
  /** The whole trimmed line, quoted back in messages. */
  text: string;
}

export interface ConfigSection<K extends string> {
  name: string;
  line: number;
  text: string;
  /** The dialect's options section (knockd.conf's `[options]`, exactly so spelt). */
  isOptions: boolean;
  entries: Map<K, SectionEntry>;
  /** A key line of this section was refused; section-level checks would only repeat the problem. */
  hadKeyProblem: boolean;
}

export interface SectionDialect<K extends string> {
  /** Name of the section holding global options, if the dialect has one. */
  optionsSection?: string;
  /** Keys written alone on their line (knockd's UseSyslog): lower-case name -> spelling in messages. */
  flags: ReadonlyMap<string, string>;
  /** The canonical key a lower-cased key stands for in this section, or undefined when unknown there. */
  keyFor(section: ConfigSection<K>, key: string): K | undefined;
  /** How a canonical key is spelt in messages. */
  spell(section: ConfigSection<K>, key: K): string;
  /** Whether a lower-cased key is known in some section (for "X needs a value"). */
  isKnown(key: string): boolean;
  unknownKey(writtenKey: string, key: string, section: ConfigSection<K>): string;
  /** Message for a key line before the first section header. */
  beforeAnySection: string;
  /** Lower-case keys of the options section that may be given on several lines (knockd.conf's Include): each line is kept, in order. */
  repeatable?: ReadonlySet<string>;
}

/** One line of a repeatable key, in file order. */
export interface RepeatedEntry extends SectionEntry {
  key: string;
}

export type SyntaxReport = (message: string, line: number, quoted: string) => void;

export function readSections<K extends string>(
  text: string,
  dialect: SectionDialect<K>,
  syntax: SyntaxReport,
): { sections: ConfigSection<K>[]; flags: Map<string, SectionEntry>; repeated: RepeatedEntry[] } {
  const sections: ConfigSection<K>[] = [];
  const sectionLines = new Map<string, number>();
  /** Each flag given, with its first line (a dialect may refuse it there). */
  const flags = new Map<string, SectionEntry>();
  const repeated: RepeatedEntry[] = [];
  let current: ConfigSection<K> | undefined;

  forEachLine(text, (raw, line) => {
    const trimmed = cTrim(raw);
    if (trimmed === '' || trimmed.startsWith('#')) return;
    if (raw.includes('\u0000')) {
      syntax('NUL byte in line', line, trimmed.replaceAll('\u0000', '\\0'));
      if (current) current.hadKeyProblem = true;
      return;
    }
    if (trimmed.startsWith('[')) {
      // A broken header swallows the lines after it into a section that is never used, so
      // they are neither attributed to the previous section nor reported as outside any section.
      current = { name: '', line, text: trimmed, isOptions: false, entries: new Map(), hadKeyProblem: true };
      if (!trimmed.endsWith(']') || trimmed.length < 2) return syntax('section header without a closing "]"', line, trimmed);
      const name = trimmed.slice(1, -1);
      if (name === '') return syntax('empty section name', line, trimmed);
      if (CONTROL_CHARACTER.test(name)) return syntax('control character in section name', line, JSON.stringify(name).slice(1, -1));
      const earlier = sectionLines.get(name);
      if (earlier !== undefined) return syntax(`section [${name}] already defined on line ${earlier}`, line, trimmed);
      sectionLines.set(name, line);
      current = { name, line, text: trimmed, isOptions: name === dialect.optionsSection, entries: new Map(), hadKeyProblem: false };
      sections.push(current);
      return;
    }
    const equals = trimmed.indexOf('=');
    const writtenKey = cTrim(equals < 0 ? trimmed : trimmed.slice(0, equals));
    const key = asciiLower(writtenKey);
    if (!current) return syntax(dialect.beforeAnySection, line, trimmed);
    const flag = dialect.flags.get(key);
    if (equals < 0) {
      if (flag !== undefined) {
        if (!flags.has(key)) flags.set(key, { value: '', line, text: trimmed });
        return;
      }
      current.hadKeyProblem = true;
      return syntax(dialect.isKnown(key) ? `${writtenKey} needs a value ("${writtenKey} = ...")` : 'line is not "key = value"', line, trimmed);
    }
    if (writtenKey === '') {
      current.hadKeyProblem = true;
      return syntax('missing key before "="', line, trimmed);
    }
    if (flag !== undefined) {
      current.hadKeyProblem = true;
      return syntax(`${flag} is a flag: write it alone on its line, without "="`, line, trimmed);
    }
    if (current.isOptions && dialect.repeatable?.has(key)) {
      repeated.push({ key, value: cTrim(trimmed.slice(equals + 1)), line, text: trimmed });
      return;
    }
    const canonical = dialect.keyFor(current, key);
    if (canonical === undefined) {
      current.hadKeyProblem = true;
      return syntax(dialect.unknownKey(writtenKey, key, current), line, trimmed);
    }
    const earlier = current.entries.get(canonical);
    if (earlier !== undefined) {
      current.hadKeyProblem = true;
      return syntax(`${dialect.spell(current, canonical)} already set on line ${earlier.line} (knockd would silently keep the last one)`, line, trimmed);
    }
    current.entries.set(canonical, { value: cTrim(trimmed.slice(equals + 1)), line, text: trimmed });
  });
  return { sections, flags, repeated };
}
