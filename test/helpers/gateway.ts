/**
 * A real gateway against a real chain, for tests: anvil on a free loopback port, the Tracemesh
 * contracts deployed with the demo consortium's eight organisations (test/helpers/fixture.ts),
 * GatewayServices built from it, the gateway listening on 127.0.0.1, and sign-in as any
 * organisation through the real EIP-4361 flow.
 *
 *   const gw = await startTestGateway();               // in beforeAll
 *   const token = await gw.signIn("oem");
 *   const res = await gw.request("/items/...", { token });
 *   await gw.stop();                                   // in afterAll: stops gateway and anvil
 *
 * Several gateways can share one chain: `startTestGateway({ chain: gw.chain })` (stop the chain
 * last, with `gw.chain.stop()` or the first gateway's `stop()`).
 */
import { type AbstractSigner, JsonRpcProvider, Wallet, toBeHex } from "ethers";
import type { Role } from "../../lib/consortium.ts";
import { type Deployment, type TracemeshContracts, connectContracts } from "../../lib/deployment.ts";
import { type LocalChain, deployLocal, devKey, peerOnlyNode, startAnvil } from "../../scripts/local-chain/local-chain.ts";
import { NamespacePolicy } from "../../lib/namespaces.ts";
import { GatewayClient } from "../../lib/gateway-client.ts";
import { type Gateway, type GatewayOptions, type RunningGateway, createGateway } from "../../gateway/app.ts";
import { type GatewayServices, chainServices } from "../../gateway/services.ts";
import { DEMO_ORGS, type Governed, type OrgKey } from "./fixture.ts";

export interface ChainOrg {
  id: number;
  name: string;
  roles: Role[];
  /** The organisation's first signing account, connected to the chain. */
  signer: Wallet;
  accounts: Wallet[];
  /** Contract handles that send as `signer`. */
  contracts: TracemeshContracts;
}

export interface TestChain extends Governed {
  chain: LocalChain;
  deployment: Deployment;
  provider: JsonRpcProvider;
  orgs: Record<OrgKey, ChainOrg>;
  /** A funded account that belongs to no organisation. */
  outsider: Wallet;
  /** Stops anvil. */
  stop(): Promise<void>;
}

/** Anvil + deployment + the demo organisations (founders, active, with their roles). */
export interface TestChainOptions {
  /**
   * Identifier namespaces: Unchecked by default, since most suites write registry keys directly
   * and capture GS1 examples under no registered prefix; namespace suites pass Enforced.
   */
  namespacePolicy?: NamespacePolicy;
  /** Identifier prefixes registered to organisations at deployment. */
  prefixes?: Partial<Record<OrgKey, string[]>>;
}

export async function startTestChain(options: TestChainOptions = {}): Promise<TestChain> {
  const chain = await startAnvil();
  try {
    // No request cache: back-to-back transactions of one wallet must each see the new nonce.
    const provider = new JsonRpcProvider(chain.url, chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
    provider.pollingInterval = 50;
    let next = 1;
    const plan = Object.entries(DEMO_ORGS).map(([key, spec]) => {
      const wallets = Array.from({ length: spec.accounts }, () => new Wallet(devKey(next++), provider));
      return { key: key as OrgKey, spec, wallets };
    });
    const outsider = new Wallet(devKey(next++), provider);
    // Anvil funds its first ten accounts; fund the rest directly.
    for (const w of [...plan.flatMap((p) => p.wallets), outsider]) {
      await provider.send("anvil_setBalance", [w.address, toBeHex(10n ** 21n)]);
    }
    const deployment = await deployLocal(
      chain.url,
      devKey(0),
      plan.map((p) => ({ name: p.spec.name, roles: [...p.spec.roles], accounts: p.wallets.map((w) => w.address),
        nodes: [peerOnlyNode(`12D3KooWTest${p.key}`)],
        prefixes: options.prefixes?.[p.key] ?? [],
      })),
      { namespacePolicy: options.namespacePolicy ?? NamespacePolicy.Unchecked },
    );
    const orgs = {} as Record<OrgKey, ChainOrg>;
    plan.forEach((p, i) => {
      orgs[p.key] = {
        id: i + 1,
        name: p.spec.name,
        roles: [...p.spec.roles],
        signer: p.wallets[0]!,
        accounts: p.wallets,
        contracts: connectContracts(deployment.contracts, p.wallets[0]!),
      };
    });
    const consortium = connectContracts(deployment.contracts, provider).consortium;
    return {
      chain,
      deployment,
      provider,
      orgs,
      outsider,
      consortium,
      stop: async () => {
        provider.destroy();
        await chain.stop();
      },
    };
  } catch (e) {
    await chain.stop();
    throw e;
  }
}

export interface TestGatewayOptions {
  /** Reuse a running chain (it is then not stopped by `stop()`). */
  chain?: TestChain;
  /** The organisation whose node the gateway fronts (default: the OEM). */
  node?: OrgKey;
  gateway?: GatewayOptions;
  /** Optional service slots (events, index, proofs). */
  services?: Partial<Pick<GatewayServices, "events" | "index" | "proofs" | "accessLog" | "subscriptions" | "statements" | "passportChoices" | "accessRequests" | "accessRelay" | "grants" | "devices" | "remote" | "partyGlns">>;
}

export interface RequestOptions {
  method?: string;
  token?: string;
  /** Sent as application/json. */
  json?: unknown;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
}

export interface TestGateway {
  url: string;
  chain: TestChain;
  services: GatewayServices;
  gateway: Gateway;
  server: RunningGateway;
  /** Signs in with the organisation's first account (or the given signer) and returns the token. */
  signIn(who: OrgKey | AbstractSigner): Promise<string>;
  /** fetch() against the gateway. */
  request(path: string, options?: RequestOptions): Promise<Response>;
  /** Stops the gateway, and the chain when this call started it. */
  stop(): Promise<void>;
}

export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const chain = options.chain ?? (await startTestChain());
  const nodeOrg = chain.orgs[options.node ?? "oem"];
  const base = await chainServices(chain.chain.url, chain.deployment, { id: nodeOrg.id, name: nodeOrg.name });
  const services: GatewayServices = { ...base, ...options.services };
  // Tests read /metrics from loopback; a deployed gateway needs the token or this set explicitly.
  const gateway = createGateway(services, { log: "silent", metricsLoopback: true, ...options.gateway });
  const server = await gateway.listen(0, "127.0.0.1");
  const request = (path: string, o: RequestOptions = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let body: string | Uint8Array | undefined = o.body;
    if (o.json !== undefined) {
      headers["content-type"] ??= "application/json";
      body = JSON.stringify(o.json);
    }
    return fetch(server.url + path, { method: o.method ?? (body === undefined ? "GET" : "POST"), headers, body });
  };
  const signIn = (who: OrgKey | AbstractSigner) => new GatewayClient(server.url, typeof who === "string" ? chain.orgs[who].signer : who).bearer();
  return {
    url: server.url,
    chain,
    services,
    gateway,
    server,
    signIn,
    request,
    stop: async () => {
      await server.close();
      base.close();
      if (!options.chain) await chain.stop();
    },
  };
}
