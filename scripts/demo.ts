/**
 * `npm start`: the local demo consortium on 127.0.0.1.
 *
 * Starts a local EVM chain (anvil) whose state persists in the demo directory, deploys the
 * Tracemesh contracts once through the same Ignition module used for real networks (a restart
 * continues the same consortium), starts the plant-floor simulators, one member process per
 * organisation, and the scenario that keeps the supply chain moving. Ctrl-C stops it all.
 *
 *   npm start                 start or continue the demo
 *   npm start -- --reset      forget the demo (chain, member data, scenario) and start from scratch
 *
 * Environment: TRACEMESH_DEMO_DIR (default .demo), TRACEMESH_CHAIN_PORT (default 8545),
 * TRACEMESH_GATEWAY_PORT (first gateway port, default 8601), TRACEMESH_P2P_PORT (first peer
 * port, default 8701), TRACEMESH_DEMO_PACE_MS (pause between scenario steps, default 3000),
 * TRACEMESH_DEMO_RECALL_EVERY (a quality escape and recall every n-th cycle, default 3),
 * TRACEMESH_DEMO_REVOKE_EVERY (the test lab revokes the heat's certificate every n-th cycle, default 4).
 *
 * Ctrl-C (the terminal signals the whole process group): the chain runs in a process group of its
 * own and the members leave the signal to this process, which stops the scenario first, then the
 * members (each anchors its last windows), then the simulators and the chain last. A second
 * Ctrl-C forces it.
 *
 * A member whose store is damaged (it refuses to start, exit 65) is left out and the others run:
 * the demo prints the repair that gets its data back from them (`repair --from-partners`).
 */
import { rmSync } from "node:fs";
import path from "node:path";
import { JsonRpcProvider } from "ethers";
import { rolesOf, Role } from "../lib/consortium.ts";
import { handleStopSignals } from "../lib/stop-signals.ts";
import type { RunningAnvil } from "./local-chain/anvil.ts";
import { type Deployment, connectContracts } from "../lib/deployment.ts";
import { demoWallet } from "./demo/accounts.ts";
import { DEMO_CHAIN_ID, demoTxProvider, deploymentIdOf, ensureDeployed, startDemoChain } from "./demo/chain.ts";
import { DEMO_ORGS, demoFounders } from "./demo/consortium.ts";
import { MemberStartError, type RunningMember, damagedMemberAdvice, metricsUrlOf, planMembers, prepareIdentities, startMember, writeMemberConfig } from "./demo/members.ts";
import { type OrgPlant, startPlant, stopPlant } from "./demo/plant.ts";
import { Scenario } from "./demo/scenario.ts";
import { useFixtureEpcisFiles } from "./epcis-files.ts";

const root = path.resolve(import.meta.dirname, "..");
const demoDir = path.resolve(root, process.env.TRACEMESH_DEMO_DIR ?? ".demo");
const portOf = (name: string, fallback: number) => {
  const v = process.env[name];
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new Error(`${name} must be a TCP port (got "${v}")`);
  return n;
};
const ports = {
  chain: portOf("TRACEMESH_CHAIN_PORT", 8545),
  gatewayBase: portOf("TRACEMESH_GATEWAY_PORT", 8601),
  p2pBase: portOf("TRACEMESH_P2P_PORT", 8701),
};
const rpcUrl = `http://127.0.0.1:${ports.chain}`;
const deploymentFile = path.join(demoDir, "deployment.json");

const step = (msg: string) => console.log(`[demo] ${msg}`);

function resetDemo() {
  step(`reset: removing ${path.relative(root, demoDir) || demoDir} and the demo's Ignition journal`);
  rmSync(demoDir, { recursive: true, force: true });
  rmSync(path.join(root, "ignition", "deployments", deploymentIdOf(demoDir)), { recursive: true, force: true });
}

async function describeConsortium(deployment: Deployment, members: RunningMember[]) {
  const provider = new JsonRpcProvider(rpcUrl, DEMO_CHAIN_ID, { staticNetwork: true });
  try {
    const { consortium } = connectContracts(deployment.contracts, provider);
    const count = Number(await consortium.orgCount());
    console.log(`\nConsortium ${deployment.contracts.consortium} on ${rpcUrl}: ${count} organisations`);
    for (let id = 1; id <= count; id++) {
      const [name, status, roles] = await consortium.org(id);
      const demo = DEMO_ORGS.find((o) => o.name === name);
      const member = members.find((m) => m.plan.org.name === name);
      console.log(`  #${id} ${name} [${rolesOf(roles).map((r) => Role[r]).join(", ")}]${Number(status) === 1 ? "" : " (not active)"}`);
      if (member) console.log(`      explorer and API: http://127.0.0.1:${member.plan.gatewayPort}/explorer/  (log: ${path.relative(root, member.plan.logFile)})`);
      if (member) console.log(`      node metrics (Prometheus, loopback): ${metricsUrlOf(member) ?? "not served (see its log)"}`);
      if (demo) {
        const account = demoWallet(demo.accountIndex);
        console.log(`      demo sign-in: ${account.address} (LOCAL DEMO key ${account.privateKey})`);
      }
    }
  } finally {
    provider.destroy();
  }
}

