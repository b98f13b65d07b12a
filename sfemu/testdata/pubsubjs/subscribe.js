// subscribe.js receives events from a Salesforce Pub/Sub API endpoint with the npm `salesforce-pubsub-api-client`
// in its username-password mode, the mode its README recommends for tests: a SOAP login() to LOGIN_URL, then
// gRPC over TLS to ENDPOINT with the session id. sfemu/pubsubjs_test.go runs it against the emulator to prove that
// a third-party client, not only ours, works with sfemu's SOAP login and Pub/Sub API.
//
// Usage: SFEMU_PASSWORD=<password+security token> node subscribe.js LOGIN_URL ENDPOINT TOPIC COUNT
//   LOGIN_URL  the emulator's base URL (SOAP login at LOGIN_URL/services/Soap/u/<version>)
//   ENDPOINT   host:port of the Pub/Sub API (TLS; the emulator's certificate is self-signed, so it is not verified)
//   TOPIC      e.g. /event/Order_Event__e; the subscription starts at the earliest retained event
//   COUNT      exit 0 after this many events
// With SFEMU_MANAGED=<developer name or id> it subscribes to that managed event subscription instead (TOPIC is then
// only a label): the client reads the ManagedEventSubscription record through the Tooling API, calls
// ManagedSubscribe, and commits the replay id of each event it receives.
// The username comes from SFEMU_USERNAME (default sfemu@example.com); the password from the environment only, so
// that it never shows in a process listing. SFEMU_TIMEOUT_MS (default 30000) bounds the run.
//
// Output (stdout, one JSON object per line):
//   {"subscribed":"/event/Order_Event__e"}                once the subscription is requested
//   {"replay_id":12345,"payload":{...}}                   per event, in the order received
// Diagnostics go to stderr. Exit codes: 0 COUNT events received, 1 bad usage, 2 connect failed, 3 stream error,
// 4 timeout, 5 the stream ended early.

import PubSubApiClient from "salesforce-pubsub-api-client";

const EXIT = {usage: 1, connect: 2, stream: 3, timeout: 4, ended: 5};

function fail(code, msg) {
    process.stderr.write(`subscribe.js: ${msg}\n`);
    process.exit(code);
}

const [loginUrl, endpoint, topic, countText] = process.argv.slice(2);
const count = Number.parseInt(countText, 10);
if (!loginUrl || !endpoint || !topic || !(count > 0) || !process.env.SFEMU_PASSWORD) {
    fail(EXIT.usage, "usage: SFEMU_PASSWORD=... node subscribe.js LOGIN_URL ENDPOINT TOPIC COUNT");
}
setTimeout(() => fail(EXIT.timeout, `timed out before ${count} events`), Number(process.env.SFEMU_TIMEOUT_MS ?? 30000)).unref();

// The client's logger: everything to stderr, so stdout holds only the lines above.
const log = (level) => (...args) => process.stderr.write(`[${level}] ${args.map((a) => (a instanceof Error ? a.stack : typeof a === "string" ? a : JSON.stringify(a))).join(" ")}\n`);
const logger = {debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error")};

const client = new PubSubApiClient({
    authType: "username-password",
    loginUrl,
    username: process.env.SFEMU_USERNAME ?? "sfemu@example.com",
    password: process.env.SFEMU_PASSWORD,
    pubSubEndpoint: endpoint,
    rejectUnauthorizedSsl: false,
}, logger);

try {
    await client.connect();
} catch (err) {
    fail(EXIT.connect, `connect: ${err.stack}${err.cause ? `\ncause: ${err.cause.stack ?? err.cause}` : ""}`);
}

let received = 0;
const managed = process.env.SFEMU_MANAGED;
const callback = (subscription, type, data) => {
    switch (type) {
        case "event":
            received++;
            process.stdout.write(JSON.stringify({replay_id: Number(data.replayId), payload: data.payload},
                (_k, v) => (typeof v === "bigint" ? Number(v) : v)) + "\n");
            if (managed) {
                client.commitReplayId(subscription.subscriptionId, data.replayId);
            }
            break;
        case "lastEvent":
            // Leave time for the last commit to reach the server before the process ends.
            setTimeout(() => {
                client.close();
                process.exit(0);
            }, managed ? 1000 : 0);
            break;
        case "error":
            fail(EXIT.stream, `stream error: ${data?.stack ?? JSON.stringify(data)}`);
            break;
        case "end":
            if (received < count) {
                fail(EXIT.ended, `the stream ended after ${received} of ${count} events`);
            }
            break;
    }
};
if (managed) {
    try {
        await client.subscribeWithManagedSubscription(managed, callback, count);
    } catch (err) {
        fail(EXIT.stream, `managed subscribe: ${err.stack}${err.cause ? `\ncause: ${err.cause.stack ?? err.cause}` : ""}`);
    }
} else {
    client.subscribeFromEarliestEvent(topic, callback, count);
}
process.stdout.write(JSON.stringify({subscribed: topic}) + "\n");
