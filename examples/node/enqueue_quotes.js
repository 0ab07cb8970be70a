#!/usr/bin/env node
// A customer asks a shop for a quote, and the shop sends it, with node-redis 4 (quotes queue).
//
// Usage:  node examples/node/enqueue_quotes.js SHOP_ID
// Needs:  npm install redis@4, or Debian's node-redis package; with a Node.js that
//         does not look in /usr/share/nodejs, run it with NODE_PATH=/usr/share/nodejs
// Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
// Prints: one line per job: <type> <job id> <stream entry id>
'use strict';

const { createClient } = require('redis');

const utc = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z'); // RFC 3339, UTC, whole seconds
const day = (now, days) => new Date(now.getTime() + days * 86400e3).toISOString().slice(0, 10);

async function main() {
  const shop = process.argv[2];
  if (process.argv.length !== 3) {
    console.error('usage: node enqueue_quotes.js SHOP_ID');
    process.exit(2);
  }
  const client = createClient({
    url: process.env.RELAIS_REDIS_URL || 'redis://127.0.0.1:16379/0',
    // A one-shot producer gives up after a few tries instead of retrying forever.
    socket: { reconnectStrategy: (retries) => (retries >= 3 ? new Error('Redis unreachable') : 200) },
  });
  client.on('error', (err) => console.error('redis:', err.message));
  await client.connect();

  const stream = `${process.env.RELAIS_PREFIX || 'relais'}:quotes`;
  const now = new Date();
  const quote = `${shop}-DEVIS-3001`;
  // One id per fact: the request, and each version of the quote the shop sends. (The shop
  // id goes into the job ids: hash it there if it has characters outside A-Z a-z 0-9 . _ : -.)
  const jobs = [
    { id: `quote-requested:${quote}`, type: 'quote.requested', v: 1, enqueued_at: utc(now),
      data: { quote_id: quote, at: utc(new Date(now.getTime() - 3600e3)), // asked an hour ago
              shop: { id: shop, name: 'Boulangerie Martin', email: 'commandes@boulangerie-martin.example',
                      timezone: 'Europe/Paris' },
              customer: { name: 'Camille Durand', email: 'camille.durand@example.org', locale: 'fr' },
              request: 'Une pièce montée de 40 choux pour un baptême, sans fruits à coque',
              desired_date: `${day(now, 14)}T10:00:00Z` } }, // wanted in two weeks
    { id: `quote-sent:${quote}:1`, type: 'quote.sent', v: 1, enqueued_at: utc(now),
      data: { quote_id: quote, at: utc(now), amount_cents: 9600, currency: 'EUR',
              lines: [{ description: 'Pièce montée, 40 choux', quantity: 1, unit_price_cents: 8400 },
                      { description: 'Livraison et montage', quantity: 1, unit_price_cents: 1200 }],
              valid_until: `${day(now, 7)}T18:00:00Z`, // valid a week
              url: `https://mes-commercants.example/devis/${quote}` } },
  ];
  try {
    // A quote sent before its request is known would wait for it (retried); sent together in
    // one MULTI/EXEC, Relais reads them in one batch and applies them in stream order.
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
