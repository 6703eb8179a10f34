/**
 * AccessGrants commands: grant, revoke-grant, grants check, grants show. `grants check` applies
 * lib/access.ts: without a grant on the item itself it looks for a genealogy grant on a product
 * the item went into (over links the grantor knew) and names the path.
 */
import { ChainAccessChecker, mayReadItem } from "../../lib/access.ts";
import { type GrantRequest, GrantRefused, checkGrant, checkRevoke, grantState, issuedGrant } from "../../lib/access-grants.ts";
import { OrgStatus } from "../../lib/consortium.ts";
import { ScopeKind } from "../../lib/registry.ts";
import type { Handler } from "./handler.ts";
import { ChainLogGenealogy } from "./genealogy.ts";
import { formatTime, isoTime, orgStatusName, relativeTime } from "./describe.ts";
import { Refusal, UsageError } from "./output.ts";
import * as parse from "./parse.ts";
import type { Session } from "./session.ts";

function grantId(value: string | undefined): string {
  if (value === undefined || !/^0x[0-9a-fA-F]{64}$/.test(value)) {
    throw new UsageError(`a grant id is 0x followed by 64 hex digits (as printed by \`tm grant\`), got "${value ?? ""}"`);
  }
  return value.toLowerCase();
}

/** The shared checks' refusal (lib/access-grants.ts) as the CLI reports one. */
function refusing(check: () => void): void {
  try {
    check();
  } catch (e) {
    if (e instanceof GrantRefused) throw new Refusal(e.message, { ...e.details, check: e.check });
    throw e;
  }
}

type GrantRecord = Awaited<ReturnType<Session["contracts"]["accessGrants"]["grant"]>>;

function grantJson(s: Session, id: string, g: GrantRecord, now: number) {
  const kind = Number(g.kind) as ScopeKind;
  return {
    id,
    owner: { id: Number(g.owner), name: s.orgName(Number(g.owner)) },
    grantee: { id: Number(g.grantee), name: s.orgName(Number(g.grantee)) },
    scope: parse.SCOPE_WORDS[kind],
    scopeKey: g.scopeKey,
    purpose: g.purpose,
    ...(kind === ScopeKind.AnchorWindowRange ? { fromMs: Number(g.from), toMs: Number(g.to) } : {}),
    version: Number(g.version),
    grantedAt: isoTime(g.grantedAt),
    expiresAt: isoTime(g.expiresAt),
    revoked: g.revoked,
    revokedAt: g.revoked ? isoTime(g.revokedAt) : null,
    state: grantState(g, now),
  };
}

function rangeText(g: GrantRecord): string {
  const ms = (v: bigint) => new Date(Number(v)).toISOString();
  return Number(g.kind) === ScopeKind.AnchorWindowRange ? `, readings from ${ms(g.from)} to ${ms(g.to)}` : "";
}

