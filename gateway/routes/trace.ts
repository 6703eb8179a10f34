/**
 * Traceability queries, answered from the chain index (node/indexer) and never by scanning the
 * chain: an item, its history (on-chain facts merged with the EPCIS documents the caller may
 * read), its genealogy graph and recall scope, its certificates, a data anchor, and the
 * consortium directory with its proposals. Every route needs a token of an active member.
 *
 * Who may read a document: one rule everywhere (lib/access.ts `mayReadEvent`, through the events
 * service's visibility): its recording organisation; a regulator where the consortium's rule says
 * so; another organisation only where it may read every item and lot the event names (a grant on
 * the requested item alone is not enough). Everyone else sees the on-chain fact
 * (`access: "public-fact"`, `document: null`). A document handed out carries
 * `verified`: its CBV 2.0 hash equals the hash the record holds on chain (the hash computed at
 * capture or verified at receipt, kept with the document while its content digest still matches;
 * recomputed when it does not).
 *
 * History and genealogy answers are kept in the answer cache (gateway/answer-cache.ts) per query
 * and caller's organisation until the index, the access checker or the event store moves. So are
 * the parts they are made of that many answers share, under the same stamps: each history entry
 * per record and caller's organisation (a batch's commissioning or a pallet's shipment appears in
 * the history of every item it names) and each organisation's name per indexed block.
 *
 * A document of another organisation that the node's own organisation may read but the node does
 * not hold is fetched from the owner's node while the page waits (services.remote, bounded in
 * time); what did not arrive says why in `unavailable`. Only for the node's own organisation: a
 * node asks with its own organisation's rights, so it never fetches on another caller's behalf.
 */
import type { Context } from "koa";
import { Counter, Gauge } from "prom-client";
import { type AccessDecision, REGULATOR_SCOPE_NAMES } from "../../lib/access.ts";
import { batchKey, canonicalBatchIdentifier, canonicalItemIdentifier, itemKey, parseIdentifier } from "../../lib/identifiers/canonical.ts";
import { IdentifierError } from "../../lib/identifiers/gs1-keys.ts";
import type {
  AnchorAnswer,
  BatchAnswer,
  ConsortiumAnswer,
  GenealogyAnswer,
  GenealogyNodeAnswer,
  HistoryAnswer,
  HistoryEntryAnswer,
  ItemAnswer,
  ItemCertificateAnswer,
} from "../../lib/api/trace.ts";
import type { OrganisationRef } from "../../lib/api/common.ts";
import { STATUS_NAMES } from "../../lib/credentials.ts";
import { CertificateState } from "../../lib/registry.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { badRequest, notFound, requireService } from "../errors.ts";
import { requireFreshIndex } from "../index-freshness.ts";
import type { HistoryEntry, IndexQueries, IndexedCertificate, ItemView, MemberView } from "../../node/indexer/queries.ts";
import type { IndexService } from "../../node/indexer/service.ts";
import { recordHashOf } from "../../lib/epcis/record-hash.ts";
import { publishedEvent } from "../../lib/epcis/published.ts";
import type { StoredEvent } from "../../node/events/store.ts";
import { contentDigestOf } from "../../lib/epcis/content-digest.ts";
import type { PreparedEntry } from "../../node/access-log/store.ts";
import type { ServedRead } from "../../node/access-log/record.ts";
import { AnswerCache, type Built, type Form, type Served, StampedParts, codedForm, encoded, heldForm } from "../answer-cache.ts";
import { keptCoding, worthCompressing } from "../compression.ts";
import { bearer, json, problem } from "../openapi.ts";
import { recordDecision, visibleIdentifiers } from "../visible-identifiers.ts";

const KEY = /^0x[0-9a-fA-F]{64}$/;
/** Genealogy parts named by identifier in one answer, at most (each costs a few index and store reads). */
const NAMED_NODES = 300;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** What an item id in a path names: the key, and the identifier when one was given. */
export interface Subject {
  key: string;
  kind: "item" | "batch" | "key";
  identifier?: string;
}

