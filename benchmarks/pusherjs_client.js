// pusher-js under Node as an ingest client: the same measurement as benchmarks/ingest_client.py.
//
// usage: node pusherjs_client.js PORT COUNT
// Prints one JSON line: events, seconds (first event to COUNT-th), rss_start_mb, rss_peak_mb.

"use strict";

const fs = require("fs");
const path = require("path");
const modules = process.env.PUSHER_NB_NODE_MODULES || path.join(__dirname, "..", "tests", "peers", "node_modules");
const Pusher = require(require.resolve("pusher-js", { paths: [modules] }));

function statusMb(field) {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync("/proc/self/status", "utf8"));
  return m ? parseInt(m[1], 10) / 1024 : null;
}

const port = parseInt(process.argv[2], 10);
const count = parseInt(process.argv[3], 10);
const rssStart = statusMb("VmRSS");
const now = () => performance.timeOrigin + performance.now();

const pusher = new Pusher(`n${count}`, {
  wsHost: "127.0.0.1",
  wsPort: port,
  forceTLS: false,
  enabledTransports: ["ws"],
  disableStats: true,
  cluster: "local",
});
let received = 0;
let first = 0;
let cpuStart = null;
const channel = pusher.subscribe("crypto-trades");
channel.bind("trade", (data) => {
  received += 1;
  if (received === 1) { first = now(); cpuStart = process.cpuUsage(); }
  if (received === count) {
    const last = now();
    const cpu = process.cpuUsage(cpuStart);
    process.stdout.write(JSON.stringify({
      events: received,
      seconds: (last - first) / 1000,
      events_per_s: (received - 1) / ((last - first) / 1000),
      rss_start_mb: rssStart,
      rss_peak_mb: statusMb("VmHWM"),
      cpu_per_event: (cpu.user + cpu.system) / 1e6 / (count - 1),
    }) + "\n");
    pusher.disconnect();
    process.exit(0);
  }
});
setTimeout(() => { process.stderr.write(`only ${received} of ${count} events\n`); process.exit(1); }, 600000);
