/** Holds SIGHUPs until the daemon can serve them. Imports nothing: nfknockd imports it first (early-hangups.ts). */

export interface HeldHangups {
  release(handler: () => void): void;
}

/**
 * SIGHUPs that arrive before the daemon is started are held, not lost, and never kill it: Node's
 * default for SIGHUP is to exit, which systemd counts as a clean stop that Restart=on-failure ignores.
 */
export function holdHangups(): HeldHangups {
  heldHangups ??= startHolding();
  return heldHangups;
}

let heldHangups: HeldHangups | undefined;

function startHolding(): HeldHangups {
  let held = 0;
  const hold = () => {
    held++;
  };
  process.on('SIGHUP', hold);
  return {
    release(handler) {
      process.on('SIGHUP', handler);
      process.off('SIGHUP', hold);
      if (held > 0) handler();
    },
  };
}
