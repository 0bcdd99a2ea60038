// REST calls through the official `pusher` Node library, for checking a server's REST API.
//
// Usage: node node_rest.mjs '{"appId":..,"key":..,"secret":..,"host":..,"port":..,"channel":..}'
// Triggers one event, a batch of two, then reads the channel list and one channel's info;
// prints one JSON line {"trigger": status, "batch": status, "channels": body, "channel": body}.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Pusher = require('pusher');

const config = JSON.parse(process.argv[2]);
const pusher = new Pusher({
  appId: config.appId,
  key: config.key,
  secret: config.secret,
  host: config.host,
  port: String(config.port),
  useTLS: false,
});

const result = {};
try {
  result.trigger = (await pusher.trigger(config.channel, 'from-node', { n: 1 })).status;
  result.batch = (await pusher.triggerBatch([
    { channel: config.channel, name: 'from-node', data: { n: 2 } },
    { channel: config.channel, name: 'from-node', data: { n: 3 } },
  ])).status;
  result.channels = await (await pusher.get({ path: '/channels' })).json();
  result.channel = await (await pusher.get({
    path: `/channels/${config.channel}`,
    params: { info: 'subscription_count' },
  })).json();
} catch (err) {
  result.error = String(err?.status ?? '') + ' ' + String(err?.body ?? err);
}
process.stdout.write(JSON.stringify(result) + '\n');
