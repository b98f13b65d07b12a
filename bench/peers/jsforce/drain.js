// drain.js: a `make bench` peer. It drains a channel of the Salesforce emulator from replay id -2 (every retained
// event) with jsforce's Streaming API client, the way jsforce documents durable replay: a Connection built from an
// access token and instance URL, conn.streaming.createClient([new StreamingExtension.Replay(channel, -2)]), and a
// subscription on the channel.
//
// Usage: SFBENCH_TOKEN=<access token> node drain.js INSTANCE_URL CHANNEL COUNT
// Environment: SFBENCH_API_VERSION (default 64.0), SFBENCH_TIMEOUT_MS (default 600000).
//
// Output (stdout, one JSON object per line): {"subscribed":CHANNEL} once subscribed, then, after COUNT events,
// {"events":COUNT,"last_replay_id":ID,"elapsed_ms":MS} where MS runs from just before the client is created to the
// COUNT-th event. The process then stays alive, idle, until SIGINT/SIGTERM, so that the harness can read its CPU
// time and peak memory from /proc before it exits. Exit codes: 1 usage, 2 subscribe failed, 4 timeout.
"use strict";

const jsforce = require("jsforce");
const {StreamingExtension} = require("jsforce/lib/api/streaming");

function fail(code, msg) {
    process.stderr.write(`jsforce drain.js: ${msg}\n`);
    process.exit(code);
}

const [instanceUrl, channel, countText] = process.argv.slice(2);
const token = process.env.SFBENCH_TOKEN;
if (!instanceUrl || !channel || !/^\d+$/.test(countText || "") || !token) {
    fail(1, "usage: SFBENCH_TOKEN=... node drain.js INSTANCE_URL CHANNEL COUNT");
}
const want = Number(countText);
const timeoutMs = Number(process.env.SFBENCH_TIMEOUT_MS || "600000");

process.on("SIGINT", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
const timer = setTimeout(() => fail(4, `timed out after ${timeoutMs} ms with ${received}/${want} events`), timeoutMs);

const started = process.hrtime.bigint();
const conn = new jsforce.Connection({instanceUrl, accessToken: token, version: process.env.SFBENCH_API_VERSION || "64.0"});
const client = conn.streaming.createClient([new StreamingExtension.Replay(channel, -2)]);

let received = 0;
let lastReplayId = 0;
const subscription = client.subscribe(channel, message => {
    received++;
    lastReplayId = message.event.replayId;
    if (received === want) {
        clearTimeout(timer);
        const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
        process.stdout.write(JSON.stringify({events: received, last_replay_id: lastReplayId, elapsed_ms: elapsedMs}) + "\n");
    }
});
subscription.then(
    () => process.stdout.write(JSON.stringify({subscribed: channel}) + "\n"),
    err => fail(2, `subscribe to ${channel} failed: ${err && err.message ? err.message : err}`),
);
