// Management: the app answers the NATS micro protocol ($SRV.PING|INFO|STATS,
// https://github.com/nats-io/nats-architecture-and-design ADR-32) by hand, with
// the same metadata as the Go SDK's apps (pkg/mgmt), so `sipbus ps` and
// `nats micro ls` list it with its in-flight work and last error. It serves
// the replay endpoint sipbus.app.NAME.replay like a Go app without OnCall.
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";

export function manage(nc, name, version = "0.1.0") {
  const svc = `sipbus-app-${name}`, id = randomUUID().replaceAll("-", "");
  const started = new Date().toISOString(), host = hostname();
  const metadata = { sipbus_service: `app-${name}`, sipbus_id: `${name}-${host}-${process.pid}`, host, pid: String(process.pid), started };
  const ep = { name: "replay", subject: `sipbus.app.${name}.replay`, queue_group: svc,
    metadata: { schema: "https://sipbus.dev/schemas/sipbus.notifier.replay.v1.json" } };
  let inFlight = 0, lastError = "", lastErrorAt = "", requests = 0, errors = 0;
  const base = (type) => ({ type: `io.nats.micro.v1.${type}_response`, name: svc, id, version, metadata });
  const verbs = {
    PING: () => base("ping"),
    INFO: () => ({ ...base("info"), description: `sipbus application ${name} (Node)`, endpoints: [ep] }),
    STATS: () => ({ ...base("stats"), started, endpoints: [{ ...ep, num_requests: requests, num_errors: errors, last_error: "",
      processing_time: 0, average_processing_time: 0,
      data: { in_flight: inFlight, ...(lastError && { last_error: lastError, last_error_at: lastErrorAt }) } }] }),
  };
  for (const [verb, reply] of Object.entries(verbs)) {
    for (const subj of [`$SRV.${verb}`, `$SRV.${verb}.${svc}`, `$SRV.${verb}.${svc}.${id}`]) {
      nc.subscribe(subj, { callback: (_, m) => m.respond(JSON.stringify(reply())) });
    }
  }
  nc.subscribe(ep.subject, { queue: svc, callback: (_, m) => {
    requests++;
    let req;
    try { req = m.json(); } catch { req = null; }
    const rep = req === null || typeof req !== "object" || Array.isArray(req)
      ? { status: 400, reason: "request: not a JSON object" }
      : req.dry_run !== true
        ? { status: 400, reason: "dry_run: must be true (a replay only reports what would be done)" }
        : { status: 200, reason: "dry-run: this application takes no call events" };
    if (rep.status !== 200) errors++;
    m.respond(JSON.stringify(rep));
  } });
  return {
    begin() { inFlight++; return () => { inFlight--; }; },
    error(msg) { lastError = msg; lastErrorAt = new Date().toISOString(); console.error(`${new Date().toISOString()} ERROR app ${name}: ${msg}`); },
  };
}
