/**
 * The member tool's commands: names, arguments, options and help, in one table. Handlers are
 * loaded only when their command runs, so help and usage errors answer without loading ethers
 * and the contract bindings.
 */
import type { GatewayHandler, Handler } from "./handler.ts";

export interface OptionSpec {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
  /** Placeholder in help, e.g. "URL". */
  value?: string;
  description: string;
}

export interface CommandSpec {
  path: string[];
  /** Arguments as shown in help, e.g. "<proposalId> yes|no". */
  args: string;
  summary: string;
  /** Longer help: what is checked, what the values mean. */
  details?: string;
  positionals: readonly [min: number, max: number];
  options?: Record<string, OptionSpec>;
  /** Sends a transaction, so it needs the signing key. */
  signs: boolean;
  load: () => Promise<Handler>;
  /** Instead of `load`: a command that talks only to a member gateway (no chain, no deployment record). */
  loadForGateway?: () => Promise<GatewayHandler>;
}

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  rpc: {
    type: "string",
    value: "URL",
    description: "JSON-RPC endpoint of the chain (default $TRACEMESH_RPC_URL, else http://127.0.0.1:8545)",
  },
  deployment: {
    type: "string",
    value: "FILE",
    description: "deployment record naming the contracts (default .demo/deployment.json)",
  },
  "key-file": {
    type: "string",
    value: "FILE",
    description:
      "file with the signing key: 0x-hex, or an encrypted JSON keystore whose password is in $TRACEMESH_KEY_PASSWORD. " +
      "Or set $TRACEMESH_KEY. Never on the command line.",
  },
  json: { type: "boolean", description: "machine output: one JSON document on stdout (errors as JSON on stderr)" },
  help: { type: "boolean", short: "h", description: "help for the command" },
};

const ORG = "an organisation id (3), its exact name, or one of its accounts (0x...)";
const ID_TEXT = "0x followed by 64 hex digits is used as is; any other text is hashed with keccak256 (UTF-8)";
const CERT_ID = `@FILE names a credential (vc+jwt, or enveloped VC JSON) whose credential hash is the id; otherwise ${ID_TEXT}`;
const TIME =
  "an ISO date or time (2026-03-31, 2026-03-31T12:00Z), Unix seconds, or relative to the chain's clock (+30d, +12h, +90m, +2w)";

const governance = () => import("./governance.ts");
/** `load` of a gateway-only command: never called, cli.ts runs `loadForGateway` instead. */
const gatewayOnly = (): Promise<Handler> => Promise.reject(new Error("a gateway-only command has no chain handler"));
const access = () => import("./access.ts");
const certs = () => import("./certs.ts");

const nodeOptions: Record<string, OptionSpec> = {
  "peer-id": { type: "string", value: "ID", description: "libp2p peer id of the node (12D3KooW... or Qm...)" },
  enode: { type: "string", value: "HEX", description: "Besu node public key: 128 hex digits (optional)" },
  "enode-host": { type: "string", value: "HOST", description: "Besu node host, informational (optional)" },
  "enode-port": { type: "string", value: "PORT", description: "Besu p2p port (default 30303 when --enode is given)" },
  validator: { type: "string", value: "ADDR", description: "QBFT validator address of the node (optional)" },
};

const certWindow: Record<string, OptionSpec> = {
  subject: { type: "string", value: "KEY", description: `item or batch key the certificate is about; ${ID_TEXT}` },
  scope: { type: "string", value: "SCOPE", description: `certificate type, e.g. EN10204-3.1; ${ID_TEXT}` },
  "valid-from": { type: "string", value: "TIME", description: `start of validity (default: now); ${TIME}` },
  "valid-until": { type: "string", value: "TIME", description: `end of validity, exclusive (default: none); ${TIME}` },
};

const reasonOptions: Record<string, OptionSpec> = {
  reason: {
    type: "string",
    value: "CODE",
    description:
      "unspecified, issued-in-error, non-conformity, misuse, fraud, holder-request, under-investigation, key-compromise",
  },
  statement: {
    type: "string",
    value: "TEXT",
    description: `the off-chain statement behind the reason, recorded as its hash; ${ID_TEXT}`,
  },
};

