#ifndef RELAIS_CHIREDIS_SHIM_H
#define RELAIS_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>

/// `redisContext.errstr` is a fixed char array that imports as a tuple; read it here.
static inline const char *relais_redis_errstr(const redisContext *c) { return c->errstr; }
#endif
