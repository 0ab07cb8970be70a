#!/usr/bin/env node
// Book a pickup slot for an order with node-redis 4, then move it (a second booking).
//
// Usage:  node examples/node/enqueue_pickups.js ORDER_ID
//         (an order Relais has and that is still open: placed, confirmed or ready; a booking
//         for a collected or cancelled order changes nothing. The orders example's orders are
//         both over by then: examples/README.md shows how to place one that stays open)
// Needs:  npm install redis@4, or Debian's node-redis package; with a Node.js that
//         does not look in /usr/share/nodejs, run it with NODE_PATH=/usr/share/nodejs
// Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
// Prints: one line per job: <type> <job id> <stream entry id>
'use strict';

const { createClient } = require('redis');

// A 30-minute slot at `hour`:00 UTC, `days` days from today.
function slot(days, hour) {
  const start = new Date(Date.now() + days * 86400e3);
  start.setUTCHours(hour, 0, 0, 0);
  const end = new Date(start.getTime() + 30 * 60e3);
  const text = (d) => d.toISOString().replace('.000Z', 'Z');
  return { slot_start: text(start), slot_end: text(end) };
}

async function main() {
  const order = process.argv[2];
  if (process.argv.length !== 3) {
    console.error('usage: node enqueue_pickups.js ORDER_ID');
    process.exit(2);
  }
  const client = createClient({
    url: process.env.RELAIS_REDIS_URL || 'redis://127.0.0.1:16379/0',
    // A one-shot producer gives up after a few tries instead of retrying forever.
    socket: { reconnectStrategy: (retries) => (retries >= 3 ? new Error('Redis unreachable') : 200) },
  });
  client.on('error', (err) => console.error('redis:', err.message));
  await client.connect();

  const stream = `${process.env.RELAIS_PREFIX || 'relais'}:pickups`;
  const now = new Date().toISOString(); // RFC 3339, UTC
  // One id per booking of the order, numbered by the booking system: a retried XADD of a
  // booking is applied once, and the move is a new fact with an id of its own. (The order
  // id goes into the job id: hash it there if it has characters outside A-Z a-z 0-9 . _ : -.)
  const jobs = [
    { id: `pickup-booked:${order}:1`, type: 'pickup.booked', v: 1, enqueued_at: now,
      data: { order_id: order, ...slot(2, 16) } }, // the day after tomorrow, 16:00-16:30 UTC
    { id: `pickup-booked:${order}:2`, type: 'pickup.booked', v: 1, enqueued_at: now,
      data: { order_id: order, ...slot(3, 9) } }, // moved to the day after, 09:00-09:30 UTC
  ];
  try {
    // Relais applies the bookings of an order in the order it processes them, and two jobs
    // sent a moment apart may be taken by two of its workers at once. A real move comes long
    // after its booking; this example sends both at once, so it sends them in one MULTI/EXEC:
    // Relais then reads them together and applies them in stream order. No TRIM option.
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
