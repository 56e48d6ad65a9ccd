/**
 * MetricsFile lives where node_exporter reads it: on Debian /var/lib/prometheus/node-exporter, root's
 * directory inside the prometheus user's /var/lib/prometheus. The daemon writes it there (public
 * figures, replaced whole), but whoever owns a directory on the way can only make it write those
 * figures into a directory of their own: never through a symlink, never into a directory they own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../src/state/atomic-file.js';
import { ErrorCodes, isNfknockError } from '../src/core/errors.js';
import { asNobody, NOBODY, nobodySkip } from './helpers/as-nobody.js';

/** /tmp/…/prometheus (nobody's, as Debian's is the prometheus user's) holding node-exporter (root's, 0755). */
async function debianLikeTree(t: { after: (fn: () => Promise<void>) => void }) {
  const base = await mkdtemp(join(tmpdir(), 'nfknock-g-metrics-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  await chmod(base, 0o755);
  const prometheus = join(base, 'prometheus');
  await mkdir(prometheus, { mode: 0o755 });
  await chown(prometheus, NOBODY, NOBODY);
  const collector = join(prometheus, 'node-exporter');
  await mkdir(collector, { mode: 0o755 });
  const elsewhere = join(base, 'elsewhere');
  await mkdir(elsewhere, { mode: 0o755 });
  return { prometheus, collector, elsewhere, file: join(collector, 'nfknock.prom') };
}

const refusedAsUntrusted = (error: unknown) => isNfknockError(error) && (error.code === ErrorCodes.UNTRUSTED || error.code === ErrorCodes.STATE_IO);

test('metrics: written into a root-owned collector directory below a directory another user owns (Debian layout)', { skip: nobodySkip }, async (t) => {
  const { file, collector } = await debianLikeTree(t);
  await writeFileAtomic(file, 'nfknock_up 1\n', 0o644, { published: true });
  assert.equal(await readFile(file, 'utf8'), 'nfknock_up 1\n');
  assert.equal((await stat(file)).mode & 0o7777, 0o644);
  assert.deepEqual(await readdir(collector), ['nfknock.prom'], 'no temp file left');
  // Files the daemon trusts keep the strict rule: the same place is refused for them.
  await assert.rejects(writeFileAtomic(join(collector, 'state'), 'x', 0o600), refusedAsUntrusted);
});

test('metrics: the owner of a directory on the way swaps the collector for a symlink: refused, the target untouched', { skip: nobodySkip }, async (t) => {
  const { prometheus, elsewhere, file } = await debianLikeTree(t);
  const swap = asNobody(`mv ${prometheus}/node-exporter ${prometheus}/old && ln -s ${elsewhere} ${prometheus}/node-exporter`);
  assert.equal(swap.status, 0, swap.stderr);
  await assert.rejects(writeFileAtomic(file, 'nfknock_up 1\n', 0o644, { published: true }), refusedAsUntrusted);
  assert.deepEqual(await readdir(elsewhere), []);
});

test('metrics: a collector directory the other user made, or one others can write, is refused', { skip: nobodySkip }, async (t) => {
  const { prometheus, collector, file } = await debianLikeTree(t);
  const own = asNobody(`mv ${collector} ${prometheus}/old && mkdir -m 755 ${collector}`);
  assert.equal(own.status, 0, own.stderr);
  await assert.rejects(writeFileAtomic(file, 'nfknock_up 1\n', 0o644, { published: true }), refusedAsUntrusted);
  assert.deepEqual(await readdir(collector), [], 'nothing written into the swapped-in directory');
  await rm(collector, { recursive: true });
  await mkdir(collector, { mode: 0o755 });
  await chmod(collector, 0o777);
  await assert.rejects(writeFileAtomic(file, 'nfknock_up 1\n', 0o644, { published: true }), refusedAsUntrusted);
});
