import { ErrorCodes, NfknockError } from '../core/errors.js';
import { completeTimeSequence, decodeUtf8, readError, readRegularFile } from '../config/load.js';
import { throwIfAny, type ConfigProblem } from '../config/problems.js';
import { parseClientConfig, type ClientHost } from './client-config.js';
import { defaultClientConfigPath } from './client-config-path.js';

/** A client config is a few aliases; this only stops a wrong `-F` (a log, an image) from being slurped. */
const MAX_CLIENT_CONFIG_BYTES = 1024 * 1024;
/** Like ssh's config: whoever may write it chooses where, and with which secret, you knock. */
const GROUP_OTHER_WRITE = 0o022;

/**
 * The alias `name` from `file` (or the default client config, which may be absent), with its secret
 * read and checked by the server's own loader; undefined when there is no such alias. The whole file
 * is parsed, so a mistake anywhere in it is reported with its file:line.
 */
export async function loadClientHost(file: string | undefined, name: string, env: Record<string, string | undefined>): Promise<ClientHost | undefined> {
  const path = file ?? defaultClientConfigPath(env);
  if (path === undefined) return undefined;
  let read: Awaited<ReturnType<typeof readRegularFile>>;
  try {
    read = await readRegularFile(path, 'config', MAX_CLIENT_CONFIG_BYTES);
  } catch (error) {
    if (file === undefined && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw readError(path, 'client config', error);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && read.stats.uid !== uid && read.stats.uid !== 0) {
    throw new NfknockError(ErrorCodes.PERMISSION, `client config ${path} belongs to uid ${read.stats.uid}, not to you (uid ${uid}) or root`);
  }
  if ((read.stats.mode & GROUP_OTHER_WRITE) !== 0) {
    const mode = `0${(read.stats.mode & 0o777).toString(8)}`;
    throw new NfknockError(ErrorCodes.PERMISSION, `client config ${path} can be written by group/other (mode ${mode}): chmod go-w ${path}`);
  }
  const host = parseClientConfig(decodeUtf8(read.bytes, path), path).hosts.get(name);
  if (!host) return undefined;
  const problems: ConfigProblem[] = [];
  await completeTimeSequence(host, path, read.stats, problems);
  throwIfAny(problems);
  return host;
}
