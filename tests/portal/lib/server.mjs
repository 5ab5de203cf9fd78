// A real `sazesh serve` on a fresh data folder and a random loopback port, with the first
// operator's token from `account bootstrap`, for one test run.
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function startServer({ binary, portalDir, operatorId = 'maryam' }) {
  const dataDir = await mkdtemp(join(tmpdir(), 'sazesh-portal-'));
  const boot = await run(binary, ['--data-dir', dataDir, 'account', 'bootstrap', '--id', operatorId, '--json']);
  const operatorToken = JSON.parse(boot.stdout).token;

  const child = spawn(binary, ['--data-dir', dataDir, 'serve', '--listen', '127.0.0.1:0', '--tick-every', '0', '--portal', portalDir],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  child.stderr.on('data', (chunk) => {
    log.push(chunk.toString());
    if (log.length > 2000) log.splice(0, 1000);
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`sazesh serve did not start in 20 s:\n${out}\n${log.join('')}`)), 20_000);
    child.stdout.on('data', (chunk) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sazesh serve exited with ${code} before listening:\n${log.join('')}`));
    });
  });

  return {
    url,
    operatorToken,
    dataDir,
    // The server's request log (JSON lines on its standard error), for a failure's report.
    log: () => log.join(''),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
