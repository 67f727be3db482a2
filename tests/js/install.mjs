#!/usr/bin/env node
// Installs the test dependencies into a build directory: `node tests/js/install.mjs <dir>`.
// Runs `npm ci` only when package.json or package-lock.json changed since the last install
// (a stamp file holds their hash), so repeated test runs do not touch the network.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const target = process.argv[2];
if (!target || process.argv.length > 3 || target === '--help' || target === '-h') {
  console.error('usage: node tests/js/install.mjs <deps-dir>   (e.g. build/js)');
  process.exit(2);
}
const dir = resolve(target);
const files = ['package.json', 'package-lock.json'];

const hash = createHash('sha256');
for (const f of files) hash.update(f).update('\0').update(readFileSync(join(here, f)));
const digest = hash.digest('hex');

const stamp = join(dir, '.npm-ci.stamp');
if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === digest &&
    existsSync(join(dir, 'node_modules', 'nats', 'package.json'))) {
  console.log(`js deps: ${dir}/node_modules is up to date with tests/js/package-lock.json`);
  process.exit(0);
}

mkdirSync(dir, { recursive: true });
for (const f of files) copyFileSync(join(here, f), join(dir, f));
console.log(`js deps: npm ci in ${dir} (package-lock.json changed or first install)`);
const npm = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'inherit' });
if (npm.error) {
  console.error(`js deps: cannot run npm: ${npm.error.message}`);
  process.exit(1);
}
if (npm.status !== 0) {
  console.error(`js deps: npm ci failed with exit status ${npm.status}`);
  process.exit(1);
}
writeFileSync(stamp, `${digest}\n`);
console.log('js deps: installed');
