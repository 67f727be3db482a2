// What the test files import: servers, clusters, scopes, waits and the raw protocol.
export { serverKind, serverBinary, isReference, freePorts, ServerProcess, NATS_SERVER_BIN } from './server.mjs';
export { serverTest, Scope, StatusLog } from './scope.mjs';
export { Cluster, startCluster } from './cluster.mjs';
export { waitFor, within, collect, Collector, MSG_WAIT_MS, SLOW_WAIT_MS } from './wait.mjs';
export { RawConn, rawConnect } from './raw.mjs';