const proposeOrg = (kind: string, verb: string): CommandSpec => ({
  path: ["propose", kind],
  args: "<org>",
  summary: `propose to ${verb} an organisation`,
  details: `<org>: ${ORG}.`,
  positionals: [1, 1],
  signs: true,
  load: async () => (await governance()).propose,
});

export const COMMANDS: CommandSpec[] = [
  {
    path: ["status"],
    args: "",
    summary: "chain, contracts, your organisation and roles, members, open proposals",
    details: "Works without a key; with one it also says which organisation the key signs for.",
    positionals: [0, 0],
    signs: false,
    load: async () => (await governance()).status,
  },
  {
    path: ["org", "list"],
    args: "",
    summary: "every organisation with its status and roles",
    positionals: [0, 0],
    signs: false,
    load: async () => (await governance()).orgList,
  },
  {
    path: ["org", "show"],
    args: "<org>",
    summary: "one organisation: status, roles, signing accounts, nodes",
    details: `<org>: ${ORG}.`,
    positionals: [1, 1],
    signs: false,
    load: async () => (await governance()).orgShow,
  },
  {
    path: ["proposals"],
    args: "[--all]",
    summary: "open proposals with tallies and deadlines (--all: every proposal)",
    positionals: [0, 0],
    options: { all: { type: "boolean", description: "list executed, rejected and expired proposals too" } },
    signs: false,
    load: async () => (await governance()).proposals,
  },
  {
    path: ["propose", "admit"],
    args: "--name NAME --role ROLE... --account ADDR... [node options]",
    summary: "propose to admit a new organisation",
    details:
      "Roles: supplier, manufacturer, logistics, certifier, regulator, auditor (repeat --role or separate with commas). " +
      "Give --peer-id (and the other node options) to register the organisation's first node with it.",
    positionals: [0, 0],
    options: {
      name: { type: "string", value: "NAME", description: "the organisation's name" },
      role: { type: "string", multiple: true, value: "ROLE", description: "a role to hold (repeatable, or comma-separated)" },
      account: {
        type: "string",
        multiple: true,
        value: "ADDR",
        description: "a signing account (repeatable, or comma-separated)",
      },
      ...nodeOptions,
    },
    signs: true,
    load: async () => (await governance()).propose,
  },
  proposeOrg("suspend", "suspend"),
  proposeOrg("reinstate", "reinstate a suspended"),
  proposeOrg("remove", "remove"),
  ...(["grant-role", "revoke-role"] as const).map((kind): CommandSpec => ({
    path: ["propose", kind],
    args: "<org> <role>",
    summary: kind === "grant-role" ? "propose to give an organisation a role" : "propose to take a role from an organisation",
    details: `<org>: ${ORG}. <role>: supplier, manufacturer, logistics, certifier, regulator, auditor.`,
    positionals: [2, 2],
    signs: true,
    load: async () => (await governance()).propose,
  })),
  ...(["add-account", "remove-account"] as const).map((kind): CommandSpec => ({
    path: ["propose", kind],
    args: "<org> <address>",
    summary:
      kind === "add-account"
        ? "propose a new signing account for an organisation"
        : "propose to retire a signing account (it never signs for anyone again)",
    details: `<org>: ${ORG}.`,
    positionals: [2, 2],
    signs: true,
    load: async () => (await governance()).propose,
  })),
  {
    path: ["propose", "add-node"],
    args: "<org> --peer-id ID [--enode HEX --enode-host HOST --enode-port PORT --validator ADDR]",
    summary: "propose a node identity (libp2p peer, Besu enode, validator) for an organisation",
    details: `<org>: ${ORG}.`,
    positionals: [1, 1],
    options: nodeOptions,
    signs: true,
    load: async () => (await governance()).propose,
  },
  {
    path: ["propose", "remove-node"],
    args: "<nodeId>",
    summary: "propose to remove a node identity (ids are listed by `org show`)",
    positionals: [1, 1],
    signs: true,
    load: async () => (await governance()).propose,
  },
  {
    path: ["propose", "set-governance"],
    args: "[--quorum BPS|PCT%] [--voting-period DURATION]",
    summary: "propose a new quorum and/or voting period (the other stays as it is)",
    details:
      "Quorum in basis points (6000) or percent (60%), at least 5001 (a strict majority). Voting period: 3600, 90m, 12h, 2d, 1w (5 minutes to 90 days).",
    positionals: [0, 0],
    options: {
      quorum: { type: "string", value: "BPS", description: "share of active organisations whose approval passes a proposal" },
      "voting-period": { type: "string", value: "DURATION", description: "how long a proposal stays open" },
    },
    signs: true,
    load: async () => (await governance()).propose,
  },
  {
    path: ["propose", "set-execution-delay"],
    args: "<DURATION>",
    summary: "propose how long a passed upgrade or call waits before anyone may execute it",
    details: "0, 3600, 90m, 12h, 2d, 1w (at most 30 days). The change itself waits out the current delay.",
    positionals: [1, 1],
    signs: true,
    load: async () => (await governance()).propose,
  },
  {
    path: ["propose", "set-governed"],
    args: "<address>[,<address>...] [--remove]",
    summary: "propose the proxies Upgrade and Call proposals may act on (or, with --remove, may no longer)",
    details: "Each proxy must name this Consortium as the contract that governs it.",
    positionals: [1, 1],
    options: { remove: { type: "boolean", description: "take the proxies off the list" } },
    signs: true,
    load: async () => (await governance()).propose,
  },
  {
    path: ["propose", "call"],
    args: "<address> <calldata>",
    summary: "propose that the consortium call a governed proxy (an onlyConsortium setting) with this calldata",
    details: "<calldata>: 0x-hex, the function selector and its ABI-encoded arguments. Executes after the execution delay.",
    positionals: [2, 2],
    signs: true,
    load: async () => (await governance()).propose,
  },
  {
    path: ["propose", "set-transaction-gas-limit"],
    args: "<GAS>|none",
    summary: "propose the largest gas limit a member's transaction may have (Besu account permissioning)",
    details: "At least 5000000, so members can always vote it back up; none removes the bound.",
    positionals: [1, 1],
    signs: true,
    load: async () => (await governance()).propose,
  },
  {
    path: ["vote"],
    args: "<proposalId> yes|no",
    summary: "vote for your organisation on an open proposal (the deciding vote executes it)",
    positionals: [2, 2],
    signs: true,
    load: async () => (await governance()).vote,
  },
  {
    path: ["execute"],
    args: "<proposalId>",
    summary: "settle an open proposal whose outcome changed without a vote (members suspended, quorum changed)",
    positionals: [1, 1],
    signs: true,
    load: async () => (await governance()).execute,
  },
  {
    path: ["object"],
    args: "<proposalId>",
    summary: "object to a passed upgrade, call or delay change while it waits out the execution delay",
    details:
      "Any active organisation but the proposal's subject, once, even one that voted for it. The proposal is cancelled " +
      "(never executes) once its opponents, organisations that voted no or objected, are as many as could have rejected it by voting no.",
    positionals: [1, 1],
    signs: true,
    load: async () => (await governance()).object,
  },
  {
    path: ["grant"],
    args: "<grantee> --scope KIND --key KEY --purpose TEXT --expires TIME [--from TIME --to TIME]",
    summary: "let another organisation read your data about an item, batch or stream, until a time",
    details:
      `<grantee>: ${ORG}. KIND: item, item-genealogy (the item and its genealogy subtree), batch, stream, ` +
      "window-range (a stream's readings with source time in [--from, --to), recorded in Unix milliseconds like " +
      "readings and anchors). Granting the same scope again re-issues the grant.",
    positionals: [1, 1],
    options: {
      scope: { type: "string", value: "KIND", description: "item, item-genealogy, batch, stream or window-range" },
      key: { type: "string", value: "KEY", description: `item or batch identifier, or stream id; ${ID_TEXT}` },
      purpose: { type: "string", value: "TEXT", description: `purpose code, e.g. QUALITY_CLAIM; ${ID_TEXT}` },
      expires: { type: "string", value: "TIME", description: `when the grant lapses; ${TIME}` },
      from: { type: "string", value: "TIME", description: `window-range: first data time covered; ${TIME}` },
      to: { type: "string", value: "TIME", description: "window-range: end of the data time covered (exclusive)" },
    },
    signs: true,
    load: async () => (await access()).grant,
  },
  {
    path: ["revoke-grant"],
    args: "<grantId>",
    summary: "revoke a grant your organisation gave (its id is printed by `grant`)",
    positionals: [1, 1],
    signs: true,
    load: async () => (await access()).revokeGrant,
  },
  {
    path: ["grants", "check"],
    args: "<grantee> <owner> <scopeKey> [--at TIME]",
    summary: "may <grantee> read <owner>'s data about <scopeKey> now? (with the grant behind the answer)",
    details: `<grantee>, <owner>: ${ORG}. <scopeKey>: ${ID_TEXT}. --at asks about data of that source time (window-range grants).`,
    positionals: [3, 3],
    options: { at: { type: "string", value: "TIME", description: `source time of the data asked about; ${TIME}` } },
    signs: false,
    load: async () => (await access()).check,
  },
  {
    path: ["grants", "show"],
    args: "<grantId>",
    summary: "one grant as recorded: owner, grantee, scope, purpose, expiry, revocation",
    positionals: [1, 1],
    signs: false,
    load: async () => (await access()).show,
  },
  {
    path: ["access-log"],
    args: "--gateway URL [--reader ORG] [--after N] [--limit N]",
    summary: "who read your organisation's data: the access log of your member gateway, with its hash-chain check",
    details: `Signs in at the gateway with your key (--key-file or $TRACEMESH_KEY); only the gateway's own organisation may read its log. Each entry is one answer a partner was served, listing every document or reading it handed out with the grant or rule that allowed it. --reader: ${ORG}.`,
    positionals: [0, 0],
    options: {
      gateway: { type: "string", value: "URL", description: "your member gateway, e.g. http://127.0.0.1:8601" },
      reader: { type: "string", value: "ORG", description: "only this organisation's reads" },
      after: { type: "string", value: "N", description: "entries after this sequence number" },
      limit: { type: "string", value: "N", description: "at most this many entries (default 100, at most 1000)" },
    },
    signs: false,
    load: async () => (await import("./access-log.ts")).accessLog,
  },
  {
    path: ["capture"],
    args: "<file|-> --gateway URL",
    summary: "capture an EPCIS 2.0 document (JSON-LD or XML, a file or - for standard input) at your member gateway and follow its job",
    details: "Signs in at the gateway with your key (--key-file or $TRACEMESH_KEY). The document is recorded whole or not at all; a refusal names the event and why.",
    positionals: [1, 1],
    options: { gateway: { type: "string", value: "URL", description: "your member gateway (default $TRACEMESH_GATEWAY), e.g. http://127.0.0.1:8601" } },
    signs: false,
    load: gatewayOnly,
    loadForGateway: async () => (await import("./capture.ts")).capture,
  },
  {
    path: ["import"],
    args: "<sheet.csv|sheet.xlsx> --gateway URL [--check] [--labels FILE.pdf|FILE.svg] [--size 70x37|99x38|48x25]",
    summary: "register the items of a spreadsheet (the workbench template: gtin, serial, lot, production_date, location) and print their labels",
    details:
      "Every row is checked first (GTIN check digit, serial and lot in GS1's character set, dates, location GLN, repeated serials); while any row has a fault nothing is captured. " +
      "The items are then captured in pages of 1,000 (commissioning events of 100), with progress. --check only checks. --labels writes A4 label sheets: one PDF for FILE.pdf, SVG otherwise.",
    positionals: [1, 1],
    options: {
      gateway: { type: "string", value: "URL", description: "your member gateway (default $TRACEMESH_GATEWAY)" },
      check: { type: "boolean", description: "check the sheet only; capture nothing" },
      labels: { type: "string", value: "FILE", description: "write label sheets: FILE.pdf as one PDF, otherwise SVG (FILE-2.svg... for more pages)" },
      size: { type: "string", value: "SIZE", description: "label size: 70x37 (3x8, default), 99x38 (2x7), 48x25 (4x10)" },
    },
    signs: false,
    load: gatewayOnly,
    loadForGateway: async () => (await import("./capture.ts")).importSheet,
  },
  {
    path: ["cert", "accredit"],
    args: "<certifier> <scope> [--expires TIME]",
    summary: "(regulators) accredit a certifier for a certificate type, or change the expiry of its accreditation",
    details: `<certifier>: ${ORG}. <scope>: certificate type, e.g. EN10204-3.1; ${ID_TEXT}.`,
    positionals: [2, 2],
    options: {
      expires: { type: "string", value: "TIME", description: `end of the accreditation (default: open-ended); ${TIME}` },
    },
    signs: true,
    load: async () => (await certs()).accredit,
  },
  {
    path: ["cert", "deaccredit"],
    args: "<certifier> <scope>",
    summary: "(regulators) withdraw a certifier's accreditation for a certificate type",
    details: `<certifier>: ${ORG}. <scope>: ${ID_TEXT}.`,
    positionals: [2, 2],
    signs: true,
    load: async () => (await certs()).deaccredit,
  },
  {
    path: ["cert", "issue"],
    args: "<certId> --subject KEY --scope SCOPE [--valid-from TIME] [--valid-until TIME]",
    summary: "(accredited certifiers) record a certificate by its credential hash",
    details: `<certId>: the credential's hash; ${CERT_ID}.`,
    positionals: [1, 1],
    options: certWindow,
    signs: true,
    load: async () => (await certs()).issue,
  },
  {
    path: ["cert", "suspend"],
    args: "<certId> [--reason CODE] [--statement TEXT]",
    summary: "(the issuer) suspend an active certificate",
    positionals: [1, 1],
    options: reasonOptions,
    signs: true,
    load: async () => (await certs()).suspend,
  },
  {
    path: ["cert", "reinstate"],
    args: "<certId>",
    summary: "(the issuer, accredited now) lift a suspension",
    positionals: [1, 1],
    signs: true,
    load: async () => (await certs()).reinstate,
  },
  {
    path: ["cert", "revoke"],
    args: "<certId> [--reason CODE] [--statement TEXT]",
    summary: "(the issuer) revoke a certificate for good",
    positionals: [1, 1],
    options: reasonOptions,
    signs: true,
    load: async () => (await certs()).revoke,
  },
  {
    path: ["cert", "supersede"],
    args: "<certId> <newCertId> --subject KEY --scope SCOPE [--valid-from TIME] [--valid-until TIME]",
    summary: "(the issuer, accredited now) replace a certificate with a new one",
    positionals: [2, 2],
    options: certWindow,
    signs: true,
    load: async () => (await certs()).supersede,
  },
  {
    path: ["cert", "status"],
    args: "<certId>",
    summary: "what a verifier is told: valid, suspended, revoked, ..., and the issuer's accreditation",
    details: `<certId>: ${CERT_ID}.`,
    positionals: [1, 1],
    signs: false,
    load: async () => (await certs()).status,
  },
  {
    path: ["cert", "verify"],
    args: "<credential-file> [--nonce NONCE --domain DOMAIN]",
    summary: "verify a credential (vc+jwt, enveloped VC 2.0, or a selective disclosure vc+sd-jwt): data model, signature, on-chain record and status",
    details:
      "<credential-file>: a compact JWS, a JSON enveloped credential, or an SD-JWT presentation. The checks are the gateway's and the explorer's (lib/credentials.ts); " +
      "the certificate is looked up where its TracemeshCertificateStatus entry says, which must be this consortium's Certificates contract. " +
      "A selective disclosure is checked for the challenge (--nonce) and domain you gave the holder, and the claims it discloses are listed. Exits non-zero unless valid.",
    positionals: [1, 1],
    options: {
      nonce: { type: "string", value: "NONCE", description: "selective disclosure: the challenge you gave the holder" },
      domain: { type: "string", value: "DOMAIN", description: "selective disclosure: your domain" },
    },
    signs: false,
    load: async () => (await certs()).verify,
  },
  {
    path: ["cert", "present"],
    args: "<credential-file>... --nonce NONCE --domain DOMAIN [--disclose PATH,...]",
    summary: "(a holder) present certificates to a verifier: prints a presentation (vp+jwt, or an SD-JWT disclosing chosen claims) bound to its challenge and domain",
    details:
      "<credential-file>: compact JWS or enveloped credentials; each keeps its certificate id. The presentation is signed with your key and is good for 10 minutes. " +
      "For one selectively disclosable credential (SD-JWT, vc+sd-jwt), --disclose names the claims to show (e.g. credentialSubject.grade,credentialSubject.tensileTest); the others stay hidden.",
    positionals: [1, 50],
    options: {
      nonce: { type: "string", value: "NONCE", description: "the challenge the verifier gave you" },
      domain: { type: "string", value: "DOMAIN", description: "the verifier's domain" },
      disclose: { type: "string", value: "PATH,...", description: "selective disclosure: the claims to disclose, comma-separated" },
    },
    signs: true,
    load: async () => (await certs()).present,
  },
  {
    path: ["cert", "verify-presentation"],
    args: "<presentation-file> --nonce NONCE --domain DOMAIN",
    summary: "verify a presentation (vp+jwt) for the challenge and domain you gave the holder, and every certificate in it",
    positionals: [1, 1],
    options: {
      nonce: { type: "string", value: "NONCE", description: "the challenge you gave the holder" },
      domain: { type: "string", value: "DOMAIN", description: "your domain" },
    },
    signs: false,
    load: async () => (await certs()).verifyPresentation,
  },
];

