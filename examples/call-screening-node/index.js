// call-screening in Node: the sipbus application "screen". tm hands it the
// INVITEs a route sends to `app: screen` (JetStream subject app.screen.<p>,
// the SIP message as a binary-mode CloudEvent); callers in the Redis set
// screen:blocked (From URIs) get 603 Decline, everybody else rings the callee's
// registered phone. The answer is a command on sipbus.tm.command
// (schemas/sipbus.tm.command.v1.json). Same Redis key as examples/call-screening.
import { connect } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { createClient } from "redis";
import { manage } from "./mgmt.js";
import { fromURI, requestURI } from "./sip.js";

const NAME = "screen", STREAM = "SIPBUS", CONSUMER = `app-${NAME}`;
const nc = await connect({ servers: process.env.SIPBUS_NATS_URL || "nats://127.0.0.1:4222", name: `sipbus-app-${NAME}`, maxReconnectAttempts: -1 });
const mg = manage(nc, NAME);
const rdb = await createClient({ url: process.env.SIPBUS_REDIS_URL }).on("error", (e) => mg.error(`redis: ${e.message}`)).connect();

// decide answers one INVITE (the raw SIP text) with a tm command's action fields.
async function decide(raw) {
  let blocked;
  try {
    blocked = await Promise.race([rdb.sIsMember("screen:blocked", fromURI(raw)),
      new Promise((_, no) => setTimeout(() => no(new Error("no answer within 3s")), 3000).unref())]);
  } catch (e) {
    mg.error(`redis: ${e.message}`);
    return { action: "reply", code: 500, reason: "Screening Unavailable" };
  }
  if (blocked) return { action: "reply", code: 603, reason: "Decline" };
  // ProxyUser: the callee's binding with the highest q, 480 when none.
  const rep = await nc.request("sipbus.registrar.ul.show", JSON.stringify({ aor: requestURI(raw) }), { timeout: 5000 })
    .then((m) => m.json()).catch(() => ({ status: 503 }));
  const best = (rep.status === 200 ? rep.bindings : []).sort((a, b) => b.q - a.q)[0];
  return best ? { action: "relay", request_uri: best.contact } : { action: "reply", code: 480, reason: "Temporarily Unavailable" };
}

// handle answers one hand-over and acks it once tm took the answer.
async function handle(m) {
  const done = mg.begin();
  try {
    const callKey = m.headers?.get("ce-callkey"), txKey = m.headers?.get("ce-siptxkey");
    if (!callKey || !txKey || !requestURI(m.string())) {
      mg.error(`not a hand-over event, dropped: ${m.subject}`);
      return m.term();
    }
    const ans = await decide(m.string()).catch((e) => {
      mg.error(`handler failed; answered 500: ${e.stack}`);
      return { action: "reply", code: 500, reason: "Server Internal Error" };
    });
    const cmd = { ...ans, call_key: callKey, tx_key: txKey };
    const st = await nc.request("sipbus.tm.command", JSON.stringify(cmd), { timeout: 5000 })
      .then((r) => r.json()).catch((e) => ({ status: 503, reason: e.message }));
    if (st.status === 503) return m.nak(1000); // tm did not take it: later again
    if (![200, 404, 409].includes(st.status)) mg.error(`tm refused the answer: ${st.status} ${st.reason}`);
    m.ack(); // 409: answered before (a redelivery); 404: the transaction is gone
  } finally {
    done();
  }
}

const jsm = await jetstreamManager(nc);
const cfg = { durable_name: CONSUMER, filter_subject: `app.${NAME}.*`, ack_policy: AckPolicy.Explicit,
  ack_wait: 15_000_000_000, max_ack_pending: 16, max_deliver: 5 };
await jsm.consumers.add(STREAM, cfg).catch(() => jsm.consumers.update(STREAM, CONSUMER, cfg));
const msgs = await (await jetstream(nc).consumers.get(STREAM, CONSUMER)).consume();
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, async () => {
    await msgs.close();
    await nc.drain();
    await rdb.quit();
  });
}
console.log(`sipbus app ${NAME}: consuming ${STREAM}/${CONSUMER}`);
for await (const m of msgs) handle(m).catch((e) => mg.error(`hand-over: ${e.message}`));
