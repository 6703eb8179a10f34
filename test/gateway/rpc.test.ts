/**
 * The chain through the gateway, against anvil: the public view calls of /chain/call, and the
 * members-only JSON-RPC pass-through /chain/rpc with its limits (issue 12, finding 4: anonymous
 * compute and a ledger open to anyone).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { id as textHash } from "ethers";
import { type TestGateway, startTestGateway } from "../helpers/gateway.ts";

let gw: TestGateway;
let token: string;

beforeAll(async () => {
  gw = await startTestGateway({ gateway: { rpc: { maxLogBlockRange: 100 } } });
  token = await gw.signIn("oem");
});
afterAll(async () => {
  await gw?.stop();
});

async function detail(res: Response): Promise<string> {
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  return ((await res.json()) as { detail: string }).detail;
}

const call = (method: string, params: unknown[] = [], id: unknown = 1) => ({ jsonrpc: "2.0", id, method, params });
const rpc = async (body: unknown, as: string | undefined = token) => {
  const res = await gw.request("/chain/rpc", { json: body, token: as });
  return { status: res.status, body: (await res.json()) as { id?: unknown; result?: unknown; error?: { code: number; message: string } } & unknown[] };
};

/** Runtime code that loops until its gas runs out: JUMPDEST PUSH1 0 JUMP. */
const BURNER = "0x5b600056";
const BURNER_ADDRESS = "0x00000000000000000000000000000000000b0b0b";
const GAS_METER = "0x00000000000000000000000000000000000a5a5a";

