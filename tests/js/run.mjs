#!/usr/bin/env node
// Runs the JS client interop suite (tests/js/test/*.test.mjs) with node's test runner
// against pylon-server or nats-server. See tests/js/README.md.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SKIP_EXIT_CODE = 77; // CTest's SKIP_RETURN_CODE for this test
const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');

const usage = `usage: node tests/js/run.mjs [--server pylon|nats-server] [--deps DIR] [FILTER...]

  --server   the server under test (default: $PYLON_TEST_SERVER, else pylon)
  --deps     directory whose node_modules holds the npm packages
             (default: $PYLON_JS_DEPS, else build/js; fill it with tests/js/install.mjs)
  FILTER     run only the test files whose name contains one of these words

  pylon-server is $PYLON_SERVER_BIN (default build/pylon-server); nats-server is
  $PYLON_NATS_SERVER_BIN (default /usr/sbin/nats-server). PYLON_TEST_TRACE=1 starts the
  servers with -D -V.`;

// lib/deps.mjs needs module.register() (Node 20.6, backported to 18.19: Debian 12's own nodejs).
const [major, minor] = process.versions.node.split('.').map(Number);
const atLeast = (M, m) => major > M || (major === M && minor >= m);
if (!atLeast(18, 19) || (major === 19) || (major === 20 && !atLeast(20, 6))) {
  console.error(`node ${process.versions.node} is too old for this suite: it needs 18.19+ or 20.6+`);
  process.exit(1);
}

let server = process.env.PYLON_TEST_SERVER || 'pylon';
let deps = process.env.PYLON_JS_DEPS || join(repo, 'build', 'js');
const filters = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const value = () => {
    if (i + 1 >= argv.length) {
      console.error(`${a} needs a value\n\n${usage}`);
      process.exit(2);
    }
    return argv[++i];
  };
  if (a === '--help' || a === '-h') {
    console.log(usage);
    process.exit(0);
  } else if (a === '--server') server = value();
  else if (a.startsWith('--server=')) server = a.slice('--server='.length);
  else if (a === '--deps') deps = value();
  else if (a.startsWith('--deps=')) deps = a.slice('--deps='.length);
  else if (a.startsWith('-')) {
    console.error(`unknown option ${a}\n\n${usage}`);
    process.exit(2);
  } else filters.push(a);
}

const env = { ...process.env, PYLON_TEST_SERVER: server, PYLON_JS_DEPS: resolve(deps) };
if (server === 'pylon') {
  env.PYLON_SERVER_BIN = resolve(process.env.PYLON_SERVER_BIN || join(repo, 'build', 'pylon-server'));
  if (!existsSync(env.PYLON_SERVER_BIN)) {
    console.error(`pylon-server not found at ${env.PYLON_SERVER_BIN} (build it, or set PYLON_SERVER_BIN)`);
    process.exit(1);
  }
  console.log(`JS client interop suite against ${env.PYLON_SERVER_BIN}`);
} else if (server === 'nats-server') {
  const bin = process.env.PYLON_NATS_SERVER_BIN || '/usr/sbin/nats-server';
  if (!existsSync(bin)) {
    console.log(`SKIP: ${bin} is not installed, so the JS suite cannot run against the reference server`);
    process.exit(SKIP_EXIT_CODE);
  }
  console.log(`JS client interop suite against the reference server ${bin}`);
} else {
  console.error(`--server must be pylon or nats-server, not '${server}'`);
  process.exit(2);
}

const testDir = join(here, 'test');
const files = readdirSync(testDir)
  .filter((f) => f.endsWith('.test.mjs'))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort()
  .map((f) => join(testDir, f));
if (files.length === 0) {
  console.error(`no test file in ${testDir} matches ${filters.join(', ')}`);
  process.exit(2);
}

// Files run one at a time where node can be told so (20.10+): the machine is shared, and the
// cluster tests start many servers. (Run in parallel they still pass: every port is picked free.)
const result = spawnSync(process.execPath, [
  '--import', pathToFileURL(join(here, 'lib', 'deps.mjs')).href,
  '--test', '--test-reporter=spec', ...(atLeast(20, 10) ? ['--test-concurrency=1'] : []),
  ...files,
], { env, stdio: 'inherit' });
if (result.error) {
  console.error(`cannot run node: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