/** Parses `{id}`: a 0x key, an EPC URI or a GS1 Digital Link (item or batch). 400 saying why otherwise. */
export function parseSubject(raw: string): Subject {
  if (KEY.test(raw)) return { key: raw.toLowerCase(), kind: "key" };
  if (/^0x/i.test(raw)) throw badRequest(`"${raw}" is not a 0x item key (32 bytes, 64 hex digits)`);
  let parsed;
  try {
    parsed = parseIdentifier(raw);
  } catch (e) {
    if (e instanceof IdentifierError) throw badRequest(`"${raw}" is not an item id: ${e.message}; use a GS1 Digital Link, an EPC URI or a 0x item key`);
    throw e;
  }
  try {
    return { key: itemKey(parsed), kind: "item", identifier: canonicalItemIdentifier(parsed) };
  } catch {
    try {
      return { key: batchKey(parsed), kind: "batch", identifier: canonicalBatchIdentifier(parsed) };
    } catch (e) {
      throw badRequest(`"${raw}" names neither an item nor a batch: ${(e as Error).message}`);
    }
  }
}

/** A query parameter as an integer within [min, max], or `fallback` when absent. */
function intParam(ctx: Context, name: string, min: number, max: number, fallback?: number): number | undefined {
  const v = ctx.query[name];
  if (v === undefined) return fallback;
  if (typeof v !== "string" || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw badRequest(`query parameter \`${name}\` must be one integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

/** Organisation names for one response, read once each. */
export function orgNames(q: IndexQueries) {
  const cache = new Map<number, Promise<MemberView | undefined>>();
  return async (id: number): Promise<OrganisationRef | null> => {
    if (id === 0) return null;
    if (!cache.has(id)) cache.set(id, q.member(id));
    const m = await cache.get(id)!;
    return { id, name: m?.name ?? `organisation ${id}` };
  };
}


/** An item as GET /items/{id} answers it (the workbench's item list answers the same). */
export const itemBody = async (subject: Pick<Subject, "identifier">, item: ItemView, org: ReturnType<typeof orgNames>): Promise<ItemAnswer> => ({
  kind: "item",
  key: item.key,
  identifier: subject.identifier,
  digitalLink: subject.identifier,
  status: item.statusName,
  owner: await org(item.ownerOrg),
  custodian: await org(item.custodianOrg),
  consignee: item.consigneeOrg ? await org(item.consigneeOrg) : undefined,
  batchKey: item.batch ?? undefined,
  parent: item.parent ?? undefined,
  recalled: item.recalled,
  disposition: item.disposition,
  createdAt: iso(item.createdAt),
  createdBlock: item.createdBlock,
  lastRecord: item.lastRecord,
});

export function register(router: GatewayRouter, { services, auth, metrics, options }: RouteContext): void {
  const index = (): IndexService => requireService(services.index, "chain index");
  const answers = options.answerCacheBytes > 0 ? new AnswerCache<PreparedEntry>(options.answerCacheBytes) : undefined;
  const partResults = new Counter({ name: "tracemesh_answer_parts_total", help: "History entries, by whether another answer of the same stamp had built them for the caller's organisation", labelNames: ["result"], registers: [metrics] });
  const cacheResults = new Counter({ name: "tracemesh_answer_cache_total", help: "History and genealogy answers, by whether the answer cache held them", labelNames: ["result"], registers: [metrics] });
  /**
   * What a history or a genealogy (its parts named from documents) was built from (undefined: it
   * must not be reused): the index, the access decisions (made from the index, or by a checker
   * that says when its answers change) and the stored documents.
   */
  const historyStamp = (): string | undefined => {
    const p = index().progress();
    const access = services.events?.visibility.access ?? index().access;
    const decisions = access === index().access ? "index" : access.generation;
    if (decisions === undefined) return undefined;
    return `${p.indexedBlock}:${p.indexedHash ?? "-"}:${p.head}:${decisions}:${services.events?.store.generation ?? "-"}`;
  };
  /** What the index alone says (the block's hash too: a reorg's block of the same number is another). */
  const indexStamp = () => {
    const p = index().progress();
    return `${p.indexedBlock}:${p.indexedHash ?? "-"}`;
  };
  /** History entries as sent (JSON) with the read each logs, per record and caller's organisation, under the history stamp. */
  const entryParts = answers ? new StampedParts<{ json: string; read?: ServedRead }>(Math.max(1, Math.floor(options.answerCacheBytes / 4)), (p) => p.json.length) : undefined;
  /** Organisations' names under the index stamp (an organisation is renamed only in a block). */
  const keptNames = answers ? new StampedParts<OrganisationRef | null>(1024 * 1024, (r) => (r?.name.length ?? 0) + 16) : undefined;
  /** Organisation names for one answer: kept ones, else read once each. */
  const names = (q: IndexQueries): ReturnType<typeof orgNames> => {
    const read = orgNames(q);
    if (!keptNames) return read;
    const stamp = indexStamp();
    return async (id) => {
      const key = String(id);
      const kept = keptNames.get(stamp, key);
      if (kept !== undefined) return kept;
      const ref = await read(id);
      keptNames.set(stamp, key, ref);
      return ref;
    };
  };
  /** Sends the answer to this query for this caller: kept, or built now; its reads are logged either way. */
  const answer = async (ctx: Context, stamp: string | undefined, build: () => Promise<Built<PreparedEntry>>) => {
    const key = `${ctx.path}?${ctx.querystring}\u0000${ctx.state.caller!.orgId}`;
    let served: Served<PreparedEntry>;
    let kept = false;
    let again = false;
    if (answers && stamp !== undefined) {
      const held = await answers.answer(key, stamp, build);
      served = held.served;
      kept = true;
      again = held.hit;
      cacheResults.inc({ result: held.hit ? "hit" : "miss" });
    } else {
      served = encoded(await build());
      cacheResults.inc({ result: "uncacheable" });
    }
    // Logged whether the body goes out or the client's copy is confirmed current (304): either
    // way the caller is told what the documents say now.
    // The answer's entry appended again (made when the answer was built, under the same stamp,
    // grant purposes included, its canonical text written once): one entry naming every document
    // the answer hands out (one per owner), and the answer waits until it is on disk.
    const log = services.accessLog?.log;
    if (log) await Promise.all(served.replay.map((e) => log.append(e)));
    // The answer depends on the caller's token and on the chain: shared caches must not keep it,
    // and a client's copy is checked again on every use (a revocation ends it at the next ask).
    ctx.set("Cache-Control", "private, no-cache");
    // A client holding any form of the current answer gets 304 for the form it holds: the server
    // selects the representation, and the one the client has is as good as any (its first serve
    // may have gone uncompressed, the next compressed: see worthCompressing).
    const held = heldForm(ctx.get("if-none-match"), served.etag);
    if (held !== undefined) {
      ctx.set("ETag", held);
      ctx.status = 304;
      return;
    }
    // The form the client takes (compression.ts): compressed once per kept answer when it pays
    // (a large answer, or one served again), then reused.
    const coding = worthCompressing(served.bytes.length, again) ? keptCoding(ctx) : undefined;
    const form: Form = coding === undefined ? served : kept ? answers!.form(key, served, coding) : codedForm(served, coding);
    ctx.set("ETag", form.etag);
    if (coding) ctx.set("Content-Encoding", coding);
    // Not compressed here: not compressed on the way out either (compression.ts onTheFly).
    else ctx.compress = false;
    ctx.type = "application/json";
    ctx.body = form.bytes;
  };
  // Every route here answers from the index: a stopped or lagging index answers 503, never stale facts.
  router.use(["/items", "/anchors", "/consortium"], async (ctx, next) => {
    if (services.index) await requireFreshIndex(services, services.index, options.maxIndexLagBlocks);
    await next();
  });
  if (services.index) {
    const progress = () => services.index!.progress();
    new Gauge({ name: "tracemesh_index_block", help: "Last block in the chain index", registers: [metrics], collect() { this.set(progress().indexedBlock); } });
    new Gauge({ name: "tracemesh_index_lag_blocks", help: "Blocks between the chain head and the index", registers: [metrics], collect() { this.set(progress().lag); } });
    // A running count: a counter (read from the index at scrape time), not a gauge.
    new Counter({ name: "tracemesh_index_events_total", help: "Contract events applied to the chain index", registers: [metrics], collect() { this.reset(); this.inc(progress().events); } });
  }

  /** The item (or batch) a path names, from the index; 404 when the chain never saw it. */
  const load = async (ctx: Context) => {
    const subject = parseSubject(String(ctx.params.id));
    const q = index().queries;
    const item = subject.kind === "batch" ? undefined : await q.item(subject.key);
    const batch = item ? undefined : await q.batch(subject.key);
    if (!item && !batch) throw notFound(`no ${subject.kind === "batch" ? "batch" : "item"} ${subject.identifier ?? subject.key} on chain (as of indexed block ${index().progress().indexedBlock})`);
    return { subject, item, batch, q };
  };

  router.get("/items/:id", auth.requireOrg(), async (ctx) => {
    const { subject, item, batch, q } = await load(ctx);
    const org = names(q);
    if (item) ctx.body = await itemBody(subject, item, org);
    else
      ctx.body = {
        kind: "batch",
        key: batch!.key,
        identifier: subject.identifier,
        digitalLink: subject.identifier,
        owner: await org(batch!.owner),
        recalled: batch!.recalled,
        itemCount: batch!.itemCount,
        disposition: batch!.disposition,
        createdAt: iso(batch!.createdAt),
      } satisfies BatchAnswer;
  });

  router.get("/items/:id/history", auth.requireOrg(), (ctx) => {
    const stamp = historyStamp();
    return answer(ctx, stamp, () => history(ctx, stamp));
  });

  /** `stamp`: what the answer is built from (undefined: nothing of it is kept). */
  const history = async (ctx: Context, stamp: string | undefined): Promise<Built<PreparedEntry>> => {
    const { subject, item, q } = await load(ctx);
    const limit = intParam(ctx, "limit", 1, 1000, 200)!;
    const after = intParam(ctx, "after", 0, Number.MAX_SAFE_INTEGER, 0)!;
    const caller = ctx.state.caller!.orgId;
    const org = names(q);
    const entries = await q.history(subject.key, { after, limit });
    // Entries another answer of this stamp already built for this caller's organisation.
    const partKey = (e: HistoryEntry) => `${e.id}\u0000${caller}`;
    const kept = new Map<number, { json: string; read?: ServedRead }>();
    if (entryParts && stamp !== undefined) {
      for (const e of entries) {
        const part = entryParts.get(stamp, partKey(e));
        if (part) kept.set(e.id, part);
      }
      if (kept.size > 0) partResults.inc({ result: "hit" }, kept.size);
      if (entries.length > kept.size) partResults.inc({ result: "miss" }, entries.length - kept.size);
    }
    const documents = services.events?.store;
    const visibility = services.events?.visibility;
    // One rule decides a document everywhere (lib/access.ts mayReadEvent): the stored document's
    // own subjects when this node holds it, else the items and lots its record names.
    const decide = async (e: HistoryEntry, stored: StoredEvent | undefined): Promise<AccessDecision> =>
      stored && visibility ? visibility.mayRead(stored, caller) : recordDecision(services, q, caller, e);
    // The document filed under the hash this record carries (not another declaration of the same
    // event) and owned by the record's organisation: another's record of the same hash (a
    // squatter's, on its own goods) does not get the owner's document.
    const storedOf = async (e: HistoryEntry) =>
      documents ? (await documents.recordedAs(e.eventHash)).find((d) => d.recordHash.toLowerCase() === e.eventHash && d.owner === e.org) : undefined;
    const found = [];
    for (const e of entries) {
      if (kept.has(e.id)) continue;
      const stored = await storedOf(e);
      found.push({ e, stored, decision: await decide(e, stored) });
    }
    const remote = documents && caller === services.organisation.id ? services.remote : undefined;
    const wanted = found.filter((f) => f.decision.allowed && f.stored === undefined && f.e.org !== caller);
    const unavailable = remote && wanted.length > 0 ? await remote.fetchDocuments(wanted.map((f) => ({ owner: f.e.org, recordHash: f.e.eventHash }))) : new Map<string, string>();
    for (const f of wanted) {
      if (unavailable.has(f.e.eventHash)) continue;
      f.stored = await storedOf(f.e);
      // Decided again on the document itself, as for every document this node holds.
      if (f.stored) f.decision = await decide(f.e, f.stored);
    }
    let complete = true;
    for (const { e, stored, decision } of found) {
      const entry = await historyEntry(e, caller, decision, stored, org);
      const why = unavailable.get(e.eventHash);
      if (why !== undefined && entry.document === null) entry.unavailable = why;
      // Another request may find the document arrived: such an answer is not kept.
      if (why !== undefined) complete = false;
      // A document handed to a partner is named in the answer's one access-log entry (made with
      // the answer, appended each time it is served).
      const read: ServedRead | undefined =
        entry.document && stored
          ? { owner: stored.owner, subject: { kind: "document", eventHash: e.eventHash, ...(entry.eventId ? { eventID: entry.eventId } : {}) }, decision }
          : undefined;
      const part = { json: JSON.stringify(entry satisfies HistoryEntryAnswer), ...(read ? { read } : {}) };
      kept.set(e.id, part);
      // Kept for other answers only when no document was asked of another node for it.
      if (entryParts && stamp !== undefined && !wanted.some((w) => w.e === e)) entryParts.set(stamp, partKey(e), part);
    }
    const parts = entries.map((e) => kept.get(e.id)!);
    const head = {
      item: item ? await itemBody(subject, item, org) : { kind: "batch", key: subject.key, identifier: subject.identifier },
      entries: [] as HistoryEntryAnswer[],
      documents: documents ? "available" : "unavailable",
      nextAfter: entries.length === limit ? entries.at(-1)!.id : undefined,
    } satisfies HistoryAnswer;
    // The answer's JSON with the entries' own JSON in place (each serialised once, when built).
    const json = JSON.stringify(head).replace('"entries":[]', () => `"entries":[${parts.map((p) => p.json).join(",")}]`);
    const recorder = services.accessLog;
    const replay = recorder ? await recorder.entriesOf(caller, "gateway", parts.flatMap((p) => (p.read ? [p.read] : []))) : [];
    return { json, replay, keep: complete };
  };

  // A genealogy's parts are named from documents the caller may read: its stamp is a history's.
  router.get("/items/:id/genealogy", auth.requireOrg(), (ctx) => answer(ctx, historyStamp(), () => genealogy(ctx)));

  const genealogy = async (ctx: Context): Promise<Built<PreparedEntry>> => {
    const { subject, item, q } = await load(ctx);
    const direction = ctx.query.direction ?? "both";
    if (direction !== "backward" && direction !== "forward" && direction !== "both") {
      throw badRequest(`query parameter \`direction\` must be backward, forward or both, got ${JSON.stringify(direction)}`);
    }
    const depth = intParam(ctx, "depth", 1, 1000);
    const limit = intParam(ctx, "limit", 1, 10_000, 1000)!;
    const org = names(q);
    if (!item) {
      // A batch: its recall scope (every item of it and everything forward).
      const scope = await q.recallScope(subject.key, limit);
      const body = { root: subject.key, nodes: [], edges: [], recallScope: scope.keys, truncated: scope.truncated } satisfies GenealogyAnswer;
      return { json: JSON.stringify(body), replay: [], keep: true };
    }
    const g = await q.genealogy(subject.key, { direction, depth, maxNodes: limit });
    const nodes: GenealogyNodeAnswer[] = [];
    // Identifiers where the caller may read a document naming the part (visible-identifiers.ts),
    // looked up for the first NAMED_NODES parts: the rest show their keys.
    const identifierOf = visibleIdentifiers(services, q, ctx.state.caller!.orgId);
    // Parts whose documents sit on their owners' nodes are named once those have come over.
    const named = g.nodes.slice(0, NAMED_NODES);
    const batches = new Set(named.flatMap((n) => (n.batch ? [n.batch] : [])));
    const { complete } = await identifierOf.fetchMissing([...named.map((n) => n.key).filter((k) => k !== subject.key), ...batches]);
    for (const [i, n] of g.nodes.entries()) {
      nodes.push({
        key: n.key,
        digitalLink: n.key === subject.key ? subject.identifier : i < NAMED_NODES ? await identifierOf(n.key) : undefined,
        status: n.statusName,
        owner: await org(n.ownerOrg),
        recalled: n.recalled,
        batchKey: n.batch ?? undefined,
        batchDigitalLink: n.batch && i < NAMED_NODES ? await identifierOf(n.batch) : undefined,
        depth: n.depth,
      });
    }
    const body = { root: g.root, direction, nodes, edges: g.edges, recallScope: g.recallScope, truncated: g.truncated } satisfies GenealogyAnswer;
    // Parts whose documents did not arrive may be named by the next request: not kept.
    return { json: JSON.stringify(body), replay: [], keep: complete };
  };

  router.get("/items/:id/certificates", auth.requireOrg(), async (ctx) => {
    const { subject, item, q } = await load(ctx);
    const org = names(q);
    const certs = [...(await q.certificatesOf(subject.key)), ...(item?.batch ? await q.certificatesOf(item.batch) : [])];
    const out: ItemCertificateAnswer[] = [];
    for (const c of certs) out.push(await certificateBody(c, org));
    ctx.body = out;
  });

  router.get("/anchors/:node/:sequence", auth.requireOrg(), async (ctx) => {
    const node = String(ctx.params.node);
    const seq = String(ctx.params.sequence);
    if (!ADDRESS.test(node)) throw badRequest(`"${node}" is not a node account address (0x and 40 hex digits)`);
    if (!/^\d{1,15}$/.test(seq) || Number(seq) < 1) throw badRequest(`"${seq}" is not a window sequence number (1 or more)`);
    const a = await index().queries.anchor(node, Number(seq));
    if (!a) throw notFound(`node ${node} has not anchored window ${seq} (as of indexed block ${index().progress().indexedBlock})`);
    ctx.body = {
      node: a.node,
      org: await orgNames(index().queries)(a.orgId),
      sequence: a.sequence,
      root: a.root,
      leafCount: a.leafCount,
      from: new Date(a.fromTimeMs).toISOString(),
      to: new Date(a.toTimeMs).toISOString(),
      fromTimeMs: a.fromTimeMs,
      toTimeMs: a.toTimeMs,
      previousRoot: a.prevRoot,
      anchoredAt: iso(a.anchoredAt),
      tx: a.tx,
      block: a.block,
    } satisfies AnchorAnswer;
  });

  router.get("/consortium", auth.requireOrg(), async (ctx) => {
    const q = index().queries;
    const members = await q.members();
    const [gov, proposals] = await Promise.all([q.governance(), q.recentProposals(intParam(ctx, "proposals", 0, 500, 50))]);
    const name = new Map(members.map((m) => [m.id, m.name]));
    ctx.body = {
      governance: gov,
      members: members.map((m) => ({
        id: m.id,
        name: m.name,
        roles: m.roleNames,
        status: m.statusName,
        accounts: m.accounts,
        nodes: m.nodeIdentities.map((n) => ({ id: n.id, peerId: n.peerId, enodeId: n.enodeId || undefined, validator: n.validator })),
      })),
      proposals: proposals.map((p) => ({
        id: p.id,
        kind: p.kindName,
        proposer: { id: p.proposer, name: name.get(p.proposer) ?? `organisation ${p.proposer}` },
        data: p.data,
        yes: p.yes,
        no: p.no,
        required: p.required,
        deadline: iso(p.deadline),
        status: p.statusName,
        votes: p.votes.map((v) => ({ org: { id: v.org, name: name.get(v.org) ?? `organisation ${v.org}` }, support: v.support })),
        createdAt: iso(p.createdAt),
        tx: p.tx,
      })),
      indexedBlock: index().progress().indexedBlock,
    } satisfies ConsortiumAnswer;
  });
}

