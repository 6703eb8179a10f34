/**
 * The one deployment definition of Tracemesh, used by tests, the demo, the gas report and
 * `npm run deploy` against any EVM JSON-RPC chain (see README, "Deploying").
 *
 * Every contract sits behind a TracemeshProxy (ERC-1967, UUPS) so addresses stay fixed while the
 * consortium upgrades logic by proposal. Parameters (module id "Tracemesh"):
 *   founders      FounderInit[]: { name, roles (bit mask), accounts[], nodes[] }
 *   quorumBps     share of active organisations whose approval passes a proposal (default 5001)
 *   votingPeriod  seconds a proposal stays open (default one day)
 *   prefixes, namespacePolicy  identifier namespaces (see bound.ts)
 *
 * On a Besu network whose genesis already holds the Consortium, use TracemeshOnConsortium.ts.
 */
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { deployBoundContracts } from "./bound.ts";

export { BOUND_CONTRACTS } from "./bound.ts";

export default buildModule("Tracemesh", (m) => {
  const founders = m.getParameter("founders");
  const quorumBps = m.getParameter("quorumBps", 5001);
  const votingPeriod = m.getParameter("votingPeriod", 24 * 3600);

  const consortiumImpl = m.contract("Consortium", [], { id: "ConsortiumImpl" });
  const consortiumProxy = m.contract(
    "TracemeshProxy",
    [consortiumImpl, m.encodeFunctionCall(consortiumImpl, "initialize", [founders, quorumBps, votingPeriod])],
    { id: "ConsortiumProxy" },
  );
  const consortium = m.contractAt("Consortium", consortiumProxy, { id: "Consortium" });
  return { consortium, ...deployBoundContracts(m, consortium) };
});
