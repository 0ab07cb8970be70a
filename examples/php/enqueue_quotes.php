<?php
// A customer asks a shop for a quote, and the shop sends it, with phpredis (quotes queue).
//
// Usage:  php examples/php/enqueue_quotes.php SHOP_ID
// Needs:  Debian packages php-cli php-redis (elsewhere: pecl install redis)
// Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
// Prints: one line per job: <type> <job id> <stream entry id>
declare(strict_types=1);

if ($argc !== 2) {
    fwrite(STDERR, "usage: php enqueue_quotes.php SHOP_ID\n");
    exit(2);
}
$shop = $argv[1];
$url = parse_url(getenv('RELAIS_REDIS_URL') ?: 'redis://127.0.0.1:16379/0');
$stream = (getenv('RELAIS_PREFIX') ?: 'relais') . ':quotes';

$redis = new Redis();  // throws RedisException when Redis cannot be reached
$redis->connect($url['host'] ?? '127.0.0.1', $url['port'] ?? 6379, 5.0);
if (isset($url['pass'])) {
    $pass = rawurldecode($url['pass']);
    $redis->auth(($url['user'] ?? '') !== '' ? [rawurldecode($url['user']), $pass] : $pass);
}
$redis->select((int) ltrim($url['path'] ?? '/0', '/'));

$now = new DateTimeImmutable('now', new DateTimeZone('UTC'));
$utc = fn (DateTimeImmutable $t): string => $t->format('Y-m-d\TH:i:s\Z');
$quote = "$shop-DEVIS-3001";

// One id per fact: the request, and each version of the quote the shop sends. (The shop id
// goes into the job ids: hash it there if it has characters outside A-Z a-z 0-9 . _ : -.)
$jobs = [
    ['id' => "quote-requested:$quote", 'type' => 'quote.requested', 'v' => 1, 'enqueued_at' => $utc($now),
     'data' => ['quote_id' => $quote, 'at' => $utc($now->modify('-1 hour')),  // asked an hour ago
                'shop' => ['id' => $shop, 'name' => 'Boulangerie Martin',
                           'email' => 'commandes@boulangerie-martin.example', 'timezone' => 'Europe/Paris'],
                'customer' => ['name' => 'Camille Durand', 'email' => 'camille.durand@example.org', 'locale' => 'fr'],
                'request' => 'Une pièce montée de 40 choux pour un baptême, sans fruits à coque',
                'desired_date' => $now->modify('+14 days')->format('Y-m-d\T10:00:00\Z')]],  // wanted in two weeks
    ['id' => "quote-sent:$quote:1", 'type' => 'quote.sent', 'v' => 1, 'enqueued_at' => $utc($now),
     'data' => ['quote_id' => $quote, 'at' => $utc($now), 'amount_cents' => 9600, 'currency' => 'EUR',
                'lines' => [['description' => 'Pièce montée, 40 choux', 'quantity' => 1, 'unit_price_cents' => 8400],
                            ['description' => 'Livraison et montage', 'quantity' => 1, 'unit_price_cents' => 1200]],
                'valid_until' => $now->modify('+7 days')->format('Y-m-d\T18:00:00\Z'),  // valid a week
                'url' => "https://mes-commercants.example/devis/$quote"]],
];

// A quote sent before its request is known would wait for it (retried); sent together in one
// MULTI/EXEC, Relais reads them in one batch and applies them in stream order.
$redis->multi();
foreach ($jobs as $job) {
    $redis->xAdd($stream, '*', ['job' => json_encode($job, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE)]);
}
$entries = $redis->exec();
if (!is_array($entries) || count($entries) !== 2 || in_array(false, $entries, true)) {
    fwrite(STDERR, "MULTI/XADD/EXEC failed: " . $redis->getLastError() . "\n");
    exit(1);
}
foreach ($jobs as $i => $job) {
    echo "{$job['type']} {$job['id']} {$entries[$i]}\n";
}
