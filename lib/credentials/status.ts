/**
 * TracemeshCertificateStatus: the `credentialStatus` entry of every credential Tracemesh issues,
 * so that any verifier, not only Tracemesh's gateway, explorer or CLI, can find its status:
 *
 *     "credentialStatus": {
 *       "type": "TracemeshCertificateStatus",
 *       "chainId": 31337,                 // EIP-155 chain id of the consortium chain
 *       "certificates": "0x5FbD…0aa3"     // the Certificates contract (EIP-55 address)
 *     }
 *
 * (type defined in https://tracemesh.dev/ns/credentials/v1, ./contexts.ts). The certificate id is
 * not in the entry because it cannot be: it is keccak256 of the JWS signing input, i.e. of the
 * signed bytes that contain this entry. A verifier computes it from the JWS it holds, then calls
 * `status(bytes32 id)` on that contract on that chain (contracts/Certificates.sol): 1 valid,
 * 2 not yet valid, 3 expired, 4 suspended, 5 revoked, 6 superseded, 0 never issued; and
 * `certificate(id)` for the record (issuer organisation, subject, scope, reasons, successor).
 */
import { getAddress, isAddress } from "ethers";

export const TRACEMESH_CERTIFICATE_STATUS = "TracemeshCertificateStatus";

export interface CertificateStatusEntry {
  type: typeof TRACEMESH_CERTIFICATE_STATUS;
  chainId: number;
  certificates: string;
}

export function certificateStatusEntry(chainId: number | bigint, certificates: string): CertificateStatusEntry {
  return { type: TRACEMESH_CERTIFICATE_STATUS, chainId: Number(chainId), certificates: getAddress(certificates) };
}

const hasType = (e: unknown) => {
  const t = (e as { type?: unknown } | null)?.type;
  return t === TRACEMESH_CERTIFICATE_STATUS || (Array.isArray(t) && t.includes(TRACEMESH_CERTIFICATE_STATUS));
};

/**
 * The credential's TracemeshCertificateStatus entry: undefined when it has none (credentials
 * issued before the entry existed, or by others); throws a description when an entry of this type
 * is malformed or there are several.
 */
export function statusEntryOf(credential: Record<string, unknown>): CertificateStatusEntry | undefined {
  const s = credential.credentialStatus;
  const entries = (Array.isArray(s) ? s : s === undefined ? [] : [s]).filter(hasType) as Record<string, unknown>[];
  if (entries.length === 0) return undefined;
  if (entries.length > 1) throw new Error(`the credential has ${entries.length} ${TRACEMESH_CERTIFICATE_STATUS} entries; one is allowed`);
  const e = entries[0]!;
  if (typeof e.chainId !== "number" || !Number.isSafeInteger(e.chainId) || e.chainId <= 0) throw new Error(`${TRACEMESH_CERTIFICATE_STATUS}.chainId must be a positive integer, not ${JSON.stringify(e.chainId)}`);
  if (typeof e.certificates !== "string" || !isAddress(e.certificates)) throw new Error(`${TRACEMESH_CERTIFICATE_STATUS}.certificates must be a contract address, not ${JSON.stringify(e.certificates)}`);
  return { type: TRACEMESH_CERTIFICATE_STATUS, chainId: e.chainId, certificates: getAddress(e.certificates) };
}
