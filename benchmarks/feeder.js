// A fast Pusher-protocol feeder for the ingest benchmarks.
//
// Accepts a connection on /app/KEY, sends pusher:connection_established, answers the first
// pusher:subscribe with pusher_internal:subscription_succeeded, then pushes pre-encoded frames
// as fast as the socket drains (or at a fixed rate). The frames are built once, as raw websocket
// frames, so the feeder spends its time in socket writes, not in JSON or framing.
//
// The key selects the run: "n300000" sends 300000 events at full speed; "n500000-r50000" sends
// 500000 events at 50000 events/s; "d100" waits 100 ms after the subscription before the first
// event (the default), so a client can bind its handlers after subscribe() returns.
// Prints "listening PORT" on stdout once ready.
//
// usage: node feeder.js [PORT]   (0 or nothing: a free port)

"use strict";

const path = require("path");
const { WebSocketServer } = require(
  require.resolve("ws", { paths: [process.env.PUSHER_NB_NODE_MODULES || path.join(__dirname, "..", "tests", "peers", "node_modules")] })
);

const CHANNEL = "crypto-trades";
const POOL = 2048; // distinct frames, cycled

function wsFrame(text) {
  const payload = Buffer.from(text, "utf8");
  const n = payload.length;
  let header;
  if (n < 126) {
    header = Buffer.from([0x81, n]);
  } else if (n < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x81;
    header[1] = 126;
    header.writeUInt16BE(n, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x81;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([header, payload]);
}

function eventText(i) {
  const side = i % 2 ? "sell" : "buy";
  const price = (64000 + (i % 1000) / 2).toFixed(1);
  const data = `{"symbol":"BTC-USD","price":${price},"size":0.01,"side":"${side}","ts":${1767225600000 + i}}`;
  return JSON.stringify({ event: "trade", channel: CHANNEL, data });
}

// One buffer per "slab" of CHUNK frames, so a burst is a single socket write.
const CHUNK = 256;
const frames = [];
for (let i = 0; i < POOL; i++) frames.push(wsFrame(eventText(i)));
const slabs = [];
for (let i = 0; i < POOL; i += CHUNK) slabs.push(Buffer.concat(frames.slice(i, i + CHUNK)));

function parseKey(url) {
  const m = /\/app\/([^?]+)/.exec(url || "");
  const key = m ? decodeURIComponent(m[1]) : "";
  const count = /n(\d+)/.exec(key);
  const rate = /r(\d+)/.exec(key);
  const delay = /d(\d+)/.exec(key);
  return {
    count: count ? parseInt(count[1], 10) : 100000,
    rate: rate ? parseInt(rate[1], 10) : 0,
    delay: delay ? parseInt(delay[1], 10) : 100,
  };
}

function pushAll(ws, count, rate) {
  const socket = ws._socket;
  let sent = 0;
  const writeFrames = (n) => {
    // n frames: whole slabs where possible, single frames for the remainder
    while (n > 0 && !socket.destroyed) {
      const offset = (sent % POOL);
      if (offset % CHUNK === 0 && n >= CHUNK) {
        const ok = socket.write(slabs[(offset / CHUNK) | 0]);
        sent += CHUNK;
        n -= CHUNK;
        if (!ok) return false;
      } else {
        const ok = socket.write(frames[offset]);
        sent += 1;
        n -= 1;
        if (!ok) return false;
      }
    }
    return true;
  };
  if (!rate) {
    const pump = () => {
      while (sent < count && !socket.destroyed) {
        if (!writeFrames(Math.min(CHUNK, count - sent))) {
          socket.once("drain", pump);
          return;
        }
      }
    };
    pump();
    return;
  }
  // Paced: every tick, top up to where the rate says we should be.
  const started = process.hrtime.bigint();
  const tick = () => {
    if (socket.destroyed || sent >= count) return;
    const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
    const due = Math.min(count, Math.floor(elapsed * rate)) - sent;
    if (due > 0 && socket.writableLength < (4 << 20)) writeFrames(due);
    setTimeout(tick, 2);
  };
  tick();
}

const port = parseInt(process.argv[2] || "0", 10);
const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
wss.on("connection", (ws, req) => {
  const { count, rate, delay } = parseKey(req.url);
  let subscribed = false;
  ws.on("error", () => {});
  ws.send(JSON.stringify({
    event: "pusher:connection_established",
    data: JSON.stringify({ socket_id: "1.1", activity_timeout: 120 }),
  }));
  ws.on("message", (raw) => {
    let msg;
    try { msg = JSON.parse(raw.toString()); } catch (e) { return; }
    if (msg.event === "pusher:ping") {
      ws.send(JSON.stringify({ event: "pusher:pong", data: "{}" }));
    } else if (msg.event === "pusher:subscribe" && !subscribed) {
      subscribed = true;
      const data = msg.data || {};
      ws.send(JSON.stringify({
        event: "pusher_internal:subscription_succeeded", channel: data.channel || CHANNEL, data: "{}",
      }), () => setTimeout(() => pushAll(ws, count, rate), delay));
    }
  });
});
wss.on("listening", () => {
  process.stdout.write(`listening ${wss.address().port}\n`);
});
