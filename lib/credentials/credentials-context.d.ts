/** Types of @digitalbazaar/credentials-context (it ships none): the W3C contexts by URL. */
declare module "@digitalbazaar/credentials-context" {
  export const contexts: ReadonlyMap<string, unknown>;
}
