// Module resolve hook (registered by deps.mjs): a bare specifier ('nats') imported by a file
// under tests/js resolves as if it were imported from the deps dir's package.json.
let depsParentURL;
let testsRootURL;

export async function initialize(data) {
  ({ depsParentURL, testsRootURL } = data);
}

// 'nats', 'nats/lib/x' and '@scope/pkg' are bare; './x', '/x', 'node:fs', 'file:///x' are not.
function isBare(specifier) {
  return !specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.includes(':');
}

export async function resolve(specifier, context, nextResolve) {
  if (isBare(specifier) && context.parentURL && context.parentURL.startsWith(testsRootURL)) {
    return nextResolve(specifier, { ...context, parentURL: depsParentURL });
  }
  return nextResolve(specifier, context);
}
