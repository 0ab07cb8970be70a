<?php
// Ship an order to a relay point with phpredis, then tell Relais it waits there.
//
// Usage:  php examples/php/enqueue_deliveries.php ORDER_ID
//         (an order Relais has and that is still open: placed, confirmed or ready; a delivery
//         of a collected or cancelled order changes nothing. The orders example's orders are
//         both over by then: examples/README.md shows how to place one that stays open)
// Needs:  Debian packages php-cli php-redis (elsewhere: pecl install redis)
// Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
// Prints: one line per job: <type> <job id> <stream entry id>
declare(strict_types=1);

if ($argc !== 2) {
    fwrite(STDERR, "usage: php enqueue_deliveries.php ORDER_ID\n");
    exit(2);
}
$order = $argv[1];
$url = parse_url(getenv('RELAIS_REDIS_URL') ?: 'redis://127.0.0.1:16379/0');
$stream = (getenv('RELAIS_PREFIX') ?: 'relais') . ':deliveries';

$redis = new Redis();  // throws RedisException when Redis cannot be reached
$redis->connect($url['host'] ?? '127.0.0.1', $url['port'] ?? 6379, 5.0);
if (isset($url['pass'])) {
    $pass = rawurldecode($url['pass']);
    $redis->auth(($url['user'] ?? '') !== '' ? [rawurldecode($url['user']), $pass] : $pass);
}
$redis->select((int) ltrim($url['path'] ?? '/0', '/'));

$utc = new DateTimeZone('UTC');
$now = new DateTimeImmutable('now', $utc);
$at = $now->format('Y-m-d\TH:i:s\Z');
// The relay point keeps the parcel ten days, until 18:00 UTC.
$holdUntil = $now->modify('+10 days')->format('Y-m-d\T18:00:00\Z');

// One id per step of the order's delivery: each happens once, so a retried XADD is applied
// once. (The order id goes into the job id: hash it there if it has characters outside
// A-Z a-z 0-9 . _ : -.)
$jobs = [
    ['id' => "delivery-shipped:$order", 'type' => 'delivery.shipped', 'v' => 1, 'enqueued_at' => $at,
     'data' => ['order_id' => $order, 'at' => $at, 'method' => 'relay', 'carrier' => 'Mondial Relay',
                'tracking_url' => 'https://suivi.mondial-relay.example/colis/48213977',
                'tracking_number' => '48213977']],
    ['id' => "delivery-at-relay:$order", 'type' => 'delivery.at_relay', 'v' => 1, 'enqueued_at' => $at,
     'data' => ['order_id' => $order, 'at' => $at,
                'relay' => ['name' => 'Tabac-Presse du Marché', 'address' => '12 place du Marché, 69003 Lyon',
                            'opening_hours' => 'lun.-sam. 7h30-19h30, dim. 8h-12h30'],
                'pickup_code' => '482913', 'hold_until' => $holdUntil]],
];

// Relais never moves a delivery back: an at_relay applied first ships the order, and the
// shipped that comes after it is then kept without effect (no tracking link, no message).
// Real steps come hours apart; this example sends both at once, so it sends them in one
// MULTI/EXEC: Relais then reads them together and applies them in stream order. No MAXLEN:
// Relais trims the stream.
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
