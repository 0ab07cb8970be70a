#!/usr/bin/env node
// Enqueue a stock.levels and a stock.adjust job for Relais with node-redis 4.
//
// Usage:  node examples/node/enqueue_stock.js SHOP_ID
// Needs:  npm install redis@4, or Debian's node-redis package; with a Node.js that
//         does not look in /usr/share/nodejs, run it with NODE_PATH=/usr/share/nodejs
// Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
// Prints: one line per job: <type> <job id> <stream entry id>
'use strict';

const { randomUUID } = require('node:crypto');
const { createClient } = require('redis');

async function main() {
  const shop = process.argv[2];
  if (process.argv.length !== 3) {
    console.error('usage: node enqueue_stock.js SHOP_ID');
    process.exit(2);
  }
  const client = createClient({
    url: process.env.RELAIS_REDIS_URL || 'redis://127.0.0.1:16379/0',
    // A one-shot producer gives up after a few tries instead of retrying forever.
    socket: { reconnectStrategy: (retries) => (retries >= 3 ? new Error('Redis unreachable') : 200) },
  });
  client.on('error', (err) => console.error('redis:', err.message));
  await client.connect();

  const stream = `${process.env.RELAIS_PREFIX || 'relais'}:stock`;
  const now = new Date().toISOString(); // RFC 3339, UTC
  const observed = '2026-11-01T07:00:00Z'; // when the till counted

  const jobs = [
    { // Absolute levels: the id names the shop and the observation.
      id: `stock-levels:${shop}:${observed}`,
      type: 'stock.levels',
      v: 1,
      enqueued_at: now,
      data: {
        shop_id: shop,
        observed_at: observed,
        levels: [
          { sku: 'baguette', on_hand: 40 },
          { sku: 'croissant', on_hand: 60 },
          { sku: 'pain-au-chocolat', on_hand: 30 },
        ],
      },
    },
    { // One sale: the id names the receipt, so a retried XADD is applied once.
      id: `stock-adjust:${shop}:${randomUUID()}`,
      type: 'stock.adjust',
      v: 1,
      enqueued_at: now,
      data: { shop_id: shop, sku: 'baguette', delta: -3, reason: 'vente en caisse', at: now },
    },
  ];
  try {
    for (const job of jobs) {
      // No TRIM option: Relais trims the stream itself once jobs are done.
      const entry = await client.xAdd(stream, '*', { job: JSON.stringify(job) });
      console.log(`${job.type} ${job.id} ${entry}`);
    }
  } finally {
    await client.quit();
  }
}

main().catch((err) => {
  console.error(err.message || err);
  process.exit(1);
});
