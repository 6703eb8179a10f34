/**
 * A member restart does not break its clients (issue 18): the token signing secret lives in the
 * data directory (created on first start, owner-only), so a token issued before a restart still
 * verifies after it; and a client whose token a gateway no longer accepts (a gateway started with
 * another secret) signs in again and repeats the request instead of taking the 401 as final.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningGateway, createGateway } from "../../gateway/app.ts";
import { chainServices } from "../../gateway/services.ts";
import { ConfigError } from "../../lib/config-reader.ts";
import { GatewayClient } from "../../lib/gateway-client.ts";
import { loadOrCreateSecret } from "../../lib/secret-file.ts";
import { GATEWAY_TOKEN_SECRET_FILE, loadMemberConfig } from "../../member/config.ts";
import { type TestChain, startTestChain } from "../helpers/gateway.ts";

const TOKEN_SECRET = { bytes: 32, minBytes: 32, field: "gateway.tokenSecretFile", what: "a token signing secret" };

describe("tokens across a member restart", () => {
  let chain: TestChain;
  let services: Awaited<ReturnType<typeof chainServices>>;
  let dir: string;
  let running: RunningGateway | undefined;

  beforeAll(async () => {
    chain = await startTestChain();
    const oem = chain.orgs.oem;
    services = await chainServices(chain.chain.url, chain.deployment, { id: oem.id, name: oem.name });
    dir = mkdtempSync(path.join(tmpdir(), "tracemesh-token-restart-"));
  }, 60_000);
  afterAll(async () => {
    await running?.close();
    services?.close();
    await chain?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A gateway "process" on `port` signing with `secret` (stops the one before). */
  const restart = async (secret: Buffer | undefined, port = 0) => {
    await running?.close();
    const gateway = createGateway(services, { log: "silent", rateLimit: false, ...(secret ? { tokenSecret: secret } : {}) });
    running = await gateway.listen(port, "127.0.0.1");
    await new Promise((r) => setTimeout(r, 100)); // clients' pooled connections to the old one see it closed
    return running;
  };
  const session = (url: string, token: string) => fetch(`${url}/auth/session`, { headers: { authorization: `Bearer ${token}` } });

  it("keeps the signing secret in the data directory, owner-only, the same at every start", () => {
    const file = path.join(dir, "data", GATEWAY_TOKEN_SECRET_FILE);
    const first = loadOrCreateSecret(file, TOKEN_SECRET);
    expect(first).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadOrCreateSecret(file, TOKEN_SECRET).equals(first)).toBe(true);

    const short = path.join(dir, "short-secret");
    writeFileSync(short, "too short");
    expect(() => loadOrCreateSecret(short, TOKEN_SECRET)).toThrow(ConfigError);
    expect(() => loadOrCreateSecret(short, TOKEN_SECRET)).toThrow(/gateway\.tokenSecretFile .*short-secret: holds 9 bytes; a token signing secret has at least 32/);
  });

  it("a member's configuration places the secret in its data directory unless told otherwise", () => {
    const file = path.join(dir, "member.json");
    writeFileSync(file, JSON.stringify({ organisation: "Atlas Motors", dataDir: "./node-data", chain: { rpcUrl: "http://127.0.0.1:8545", deployment: "./d.json", keyEnv: "K" } }));
    expect(loadMemberConfig(file).gateway.tokenSecretFile).toBe(path.join(dir, "node-data", GATEWAY_TOKEN_SECRET_FILE));
  });

  it("a token issued before a restart verifies after it, with the secret from the data directory", async () => {
    const file = path.join(dir, "member-a", GATEWAY_TOKEN_SECRET_FILE);
    const before = await restart(loadOrCreateSecret(file, TOKEN_SECRET));
    const token = await new GatewayClient(before.url, chain.orgs.oem.signer).bearer();
    expect((await session(before.url, token)).status).toBe(200);
    const after = await restart(loadOrCreateSecret(file, TOKEN_SECRET));
    expect((await session(after.url, token)).status).toBe(200);
    // A gateway with another secret (what a restart without the file did) refuses it.
    const other = await restart(undefined);
    expect((await session(other.url, token)).status).toBe(401);
  });

  it("a client whose token the restarted gateway refuses signs in again and repeats the request", async () => {
    const first = await restart(undefined);
    const port = Number(new URL(first.url).port);
    const client = new GatewayClient(first.url, chain.orgs.steel.signer);
    const before = await client.json<{ organisation: { name: string } }>("GET", "/auth/session");
    const oldToken = await client.bearer();
    await restart(undefined, port); // another process secret: the held token no longer verifies
    expect((await session(first.url, oldToken)).status).toBe(401);
    const after = await client.json<{ organisation: { name: string } }>("GET", "/auth/session");
    expect(after).toEqual(before);
    expect(await client.bearer()).not.toBe(oldToken);
  });
});
