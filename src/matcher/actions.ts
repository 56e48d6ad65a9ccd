import type { Door, Family, Protocol } from '../core/types.js';
import type { Candidate } from './sequences.js';

export type MatcherAction =
  | { kind: 'stage'; door: Door; source: string; family: Family; stage: number; at: number }
  | { kind: 'broken'; door: Door; source: string; family: Family; stage: number; at: number; port: number; protocol: Protocol }
  | { kind: 'open'; door: Door; source: string; family: Family; at: number; sequence: Candidate }
  /** A complete sequence that already opened its door once (time step used, one-time line used). */
  | { kind: 'replay'; door: Door; source: string; family: Family; at: number; sequence: Candidate }
  | { kind: 'expire'; door: Door; source: string; family: Family; stage: number; at: number }
  | { kind: 'evict'; door: Door; source: string; family: Family; stage: number; at: number };

type Of<K extends MatcherAction['kind']> = Extract<MatcherAction, { kind: K }>;

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
    this.stageAction = { kind: 'stage', door, source: '', family: 4, stage: 0, at: 0 };
    this.brokenAction = { kind: 'broken', door, source: '', family: 4, stage: 0, at: 0, port: 0, protocol: 'tcp' };
    this.expireAction = { kind: 'expire', door, source: '', family: 4, stage: 0, at: 0 };
    this.evictAction = { kind: 'evict', door, source: '', family: 4, stage: 0, at: 0 };
  }

  stage(door: Door, source: string, family: Family, stage: number, at: number): Of<'stage'> {
    const action = this.stageAction;
    return action ? refill(action, door, source, family, stage, at) : { kind: 'stage', door, source, family, stage, at };
  }

  /** 'expire' or 'evict': the same fields. */
  ended(kind: 'expire' | 'evict', door: Door, source: string, family: Family, stage: number, at: number): Of<'expire' | 'evict'> {
    const action = kind === 'expire' ? this.expireAction : this.evictAction;
    return action ? refill(action, door, source, family, stage, at) : { kind, door, source, family, stage, at };
  }

  broken(door: Door, source: string, family: Family, stage: number, at: number, port: number, protocol: Protocol): Of<'broken'> {
    const action = this.brokenAction;
    if (!action) return { kind: 'broken', door, source, family, stage, at, port, protocol };
    action.port = port;
    action.protocol = protocol;
    return refill(action, door, source, family, stage, at);
  }
}

function refill<A extends Of<'stage' | 'expire' | 'evict' | 'broken'>>(action: A, door: Door, source: string, family: Family, stage: number, at: number): A {
  action.door = door;
  action.source = source;
  action.family = family;
  action.stage = stage;
  action.at = at;
  return action;
}
