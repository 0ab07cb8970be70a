<?php
// Book a pickup slot for an order with phpredis, then move it (a second booking).
//
// Usage:  php examples/php/enqueue_pickups.php ORDER_ID
//         (an order Relais has and that is still open: placed, confirmed or ready; a booking
//         for a collected or cancelled order changes nothing. The orders example's orders are
//         both over by then: examples/README.md shows how to place one that stays open)
// Needs:  Debian packages php-cli php-redis (elsewhere: pecl install redis)
// Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
// Prints: one line per job: <type> <job id> <stream entry id>
declare(strict_types=1);

if ($argc !== 2) {
    fwrite(STDERR, "usage: php enqueue_pickups.php ORDER_ID\n");
    exit(2);
}
$order = $argv[1];
$url = parse_url(getenv('RELAIS_REDIS_URL') ?: 'redis://127.0.0.1:16379/0');
$stream = (getenv('RELAIS_PREFIX') ?: 'relais') . ':pickups';

$redis = new Redis();  // throws RedisException when Redis cannot be reached
$redis->connect($url['host'] ?? '127.0.0.1', $url['port'] ?? 6379, 5.0);
if (isset($url['pass'])) {
    $pass = rawurldecode($url['pass']);
    $redis->auth(($url['user'] ?? '') !== '' ? [rawurldecode($url['user']), $pass] : $pass);
}
$redis->select((int) ltrim($url['path'] ?? '/0', '/'));

$utc = new DateTimeZone('UTC');
$now = (new DateTimeImmutable('now', $utc))->format(DATE_RFC3339_EXTENDED);

// A 30-minute slot at $hour:00 UTC, $days days from today.
function slot(int $days, int $hour): array {
    $start = (new DateTimeImmutable("today +$days days", new DateTimeZone('UTC')))->setTime($hour, 0);
    return ['slot_start' => $start->format('Y-m-d\TH:i:s\Z'),
            'slot_end' => $start->modify('+30 minutes')->format('Y-m-d\TH:i:s\Z')];
}

// One id per booking of the order, numbered by the booking system: a retried XADD of a
// booking is applied once, and the move is a new fact with an id of its own. (The order id
// goes into the job id: hash it there if it has characters outside A-Z a-z 0-9 . _ : -.)
$jobs = [
    ['id' => "pickup-booked:$order:1", 'type' => 'pickup.booked', 'v' => 1, 'enqueued_at' => $now,
     'data' => ['order_id' => $order] + slot(2, 16)],  // the day after tomorrow, 16:00-16:30 UTC
    ['id' => "pickup-booked:$order:2", 'type' => 'pickup.booked', 'v' => 1, 'enqueued_at' => $now,
     'data' => ['order_id' => $order] + slot(3, 9)],   // moved to the day after, 09:00-09:30 UTC
];

// Relais applies the bookings of an order in the order it processes them, and two jobs sent
// a moment apart may be taken by two of its workers at once. A real move comes long after its
// booking; this example sends both at once, so it sends them in one MULTI/EXEC: Relais then
// reads them together and applies them in stream order. No MAXLEN: Relais trims the stream.
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