async function main() {
  if (process.argv.includes("--reset")) resetDemo();
  useFixtureEpcisFiles(root);
  const plans = planMembers(demoDir, ports);
  let plant: OrgPlant[] = [];
  const members: RunningMember[] = [];
  let scenario: Scenario | undefined;
  const scenarioProvider = demoTxProvider(rpcUrl);
  let stopping: Promise<void> | undefined;

  // Set once started; the stop (which a signal may start at any time) reads it.
  const started: { chain?: RunningAnvil } = {};

  /**
   * One Ctrl-C: the scenario stops after its step in progress, then the members stop (each
   * anchors its last windows and says so in its log), then the simulators, and the chain last.
   */
  const stop = (why: string) =>
    (stopping ??= (async () => {
      step(`${why}: stopping the scenario, then the members, the simulators and the chain last (state is kept; \`npm start\` continues)`);
      // A step that hangs (a chain that stopped answering) is taken again at the next start.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((r) => (timer = setTimeout(() => (step("the scenario's step in progress did not finish in 30 s; it is taken again at the next start"), r()), 30_000)));
      await Promise.race([scenario?.stop(), late]);
      clearTimeout(timer);
      scenarioProvider.destroy();
      step("scenario stopped; stopping the members");
      await Promise.all(
        members.map(async (m) => {
          const code = await m.stop();
          step(`    ${m.plan.org.name}: ${code === 0 ? "stopped cleanly" : `stopped with exit code ${code ?? "(killed)"}; see ${path.relative(root, m.plan.logFile)}`}`);
        }),
      );
      await stopPlant(plant);
      await started.chain?.stop();
      step("chain stopped");
      step("stopped");
    })());
  handleStopSignals({
    log: (m) => step(m),
    stop: (why) => stop(why),
    force: () => {
      for (const m of members) m.kill();
      if (started.chain) process.kill(started.chain.pid, "SIGKILL");
    },
  });

  step(`1/4 starting the chain on ${rpcUrl} (state in ${path.relative(root, demoDir) || demoDir}/chain)`);
  const chain = (started.chain = await startDemoChain(demoDir, ports.chain));
  step(`    chain up (pid ${chain.pid})`);
  void chain.exited.then(() => {
    if (stopping) return;
    console.error("[demo] the chain exited unexpectedly");
    void stop("chain exited").then(() => process.exit(1));
  });

  try {
    const nodes = await prepareIdentities(plans);
    const { deployment, fresh } = await ensureDeployed(demoDir, rpcUrl, deploymentFile, () => demoFounders(nodes), step);
    step(`2/4 contracts ${fresh ? "deployed" : "already deployed: continuing the same consortium"}`);

    step("3/4 starting the plant-floor simulators");
    plant = await startPlant(DEMO_ORGS, (m) => step(m));

    step(`4/4 starting ${plans.length} member nodes`);
    const peers = plans.map((p) => ({ plan: p, peerId: nodes[p.org.key][0]!.peerId }));
    // In parallel: each member spends most of its start-up waiting on the chain and its disk.
    const started = await Promise.allSettled(
      plans.map(async (plan) => {
        writeMemberConfig(plan, { rpcUrl, deploymentFile, devices: plant.find((p) => p.org.key === plan.org.key)?.devices ?? [], peers });
        const member = await startMember(plan);
        members.push(member);
        step(`    ${plan.org.name}: up`);
        return member;
      }),
    );
    // A member whose store is damaged is left out, and the others go on: its repair gets back from
    // them what they hold of its data. Any other failure stops the demo.
    const failures = started.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
    const failed = failures.find((e) => !(e instanceof MemberStartError && e.storeDamaged));
    if (failed) throw failed;
    for (const e of failures as MemberStartError[]) console.error(`[demo] ${damagedMemberAdvice(e.plan)}`);
    for (const m of members) {
      void m.exited.then((code) => {
        if (!stopping) console.error(`[demo] the member process of ${m.plan.org.name} exited (${code}); see ${m.plan.logFile}`);
      });
    }
    await describeConsortium(deployment, members);
    scenario = new Scenario({
      demoDir,
      provider: scenarioProvider,
      deployment,
      gatewayOf: (key) => `http://127.0.0.1:${plans.find((p) => p.org.key === key)!.gatewayPort}`,
      ...(process.env.TRACEMESH_DEMO_PACE_MS ? { paceMs: Number(process.env.TRACEMESH_DEMO_PACE_MS) } : {}),
      ...(process.env.TRACEMESH_DEMO_RECALL_EVERY ? { recallEvery: Number(process.env.TRACEMESH_DEMO_RECALL_EVERY) } : {}),
      ...(process.env.TRACEMESH_DEMO_REVOKE_EVERY ? { revokeEvery: Number(process.env.TRACEMESH_DEMO_REVOKE_EVERY) } : {}),
    });
    const at = scenario.position();
    scenario.start();
    const oem = plans.find((p) => p.org.key === "oem")!;
    console.log(`\nExplorer: http://127.0.0.1:${oem.gatewayPort}/explorer/ (Atlas Motors' member; every member serves one)`);
    step(`ready; the scenario ${at.cycle === 1 && at.step === 0 ? "starts" : `continues at cycle ${at.cycle}, step ${at.step + 1}`}. Ctrl-C stops; \`npm start\` again continues the same consortium.`);
  } catch (e) {
    console.error(`[demo] ${(e as Error).message}`);
    await stop("error");
    process.exit(1);
  }
}

await main();
