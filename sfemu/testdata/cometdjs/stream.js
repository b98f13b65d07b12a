// stream.js streams Salesforce events with the official CometD JavaScript client (npm `cometd`, run on Node.js
// through `cometd-nodejs-client`), the way Salesforce documents for JavaScript subscribers: long polling to
// {instance_url}/cometd/{version}, an OAuth bearer token in the Authorization header, and a replay extension that
// puts ext.replay = {channel: replayId} on /meta/subscribe. sfemu/cometdjs_test.go runs it against the emulator
// to prove that a third-party client, not only ours, works with it.
//
// Usage: SFEMU_TOKEN=<access token> node stream.js URL CHANNEL REPLAY_ID COUNT
//   URL        instance URL (the emulator's base URL); the client connects to URL/cometd/<SFEMU_API_VERSION|64.0>;
//              SFEMU_API_VERSION=latest takes the newest version from GET URL/services/data/ first
//   CHANNEL    e.g. /event/Order__e
//   REPLAY_ID  -1 (new events only), -2 (all retained) or the replay id of the last event already seen
//   COUNT      exit 0 after this many events
// Every argument may also come from the environment (SFEMU_URL, SFEMU_CHANNEL, SFEMU_REPLAY_ID, SFEMU_COUNT).
// The token is read from the environment only, so that it never shows in a process listing.
// Other environment: SFEMU_TIMEOUT_MS (default 20000); SFEMU_TRACE=1 writes every Bayeux message to stderr,
// SFEMU_TRACE=2 also the CometD client's debug log (transport, HTTP, advice).
//
// Output (stdout, one JSON object per line):
//   {"subscribed":"/event/Order__e"}                  once the subscription is confirmed
//   {"channel":"/event/Order__e","replay_id":12345}  per event, in the order received
// Diagnostics go to stderr. Exit codes: 0 COUNT events received and disconnected, 1 bad usage, 2 handshake failed,
// 3 subscribe failed, 4 timeout, 5 disconnect failed, 6 protocol violation (e.g. an event without replayId).

import {adapt} from "cometd-nodejs-client";
import {CometD} from "cometd";

const EXIT = {usage: 1, handshake: 2, subscribe: 3, timeout: 4, disconnect: 5, protocol: 6};

function fail(code, msg) {
    process.stderr.write(`stream.js: ${msg}\n`);
    process.exit(code);
}

function arg(i, env) {
    const v = process.argv[2 + i] ?? process.env[env];
    if (v === undefined || v === "") {
        fail(EXIT.usage, `missing argument ${i + 1} (or $${env}); usage: SFEMU_TOKEN=... node stream.js URL CHANNEL REPLAY_ID COUNT`);
    }
    return v;
}

function int(name, text) {
    if (!/^-?\d+$/.test(text)) {
        fail(EXIT.usage, `${name} must be an integer, got ${JSON.stringify(text)}`);
    }
    return Number(text);
}

const baseURL = arg(0, "SFEMU_URL").replace(/\/+$/, "");
const channel = arg(1, "SFEMU_CHANNEL");
const replayFrom = int("REPLAY_ID", arg(2, "SFEMU_REPLAY_ID"));
const want = int("COUNT", arg(3, "SFEMU_COUNT"));
const token = process.env.SFEMU_TOKEN;
if (!token) {
    fail(EXIT.usage, "SFEMU_TOKEN (the OAuth access token) is not set");
}
let apiVersion = process.env.SFEMU_API_VERSION || "64.0";
if (apiVersion === "latest") {
    // The quickstart's path: the REST Versions resource needs no token, and its last entry is the newest version.
    let versions;
    try {
        const resp = await fetch(`${baseURL}/services/data/`);
        versions = await resp.json();
    } catch (err) {
        fail(EXIT.handshake, `reading ${baseURL}/services/data/: ${err}`);
    }
    if (!Array.isArray(versions) || versions.length === 0 || typeof versions[versions.length - 1].version !== "string") {
        fail(EXIT.protocol, `the Versions resource is not a list of {label, url, version}: ${JSON.stringify(versions)}`);
    }
    apiVersion = versions[versions.length - 1].version;
}
const timeoutMs = int("SFEMU_TIMEOUT_MS", process.env.SFEMU_TIMEOUT_MS || "20000");
const traceLevel = Number(process.env.SFEMU_TRACE || "0");
const trace = traceLevel >= 1;

function out(obj) {
    process.stdout.write(JSON.stringify(obj) + "\n");
}

function debug(...parts) {
    if (trace) {
        process.stderr.write(parts.join(" ") + "\n");
    }
}

