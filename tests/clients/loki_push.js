// Sends log lines to Lode's Loki push endpoint with winston-loki, the npm
// Loki transport for winston (protobuf + snappy by default, JSON with
// --json). Usage: node loki_push.js URL COUNT [--json]
'use strict';
const winston = require('winston');
const LokiTransport = require('winston-loki');

const [url, countArg, mode] = process.argv.slice(2);
const count = Number(countArg || 10);
const json = mode === '--json';
const transport = new LokiTransport({
  host: url,
  json,
  batching: true,
  interval: 1,
  labels: { app: json ? 'checkout-json' : 'checkout', env: 'test' },
  onConnectionError: (err) => { console.error('connection error:', err); process.exitCode = 1; },
});
const logger = winston.createLogger({ transports: [transport] });
for (let i = 0; i < count; i++) {
  const level = i % 10 === 0 ? 'error' : 'info';
  logger.log({ level, message: `order ${i} ${level === 'error' ? 'failed' : 'placed'}`,
               labels: { region: i % 2 ? 'eu' : 'us' } });
}
transport.flush().then(() => {
  transport.close && transport.close();
  setTimeout(() => process.exit(process.exitCode || 0), 200);
}).catch((err) => { console.error(err); process.exit(1); });
