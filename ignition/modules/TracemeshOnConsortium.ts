/**
 * Deploys the member-facing contracts next to a Consortium that already exists, e.g. the one a
 * Besu genesis predeploys (scripts/besu). Parameter (module id "TracemeshOnConsortium"):
 *   consortium    the Consortium proxy's address (network.json `consortiumAddress`)
 *   prefixes, namespacePolicy  identifier namespaces (see bound.ts)
 * Send it from a founder account: account permissioning refuses non-members.
 */
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { deployBoundContracts } from "./bound.ts";

export default buildModule("TracemeshOnConsortium", (m) => {
  const consortium = m.contractAt("Consortium", m.getParameter<string>("consortium"), { id: "Consortium" });
  return { consortium, ...deployBoundContracts(m, consortium) };
});
