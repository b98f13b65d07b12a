// drain.js: a `make bench` peer. It drains a topic of the Salesforce emulator over the Pub/Sub API from the
// earliest retained event with the npm `salesforce-pubsub-api-client`, used as its README shows: connect(), then
// subscribeFromEarliestEvent with no event count, which keeps the subscription alive and asks for 100 more events
// each time it has received the previous 100; every event's Avro payload is parsed by the client before the
// callback sees it. Authentication is the client's user-supplied mode (an access token obtained by the harness).
//
// The client only speaks TLS (it builds its channel with grpc.credentials.createSsl); ENDPOINT is a TLS endpoint
// whose certificate it does not verify (rejectUnauthorizedSsl: false), in `make bench` a TLS-terminating proxy in
// front of the emulator's plaintext Pub/Sub port.
//
// Usage: SFBENCH_TOKEN=<access token> node drain.js INSTANCE_URL ENDPOINT TOPIC COUNT
//   INSTANCE_URL  the emulator's base URL (its /services/oauth2/userinfo gives the org id for the tenantid header)
// Environment: SFBENCH_TIMEOUT_MS (default 600000).
//
// Output (stdout, one JSON object per line): {"events":COUNT,"last_replay_id":ID,"elapsed_ms":MS} after COUNT
// events, where MS runs from just before the subscription to the COUNT-th event. The process then stays alive
// until SIGINT/SIGTERM, so that the harness can read its CPU time and peak memory from /proc before it exits.
// Exit codes: 1 usage, 2 connect failed, 3 stream error, 4 timeout, 5 the stream ended early.

import PubSubApiClient from "salesforce-pubsub-api-client";

function fail(code, msg) {
    process.stderr.write(`pubsub-node drain.js: ${msg}\n`);
    process.exit(code);
}

const [instanceUrl, endpoint, topic, countText] = process.argv.slice(2);
const token = process.env.SFBENCH_TOKEN;
if (!instanceUrl || !endpoint || !topic || !/^\d+$/.test(countText || "") || !token) {
    fail(1, "usage: SFBENCH_TOKEN=... node drain.js INSTANCE_URL ENDPOINT TOPIC COUNT");
}
const want = Number(countText);
const timeoutMs = Number(process.env.SFBENCH_TIMEOUT_MS || "600000");

process.on("SIGINT", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
let received = 0;
const timer = setTimeout(() => fail(4, `timed out after ${timeoutMs} ms with ${received}/${want} events`), timeoutMs);

// Warnings and errors to stderr; the client's per-request info and debug lines are dropped, as a drain would.
const quiet = () => {};
const toStderr = (level) => (...args) => process.stderr.write(`[${level}] ${args.map((a) => (a instanceof Error ? a.stack : String(a))).join(" ")}\n`);
const logger = {debug: quiet, info: quiet, warn: toStderr("warn"), error: toStderr("error")};

let organizationId;
try {
    const res = await fetch(`${instanceUrl}/services/oauth2/userinfo`, {headers: {Authorization: `Bearer ${token}`}});
    if (!res.ok) {
        throw new Error(`HTTP ${res.status}`);
    }
    organizationId = (await res.json()).organization_id;
} catch (err) {
    fail(2, `userinfo: ${err}`);
}

// The user-supplied mode insists on an https:// instance URL; the emulator does not read the instanceurl header.
const client = new PubSubApiClient({
    authType: "user-supplied",
    accessToken: token,
    instanceUrl: instanceUrl.replace(/^http:/, "https:"),
    organizationId,
    pubSubEndpoint: endpoint,
    rejectUnauthorizedSsl: false,
}, logger);
try {
    await client.connect();
} catch (err) {
    fail(2, `connect: ${err.stack}${err.cause ? `\ncause: ${err.cause.stack ?? err.cause}` : ""}`);
}

const start = process.hrtime.bigint();
let lastReplayId = 0;
client.subscribeFromEarliestEvent(topic, (_subscription, type, data) => {
    switch (type) {
        case "event":
            received++;
            lastReplayId = data.replayId;
            if (received === want) {
                const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
                clearTimeout(timer);
                process.stdout.write(JSON.stringify({events: received, last_replay_id: Number(lastReplayId), elapsed_ms: elapsedMs}) + "\n");
            }
            break;
        case "error":
            fail(3, `stream error: ${data?.stack ?? JSON.stringify(data)}`);
            break;
        case "end":
            if (received < want) {
                fail(5, `the stream ended after ${received} of ${want} events`);
            }
            break;
    }
});
