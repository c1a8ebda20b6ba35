import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { bootstrapClusterSecurity, createClusterKeyFile, NovacronClient } from '../../src/index.js';
import { freePorts, tempDir } from './helpers.js';

const PKG = join(import.meta.dirname, '../..');
const TSX = join(PKG, '../../node_modules/.bin/tsx');

/** One `novacron node start` process running from source (tsx + path-mapped tsconfig). */
export class NodeProcess {
  child: ChildProcess | undefined;
  stdout = '';
  stderr = '';
  exitCode: number | null = null;
  readonly client: NovacronClient;

  constructor(
    readonly name: string,
    readonly args: readonly string[],
    readonly env: Record<string, string>,
    readonly apiUrl: string,
    readonly token?: string,
  ) {
    this.client = new NovacronClient({ baseUrl: apiUrl, timeoutMs: 8000, ...(token ? { token } : {}) });
  }

  /** Spawns the process; resolves once it printed its `started` line (rejects if it exits first). */
  start(): Promise<void> {
    this.stdout = '';
    this.stderr = '';
    this.exitCode = null;
    const child = spawn(TSX, ['--tsconfig', 'test/e2e/tsconfig.src.json', 'src/cli/bin.ts', ...this.args], {
      cwd: PKG,
      env: { ...process.env, NOVACRON_LOG__LEVEL: 'warn', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // tsx runs the CLI in a child process: give them a process group so a signal reaches both.
      detached: true,
    });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => {
      this.stdout += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    exited.then((code) => {
      this.exitCode = code;
    });
    return new Promise((ok, fail) => {
      const onData = () => {
        if (this.stdout.includes('"started"')) ok();
      };
      child.stdout!.on('data', onData);
      exited.then((code) => fail(new Error(`${this.name} exited with ${code} before starting:\n${this.stderr}`)));
    });
  }

  /** Resolves with the exit code once the process has exited. */
  waitExit(): Promise<number | null> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return Promise.resolve(c?.exitCode ?? null);
    return new Promise((r) => c.once('exit', (code) => r(code)));
  }

  /** Sends `signal` and waits for the exit. */
  async kill(signal: NodeJS.Signals): Promise<number | null> {
    const done = this.waitExit();
    if (this.child?.pid !== undefined && this.alive) {
      try {
        // SIGKILL takes the whole group (tsx's wrapper cannot relay it); other signals go to the node
        // process itself (its pid is in the started line), as a supervisor would send them.
        if (signal === 'SIGKILL' || this.nodePid === undefined) process.kill(-this.child.pid, signal);
        else process.kill(this.nodePid, signal);
      } catch {
        // already gone
      }
    }
    return done;
  }

  /** Pid of the node process (from its `started` line). */
  get nodePid(): number | undefined {
    const line = this.stdout.split('\n').find((l) => l.includes('"started"'));
    return line ? (JSON.parse(line) as { pid: number }).pid : undefined;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }
}

/** Spawns `n` node processes on loopback forming one static cluster. */
export async function processCluster(n: number, env: Record<string, string> = {}): Promise<NodeProcess[]> {
  const ports = await freePorts(2 * n);
  const keyFile = join(tempDir('nc-key-'), 'cluster.key');
  createClusterKeyFile(keyFile);
  // Encryption and authentication are on by default: the nodes share one CA and admin token, as `cluster up` does.
  const sec = await bootstrapClusterSecurity(tempDir('nc-psec-'));
  const secEnv = {
    NOVACRON_SECURITY__CA_CERT_FILE: sec.caCertFile,
    NOVACRON_SECURITY__CA_KEY_FILE: sec.caKeyFile,
    NOVACRON_SECURITY__API_TOKEN_FILE: sec.apiTokenFile,
    NOVACRON_SECURITY__GOSSIP_KEY_FILE: sec.gossipKeyFile,
  };
  const seeds = Array.from({ length: n }, (_, i) => `n${i + 1}@127.0.0.1:${ports[i]}`).join(',');
  const nodes = Array.from({ length: n }, (_, i) => {
    const api = `127.0.0.1:${ports[n + i]}`;
    return new NodeProcess(
      `n${i + 1}`,
      [
        'node',
        'start',
        '--json',
        '--name',
        `n${i + 1}`,
        '--listen',
        `127.0.0.1:${ports[i]}`,
        '--api',
        api,
        '--seeds',
        seeds,
        '--data-dir',
        tempDir(`nc-p${i + 1}-`),
        '--preset',
        'datacenter',
        '--cluster-key-file',
        keyFile,
      ],
      { ...secEnv, ...env },
      `http://${api}`,
      sec.token.reveal(),
    );
  });
  await Promise.all(nodes.map((p) => p.start()));
  return nodes;
}

/** Runs the CLI from source once; resolves with its exit code and output. */
export function runCliProcess(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(TSX, ['--tsconfig', 'test/e2e/tsconfig.src.json', 'src/cli/bin.ts', ...args], {
      cwd: PKG,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
