/**
 * Runs an NflogSource and prints what reaches its sink as JSON lines, for e2e tests that start it
 * with `ip netns exec` (a process cannot move itself into another network namespace).
 *
 *   node nflog-source-runner.js <group> <prefix> [interface]
 */
import { NflogSource } from '../../src/sources/nflog.js';
import { filteringSink } from '../../src/sources/filtering-sink.js';
import { isNfknockError } from '../../src/core/errors.js';

const [groupText, prefix = 'portknock', interfaceName] = process.argv.slice(2);
const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const source = new NflogSource({
  group: Number(groupText),
  prefix,
  clock: { now: () => Date.now() },
  // The daemon's own filter, as src/sources/open-source.ts puts it in front of every source.
  sink: filteringSink(
    {
      event: (event) => print({ type: 'event', event }),
      reject: (reason, detail) => print({ type: 'reject', reason, detail }),
      overrun: (what) => print({ type: 'overrun', what }),
      trouble: (error) => print({ type: 'trouble', code: error.code, message: error.message }),
    },
    interfaceName ? { interface: interfaceName } : {},
  ),
});

try {
  await source.start();
  print({ type: 'started', receiveBufferBytes: source.receiveBufferBytes });
} catch (error) {
  print({ type: 'failed', code: isNfknockError(error) ? error.code : 'unknown', message: String(error) });
  process.exit(1);
}

process.on('SIGTERM', () => {
  void source.close().then(() => {
    print({ type: 'closed' });
    process.exit(0);
  });
});
