// autocannon request hook for the gateway bench (loaded in its worker thread, so by file path):
// every request asks for the next path of the list in the JSON file $TRACEMESH_BENCH_PATHS, from
// index $TRACEMESH_BENCH_START on (the warm-up starts half-way, so the measured run never asks for
// what the warm-up put in the gateway's answer cache), so no path is asked for twice until the
// list is used up.
/* global module, require */
"use strict";
// eslint-disable-next-line @typescript-eslint/no-require-imports -- autocannon loads this hook with require()
const { readFileSync } = require("node:fs");
// eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
require("./lean-client.cjs"); // answers not decoded by the load generator (see there)
const paths = JSON.parse(readFileSync(process.env.TRACEMESH_BENCH_PATHS, "utf8"));
let next = Number(process.env.TRACEMESH_BENCH_START ?? 0);
module.exports = (request) => {
  request.path = paths[next++ % paths.length];
  return request;
};
