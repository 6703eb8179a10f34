/**
 * The one deployment definition of Tracemesh, used by tests, the demo, the gas report and
 * `npm run deploy` against any EVM JSON-RPC chain (see README, "Deploying").
 *
 * Every contract sits behind a TracemeshProxy (ERC-1967, UUPS) so addresses stay fixed while the
 * consortium upgrades logic by proposal. Parameters (module id "Tracemesh"):
 *   founders      FounderInit[]: { name, roles (bit mask), accounts[], nodes[] }
 *   quorumBps     share of active organisations whose approval passes a proposal (default 5001)
 *   votingPeriod  seconds a proposal stays open (default one day)
 */
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/** The contracts that act for members; each is initialised with the Consortium's address. */
export const BOUND_CONTRACTS = ["Provenance", "Certificates", "AccessGrants", "DataAnchors"] as const;

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

  const bound = (name: (typeof BOUND_CONTRACTS)[number]) => {
    const impl = m.contract(name, [], { id: `${name}Impl` });
    const proxy = m.contract("TracemeshProxy", [impl, m.encodeFunctionCall(impl, "initialize", [consortiumProxy])], {
      id: `${name}Proxy`,
    });
    return m.contractAt(name, proxy, { id: name });
  };

  return {
    consortium,
    provenance: bound("Provenance"),
    certificates: bound("Certificates"),
    accessGrants: bound("AccessGrants"),
    dataAnchors: bound("DataAnchors"),
  };
});
