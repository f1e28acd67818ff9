/* The error table's names. */
#include "actor/errors.h"

const char *actor_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
#define ACTOR__ERR_CASE(name, code, msg) \
  case (code):                           \
    return msg;
    ACTOR_ERRNO_MAP(ACTOR__ERR_CASE)
#undef ACTOR__ERR_CASE
  }
  return "unknown error";
}
