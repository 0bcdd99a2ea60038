// A pusher-js 8 client driven by JSON-line commands on stdin, reporting JSON lines on stdout.
//
// Usage: node pusher_js_client.mjs '{"key":..,"host":..,"port":..,"authEndpoint":..,"userId":..}'
// Commands: {"op":"subscribe","channel":C} {"op":"unsubscribe","channel":C} {"op":"signin"}
//           {"op":"client_event","channel":C,"event":E,"data":D} {"op":"disconnect"}
// Reports:  {"type":"state",...} {"type":"connected","socket_id":..}
//           {"type":"event","channel":C,"event":E,"data":D,"user_id":U} {"type":"sent",...}
//           {"type":"signed_in",...} {"type":"user_event","event":E,"data":D}
import { createRequire } from 'node:module';
import readline from 'node:readline';

const require = createRequire(import.meta.url);
const Pusher = require('pusher-js');

const config = JSON.parse(process.argv[2]);
const out = (record) => process.stdout.write(JSON.stringify(record) + '\n');

Pusher.logToConsole = false;
const params = {};
if (config.userId) params.user_id = config.userId;
if (config.userName) params.user_name = config.userName;
const pusher = new Pusher(config.key, {
  wsHost: config.host,
  wsPort: config.port,
  forceTLS: false,
  enabledTransports: ['ws'],
  cluster: 'x',
  channelAuthorization: { endpoint: config.authEndpoint, transport: 'ajax', params },
  ...(config.userAuthEndpoint
    ? { userAuthentication: { endpoint: config.userAuthEndpoint, transport: 'ajax', params } }
    : {}),
});

pusher.connection.bind('state_change', (states) => out({ type: 'state', ...states }));
pusher.connection.bind('connected', () => out({ type: 'connected', socket_id: pusher.connection.socket_id }));
pusher.connection.bind('message', (message) => {
  if (message.event === 'pusher:signin_success') out({ type: 'signed_in', data: message.data });
});
pusher.user.bind_global((event, data) => out({ type: 'user_event', event, data }));
pusher.connection.bind('error', (err) => out({ type: 'error', error: String(err?.error?.data?.message ?? err?.type ?? err) }));

// Members objects (presence subscription_succeeded) become a plain, comparable summary.
function plain(data) {
  if (data && typeof data.each === 'function' && 'count' in data) {
    return { count: data.count, me: data.myID, ids: Object.keys(data.members).sort() };
  }
  return data;
}

function watch(channel) {
  const emit = channel.emit.bind(channel);
  channel.emit = (event, data, metadata) => {
    out({ type: 'event', channel: channel.name, event, data: plain(data), user_id: metadata?.user_id ?? null });
    return emit(event, data, metadata);
  };
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  const command = JSON.parse(line);
  try {
    if (command.op === 'subscribe') {
      watch(pusher.subscribe(command.channel));
    } else if (command.op === 'unsubscribe') {
      pusher.unsubscribe(command.channel);
    } else if (command.op === 'client_event') {
      const ok = pusher.channel(command.channel).trigger(command.event, command.data);
      out({ type: 'sent', channel: command.channel, event: command.event, ok });
    } else if (command.op === 'signin') {
      pusher.signin();
    } else if (command.op === 'disconnect') {
      pusher.disconnect();
      setTimeout(() => process.exit(0), 100);
    }
  } catch (err) {
    out({ type: 'exception', error: String(err) });
  }
});
rl.on('close', () => { pusher.disconnect(); setTimeout(() => process.exit(0), 100); });
