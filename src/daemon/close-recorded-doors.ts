import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Clock } from '../core/types.js';
import { systemTimers } from '../core/timers.js';
import { SequenceBook } from '../matcher/sequences.js';
import type { CommandQueue } from '../runner/command-queue.js';
import { StateStore } from '../state/state-store.js';
import type { Audit } from './audit.js';
import { Counters } from './counters.js';
import { DoorService, type DoorPorts } from './door-service.js';
import { queuedRunners } from './door-commands.js';
import { OneTimeDoors } from './one-time-doors.js';

export interface RecordedDoorsEdges {
  clock: Clock;
  logger: Logger;
  audit: Audit;
  commands: CommandQueue;
  commandTimeoutMs: number;
}

const BROKEN_CONFIG = 'the configuration cannot be used: closing every door the state dir records now, rather than leave them open with no daemon to close them';

/**
 * No daemon will run to close the doors the state dir records (the config cannot be read, or the
 * package is being removed): close them all now, early rather than never, through the same close
 * path as a daemon stopping with --close-on-exit (kernel entries of `Open =` doors removed, then stop
 * commands). Closes that fail stay recorded for the next start. Resolves with the number of doors
 * still recorded (0: all closed, or none to close).
 */
export async function closeRecordedDoors(stateDir: string, edges: RecordedDoorsEdges, why = BROKEN_CONFIG): Promise<number> {
  const { logger } = edges;
  if (!(await stat(stateDir).then((info) => info.isDirectory(), () => false))) return 0;
  const store = new StateStore(stateDir, { onProblem: (error) => logger.error({ err: error }, 'compacting the state journal failed; its records stay in the journal') });
  let loaded;
  try {
    loaded = await store.load();
  } catch (error) {
    logger.error({ err: error, stateDir }, 'cannot read the recorded open doors');
    return 1;
  }
  for (const problem of loaded.problems) logger.error({ problem }, 'state file problem');
  for (const notice of loaded.notices ?? []) logger.warn({ notice }, 'state journal');
  if (loaded.pending.length === 0) {
    await store.close();
    return 0;
  }
  logger.error({ doors: loaded.pending.length, stateDir }, why);
  const ports: DoorPorts = {
    clock: edges.clock,
    logger,
    audit: edges.audit,
    // The used time steps stay as they are: no door opens here.
    state: { record: (change) => store.record(change), saveUsedSteps: async () => undefined },
    // Open = doors' kernel entries are removed too (nft/ipset), before their stop commands.
    ...queuedRunners(edges.commands, edges.commandTimeoutMs),
    oneTime: { read: async () => [], markUsed: async () => undefined },
  };
  const sequences = new SequenceBook();
  const doors = new DoorService(ports, { counters: new Counters(), timers: systemTimers, oneTime: new OneTimeDoors(ports, sequences), usedSteps: () => new Map() }, loaded.pending);
  await doors.stop({ closeAll: true, graceMs: 0 });
  // Folds the journal into pending-closes.json: the file is whole while no daemon runs.
  await store.close();
  return doors.openDoors().length;
}
