/* actor_errorf: the "say why in err, return the code" idiom of functions
 * that report a reason to their caller. */
#include <stdarg.h>
#include <stdio.h>

#include "actor/errors.h"

int actor_errorf(int rc, char *err, size_t errlen, const char *fmt, ...) {
  if (err != NULL && errlen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}
