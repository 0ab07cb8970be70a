<?php
// Enqueue a stock.levels and a stock.adjust job for Relais with phpredis.
//
// Usage:  php examples/php/enqueue_stock.php SHOP_ID
// Needs:  Debian packages php-cli php-redis (elsewhere: pecl install redis)
// Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
// Prints: one line per job: <type> <job id> <stream entry id>
declare(strict_types=1);

if ($argc !== 2) {
    fwrite(STDERR, "usage: php enqueue_stock.php SHOP_ID\n");
    exit(2);
}
$shop = $argv[1];
$url = parse_url(getenv('RELAIS_REDIS_URL') ?: 'redis://127.0.0.1:16379/0');
$stream = (getenv('RELAIS_PREFIX') ?: 'relais') . ':stock';

$redis = new Redis();  // throws RedisException when Redis cannot be reached
$redis->connect($url['host'] ?? '127.0.0.1', $url['port'] ?? 6379, 5.0);
if (isset($url['pass'])) {
    $pass = rawurldecode($url['pass']);
    $redis->auth(($url['user'] ?? '') !== '' ? [rawurldecode($url['user']), $pass] : $pass);
}
$redis->select((int) ltrim($url['path'] ?? '/0', '/'));

$now = (new DateTimeImmutable('now', new DateTimeZone('UTC')))->format(DATE_RFC3339_EXTENDED);
$observed = '2026-11-01T07:00:00Z';  // when the till counted

$jobs = [
    [   // Absolute levels: the id names the shop and the observation.
        'id' => "stock-levels:$shop:$observed",
        'type' => 'stock.levels',
        'v' => 1,
        'enqueued_at' => $now,
        'data' => [
            'shop_id' => $shop,
            'observed_at' => $observed,
            'levels' => [
                ['sku' => 'baguette', 'on_hand' => 40],
                ['sku' => 'croissant', 'on_hand' => 60],
                ['sku' => 'pain-au-chocolat', 'on_hand' => 30],
            ],
        ],
    ],
    [   // One sale: the id names the receipt, so a retried XADD is applied once.
        'id' => "stock-adjust:$shop:" . bin2hex(random_bytes(16)),
        'type' => 'stock.adjust',
        'v' => 1,
        'enqueued_at' => $now,
        'data' => [
            'shop_id' => $shop,
            'sku' => 'baguette',
            'delta' => -3,
            'reason' => 'vente en caisse',
            'at' => $now,
        ],
    ],
];

foreach ($jobs as $job) {
    $json = json_encode($job, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    // No MAXLEN: Relais trims the stream itself once jobs are done.
    $entry = $redis->xAdd($stream, '*', ['job' => $json]);
    if ($entry === false) {
        fwrite(STDERR, "XADD {$job['type']} failed: " . $redis->getLastError() . "\n");
        exit(1);
    }
    echo "{$job['type']} {$job['id']} $entry\n";
}
