/**
 * `sudo npm run bench:flood-guard`: does a real knock get through a spoofed-source flood, with and
 * without `nfknock rules --flood-guard 20/40`? Two namespaces, the generated complete IPv4 table,
 * hping3 --rand-source at ~13 000 packets/s for at most 12 s (bounded by count and time), a real
 * `nfknock knock` 8 s in. Prints one line per case with the NFKNOCK chain's counters.
 */
import { createLab, sleep } from '../test/helpers/lab.js';
import { SERVICE_PORT, knockWithNfknock, loadGeneratedFirewall, removeDir, seedDoorConf, startDaemon } from '../test/helpers/daemon-lab.js';

async function run(guarded: boolean): Promise<void> {
  const lab = await createLab({ name: 'nfk-guard' });
  try {
    const conf = seedDoorConf({ cmdTimeout: 30 });
    await loadGeneratedFirewall(lab, conf, { family: 4, ...(guarded ? { floodGuard: { perSourcePerSecond: 20, burst: 40 } } : {}) });
    await lab.startTcpService(SERVICE_PORT, 4);
    const daemon = await startDaemon(lab, conf);
    try {
      const flood = lab.spawn('client', ['timeout', '-s', 'INT', '12', 'hping3', '-q', '--rand-source', '--udp', '-p', '7000', '-i', 'u77', '-c', '150000', lab.serverAddress(4)]);
      const floodDone = new Promise((resolve) => flood.once('exit', resolve));
      await sleep(8000);
      const knockedAt = Date.now();
      await knockWithNfknock(lab, 4, ['7000:udp', '8000:tcp', '9000:udp']);
      let result = 'filtered';
      while (result !== 'open' && Date.now() - knockedAt < 3000) result = await lab.probeTcp(SERVICE_PORT, 4, 200);
      const counters = await lab.exec('server', ['iptables', '-L', 'NFKNOCK', '-v', '-n', '-x']);
      const logged = counters.stdout
        .split('\n')
        .filter((line) => line.includes('NFLOG'))
        .map((line) => `${line.trim().split(/\s+/)[0]} at ${/dpt:(\d+)/.exec(line)?.[1]}`);
      console.log(`${guarded ? 'with' : 'without'} the flood guard: the service is ${result} after the knock (${Date.now() - knockedAt} ms); packets logged: ${logged.join(', ')}`);
      await floodDone;
    } finally {
      await daemon.stop();
      await removeDir(daemon.dir);
    }
  } finally {
    await lab.destroy();
  }
}

await run(false);
await run(true);
