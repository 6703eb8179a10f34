// autocannon request hook for the gateway bench (loaded in autocannon's worker thread, by file
// path) that keeps the load generator from decoding answers it never reads: autocannon appends
// every body chunk to a string (`req.body += chunk`), a UTF-8 decode of each answer that for a
// compressed (binary) answer costs the load generator more than the gateway spends answering it,
// and takes CPU from the gateway on the same cores. The bench checks answers once before timing;
// during a run only statuses, bytes and times count, and those are kept.
/* global module, require */
"use strict";
// eslint-disable-next-line @typescript-eslint/no-require-imports -- autocannon loads this hook with require()
const Queue = require("autocannon/lib/pipelinedRequestsQueue.js");
Queue.prototype.addBody = function addBody() {};
module.exports = (request) => request;
