// drain.js: a `make bench` peer. It drains a channel of the Salesforce emulator from replay id -2 (every retained
// event) with the CometD JavaScript client (npm `cometd`, on Node.js through `cometd-nodejs-client`), configured as
// Salesforce documents for JavaScript subscribers: long polling to {instance_url}/cometd/{version}, the access
// token in the Authorization header, and a replay extension that sends ext.replay = {channel: replayId} on
// /meta/subscribe.
//
// Usage: SFBENCH_TOKEN=<access token> node drain.js INSTANCE_URL CHANNEL COUNT
// Environment: SFBENCH_API_VERSION (default 64.0), SFBENCH_TIMEOUT_MS (default 600000).
//
// Output (stdout, one JSON object per line): {"subscribed":CHANNEL} once subscribed, then, after COUNT events,
// {"events":COUNT,"last_replay_id":ID,"elapsed_ms":MS} where MS runs from just before the handshake to the COUNT-th
// event. The process then stays alive until SIGINT/SIGTERM, so that the harness can read its CPU time and peak
// memory from /proc before it exits. Exit codes: 1 usage, 2 handshake failed, 3 subscribe failed, 4 timeout.

import {adapt} from "cometd-nodejs-client";
import {CometD} from "cometd";

function fail(code, msg) {
    process.stderr.write(`cometd drain.js: ${msg}\n`);
    process.exit(code);
}

const [instanceUrl, channel, countText] = process.argv.slice(2);
const token = process.env.SFBENCH_TOKEN;
if (!instanceUrl || !channel || !/^\d+$/.test(countText || "") || !token) {
    fail(1, "usage: SFBENCH_TOKEN=... node drain.js INSTANCE_URL CHANNEL COUNT");
}
const want = Number(countText);
const timeoutMs = Number(process.env.SFBENCH_TIMEOUT_MS || "600000");
const apiVersion = process.env.SFBENCH_API_VERSION || "64.0";

process.on("SIGINT", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
let received = 0;
const timer = setTimeout(() => fail(4, `timed out after ${timeoutMs} ms with ${received}/${want} events`), timeoutMs);

// The replay extension of Salesforce's durable streaming: offer replay on the handshake, then subscribe with the
// replay id to start after (-2: every retained event).
const replay = {
    outgoing(message) {
        if (message.channel === "/meta/handshake") {
            message.ext = Object.assign({}, message.ext, {replay: true});
        } else if (message.channel === "/meta/subscribe") {
            message.ext = Object.assign({}, message.ext, {replay: {[channel]: -2}});
        }
        return message;
    },
};

adapt();
const cometd = new CometD();
for (const t of cometd.getTransportTypes()) {
    if (t !== "long-polling") {
        cometd.unregisterTransport(t);
    }
}
cometd.configure({
    url: `${instanceUrl.replace(/\/+$/, "")}/cometd/${apiVersion}`,
    requestHeaders: {Authorization: `Bearer ${token}`},
    appendMessageTypeToURL: false,
    logLevel: "warn",
});
cometd.registerExtension("replay", replay);

const started = process.hrtime.bigint();
let lastReplayId = 0;
cometd.handshake(reply => {
    if (!reply.successful) {
        fail(2, `handshake failed: ${JSON.stringify(reply)}`);
    }
    cometd.subscribe(channel, message => {
        received++;
        lastReplayId = message.data.event.replayId;
        if (received === want) {
            clearTimeout(timer);
            const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
            process.stdout.write(JSON.stringify({events: received, last_replay_id: lastReplayId, elapsed_ms: elapsedMs}) + "\n");
        }
    }, sub => {
        if (!sub.successful) {
            fail(3, `subscribe to ${channel} failed: ${JSON.stringify(sub)}`);
        }
        process.stdout.write(JSON.stringify({subscribed: channel}) + "\n");
    });
});
