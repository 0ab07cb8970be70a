#!/usr/bin/env node
// Ship an order to a relay point with node-redis 4, then tell Relais it waits there.
//
// Usage:  node examples/node/enqueue_deliveries.js ORDER_ID
//         (an order Relais has and that is still open: placed, confirmed or ready; a delivery
//         of a collected or cancelled order changes nothing. The orders example's orders are
//         both over by then: examples/README.md shows how to place one that stays open)
// Needs:  npm install redis@4, or Debian's node-redis package; with a Node.js that
//         does not look in /usr/share/nodejs, run it with NODE_PATH=/usr/share/nodejs
// Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
// Prints: one line per job: <type> <job id> <stream entry id>
'use strict';

const { createClient } = require('redis');

async function main() {
  const order = process.argv[2];
  if (process.argv.length !== 3) {
    console.error('usage: node enqueue_deliveries.js ORDER_ID');
    process.exit(2);
  }
  const client = createClient({
    url: process.env.RELAIS_REDIS_URL || 'redis://127.0.0.1:16379/0',
    // A one-shot producer gives up after a few tries instead of retrying forever.
    socket: { reconnectStrategy: (retries) => (retries >= 3 ? new Error('Redis unreachable') : 200) },
  });
  client.on('error', (err) => console.error('redis:', err.message));
  await client.connect();

  const stream = `${process.env.RELAIS_PREFIX || 'relais'}:deliveries`;
  const now = new Date();
  const at = now.toISOString().replace(/\.\d{3}Z$/, 'Z'); // RFC 3339, UTC, whole seconds
  // The relay point keeps the parcel ten days, until 18:00 UTC.
  const hold = new Date(now.getTime() + 10 * 86400e3);
  hold.setUTCHours(18, 0, 0, 0);
  const holdUntil = hold.toISOString().replace('.000Z', 'Z');
  // One id per step of the order's delivery: each happens once, so a retried XADD is
  // applied once. (The order id goes into the job id: hash it there if it has characters
  // outside A-Z a-z 0-9 . _ : -.)
  const jobs = [
    { id: `delivery-shipped:${order}`, type: 'delivery.shipped', v: 1, enqueued_at: at,
      data: { order_id: order, at, method: 'relay', carrier: 'Mondial Relay',
              tracking_url: 'https://suivi.mondial-relay.example/colis/48213977',
              tracking_number: '48213977' } },
    { id: `delivery-at-relay:${order}`, type: 'delivery.at_relay', v: 1, enqueued_at: at,
      data: { order_id: order, at,
              relay: { name: 'Tabac-Presse du Marché', address: '12 place du Marché, 69003 Lyon',
                       opening_hours: 'lun.-sam. 7h30-19h30, dim. 8h-12h30' },
              pickup_code: '482913', hold_until: holdUntil } },
  ];
  try {
    // Relais never moves a delivery back: an at_relay applied first ships the order, and the
    // shipped that comes after it is then kept without effect (no tracking link, no message).
    // Real steps come hours apart; this example sends both at once, so it sends them in one
    // MULTI/EXEC: Relais then reads them together and applies them in stream order. No TRIM option.
    const multi = client.multi();
    for (const job of jobs) multi.xAdd(stream, '*', { job: JSON.stringify(job) });
    const entries = await multi.exec();
    jobs.forEach((job, i) => console.log(`${job.type} ${job.id} ${entries[i]}`));
  } finally {
    await client.quit();
  }
}

main().catch((err) => {
  console.error(err.message || err);
  process.exit(1);
});
