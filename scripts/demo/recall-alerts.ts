/**
 * The demo OEM's ERP, as far as recalls go: a webhook receiver on 127.0.0.1 and the OEM's
 * subscription to its member's built-in `RecallAlerts` query (node/subscriptions), signed with a
 * token only the two share. Each alert that arrives is checked against its GS1-Signature and logged
 * with the pumps and parts the OEM holds; the OEM's member log shows each alert as it sends it.
 *
 * The receiver listens on a new port each start, so the subscription is made anew each start and
 * earlier ones (to ports no longer listening) are deleted.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { GatewayClient } from "../../lib/gateway-client.ts";

interface Alert {
  recalledBy: number;
  affectedItems: { key: string; epc?: string; status: string }[];
  scopeSize: number;
}

/** Starts the receiver and subscribes the OEM; answers the receiver's stop. */
export async function subscribeRecallAlerts(oem: GatewayClient, gateway: string, log: (m: string) => void): Promise<() => Promise<void>> {
  const secret = randomBytes(24).toString("hex");
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const want = Buffer.from(`sha256=${createHmac("sha256", secret).update(body).digest("hex")}`);
      const got = Buffer.from(String(req.headers["gs1-signature"] ?? ""));
      if (want.length !== got.length || !timingSafeEqual(want, got)) {
        res.statusCode = 401;
        return void res.end();
      }
      res.end();
      try {
        const alert = (JSON.parse(body) as { epcisBody: { queryResults: { "tm:recallAlert"?: Alert } } }).epcisBody.queryResults["tm:recallAlert"];
        if (alert)
          log(`the OEM's ERP received a recall alert (signature verified): organisation ${alert.recalledBy} recalled; the OEM holds ${alert.affectedItems.length} of the ${alert.scopeSize} items it reaches: ${alert.affectedItems.map((i) => i.epc ?? i.key).join(", ")}`);
      } catch {
        // Not an alert: nothing to log.
      }
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const dest = `http://127.0.0.1:${(server.address() as AddressInfo).port}/recall-alerts`;
  const bearer = await oem.bearer();
  for (const s of await oem.json<{ subscriptionID: string; dest: string }[]>("GET", "/queries/RecallAlerts/subscriptions"))
    if (s.dest !== dest) await fetch(`${gateway}/queries/RecallAlerts/subscriptions/${s.subscriptionID}`, { method: "DELETE", headers: { authorization: `Bearer ${bearer}` } });
  await oem.json("POST", "/queries/RecallAlerts/subscriptions", { dest, signatureToken: secret, stream: true });
  log(`the OEM subscribed its ERP (${dest}) to recall alerts`);
  return () => new Promise((done) => server.close(() => done()));
}
