/**
 * Imported first by nfknockd: from the moment its code runs, a SIGHUP is held for the daemon instead
 * of killing it (Node's default), while the rest of the program is still loading. Its only import
 * imports nothing, so `nfknockd --help` loads none of the daemon's modules (node:crypto among them).
 */
import { holdHangups } from './hangup-hold.js';

holdHangups();
