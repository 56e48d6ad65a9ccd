import type { Door, Family, Protocol } from '../core/types.js';
import type { Candidate } from './sequences.js';

/**
 * `doors` (stage, broken, expire, evict): every door the action stands for, in config order, `door`
 * being `doors[0]`. Doors sharing their first stage (`DoorGroups`) share one attempt, so one action
 * reports what knockd would report once per door; consumers that log per door walk `doors`.
 */
export type MatcherAction =
  | { kind: 'stage'; door: Door; doors: readonly Door[]; source: string; family: Family; stage: number; at: number }
  | { kind: 'broken'; door: Door; doors: readonly Door[]; source: string; family: Family; stage: number; at: number; port: number; protocol: Protocol }
  | { kind: 'open'; door: Door; source: string; family: Family; at: number; sequence: Candidate }
  /** A complete sequence that already opened its door once (time step used, one-time line used). */
  | { kind: 'replay'; door: Door; source: string; family: Family; at: number; sequence: Candidate }
  | { kind: 'expire'; door: Door; doors: readonly Door[]; source: string; family: Family; stage: number; at: number }
  | { kind: 'evict'; door: Door; doors: readonly Door[]; source: string; family: Family; stage: number; at: number };

type Of<K extends MatcherAction['kind']> = Extract<MatcherAction, { kind: K }>;

/**
 * Where an action's time comes from: the event (or a tick's `{ at: now }`). The time is read here, not
 * passed as a number, because an epoch-ms time is no small integer: handing it to a call the compiler
 * does not inline boxes it in a fresh heap number, two per packet of a flood.
 */
export interface When {
  readonly at: number;
}

/**
 * Makes the matcher's actions: a new object each time, or (`reuse`) one object per kind refilled each
 * time, so that a flood, where every packet stages or evicts, allocates no action at all.
 */
export class ActionMaker {
  private readonly stageAction: Of<'stage'> | undefined;
  private readonly expireAction: Of<'expire' | 'evict'> | undefined;
  private readonly evictAction: Of<'expire' | 'evict'> | undefined;
  private readonly brokenAction: Of<'broken'> | undefined;

  constructor(reuse: boolean, door: Door | undefined) {
    if (!reuse || !door) return;
    const doors = [door];
    this.stageAction = { kind: 'stage', door, doors, source: '', family: 4, stage: 0, at: 0 };
    this.brokenAction = { kind: 'broken', door, doors, source: '', family: 4, stage: 0, at: 0, port: 0, protocol: 'tcp' };
    this.expireAction = { kind: 'expire', door, doors, source: '', family: 4, stage: 0, at: 0 };
    this.evictAction = { kind: 'evict', door, doors, source: '', family: 4, stage: 0, at: 0 };
  }

  /** `doors` is never empty. */
  stage(doors: readonly Door[], source: string, family: Family, stage: number, when: When): Of<'stage'> {
    const action = this.stageAction;
    return action ? refill(action, doors, source, family, stage, when) : { kind: 'stage', door: doors[0]!, doors, source, family, stage, at: when.at };
  }

  /** 'expire' or 'evict': the same fields. */
  ended(kind: 'expire' | 'evict', doors: readonly Door[], source: string, family: Family, stage: number, when: When): Of<'expire' | 'evict'> {
    const action = kind === 'expire' ? this.expireAction : this.evictAction;
    return action ? refill(action, doors, source, family, stage, when) : { kind, door: doors[0]!, doors, source, family, stage, at: when.at };
  }

  broken(doors: readonly Door[], source: string, family: Family, stage: number, when: When, port: number, protocol: Protocol): Of<'broken'> {
    const action = this.brokenAction;
    if (!action) return { kind: 'broken', door: doors[0]!, doors, source, family, stage, at: when.at, port, protocol };
    action.port = port;
    action.protocol = protocol;
    return refill(action, doors, source, family, stage, when);
  }
}

function refill<A extends Of<'stage' | 'expire' | 'evict' | 'broken'>>(action: A, doors: readonly Door[], source: string, family: Family, stage: number, when: When): A {
  action.door = doors[0]!;
  action.doors = doors;
  action.source = source;
  action.family = family;
  action.stage = stage;
  action.at = when.at;
  return action;
}
