// Ships documents to Lode's Elasticsearch bulk endpoint with the official
// client's bulk helper (@elastic/elasticsearch 8). Prints the helper's stats
// as JSON. Usage: node es_bulk.js URL COUNT INDEX
'use strict';
const { Client } = require('@elastic/elasticsearch');

const [url, countArg, index] = process.argv.slice(2);
const client = new Client({ node: url });
const docs = [];
for (let i = 0; i < Number(countArg || 10); i++) {
  docs.push({
    '@timestamp': new Date().toISOString(),
    message: `shipment ${i} ${i % 4 === 0 ? 'delayed' : 'delivered'}`,
    'log.level': i % 4 === 0 ? 'warn' : 'info',
    'service.name': 'shipping',
    'host.name': 'node-12',
    order: { id: i, region: i % 2 ? 'eu' : 'us' },
  });
}
client.info()
  .then((info) => {
    if (!info.version || !info.version.number) throw new Error('no version in GET /');
    return client.helpers.bulk({
      datasource: docs,
      onDocument: () => ({ index: { _index: index } }),
      flushBytes: 2000,  // several bulk requests
      onDrop: (d) => console.error('dropped', JSON.stringify(d)),
    });
  })
  .then((stats) => { console.log(JSON.stringify(stats)); process.exit(stats.failed ? 1 : 0); })
  .catch((e) => { console.error(e); process.exit(1); });