/** Command words that take a sub-command. */
export const GROUPS: Record<string, string> = {
  org: "organisations",
  propose: "governance proposals (one vote per organisation; the proposer votes yes)",
  grants: "looking up access grants",
  cert: "accreditation and certificates",
};

export function findCommand(words: string[]): CommandSpec | undefined {
  return COMMANDS.find((c) => c.path.length === words.length && c.path.every((w, i) => w === words[i]));
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  return Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.value ? ` ${o.value}` : ""}`;
    return `  ${flag.padEnd(30)} ${o.description}`;
  });
}

const HEADER = "tm: the Tracemesh member tool (npm run tm -- <command> ...)";

export function mainHelp(): string {
  const lines = [HEADER, "", "Usage: tm [global options] <command> [arguments] [options]", "", "Commands:"];
  for (const c of COMMANDS) lines.push(`  ${[c.path.join(" "), c.args].filter(Boolean).join(" ").padEnd(44)} ${c.summary}`);
  lines.push("", "Global options:", ...optionLines(GLOBAL_OPTIONS));
  lines.push(
    "",
    "Exit codes: 0 done, 1 refused (by a check before sending, or by the contract) or failed, 2 usage error.",
    "`tm <command> --help` describes one command.",
  );
  return lines.join("\n");
}

export function groupHelp(group: string): string {
  const lines = [`tm ${group}: ${GROUPS[group]}`, "", "Commands:"];
  for (const c of COMMANDS.filter((c) => c.path[0] === group)) {
    lines.push(`  ${[c.path.join(" "), c.args].filter(Boolean).join(" ").padEnd(44)} ${c.summary}`);
  }
  lines.push("", "`tm <command> --help` describes one command.");
  return lines.join("\n");
}

export function commandHelp(c: CommandSpec): string {
  const lines = [
    `Usage: tm ${[c.path.join(" "), c.args].filter(Boolean).join(" ")}`,
    "",
    c.summary[0]!.toUpperCase() + c.summary.slice(1) + ".",
  ];
  if (c.details) lines.push("", c.details);
  if (c.signs)
    lines.push(
      "",
      "Signs a transaction with the key from --key-file or $TRACEMESH_KEY; checks first what the contract would refuse.",
    );
  if (c.options) lines.push("", "Options:", ...optionLines(c.options));
  lines.push("", "Global options:", ...optionLines(GLOBAL_OPTIONS));
  return lines.join("\n");
}
