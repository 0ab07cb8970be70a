<?php
// Book an appointment at a shop with phpredis, then move it (appointments queue).
//
// Usage:  php examples/php/enqueue_appointments.php SHOP_ID
// Needs:  Debian packages php-cli php-redis (elsewhere: pecl install redis)
// Env:    RELAIS_REDIS_URL (default redis://127.0.0.1:16379/0, scripts/dev's Redis), RELAIS_PREFIX (default relais)
// Prints: one line per job: <type> <job id> <stream entry id>
declare(strict_types=1);

if ($argc !== 2) {
    fwrite(STDERR, "usage: php enqueue_appointments.php SHOP_ID\n");
    exit(2);
}
$shop = $argv[1];
$url = parse_url(getenv('RELAIS_REDIS_URL') ?: 'redis://127.0.0.1:16379/0');
$stream = (getenv('RELAIS_PREFIX') ?: 'relais') . ':appointments';

$redis = new Redis();  // throws RedisException when Redis cannot be reached
$redis->connect($url['host'] ?? '127.0.0.1', $url['port'] ?? 6379, 5.0);
if (isset($url['pass'])) {
    $pass = rawurldecode($url['pass']);
    $redis->auth(($url['user'] ?? '') !== '' ? [rawurldecode($url['user']), $pass] : $pass);
}
$redis->select((int) ltrim($url['path'] ?? '/0', '/'));

$now = new DateTimeImmutable('now', new DateTimeZone('UTC'));
$utc = fn (DateTimeImmutable $t): string => $t->format('Y-m-d\TH:i:s\Z');

// A 45-minute appointment at $hour:00 UTC, $days days from today.
function slot(int $days, int $hour): array {
    $start = (new DateTimeImmutable("today +$days days", new DateTimeZone('UTC')))->setTime($hour, 0);
    return ['start' => $start->format('Y-m-d\TH:i:s\Z'), 'end' => $start->modify('+45 minutes')->format('Y-m-d\TH:i:s\Z')];
}

$appointment = "$shop-RDV-2001";
// One id per fact: the booking, and each move numbered by the booking system. A move applies
// only if its `at` is later than the booking's (or the last move's): booked a minute ago,
// moved now. (The shop id goes into the job ids: hash it there if it has characters outside
// A-Z a-z 0-9 . _ : -.)
$jobs = [
    ['id' => "appointment-booked:$appointment", 'type' => 'appointment.booked', 'v' => 1, 'enqueued_at' => $utc($now),
     'data' => ['appointment_id' => $appointment, 'at' => $utc($now->modify('-1 minute')),
                'shop' => ['id' => $shop, 'name' => 'Salon Léa Coiffure', 'email' => 'rdv@salon-lea.example',
                           'timezone' => 'Europe/Paris', 'address' => '8 rue des Tanneurs, 69001 Lyon'],
                'service' => ['name' => 'Coupe et brushing', 'duration_minutes' => 45]]
               + slot(2, 9)  // the day after tomorrow, 09:00-09:45 UTC
               + ['customer' => ['name' => 'Camille Durand', 'email' => 'camille.durand@example.org',
                                 'phone' => '+33612345678', 'locale' => 'fr']]],
    ['id' => "appointment-rescheduled:$appointment:1", 'type' => 'appointment.rescheduled', 'v' => 1,
     'enqueued_at' => $utc($now),
     'data' => ['appointment_id' => $appointment, 'at' => $utc($now)] + slot(3, 14)],  // the day after, 14:00-14:45 UTC
];

// A move processed before its booking would wait for it (retried); sent together in one
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