async function historyEntry(
  e: HistoryEntry,
  caller: number,
  decision: AccessDecision,
  stored: StoredEvent | undefined,
  org: ReturnType<typeof orgNames>,
): Promise<HistoryEntryAnswer> {
  const access = caller === e.org ? "own" : decision.allowed ? "granted" : "public-fact";
  let document: Record<string, unknown> | null = null;
  let eventId: string | null = null;
  let verified: boolean | undefined;
  if (access !== "public-fact" && stored) {
    document = publishedEvent(stored);
    eventId = document["eventID"] as string;
    verified = heldRecordHash(stored) === e.eventHash;
  }
  return {
    recordId: e.id,
    kind: e.kindName,
    org: await org(e.org),
    eventHash: e.eventHash,
    eventId,
    block: e.block,
    tx: e.tx,
    time: iso(e.time),
    corrects: e.corrects || undefined,
    document,
    verified,
    access,
    grant:
      access === "granted" && decision.allowed && decision.via === "grant"
        ? { scopeKey: decision.scopeKey, kind: decision.kind, ...(decision.path ? { path: decision.path } : {}) }
        : undefined,
    rule: access === "granted" && decision.allowed && decision.via === "rule" ? REGULATOR_SCOPE_NAMES[decision.rule] : undefined,
  };
}

