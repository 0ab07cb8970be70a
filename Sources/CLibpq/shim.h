#ifndef RELAIS_CLIBPQ_SHIM_H
#define RELAIS_CLIBPQ_SHIM_H
#include <libpq-fe.h>

static void relais_pq_ignore_notice(void *arg, const char *message) { (void)arg; (void)message; }

/// libpq prints server NOTICEs on stderr unless told otherwise; Relais logs what matters itself.
static inline void relais_pq_silence_notices(PGconn *conn) {
    PQsetNoticeProcessor(conn, relais_pq_ignore_notice, 0);
}
#endif
