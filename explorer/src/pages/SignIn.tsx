/**
 * Sign-in for partner organisations: the gateway's EIP-4361 challenge, signed by one of the
 * organisation's accounts with an injected wallet (window.ethereum) or, for the LOCAL DEMO only,
 * with a pasted demo private key that stays in this page (ethers signs here; only the signature
 * is sent).
 */
import { Wallet, getAddress, hexlify, toUtf8Bytes } from "ethers";
import type { TargetedEvent } from "preact";
import { useState } from "preact/hooks";
import { type Session, api, enc, saveSession } from "../api.ts";
import { ErrorView } from "../components/async.tsx";
import { useI18n } from "../i18n.ts";

interface Eip1193 {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

async function signIn(address: string, sign: (message: string) => Promise<string>): Promise<Session> {
  const challenge = await api<{ message: string }>(`/auth/challenge?address=${enc(getAddress(address))}`);
  const signature = await sign(challenge.message);
  return api<Session>("/auth/token", { method: "POST", body: { message: challenge.message, signature } });
}

export function SignInPage({ onSignedIn }: { onSignedIn(s: Session): void }) {
  const { t } = useI18n();
  const [key, setKey] = useState("");
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<Session>();
  const ethereum = (globalThis as { ethereum?: Eip1193 }).ethereum;

  const finish = (s: Session) => {
    saveSession(s);
    setDone(s);
    setError(undefined);
    onSignedIn(s);
  };
  const withWallet = async () => {
    if (ethereum === undefined) return;
    try {
      const accounts = (await ethereum.request({ method: "eth_requestAccounts" })) as string[];
      const account = accounts[0];
      if (account === undefined) throw new Error("the wallet offered no account");
      finish(await signIn(account, async (m) => (await ethereum.request({ method: "personal_sign", params: [hexlify(toUtf8Bytes(m)), account] })) as string));
    } catch (e) {
      setError(e);
    }
  };
  const withKey = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    try {
      const k = key.trim();
      const wallet = new Wallet(k.startsWith("0x") ? k : `0x${k}`);
      setKey(""); // do not keep the key around in the form
      finish(await signIn(wallet.address, (m) => wallet.signMessage(m)));
    } catch (err) {
      setError(err);
    }
  };

  return (
    <article>
      <h1>{t("signin.title")}</h1>
      <p>{t("signin.intro")}</p>
      {done !== undefined && (
        <p class="ok" role="status" data-testid="signed-in">
          {t("signin.done", { org: done.organisation.name, account: done.account })}
        </p>
      )}
      {error !== undefined && (
        <div>
          <p class="error" role="alert">
            {t("signin.failed", { message: error instanceof Error ? error.message : String(error) })}
          </p>
          {!(error instanceof Error) && <ErrorView error={error} />}
        </div>
      )}
      <section>
        <button type="button" onClick={withWallet} disabled={ethereum === undefined}>
          {t("signin.wallet")}
        </button>
        {ethereum === undefined && <p class="help">{t("signin.noWallet")}</p>}
      </section>
      <section class="demo-box" aria-labelledby="h-demo">
        <h2 id="h-demo">{t("signin.demoTitle")}</h2>
        <form onSubmit={withKey}>
          <label for="demo-key">{t("signin.demoKey")}</label>
          <p id="demo-help" class="help">
            {t("signin.demoHelp")}
          </p>
          <div class="row">
            <input
              id="demo-key"
              type="password"
              value={key}
              onInput={(e) => setKey(e.currentTarget.value)}
              aria-describedby="demo-help"
              autoComplete="off"
              spellcheck={false}
            />
            <button type="submit">{t("signin.demoSubmit")}</button>
          </div>
        </form>
      </section>
    </article>
  );
}
