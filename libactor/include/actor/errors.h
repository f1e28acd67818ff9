/* One error table for libactor, channels and the services: functions return
 * 0 on success or a negative ACTOR_E* code; actor_strerror() names it. */
#ifndef ACTOR_ERRORS_H
#define ACTOR_ERRORS_H

#include <stddef.h>

#define ACTOR_ERRNO_MAP(XX)                                                   \
  XX(EINVAL, -1, "invalid argument")                                          \
  XX(ENOMEM, -2, "out of memory")                                             \
  XX(ENOTFOUND, -3, "not found")                                              \
  XX(EEXIST, -4, "already exists")                                            \
  XX(EIO, -5, "i/o error")                                                    \
  XX(ECONN, -6, "connection failed")                                          \
  XX(ETIMEDOUT, -7, "timed out")                                              \
  XX(EPROTO, -8, "protocol error")                                            \
  XX(ECONFIG, -9, "bad configuration value")                                  \
  XX(EPARSE, -10, "parse error")                                              \
  XX(ETOOBIG, -11, "value too large")                                         \
  XX(ESTORE, -12, "store error")                                              \
  XX(EDOCKER, -13, "docker engine error")                                     \
  XX(ECHANNEL, -14, "channel error")                                          \
  XX(ESTATE, -15, "unexpected state")                                         \
  XX(ECLOSED, -16, "closed")                                                  \
  XX(EAUTH, -17, "authentication failed")                                     \
  XX(EAWS, -18, "cloud API error")

typedef enum {
#define ACTOR__ERR_ENUM(name, code, _) ACTOR_##name = (code),
  ACTOR_ERRNO_MAP(ACTOR__ERR_ENUM)
#undef ACTOR__ERR_ENUM
} actor_errno_t;

/* Marks a function whose status a caller must look at: an ignored result
 * stops the build (-Werror=unused-result). Every status-returning function
 * of the public headers carries it. */
#define ACTOR_MUST_CHECK __attribute__((warn_unused_result))
/* Drops such a status on purpose; a comment beside it says why that is
 * safe. (A (void) cast does not silence GCC's warn_unused_result.) */
#define ACTOR_IGNORE(expr) ((void)!(expr))

/* Returns a static string; never NULL. */
const char *actor_strerror(int err);

/* Formats a message into err (when err is not NULL and errlen > 0,
 * truncating) and returns rc: `return actor_errorf(ACTOR_EINVAL, err,
 * errlen, "bad %s", what);`. */
int actor_errorf(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