/**
 * The bytes32 the chain should hold for a stored event: the record hash kept from capture or
 * receipt while the document is unchanged since (its content digest matches), else recomputed
 * from the document itself (an event stored before digests were kept, or altered on disk).
 */
function heldRecordHash(stored: StoredEvent): string | undefined {
  if (stored.contentDigest !== undefined && contentDigestOf(stored) === stored.contentDigest) return stored.recordHash.toLowerCase();
  try {
    return recordHashOf(stored.event, { context: stored.context }).toLowerCase();
  } catch {
    return undefined;
  }
}

async function certificateBody(c: IndexedCertificate, org: ReturnType<typeof orgNames>): Promise<ItemCertificateAnswer> {
  const state = STATUS_NAMES[c.status];
  const ZERO = "0x" + "00".repeat(32);
  return {
    id: c.id,
    credentialHash: c.id,
    subject: c.subject,
    issuer: await org(c.issuer),
    scope: c.scope,
    validFrom: iso(c.validFrom),
    validUntil: c.validUntil === 0 ? null : iso(c.validUntil),
    state,
    reason: c.reason !== 0 || c.state === CertificateState.Revoked ? c.reason : undefined,
    supersededBy: c.supersededBy !== ZERO ? c.supersededBy : undefined,
    supersedes: c.supersedes !== ZERO ? c.supersedes : undefined,
    accreditedAtIssuance: c.accreditedAtIssuance,
    accreditedNow: c.accreditedNow,
    issuedAt: iso(c.issuedAt),
    history: c.history.map((h) => ({ ...h, time: iso(h.time) })),
  };
}

