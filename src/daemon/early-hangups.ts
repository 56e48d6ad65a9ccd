/**
 * Imported first by nfknockd: from the moment its code runs, a SIGHUP is held for the daemon instead
 * of killing it (Node's default), while the rest of the program is still loading.
 */
import { holdHangups } from './service-manager.js';

holdHangups();
