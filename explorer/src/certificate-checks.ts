/**
 * What the certificate page checks in the browser, with the chain client (ethers): the
 * certificate as the chain holds it, and an uploaded credential, presentation or selective
 * disclosure. Loaded on first use (`import()`), so a certificate page opened from a QR code shows
 * before this arrives; the names of the checks are lib/credentials/check-names.ts, loaded with the page.
 */
export { getChain } from "./chain.ts";
export { certificateOnChain, verifyCredential } from "../../lib/credentials.ts";
export { verifyPresentation } from "../../lib/credentials/presentation.ts";
export { verifySelectiveDisclosure } from "../../lib/credentials/selective-disclosure.ts";