// ---------------------------------------------------------------- OpenAPI

const idParam = {
  name: "id",
  in: "path",
  required: true,
  description: "URL-encoded GS1 Digital Link, EPC URI (urn:epc:id:...) or 0x item key",
  schema: { type: "string" },
};
const org = { $ref: "#/components/schemas/Organisation" };
const auth401 = problem("No token, or an expired or invalid one");
const auth403 = problem("The caller's organisation is not an active member");
const common = (extra: Record<string, unknown> = {}) => ({
  "400": problem("Malformed id or query parameter, or an unknown query parameter"),
  "401": auth401,
  "403": auth403,
  "404": problem("The chain never saw this item"),
  "503": problem("This node runs no chain index, or its index stopped or trails the chain (Retry-After)"),
  ...extra,
});

/** Conditional requests of the kept answers (history, genealogy): the ETag of an earlier answer. */
const ifNoneMatch = { name: "If-None-Match", in: "header", required: false, schema: { type: "string" }, description: "ETag of an answer the client holds: 304 without a body while the answer is the same (reads are logged as for a 200)" };
const notModified = { description: "The answer is the one the client holds (its ETag matched); no body" };

export const paths: OpenApiPaths = {
  "/items/{id}": {
    get: {
      summary: "An item (or batch) as the chain knows it: status, owner, custodian, batch, recall",
      tags: ["traceability"],
      security: bearer,
      parameters: [idParam],
      responses: {
        "200": json("The item", {
          type: "object",
          required: ["kind", "key"],
          properties: {
            kind: { enum: ["item", "batch"] },
            key: { type: "string" },
            identifier: { type: "string" },
            digitalLink: { type: "string" },
            status: { type: "string" },
            owner: org,
            custodian: org,
            batchKey: { type: "string" },
            recalled: { type: "boolean" },
            createdAt: { type: "string", format: "date-time" },
          },
        }),
        ...common(),
      },
    },
  },
  "/items/{id}/history": {
    get: {
      summary: "The item's records in order, each with its EPCIS document when the caller may read it",
      tags: ["traceability"],
      security: bearer,
      parameters: [
        idParam,
        { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000, default: 200 } },
        { name: "after", in: "query", description: "record id to continue after (from `nextAfter`)", schema: { type: "integer", minimum: 0 } },
        ifNoneMatch,
      ],
      responses: {
        "304": notModified,
        "200": json("The history", {
          type: "object",
          required: ["item", "entries"],
          properties: {
            item: { type: "object" },
            entries: {
              type: "array",
              items: {
                type: "object",
                required: ["recordId", "kind", "org", "eventHash", "block", "tx", "time", "document", "access"],
                properties: {
                  recordId: { type: "integer" },
                  kind: { type: "string" },
                  org,
                  eventHash: { type: "string" },
                  eventId: { type: ["string", "null"] },
                  block: { type: "integer" },
                  tx: { type: "string" },
                  time: { type: "string", format: "date-time" },
                  corrects: { type: "integer" },
                  document: { type: ["object", "null"], description: "the EPCIS event, or null when withheld or not held by this node" },
                  access: { enum: ["own", "granted", "public-fact"] },
                },
              },
            },
            nextAfter: { type: "integer" },
          },
        }),
        ...common(),
      },
    },
  },
  "/items/{id}/genealogy": {
    get: {
      summary: "Genealogy graph: where the item came from (backward) and where it went (forward), with the recall scope",
      tags: ["traceability"],
      security: bearer,
      parameters: [
        idParam,
        { name: "direction", in: "query", schema: { enum: ["backward", "forward", "both"], default: "both" } },
        { name: "depth", in: "query", description: "steps to follow (default: any)", schema: { type: "integer", minimum: 1, maximum: 1000 } },
        { name: "limit", in: "query", description: "most nodes (default 1000)", schema: { type: "integer", minimum: 1, maximum: 10000 } },
        ifNoneMatch,
      ],
      responses: {
        "304": notModified,
        "200": json("The graph", {
          type: "object",
          required: ["root", "nodes", "edges", "recallScope"],
          properties: {
            root: { type: "string" },
            nodes: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  key: { type: "string" },
                  digitalLink: { type: "string", description: "the part's identifier (GTIN with serial or lot), where the caller may read a document naming it" },
                  status: { type: "string" },
                  owner: org,
                  recalled: { type: "boolean" },
                  batchKey: { type: "string" },
                  batchDigitalLink: { type: "string", description: "the batch's identifier (GTIN with lot, e.g. a heat), where the caller may read a document naming it" },
                  depth: { type: "integer" },
                },
              },
            },
            edges: {
              type: "array",
              items: { type: "object", properties: { from: { type: "string" }, to: { type: "string" }, kind: { enum: ["transformation", "assembly"] }, recordId: { type: "integer" } } },
            },
            recallScope: { type: "array", items: { type: "string" } },
            truncated: { type: "boolean" },
          },
        }),
        ...common(),
      },
    },
  },
  "/items/{id}/certificates": {
    get: {
      summary: "Certificates of the item and of its batch, with status, issuer accreditation and history",
      tags: ["traceability"],
      security: bearer,
      parameters: [idParam],
      responses: { "200": json("The certificates", { type: "array", items: { type: "object" } }), ...common() },
    },
  },
  "/anchors/{node}/{sequence}": {
    get: {
      summary: "A data-window anchor of a node",
      tags: ["traceability"],
      security: bearer,
      parameters: [
        { name: "node", in: "path", required: true, description: "the anchoring node's account", schema: { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" } },
        { name: "sequence", in: "path", required: true, schema: { type: "integer", minimum: 1 } },
      ],
      responses: {
        "200": json("The anchor", {
          type: "object",
          required: ["node", "sequence", "root", "leafCount", "from", "to", "previousRoot", "tx", "block"],
          properties: {
            node: { type: "string" },
            sequence: { type: "integer" },
            root: { type: "string" },
            leafCount: { type: "integer" },
            from: { type: "string", format: "date-time" },
            to: { type: "string", format: "date-time" },
            previousRoot: { type: "string" },
            tx: { type: "string" },
            block: { type: "integer" },
          },
        }),
        ...common({ "404": problem("No such anchor") }),
      },
    },
  },
  "/consortium": {
    get: {
      summary: "Members with roles, accounts and nodes; recent proposals with votes",
      tags: ["traceability"],
      security: bearer,
      parameters: [{ name: "proposals", in: "query", description: "how many recent proposals (default 50)", schema: { type: "integer", minimum: 0, maximum: 500 } }],
      responses: {
        "200": json("The consortium", {
          type: "object",
          required: ["members", "proposals"],
          properties: {
            members: { type: "array", items: { type: "object" } },
            proposals: { type: "array", items: { type: "object" } },
          },
        }),
        "400": problem("Malformed or unknown query parameter"),
        "401": auth401,
        "403": auth403,
        "503": problem("This node runs no chain index"),
      },
    },
  },
};
