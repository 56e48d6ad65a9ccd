/**
 * The lab's probe must tell the three firewall outcomes apart over both families, or every e2e test
 * built on it could pass for the wrong reason.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createLab, e2eGate, waitFor, withNfLogAllNetns, type Lab, type LabFamily } from '../helpers/lab.js';

const gate = e2eGate();

function ruleset(family: LabFamily, rules: string[]): string {
  const neighbourDiscovery = family === 6 ? ['-A INPUT -p ipv6-icmp -j ACCEPT'] : [];
  return ['*filter', ':INPUT ACCEPT [0:0]', '-F INPUT', ...neighbourDiscovery, ...rules, 'COMMIT', ''].join('\n');
}

describe('lab probes', { skip: gate.skip }, () => {
  let lab: Lab;

  before(async () => {
    lab = await createLab({ name: 'nfkf' });
  });
  after(() => lab?.destroy());

  for (const family of [4, 6] as const) {
    test(`IPv${family}: closed without a service, open with one, filtered by DROP, closed by REJECT`, async () => {
      await lab.loadIptables(ruleset(family, []), family);
      assert.equal(await lab.probeTcp(3000 + family, family), 'closed');
      const service = await lab.startTcpService(3000 + family, family);
      assert.equal(await lab.probeTcp(3000 + family, family), 'open');
      await lab.loadIptables(ruleset(family, [`-A INPUT -p tcp --dport ${3000 + family} -j DROP`]), family);
      const started = Date.now();
      assert.equal(await lab.probeTcp(3000 + family, family, 300), 'filtered');
      assert.ok(Date.now() - started >= 300, 'filtered means the connect timed out');
      await lab.loadIptables(ruleset(family, [`-A INPUT -p tcp --dport ${3000 + family} -j REJECT --reject-with tcp-reset`]), family);
      assert.equal(await lab.probeTcp(3000 + family, family), 'closed');
      await lab.loadIptables(ruleset(family, []), family);
      await service.stop();
      assert.equal(await lab.probeTcp(3000 + family, family), 'closed');
    });
  }

  test('addresses are the ones the namespaces really have', async () => {
    const server = await lab.execOk('server', ['ip', '-o', 'addr', 'show', 'dev', lab.serverInterface]);
    assert.match(server.stdout, new RegExp(`inet ${lab.serverAddress(4).replaceAll('.', '\\.')}/24`));
    assert.match(server.stdout, new RegExp(`inet6 ${lab.serverAddress(6)}/64`));
    const client = await lab.execOk('client', ['ip', '-o', 'addr', 'show', 'dev', lab.clientInterface]);
    assert.match(client.stdout, new RegExp(`inet ${lab.clientAddress(4).replaceAll('.', '\\.')}/24`));
    assert.match(client.stdout, new RegExp(`inet6 ${lab.clientAddress(6)}/64`));
  });

  test('the server namespace has its own firewall, not the host one', async () => {
    await lab.loadIptables('*filter\n:INPUT ACCEPT [0:0]\n-F INPUT\n-A INPUT -p udp --dport 9 -j DROP\nCOMMIT\n', 4);
    assert.match(await lab.iptablesRules(4), /--dport 9 -j DROP/);
    assert.doesNotMatch((await lab.execOk('client', ['iptables', '-S'])).stdout, /--dport 9 -j DROP/);
  });

  test('nft rulesets load into the server namespace', async () => {
    await lab.loadNft('table inet nfkf_probe {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 3010 drop\n }\n}\n');
    await lab.startTcpService(3010, 4);
    assert.equal(await lab.probeTcp(3010, 4, 300), 'filtered');
    await lab.loadNft('delete table inet nfkf_probe\n');
    assert.equal(await lab.probeTcp(3010, 4), 'open');
  });

  test('with nf_log_all_netns the LOG target in the lab reaches the kernel log', async (t) => {
    const restore = withNfLogAllNetns();
    t.after(restore);
    const prefix = `nfkf${lab.slot}x${process.pid % 10000} `;
    await lab.loadIptables(ruleset(4, [`-A INPUT -p tcp --dport 3020 -j LOG --log-prefix "${prefix}"`]), 4);
    await lab.probeTcp(3020, 4);
    const line = await waitFor(
      () => execFileSync('dmesg', { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\n').find((l) => l.includes(prefix)),
      { timeoutMs: 3000, description: `a kernel log line with prefix ${prefix}` },
    );
    assert.match(line, new RegExp(`SRC=${lab.clientAddress(4).replaceAll('.', '\\.')} DST=${lab.serverAddress(4).replaceAll('.', '\\.')} .*DPT=3020`));
  });

  test('exec reports exit status and output without throwing; execOk throws with stderr', async () => {
    const result = await lab.exec('client', ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual(result, { code: 3, stdout: 'out\n', stderr: 'err\n' });
    await assert.rejects(lab.execOk('client', ['sh', '-c', 'echo broken >&2; exit 1']), /broken/);
    const input = await lab.exec('server', ['cat'], { input: 'piped' });
    assert.equal(input.stdout, 'piped');
    const slow = await lab.exec('server', ['sleep', '5'], { timeoutMs: 200 });
    assert.equal(slow.code, 128 + 9);
  });
});

describe('two labs at once', { skip: gate.skip }, () => {
  test('get distinct namespaces and addresses', async (t) => {
    const [a, b] = await Promise.all([createLab({ name: 'nfkf' }), createLab({ name: 'nfkf' })]);
    t.after(() => Promise.all([a.destroy(), b.destroy()]));
    assert.notEqual(a.serverNamespace, b.serverNamespace);
    assert.notEqual(a.slot, b.slot);
    assert.notEqual(a.serverAddress(4), b.serverAddress(4));
    await a.startTcpService(2222, 4);
    assert.equal(await a.probeTcp(2222, 4), 'open');
    assert.equal(await b.probeTcp(2222, 4), 'closed');
  });
});