export const grant: Handler = (inv) => {
  const kind = parse.scopeKind(parse.required(inv.values, "scope", inv.command));
  const key = parse.identifier("--key", parse.required(inv.values, "key", inv.command));
  const purpose = parse.identifier("--purpose", parse.required(inv.values, "purpose", inv.command));
  const expiresText = parse.required(inv.values, "expires", inv.command);
  const fromText = parse.str(inv.values, "from");
  const toText = parse.str(inv.values, "to");
  // Syntax now; relative times are read against the chain's clock once connected.
  parse.time("--expires", expiresText, 0);
  if (kind === ScopeKind.AnchorWindowRange) {
    if (fromText === undefined || toText === undefined)
      throw new UsageError("a window-range grant needs --from and --to", inv.command);
    parse.timeMs("--from", fromText, 0);
    parse.timeMs("--to", toText, 0);
  } else if (fromText !== undefined || toText !== undefined) {
    throw new UsageError("only window-range grants take --from and --to", inv.command);
  }
  return async (s) => {
    const now = await s.now();
    const expiresAt = parse.time("--expires", expiresText, now);
    let from = 0;
    let to = 0;
    if (kind === ScopeKind.AnchorWindowRange) {
      from = parse.timeMs("--from", fromText, now * 1000);
      to = parse.timeMs("--to", toText, now * 1000);
      if (from >= to)
        throw new UsageError(
          `--from (${new Date(from).toISOString()}) must be before --to (${new Date(to).toISOString()})`,
          inv.command,
        );
    }

    const me = await s.requireActive(inv.command, "grant access to its data");
    const grantee = await s.resolveOrg(inv.positionals[0], "<grantee>");
    const request: GrantRequest = { grantee: grantee.id, kind, scopeKey: key.hex, purpose: purpose.hex, fromMs: from, toMs: to, expiresAt };
    refusing(() => checkGrant(request, { owner: me.org.id, granteeStatus: grantee.status, now, name: (id) => s.org(id) }));

    const scopeWord = parse.SCOPE_WORDS[kind];
    const sent = await s.send(inv.command, "AccessGrants", `grant ${s.org(grantee.id)} ${scopeWord} ${parse.showId(key)}`, (c) =>
      c.accessGrants.grantAccess(grantee.id, kind, key.hex, purpose.hex, from, to, expiresAt),
    );
    const { id, version } = issuedGrant(sent.receipt, s.contracts.accessGrants, s.deployment.contracts.accessGrants, me.org.id, request);
    return {
      text: [
        `${s.org(me.org.id)} granted ${s.org(grantee.id)} read access`,
        `  scope    ${scopeWord} ${parse.showId(key)}${kind === ScopeKind.AnchorWindowRange ? `, readings from ${new Date(from).toISOString()} to ${new Date(to).toISOString()}` : ""}`,
        `  purpose  ${parse.showId(purpose)}`,
        `  until    ${formatTime(expiresAt)} (${relativeTime(expiresAt, now)})`,
        `  grant id ${id}${version > 1 ? ` (re-issued: version ${version})` : ""}`,
        `  transaction ${sent.hash} (block ${sent.blockNumber})`,
      ].join("\n"),
      json: {
        grantId: id,
        version,
        owner: me.org.id,
        grantee: grantee.id,
        scope: scopeWord,
        scopeKey: key.hex,
        scopeText: key.text ?? null,
        purpose: purpose.hex,
        purposeText: purpose.text ?? null,
        ...(kind === ScopeKind.AnchorWindowRange ? { fromMs: from, toMs: to } : {}),
        expiresAt: isoTime(expiresAt),
        tx: sent.hash,
        block: sent.blockNumber,
      },
    };
  };
};

export const revokeGrant: Handler = (inv) => {
  const id = grantId(inv.positionals[0]);
  return async (s) => {
    const me = await s.requireActive(inv.command, "revoke grants");
    const g = await s.contracts.accessGrants.grant(id);
    refusing(() => checkRevoke(id, g, me.org.id, (org) => s.org(org)));
    const sent = await s.send(inv.command, "AccessGrants", `revoke grant ${id}`, (c) => c.accessGrants.revokeAccess(id));
    return {
      text: [
        `${s.org(me.org.id)} revoked grant ${id}: ${s.org(Number(g.grantee))} may no longer read ${parse.SCOPE_WORDS[Number(g.kind) as ScopeKind]} ${g.scopeKey}`,
        `  transaction ${sent.hash} (block ${sent.blockNumber})`,
      ].join("\n"),
      json: {
        grantId: id,
        revoked: true,
        grantee: Number(g.grantee),
        scopeKey: g.scopeKey,
        tx: sent.hash,
        block: sent.blockNumber,
      },
    };
  };
};