// adapt() installs XMLHttpRequest/WebSocket shims and routes the client's console.debug to console.log, i.e. to
// stdout; CometD's own log must not mix with the event lines there.
adapt();
const toStderr = (...a) => process.stderr.write(a.map(x => typeof x === "string" ? x : JSON.stringify(x)).join(" ") + "\n");
global.window.console = {debug: toStderr, info: toStderr, log: toStderr, warn: toStderr, error: toStderr};

// ReplayExtension is Salesforce's replay extension contract: the handshake offers ext.replay=true, the server's
// handshake answer confirms it, and every /meta/subscribe then carries ext.replay = {channel: replay id}. It
// advances the id with every event received, so a re-handshake (which drops all subscriptions on Salesforce)
// resubscribes after the last event seen instead of replaying or losing events.
class ReplayExtension {
    constructor(ch, from) {
        this.channel = ch;
        this.replayId = from;
        this.confirmed = false;
    }

    outgoing(message) {
        if (message.channel === "/meta/handshake") {
            message.ext = Object.assign({}, message.ext, {replay: true});
        } else if (message.channel === "/meta/subscribe" && this.confirmed) {
            message.ext = Object.assign({}, message.ext, {replay: {[this.channel]: this.replayId}});
        }
        return message;
    }

    incoming(message) {
        if (message.channel === "/meta/handshake" && message.successful) {
            this.confirmed = Boolean(message.ext && message.ext.replay === true);
        } else if (message.channel === this.channel && message.data && message.data.event &&
            Number.isInteger(message.data.event.replayId)) {
            this.replayId = message.data.event.replayId;
        }
        return message;
    }
}

// TraceExtension logs every Bayeux message as the client sends and receives it (headers such as Authorization
// are not part of a message, so the token is never printed).
class TraceExtension {
    outgoing(message) {
        debug(">>", JSON.stringify(message));
        return message;
    }

    incoming(message) {
        debug("<<", JSON.stringify(message));
        return message;
    }
}

const cometd = new CometD();
// Salesforce speaks long polling only; taking the other transports away keeps the client from trying a WebSocket
// upgrade first and makes every run take the same path.
for (const t of cometd.getTransportTypes()) {
    if (t !== "long-polling") {
        cometd.unregisterTransport(t);
    }
}
cometd.configure({
    url: `${baseURL}/cometd/${apiVersion}`,
    requestHeaders: {Authorization: `Bearer ${token}`},
    appendMessageTypeToURL: false,
    logLevel: traceLevel >= 2 ? "debug" : "warn",
});
// Registered first so that it sees outgoing messages after, and incoming ones before, the replay extension.
cometd.registerExtension("trace", new TraceExtension());
const replay = new ReplayExtension(channel, replayFrom);
cometd.registerExtension("replay", replay);

let received = 0;
let finishing = false;

const timer = setTimeout(() => {
    fail(EXIT.timeout, `timed out after ${timeoutMs} ms with ${received}/${want} events (client status ${cometd.getStatus()})`);
}, timeoutMs);

function finish() {
    if (finishing) {
        return;
    }
    finishing = true;
    cometd.disconnect(reply => {
        clearTimeout(timer);
        if (!reply.successful) {
            fail(EXIT.disconnect, `disconnect failed: ${JSON.stringify(reply)}`);
        }
        process.exit(0);
    });
}

function onEvent(message) {
    const ev = message.data && message.data.event;
    if (!ev || !Number.isInteger(ev.replayId)) {
        fail(EXIT.protocol, `event without data.event.replayId: ${JSON.stringify(message)}`);
    }
    received++;
    out({channel: message.channel, replay_id: ev.replayId});
    if (received >= want) {
        finish();
    }
}

cometd.addListener("/meta/connect", message => {
    if (!message.successful && !finishing) {
        process.stderr.write(`stream.js: connect failed (the client retries per advice): ${JSON.stringify(message)}\n`);
    }
});

cometd.handshake(reply => {
    if (!reply.successful) {
        fail(EXIT.handshake, `handshake failed: ${JSON.stringify(reply)}`);
    }
    if (!replay.confirmed) {
        fail(EXIT.handshake, `handshake answer does not confirm the replay extension (ext.replay): ${JSON.stringify(reply)}`);
    }
    // CometD calls this again after every re-handshake, having dropped its subscriptions (as Salesforce does), so
    // the channel is subscribed afresh each time, from the replay extension's last seen id.
    cometd.subscribe(channel, onEvent, sub => {
        if (!sub.successful) {
            fail(EXIT.subscribe, `subscribe to ${channel} failed: ${JSON.stringify(sub)}`);
        }
        out({subscribed: channel});
        if (want === 0) {
            finish();
        }
    });
});
