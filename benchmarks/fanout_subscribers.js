// Many raw websocket subscribers in one Node process, for the fan-out benchmark.
//
// usage: node fanout_subscribers.js PORT KEY CHANNEL N EXPECTED_EVENTS
// Opens N sockets, subscribes each to CHANNEL and prints "ready" once all are subscribed. Then
// counts every "tick" event and its latency (now minus the event's data.sent, Unix seconds),
// and prints one JSON line once each socket has EXPECTED_EVENTS, or 3 s after the last delivery
// (or after stdin closes): deliveries, first/last delivery (Unix ms) and a latency histogram.

"use strict";

const path = require("path");
const modules = process.env.PUSHER_NB_NODE_MODULES || path.join(__dirname, "..", "tests", "peers", "node_modules");
const WebSocket = require(require.resolve("ws", { paths: [modules] }));

const [port, key, channel, nText, expectedText] = process.argv.slice(2);
const n = parseInt(nText, 10);
const expected = parseInt(expectedText, 10);
const now = () => performance.timeOrigin + performance.now();
const url = `ws://127.0.0.1:${port}/app/${key}?protocol=7&client=bench-node&version=0`;

let subscribed = 0;
let deliveries = 0;
let first = 0;
let last = 0;
let finished = false;
let idleTimer = null;
const histogram = new Map(); // bucket -> count; 0.1 ms buckets below 100 ms, 1 ms above
const sockets = [];

function bucket(ms) {
  if (ms < 0) ms = 0;
  return ms < 100 ? Math.floor(ms * 10) / 10 : Math.floor(ms);
}

function finish() {
  if (finished) return;
  finished = true;
  process.stdout.write(JSON.stringify({
    sockets: n, subscribed, deliveries, first_ms: first, last_ms: last,
    histogram: Array.from(histogram.entries()),
  }) + "\n");
  for (const ws of sockets) ws.terminate();
  process.exit(0);
}

function onMessage(raw) {
  const text = raw.toString();
  const message = JSON.parse(text);
  if (message.event === "tick") {
    const at = now();
    const data = JSON.parse(message.data);
    const ms = at - data.sent * 1000;
    const b = bucket(ms);
    histogram.set(b, (histogram.get(b) || 0) + 1);
    deliveries += 1;
    if (!first) first = at;
    last = at;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(finish, 3000);
    if (deliveries >= expected * n) finish();
  } else if (message.event === "pusher:connection_established") {
    this.send(JSON.stringify({ event: "pusher:subscribe", data: { channel } }));
  } else if (message.event === "pusher_internal:subscription_succeeded") {
    subscribed += 1;
    if (subscribed === n) process.stdout.write("ready\n");
  } else if (message.event === "pusher:ping") {
    this.send(JSON.stringify({ event: "pusher:pong", data: {} }));
  }
}

let opened = 0;
function openNext() {
  // open in small batches so the server is not flooded with handshakes
  for (let i = 0; i < 50 && opened < n; i++, opened++) {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on("message", onMessage);
    ws.on("error", (e) => process.stderr.write(`socket error: ${e.message}\n`));
    sockets.push(ws);
  }
  if (opened < n) setTimeout(openNext, 20);
}
openNext();
// stdin closes once the publisher is done: report 3 s later if nothing (more) arrives
process.stdin.on("end", () => { if (!idleTimer) idleTimer = setTimeout(finish, 3000); });
process.stdin.resume();
setTimeout(() => { process.stderr.write(`gave up: ${subscribed}/${n} subscribed, ${deliveries} deliveries\n`); finish(); }, 300000);
