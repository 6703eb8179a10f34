/**
 * `tm access-log`: the owner's log of partners' reads of its data, read from its member gateway
 * (GET /access-log and /access-log/head) after signing in with the organisation's key, with the
 * check of the log's hash chain. Only the gateway's own organisation may read it.
 */
import type { AccessLogAnswer, AccessLogHeadAnswer, AccessRead, AccessSubject } from "../../lib/api/access-log.ts";
import { GatewayClient, GatewayError } from "../../lib/gateway-client.ts";
import type { Handler } from "./handler.ts";
import { Refusal, UsageError } from "./output.ts";
import * as parse from "./parse.ts";

/** What one read handed out: "document <event id>", "readings of <event id> (<streams>)", "stream <name> [from, to)". */
function subjectText(s: AccessSubject): string {
  if (s.kind === "stream") return `stream ${s.stream} [${new Date(s.fromMs).toISOString()}, ${new Date(s.toMs).toISOString()})`;
  const event = s.eventID ?? s.eventHash;
  return s.kind === "document" ? `document ${event}` : `readings of ${event} (${s.streams.join(", ")})`;
}

/** "3 documents", "2 documents, 1 set of readings": what an answer of several reads handed out. */
function readsCount(reads: readonly AccessRead[]): string {
  const nouns = { document: ["document", "documents"], readings: ["set of readings", "sets of readings"], stream: ["stream range", "stream ranges"] } as const;
  return (["document", "readings", "stream"] as const)
    .map((kind) => [kind, reads.filter((r) => r.subject.kind === kind).length] as const)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${n} ${nouns[kind][n === 1 ? 0 : 1]}`)
    .join(", ");
}

export const accessLog: Handler = (inv) => {
  const gateway = parse.required(inv.values, "gateway", inv.command);
  if (!/^https?:\/\/[^\s/]+/.test(gateway)) throw new UsageError(`--gateway must be the member gateway's URL (http://host:port), got "${gateway}"`, inv.command);
  const after = parse.str(inv.values, "after") === undefined ? 0 : parse.uint("--after", parse.str(inv.values, "after"));
  const limit = parse.str(inv.values, "limit") === undefined ? 100 : parse.uint("--limit", parse.str(inv.values, "limit"), 1000);
  const readerRef = parse.str(inv.values, "reader");
  return async (s) => {
    if (!s.wallet) throw new UsageError(`\`${inv.command}\` signs in at the gateway as your organisation: give --key-file FILE, or set TRACEMESH_KEY`, inv.command);
    await s.loadNames();
    const reader = readerRef === undefined ? undefined : await s.resolveOrg(readerRef, "--reader");
    const client = new GatewayClient(gateway.replace(/\/+$/, ""), s.wallet);
    let log: AccessLogAnswer;
    let head: AccessLogHeadAnswer;
    try {
      const query = `after=${after}&limit=${limit}${reader ? `&reader=${reader.id}` : ""}`;
      log = await client.json("GET", `/access-log?${query}`);
      head = await client.json("GET", "/access-log/head");
    } catch (e) {
      if (e instanceof GatewayError) throw new Refusal(`the gateway at ${gateway} refused: ${e.message}`, { status: e.status });
      throw new Refusal(`cannot reach the gateway at ${gateway}: ${(e as Error).message}`, {});
    }
    const check = head.check.ok
      ? `hash chain intact: ${head.check.entries} entries, head ${log.head.hash}`
      : `HASH CHAIN BROKEN at entry ${head.check.seq}: ${head.check.problem}`;
    // One entry per answer: a single read on the entry's line, several counted there and listed below it.
    const lines = log.entries.map((e) => {
      const why = (r: AccessRead) => `allowed by ${r.allowedBy}; purpose ${r.purpose ?? "unknown"}`;
      if (e.reads.length === 1) return `#${e.seq} ${e.time} ${s.org(e.reader)} read ${subjectText(e.reads[0]!.subject)} via ${e.channel}\n    ${why(e.reads[0]!)}`;
      return [`#${e.seq} ${e.time} ${s.org(e.reader)} read ${readsCount(e.reads)} via ${e.channel}`, ...e.reads.map((r) => `    ${subjectText(r.subject)}: ${why(r)}`)].join("\n");
    });
    return {
      text: [check, ...(lines.length > 0 ? lines : ["no partner read in this range"]), ...(log.nextAfter !== undefined ? [`more: --after ${log.nextAfter}`] : [])].join("\n"),
      json: { head: log.head, check: head.check, entries: log.entries, ...(log.nextAfter !== undefined ? { nextAfter: log.nextAfter } : {}) },
    };
  };
};