export const check: Handler = (inv) => {
  const [granteeRef, ownerRef, keyText] = inv.positionals;
  const key = parse.identifier("<scopeKey>", keyText);
  const atText = parse.str(inv.values, "at");
  if (atText !== undefined) parse.timeMs("--at", atText, 0);
  return async (s) => {
    await s.loadNames();
    const now = await s.now();
    const at = atText !== undefined ? parse.timeMs("--at", atText, now * 1000) : undefined;
    const [grantee, owner] = await Promise.all([s.resolveOrg(granteeRef, "<grantee>"), s.resolveOrg(ownerRef, "<owner>")]);
    const { accessGrants } = s.contracts;
    const id = await accessGrants.grantIdOf(owner.id, grantee.id, key.hex);
    const [allowed, g] = await Promise.all([
      at !== undefined
        ? accessGrants.isAllowedAt(grantee.id, owner.id, key.hex, at)
        : accessGrants.isAllowed(grantee.id, owner.id, key.hex),
      accessGrants.grant(id),
    ]);

    // No grant on the item itself: a genealogy grant on a product it went into may cover it.
    if (!allowed && at === undefined) {
      const checker = new ChainAccessChecker(s.deployment.contracts, s.provider, { ttlMs: 0 });
      const d = await mayReadItem(checker, grantee.id, owner.id, { key: key.hex, genealogy: new ChainLogGenealogy(s.contracts, s.deployment.deploymentBlock) });
      if (d.allowed && d.via === "grant" && d.path) {
        const pid = await accessGrants.grantIdOf(owner.id, grantee.id, d.scopeKey);
        const pg = await accessGrants.grant(pid);
        const path = d.path.map((k) => (k === key.hex ? parse.showId(key) : k));
        return {
          text: [
            `allowed: ${s.org(grantee.id)} may read the data of ${s.org(owner.id)} about ${parse.showId(key)}`,
            `  through genealogy: ${path.join(" contains ")}`,
            `  granted until ${formatTime(pg.expiresAt)} (${relativeTime(pg.expiresAt, now)}), item-genealogy on ${d.scopeKey}`,
            `  grant id ${pid}`,
          ].join("\n"),
          json: {
            allowed: true,
            grantee: grantee.id,
            owner: owner.id,
            scopeKey: key.hex,
            reason: `through genealogy: ${path.join(" contains ")}`,
            path: d.path,
            grant: grantJson(s, pid, pg, now),
          },
        };
      }
    }

    let why: string;
    if (Number(g.owner) === 0) why = `${s.org(owner.id)} has never granted ${s.org(grantee.id)} access to this scope`;
    else if (g.revoked) why = `the grant was revoked ${formatTime(g.revokedAt)}`;
    else if (now >= Number(g.expiresAt)) why = `the grant expired ${formatTime(g.expiresAt)}`;
    else if (grantee.status !== OrgStatus.Active) why = `${s.org(grantee.id)} is ${orgStatusName(grantee.status)}`;
    else if (owner.status !== OrgStatus.Active) why = `${s.org(owner.id)} is ${orgStatusName(owner.status)}`;
    else if (Number(g.kind) === ScopeKind.AnchorWindowRange && at === undefined) {
      why = `the grant covers only readings from ${new Date(Number(g.from)).toISOString()} to ${new Date(Number(g.to)).toISOString()}: ask with --at TIME`;
    } else if (!allowed) why = `the data time ${new Date(at ?? 0).toISOString()} lies outside the granted range${rangeText(g)}`;
    else
      why = `granted until ${formatTime(g.expiresAt)} (${relativeTime(g.expiresAt, now)}), ${parse.SCOPE_WORDS[Number(g.kind) as ScopeKind]}${rangeText(g)}`;

    return {
      text: [
        `${allowed ? "allowed" : "not allowed"}: ${s.org(grantee.id)} ${allowed ? "may" : "may not"} read the data of ${s.org(owner.id)} about ${parse.showId(key)}${
          at !== undefined ? ` from ${new Date(at).toISOString()}` : ""
        }`,
        `  ${why}`,
        ...(Number(g.owner) !== 0 ? [`  grant id ${id}`] : []),
      ].join("\n"),
      json: {
        allowed,
        grantee: grantee.id,
        owner: owner.id,
        scopeKey: key.hex,
        ...(at !== undefined ? { atMs: at } : {}),
        reason: why,
        grant: Number(g.owner) === 0 ? null : grantJson(s, id, g, now),
      },
    };
  };
};

export const show: Handler = (inv) => {
  const id = grantId(inv.positionals[0]);
  return async (s) => {
    await s.loadNames();
    const [g, now] = await Promise.all([s.contracts.accessGrants.grant(id), s.now()]);
    if (Number(g.owner) === 0) throw new Refusal(`there is no grant ${id}`, { check: "UnknownGrant" });
    const j = grantJson(s, id, g, now);
    return {
      text: [
        `Grant ${id} (version ${j.version}): ${j.state}`,
        `  owner    ${s.org(j.owner.id)}`,
        `  grantee  ${s.org(j.grantee.id)}`,
        `  scope    ${j.scope} ${g.scopeKey}${rangeText(g)}`,
        `  purpose  ${g.purpose}`,
        `  granted  ${formatTime(g.grantedAt)}`,
        `  expires  ${formatTime(g.expiresAt)} (${relativeTime(g.expiresAt, now)})`,
        ...(g.revoked ? [`  revoked  ${formatTime(g.revokedAt)}`] : []),
      ].join("\n"),
      json: j,
    };
  };
};
