import { test } from 'node:test';
import { e2eGate } from '../helpers/lab.js';
import { runOpenDoorScenario, runOwnTableScenario } from '../helpers/open-door-lab.js';

const gate = e2eGate({ tools: ['knock', 'nft'] });

test('Firewall = nft, IPv4 and IPv6, our client and Debian knock: Open = 2222:tcp opens for the knocker only, a re-knock keeps it open, and the kernel closes it within cmd_timeout + 1 s after kill -9 with the state dir gone', { skip: gate.skip, timeout: 90_000 }, async (t) => {
  await runOpenDoorScenario(t, 'nft');
});

test('a host with its own nft ruleset: --own-table puts the sets in its table, NftTable = filter makes nfknockd fill them, the kernel closes the door', { skip: gate.skip, timeout: 60_000 }, async (t) => {
  await runOwnTableScenario(t);
});
