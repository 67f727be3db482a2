// Loaded with `node --import` (run.mjs does it). The npm packages the tests use live in the
// build tree (install.mjs puts them there with `npm ci`), not next to the sources, so one
// source tree can serve several build dirs. ES modules find bare specifiers only by walking
// up from the importing file, so this registers a resolve hook that looks up bare
// specifiers imported from tests/js in PYLON_JS_DEPS/node_modules instead.
import { register } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const depsDir = process.env.PYLON_JS_DEPS;
if (!depsDir) {
  throw new Error('PYLON_JS_DEPS is not set: it names the directory whose node_modules holds the test dependencies (see tests/js/README.md)');
}
if (!existsSync(join(depsDir, 'node_modules', 'nats', 'package.json'))) {
  throw new Error(`${depsDir}/node_modules has no 'nats' package: run \`node tests/js/install.mjs ${depsDir}\` first`);
}

register('./resolve-hook.mjs', import.meta.url, {
  data: {
    depsParentURL: pathToFileURL(join(depsDir, 'package.json')).href,
    testsRootURL: new URL('../', import.meta.url).href,
  },
});