describe("POST /chain/rpc (members)", () => {
  it("refuses callers without a member token: the ledger is not open to anyone", async () => {
    const logs = call("eth_getLogs", [{ fromBlock: "0x0", toBlock: "latest", address: gw.chain.deployment.contracts.accessGrants }]);
    const res = await gw.request("/chain/rpc", { json: logs });
    expect(res.status).toBe(401);
    expect(await detail(res)).toMatch(/token/);
    const forged = await gw.request("/chain/rpc", { json: call("eth_chainId"), token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIweDAwIn0.AAAA" });
    expect(forged.status).toBe(401);
  });

  it("passes reading methods through to the chain", async () => {
    expect((await rpc(call("eth_chainId"))).body).toEqual({ jsonrpc: "2.0", id: 1, result: "0x7a69" });
    const block = await rpc(call("eth_blockNumber", [], "b"));
    expect(block.body.id).toBe("b");
    expect(Number(block.body.result)).toBeGreaterThan(0);
    // A real view call: Consortium.activeOrgOf(lab account) = (lab id, certifier role bit).
    const data = gw.services.contracts.consortium.interface.encodeFunctionData("activeOrgOf", [gw.chain.orgs.lab.signer.address]);
    const res = await rpc(call("eth_call", [{ to: gw.chain.deployment.contracts.consortium, data }, "latest"]));
    const [orgId] = gw.services.contracts.consortium.interface.decodeFunctionResult("activeOrgOf", res.body.result as string);
    expect(Number(orgId)).toBe(gw.chain.orgs.lab.id);
  });

  it("refuses writing, unknown and prototype-named methods with a JSON-RPC error", async () => {
    for (const method of ["eth_sendRawTransaction", "eth_sendTransaction", "anvil_setBalance", "evm_mine", "debug_traceTransaction", "eth_accounts", "constructor", "__proto__", "toString"]) {
      const { status, body } = await rpc(call(method, []));
      expect(status).toBe(200);
      expect(body.error?.code, method).toBe(-32601);
      expect(body.error?.message).toContain("read-only");
    }
  });

  it("refuses eth_call with a state override (extra parameter)", async () => {
    const { body } = await rpc(call("eth_call", [{ to: gw.chain.deployment.contracts.consortium, data: "0x" }, "latest", {}]));
    expect(body.error?.code).toBe(-32602);
  });

  it("refuses eth_call without `to`: no code runs as contract creation", async () => {
    // Creation code that loops forever; with a 700 M gas limit it held the node for a quarter second per call.
    for (const tx of [{ data: BURNER, gas: "0x29b92700" }, { to: null, data: BURNER }, { to: "nowhere", data: "0x" }, "0x"]) {
      const { status, body } = await rpc(call("eth_call", [tx, "latest"]));
      expect(status).toBe(200);
      expect(body.error?.code, JSON.stringify(tx)).toBe(-32602);
      expect(body.error?.message).toMatch(/`to`|call object/);
    }
  });

  it("caps the gas of eth_call, whatever the call asks for", async () => {
    // Runtime code answering the gas it was left: GAS PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN.
    await gw.services.provider.send("anvil_setCode", [GAS_METER, "0x5a60005260206000f3"]);
    const gasLeft = async (gas?: string) => {
      const { body } = await rpc(call("eth_call", [{ to: GAS_METER, data: "0x", ...(gas ? { gas } : {}) }, "latest"]));
      return BigInt(body.result as string);
    };
    for (const asked of ["0x29b92700" /* 700 M */, undefined]) {
      const left = await gasLeft(asked);
      expect(left).toBeLessThanOrEqual(10_000_000n);
      expect(left).toBeGreaterThan(9_900_000n);
    }
    // A lower limit in the call is kept.
    expect(await gasLeft("0x100000")).toBeLessThan(0x100000n);
  });

  it("bounds every forwarded call in time", async () => {
    await gw.services.provider.send("anvil_setCode", [BURNER_ADDRESS, BURNER]);
    const slow = await startTestGateway({ chain: gw.chain, gateway: { rpc: { timeoutMs: 1 } } });
    try {
      const member = await slow.signIn("oem");
      const res = await slow.request("/chain/rpc", { json: call("eth_call", [{ to: BURNER_ADDRESS, data: "0x" }, "latest"]), token: member });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { error?: { code: number; message: string } };
      expect(body.error?.code).toBe(-32603);
      expect(body.error?.message).toMatch(/did not finish within 1 ms/);
    } finally {
      await slow.stop();
    }
  });

  it("caps the block range of eth_getLogs", async () => {
    const ok = await rpc(call("eth_getLogs", [{ fromBlock: "0x0", toBlock: "latest", address: gw.chain.deployment.contracts.consortium }]));
    expect(Array.isArray(ok.body.result)).toBe(true);
    expect((ok.body.result as unknown[]).length).toBeGreaterThan(0);
    const wide = await rpc(call("eth_getLogs", [{ fromBlock: "0x0", toBlock: "0x3e8" }]));
    expect(wide.body.error?.code).toBe(-32005);
    expect(wide.body.error?.message).toContain("spans 1001 blocks");
    const badTag = await rpc(call("eth_getLogs", [{ fromBlock: "yesterday" }]));
    expect(badTag.body.error?.code).toBe(-32602);
  });

  it("answers batches call by call, and refuses oversize or empty batches", async () => {
    const { body } = await rpc([call("eth_chainId", [], 1), call("eth_sendRawTransaction", ["0x00"], 2)]);
    expect(body).toHaveLength(2);
    expect(body[0]).toMatchObject({ id: 1, result: "0x7a69" });
    expect(body[1]).toMatchObject({ id: 2, error: { code: -32601 } });
    const big = await gw.request("/chain/rpc", { json: Array.from({ length: 21 }, (_, i) => call("eth_chainId", [], i)), token });
    expect(big.status).toBe(400);
    expect(await detail(big)).toContain("at most 20");
    expect((await gw.request("/chain/rpc", { json: [], token })).status).toBe(400);
    expect((await gw.request("/chain/rpc", { json: "eth_chainId", token })).status).toBe(400);
  });

  it("rate-limits /chain/rpc on its own", async () => {
    const limited = await startTestGateway({ chain: gw.chain, gateway: { rpc: { rateLimit: { max: 2, durationMs: 60_000 } } } });
    try {
      for (let i = 0; i < 2; i++) expect((await limited.request("/chain/call", { json: {} })).status).toBe(400);
      const res = await limited.request("/chain/rpc", { json: call("eth_chainId") });
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).toBeTruthy();
      expect(await detail(res)).toContain("JSON-RPC requests");
      expect((await limited.request("/health")).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });
});

describe("POST /chain/call (public views)", () => {
  const publicCall = (body: unknown) => gw.request("/chain/call", { json: body });

  it("answers a certificate's status to anyone, raw, with the block it was read at", async () => {
    const certificates = gw.services.contracts.certificates;
    const id = textHash("no such certificate");
    const res = await publicCall({ to: gw.chain.deployment.contracts.certificates, data: certificates.interface.encodeFunctionData("status", [id]) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { blockNumber: number; contract: string; function: string; result: string };
    expect(body).toMatchObject({ contract: "certificates", function: "status" });
    expect(body.blockNumber).toBeLessThanOrEqual(await gw.services.provider.getBlockNumber());
    const [status] = certificates.interface.decodeFunctionResult("status", body.result);
    expect(Number(status)).toBe(0);
    // The organisation an account signs for, and an organisation's name.
    const consortium = gw.services.contracts.consortium;
    const acct = await publicCall({ to: gw.chain.deployment.contracts.consortium, data: consortium.interface.encodeFunctionData("accountRecord", [gw.chain.orgs.lab.signer.address]) });
    const [orgId] = consortium.interface.decodeFunctionResult("accountRecord", ((await acct.json()) as { result: string }).result);
    expect(Number(orgId)).toBe(gw.chain.orgs.lab.id);
  });

  it("refuses every other view, other contracts and arbitrary code", async () => {
    const grants = gw.services.contracts.accessGrants;
    const cases: [unknown, number, RegExp][] = [
      [{ to: gw.chain.deployment.contracts.consortium, data: gw.services.contracts.consortium.interface.encodeFunctionData("activeOrgOf", [gw.chain.orgs.lab.signer.address]) }, 403, /not one of them on consortium/],
      [{ to: BURNER_ADDRESS, data: "0x00000000" }, 403, /is not a contract with public views/],
      [{ to: gw.chain.deployment.contracts.accessGrants, data: grants.interface.getFunction("isAllowed")!.selector + "00".repeat(96) }, 403, /is not a contract with public views/],
      [{ data: BURNER }, 400, /`to`/],
      [{ to: gw.chain.deployment.contracts.certificates }, 400, /`data`/],
      [{ to: gw.chain.deployment.contracts.certificates, data: "0x12" }, 400, /`data`/],
      [[], 400, /JSON object/],
    ];
    for (const [body, status, why] of cases) {
      const res = await publicCall(body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(await detail(res)).toMatch(why);
    }
  });
});
