#!/usr/bin/env node
// Book an appointment at a shop with node-redis 4, then move it (appointments queue).
//
// Usage:  node examples/node/enqueue_appointments.js SHOP_ID
// Needs:  npm install redis@4, or Debian's node-redis package; with a Node.js that
//         does not look in /usr/share/nodejs, run it with NODE_PATH=/usr/share/nodejs
// Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
// Prints: one line per job: <type> <job id> <stream entry id>
'use strict';

const { createClient } = require('redis');

const utc = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z'); // RFC 3339, UTC, whole seconds

// A 45-minute appointment at `hour`:00 UTC, `days` days from today.
function slot(days, hour) {
  const start = new Date(Date.now() + days * 86400e3);
  start.setUTCHours(hour, 0, 0, 0);
  return { start: utc(start), end: utc(new Date(start.getTime() + 45 * 60e3)) };
}

async function main() {
  const shop = process.argv[2];
  if (process.argv.length !== 3) {
    console.error('usage: node enqueue_appointments.js SHOP_ID');
    process.exit(2);
  }
  const client = createClient({
    url: process.env.RELAIS_REDIS_URL || 'redis://127.0.0.1:16379/0',
    // A one-shot producer gives up after a few tries instead of retrying forever.
    socket: { reconnectStrategy: (retries) => (retries >= 3 ? new Error('Redis unreachable') : 200) },
  });
  client.on('error', (err) => console.error('redis:', err.message));
  await client.connect();

  const stream = `${process.env.RELAIS_PREFIX || 'relais'}:appointments`;
  const now = new Date();
  const appointment = `${shop}-RDV-2001`;
  // One id per fact: the booking, and each move numbered by the booking system. A move
  // applies only if its `at` is later than the booking's (or the last move's): booked a
  // minute ago, moved now. (The shop id goes into the job ids: hash it there if it has
  // characters outside A-Z a-z 0-9 . _ : -.)
  const jobs = [
    { id: `appointment-booked:${appointment}`, type: 'appointment.booked', v: 1, enqueued_at: utc(now),
      data: { appointment_id: appointment, at: utc(new Date(now.getTime() - 60e3)),
              shop: { id: shop, name: 'Salon Léa Coiffure', email: 'rdv@salon-lea.example',
                      timezone: 'Europe/Paris', address: '8 rue des Tanneurs, 69001 Lyon' },
              service: { name: 'Coupe et brushing', duration_minutes: 45 },
              ...slot(2, 9), // the day after tomorrow, 09:00-09:45 UTC
              customer: { name: 'Camille Durand', email: 'camille.durand@example.org',
                          phone: '+33612345678', locale: 'fr' } } },
    { id: `appointment-rescheduled:${appointment}:1`, type: 'appointment.rescheduled', v: 1, enqueued_at: utc(now),
      data: { appointment_id: appointment, at: utc(now), ...slot(3, 14) } }, // the day after, 14:00-14:45 UTC
  ];
  try {
    // A move processed before its booking would wait for it (retried); sent together in one
    // MULTI/EXEC, Relais reads them in one batch and applies them in stream order.
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
