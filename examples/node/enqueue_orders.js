#!/usr/bin/env node
// Enqueue two orders' lives for Relais with node-redis 4: one placed, confirmed, ready
// and collected; one placed and cancelled by the customer.
//
// Usage:  node examples/node/enqueue_orders.js SHOP_ID
// Needs:  npm install redis@4, or Debian's node-redis package; with a Node.js that
//         does not look in /usr/share/nodejs, run it with NODE_PATH=/usr/share/nodejs
// Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
// Prints: one line per job: <type> <job id> <stream entry id>
'use strict';

const { createClient } = require('redis');

async function main() {
  const shopId = process.argv[2];
  if (process.argv.length !== 3) {
    console.error('usage: node enqueue_orders.js SHOP_ID');
    process.exit(2);
  }
  const client = createClient({
    url: process.env.RELAIS_REDIS_URL || 'redis://127.0.0.1:16379/0',
    // A one-shot producer gives up after a few tries instead of retrying forever.
    socket: { reconnectStrategy: (retries) => (retries >= 3 ? new Error('Redis unreachable') : 200) },
  });
  client.on('error', (err) => console.error('redis:', err.message));
  await client.connect();

  const stream = `${process.env.RELAIS_PREFIX || 'relais'}:orders`;
  const now = new Date().toISOString(); // RFC 3339, UTC
  const deadline = new Date(Date.now() + 86400e3).toISOString(); // collect by tomorrow
  const order = `${shopId}-CMD-1042`;
  const other = `${shopId}-CMD-1043`;
  const shop = {
    id: shopId,
    name: 'Boulangerie Martin',
    email: 'commandes@boulangerie-martin.example',
    webhook_url: 'https://boulangerie-martin.example/relais/webhook',
    timezone: 'Europe/Paris',
  };

  const events = [
    ['order.placed', order, {
      order_id: order,
      shop,
      customer: { name: 'Camille Durand', email: 'camille.durand@example.org', phone: '+33612345678', locale: 'fr' },
      items: [
        { sku: 'baguette', name: 'Baguette tradition', quantity: 2, unit_price_cents: 130 },
        { sku: 'croissant', name: 'Croissant au beurre', quantity: 6, unit_price_cents: 120 },
      ],
      total_cents: 980,
      currency: 'EUR',
      placed_at: now,
      pickup_deadline: deadline,
    }],
    ['order.confirmed', order, { order_id: order, at: now }],
    ['order.ready', order, { order_id: order, at: now, pickup_deadline: deadline }],
    ['order.collected', order, { order_id: order, at: now }],
    ['order.placed', other, {
      order_id: other,
      shop,
      customer: { name: 'Alex Morgan', phone: '+447700900123', locale: 'en' },
      items: [
        { sku: 'pain-au-chocolat', name: 'Pain au chocolat', quantity: 4, unit_price_cents: 130 },
        { sku: 'baguette', name: 'Baguette tradition', quantity: 1, unit_price_cents: 130 },
      ],
      total_cents: 650,
      currency: 'EUR',
      placed_at: now,
    }],
    ['order.cancelled', other, { order_id: other, at: now, by: 'customer', reason: 'Empêchement, je repasserai demain' }],
  ];
  try {
    for (const [type, orderId, data] of events) {
      // The id names the order and the event: a retried XADD, or the same event sent
      // twice, is applied once.
      const job = { id: `${type.replace('.', '-')}:${orderId}`, type, v: 1, enqueued_at: now, data };
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
