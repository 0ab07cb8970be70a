<?php
// Enqueue two orders' lives for Relais with phpredis: one placed, confirmed, ready and
// collected; one placed and cancelled by the customer.
//
// Usage:  php examples/php/enqueue_orders.php SHOP_ID
// Needs:  Debian packages php-cli php-redis (elsewhere: pecl install redis)
// Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
// Prints: one line per job: <type> <job id> <stream entry id>
declare(strict_types=1);

if ($argc !== 2) {
    fwrite(STDERR, "usage: php enqueue_orders.php SHOP_ID\n");
    exit(2);
}
$shopId = $argv[1];
$url = parse_url(getenv('RELAIS_REDIS_URL') ?: 'redis://127.0.0.1:16379/0');
$stream = (getenv('RELAIS_PREFIX') ?: 'relais') . ':orders';

$redis = new Redis();  // throws RedisException when Redis cannot be reached
$redis->connect($url['host'] ?? '127.0.0.1', $url['port'] ?? 6379, 5.0);
if (isset($url['pass'])) {
    $pass = rawurldecode($url['pass']);
    $redis->auth(($url['user'] ?? '') !== '' ? [rawurldecode($url['user']), $pass] : $pass);
}
$redis->select((int) ltrim($url['path'] ?? '/0', '/'));

$utc = new DateTimeZone('UTC');
$now = (new DateTimeImmutable('now', $utc))->format(DATE_RFC3339_EXTENDED);
$deadline = (new DateTimeImmutable('+1 day', $utc))->format(DATE_RFC3339_EXTENDED);  // collect by tomorrow
$order = "$shopId-CMD-1042";
$other = "$shopId-CMD-1043";
$shop = [
    'id' => $shopId,
    'name' => 'Boulangerie Martin',
    'email' => 'commandes@boulangerie-martin.example',
    'webhook_url' => 'https://boulangerie-martin.example/relais/webhook',
    'timezone' => 'Europe/Paris',
];

$events = [
    ['order.placed', $order, [
        'order_id' => $order,
        'shop' => $shop,
        'customer' => ['name' => 'Camille Durand', 'email' => 'camille.durand@example.org',
                       'phone' => '+33612345678', 'locale' => 'fr'],
        'items' => [
            ['sku' => 'baguette', 'name' => 'Baguette tradition', 'quantity' => 2, 'unit_price_cents' => 130],
            ['sku' => 'croissant', 'name' => 'Croissant au beurre', 'quantity' => 6, 'unit_price_cents' => 120],
        ],
        'total_cents' => 980,
        'currency' => 'EUR',
        'placed_at' => $now,
        'pickup_deadline' => $deadline,
    ]],
    ['order.confirmed', $order, ['order_id' => $order, 'at' => $now]],
    ['order.ready', $order, ['order_id' => $order, 'at' => $now, 'pickup_deadline' => $deadline]],
    ['order.collected', $order, ['order_id' => $order, 'at' => $now]],
    ['order.placed', $other, [
        'order_id' => $other,
        'shop' => $shop,
        'customer' => ['name' => 'Alex Morgan', 'phone' => '+447700900123', 'locale' => 'en'],
        'items' => [
            ['sku' => 'pain-au-chocolat', 'name' => 'Pain au chocolat', 'quantity' => 4, 'unit_price_cents' => 130],
            ['sku' => 'baguette', 'name' => 'Baguette tradition', 'quantity' => 1, 'unit_price_cents' => 130],
        ],
        'total_cents' => 650,
        'currency' => 'EUR',
        'placed_at' => $now,
    ]],
    ['order.cancelled', $other, ['order_id' => $other, 'at' => $now, 'by' => 'customer',
                                 'reason' => 'Empêchement, je repasserai demain']],
];

foreach ($events as [$type, $orderId, $data]) {
    // The id names the order and the event: a retried XADD, or the same event sent
    // twice, is applied once.
    $job = ['id' => str_replace('.', '-', $type) . ":$orderId", 'type' => $type, 'v' => 1,
            'enqueued_at' => $now, 'data' => $data];
    $json = json_encode($job, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    // No MAXLEN: Relais trims the stream itself once jobs are done.
    $entry = $redis->xAdd($stream, '*', ['job' => $json]);
    if ($entry === false) {
        fwrite(STDERR, "XADD $type failed: " . $redis->getLastError() . "\n");
        exit(1);
    }
    echo "$type {$job['id']} $entry\n";
}
