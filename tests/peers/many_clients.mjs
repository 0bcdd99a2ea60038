// Many raw Pusher-protocol websocket connections in one Node process, for load tests.
//
// Usage: node many_clients.mjs '{"url": "ws://127.0.0.1:PORT/app/KEY?protocol=7",
//          "key": KEY, "secret": SECRET, "event": "load", "concurrency": 100,
//          "groups": [{"channel": "load-0", "count": 500}, {"channel": "presence-x", "count": 20}]}'
//
// Opens every connection (at most `concurrency` handshakes in flight), subscribes each to its
// group's channel (presence channels are signed here with the secret, user ids "u-N"), and
// prints {"type": "ready", ...} once all are subscribed. For each connection it counts the
// events called `event`, whose data is {"seq": N}, and notes any seq that is not the previous
// one plus 1. Answers JSON-line commands on stdin:
//   "report"  -> {"type": "report", counts, gaps, members, other, closed, errors, ...}
//   "close"   -> closes every socket with 1000, then {"type": "closed", ...}, then exits
//   {"op": "stall" | "resume" | "terminate", "indices": [...]} -> {"type": "done", "op": ...}
//     stall stops reading those sockets (the server's writes pile up), resume reads again,
//     terminate destroys them without a closing handshake (as a killed browser tab would)
// Exits by itself when stdin ends. Nothing here retries: a refused or dropped socket is reported.
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import readline from 'node:readline';

const require = createRequire(import.meta.url);
const WebSocket = require('ws');

const config = JSON.parse(process.argv[2]);
const out = (record) => process.stdout.write(JSON.stringify(record) + '\n');
const eventName = config.event ?? 'load';
const concurrency = config.concurrency ?? 100;

const plan = [];
for (const group of config.groups) {
  for (let n = 0; n < group.count; n++) plan.push(group.channel);
}
const total = plan.length;
const counts = new Array(total).fill(0);
const gaps = new Array(total).fill(0);
const lastSeq = new Array(total).fill(-1);
const members = new Array(total).fill(null);
const other = new Array(total).fill(0);
const subscribed = new Array(total).fill(false);
const sockets = new Array(total).fill(null);
const codes = new Array(total).fill(null); // close code of each socket that closed
const leaving = new Set(); // sockets this script ended on purpose
let closedUnexpectedly = 0;
let subscribedCount = 0;
let opened = 0;
let closing = false;
const errors = [];
const started = Date.now();

function note(error) {
  if (errors.length < 20) errors.push(String(error));
}

function sign(text) {
  return `${config.key}:${createHmac('sha256', config.secret).update(text).digest('hex')}`;
}

function subscribe(ws, index, socketId) {
  const channel = plan[index];
  const data = { channel };
  if (channel.startsWith('presence-')) {
    const channelData = JSON.stringify({ user_id: `u-${index}`, user_info: { n: index } });
    data.channel_data = channelData;
    data.auth = sign(`${socketId}:${channel}:${channelData}`);
  } else if (channel.startsWith('private-')) {
    data.auth = sign(`${socketId}:${channel}`);
  }
  ws.send(JSON.stringify({ event: 'pusher:subscribe', data }));
}

function onMessage(index, ws, raw) {
  let message;
  try {
    message = JSON.parse(raw.toString());
  } catch (error) {
    note(`connection ${index}: frame is not JSON`);
    return;
  }
  const { event } = message;
  let data = message.data;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      // not JSON: keep the string
    }
  }
  if (event === eventName) {
    counts[index] += 1;
    const seq = data?.seq;
    if (seq !== lastSeq[index] + 1) gaps[index] += 1;
    lastSeq[index] = typeof seq === 'number' ? seq : lastSeq[index];
  } else if (event === 'pusher:connection_established') {
    subscribe(ws, index, data.socket_id);
  } else if (event === 'pusher_internal:subscription_succeeded') {
    if (data?.presence) members[index] = data.presence.count;
    if (!subscribed[index]) {
      subscribed[index] = true;
      subscribedCount += 1;
      if (subscribedCount === total) {
        out({ type: 'ready', connections: total, seconds: (Date.now() - started) / 1000 });
      }
    }
  } else if (event === 'pusher_internal:member_added') {
    members[index] += 1;
  } else if (event === 'pusher_internal:member_removed') {
    members[index] -= 1;
  } else if (event === 'pusher:ping') {
    ws.send('{"event":"pusher:pong","data":{}}');
  } else if (event === 'pusher:error' || event === 'pusher:subscription_error') {
    note(`connection ${index}: ${raw.toString().slice(0, 300)}`);
  } else if (event !== 'pusher_internal:subscription_count') {
    other[index] += 1;
  }
}

function open(index) {
  return new Promise((resolve) => {
    const ws = new WebSocket(config.url, { perMessageDeflate: false });
    sockets[index] = ws;
    ws.on('open', () => {
      opened += 1;
      resolve();
    });
    ws.on('message', (raw) => onMessage(index, ws, raw));
    ws.on('error', (error) => {
      note(`connection ${index}: ${error.message}`);
      resolve();
    });
    ws.on('close', (code, reason) => {
      codes[index] = code;
      if (!closing && !leaving.has(index)) {
        closedUnexpectedly += 1;
        note(`connection ${index} closed with ${code} ${reason.toString()}`);
      }
      resolve();
    });
  });
}

async function openAll() {
  let next = 0;
  async function worker() {
    while (next < total) {
      const index = next++;
      await open(index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
}

function report(type) {
  return {
    type,
    connections: total,
    opened,
    subscribed: subscribedCount,
    counts,
    gaps,
    members,
    other,
    codes,
    closed: closedUnexpectedly,
    errors,
    rss_mb: Math.round(process.memoryUsage().rss / 1048576),
  };
}

async function closeAll() {
  closing = true;
  const done = sockets.map(
    (ws) =>
      new Promise((resolve) => {
        if (ws === null || ws.readyState === WebSocket.CLOSED) return resolve();
        ws.on('close', resolve);
        ws.close(1000, 'done');
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 5000).unref();
      }),
  );
  await Promise.all(done);
  out(report('closed'));
  process.exit(0);
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const command = line.trim();
  if (command === 'report') out(report('report'));
  else if (command === 'close') closeAll();
  else if (command.startsWith('{')) {
    const { op, indices } = JSON.parse(command);
    for (const index of indices) {
      const ws = sockets[index];
      if (op === 'stall') ws.pause();
      else if (op === 'resume') ws.resume();
      else if (op === 'terminate') {
        leaving.add(index);
        ws.terminate();
      }
    }
    out({ type: 'done', op });
  }
});
rl.on('close', () => {
  if (!closing) process.exit(0);
});

openAll().then(() => out({ type: 'opened', opened, seconds: (Date.now() - started) / 1000 }));
