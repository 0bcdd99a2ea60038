// An auth endpoint in the pusher-js convention, signing with the official `pusher` Node library.
//
// Usage: node auth_server.mjs '{"appId":..,"key":..,"secret":..,"masterKey":..}'
// Prints {"port": N} once listening on 127.0.0.1. POST /auth takes the form fields socket_id,
// channel_name and (for presence) user_id / user_name, and answers authorizeChannel's JSON;
// POST /user-auth takes socket_id and user_id and answers authenticateUser's JSON.
import { createRequire } from 'node:module';
import http from 'node:http';

const require = createRequire(import.meta.url);
const Pusher = require('pusher');

const config = JSON.parse(process.argv[2]);
const pusher = new Pusher({
  appId: config.appId,
  key: config.key,
  secret: config.secret,
  host: '127.0.0.1',
  useTLS: false,
  ...(config.masterKey ? { encryptionMasterKeyBase64: config.masterKey } : {}),
});

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    const form = new URLSearchParams(body);
    const socketId = form.get('socket_id');
    const channel = form.get('channel_name');
    try {
      let answer;
      if (req.url.startsWith('/user-auth')) {
        answer = pusher.authenticateUser(socketId, { id: form.get('user_id') || `anon-${socketId}` });
      } else if (channel.startsWith('presence-')) {
        const userId = form.get('user_id') || `anon-${socketId}`;
        answer = pusher.authorizeChannel(socketId, channel, {
          user_id: userId,
          user_info: { name: form.get('user_name') || userId },
        });
      } else {
        answer = pusher.authorizeChannel(socketId, channel);
      }
      res.writeHead(200, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' });
      res.end(JSON.stringify(answer));
    } catch (err) {
      res.writeHead(403, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: String(err) }));
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
