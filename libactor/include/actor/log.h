/* Logging: one actor_log() with printf checking, behind ACTOR_LOG() which
 * tests the level before evaluating its arguments (valkey serverLog).
 * Levels are global with per-module overrides from [logs] level.<module>;
 * output is stderr, or files under [logs] directory: `combined` (one
 * <service>.log) or `split` (<service>.<module>.log); [logs] format = json
 * writes JSON lines. Libraries log only through this hook. */
#ifndef ACTOR_LOG_H
#define ACTOR_LOG_H

#include "actor/errors.h"

#include <stdarg.h>

struct actor_config_s;

typedef enum {
  ACTOR_LOG_DEBUG = 10,
  ACTOR_LOG_INFO = 20,
  ACTOR_LOG_WARNING = 30,
  ACTOR_LOG_ERROR = 40,
  ACTOR_LOG_CRITICAL = 50
} actor_log_level_t;

/* Configure from [logs]; `service` names the process (e.g. "api").
 * `cfg` may be NULL (stderr, INFO). Returns 0 or ACTOR_ECONFIG after logging
 * which key was bad. Safe to call again (re-opens files). */
ACTOR_MUST_CHECK int actor_log_init(const struct actor_config_s *cfg, const char *service);
void actor_log_shutdown(void);

/* Effective level for a module (module may be NULL for the global level). */
int actor_log_level(const char *module);

/* Parses "DEBUG", "info", "WARNING", "ERROR", "CRITICAL" (case-insensitive). */
ACTOR_MUST_CHECK int actor_log_parse_level(const char *s, int *out);

/* Text line: `2026-11-22T14:45:41.591Z INFO api[module]: message`
 * (`api: message` when module is NULL); JSON line: {"time","level",
 * "service","module","msg"}. Before actor_log_init: stderr, INFO, the
 * program name as service. A trailing newline in the message is dropped. */
void actor_log(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void actor_vlog(int level, const char *module, const char *fmt, va_list ap);

#define ACTOR_LOG(level, module, ...)                                     \
  do {                                                                    \
    if ((level) >= actor_log_level(module))                               \
      actor_log((level), (module), __VA_ARGS__);                          \
  } while (0)

#define LOG_DEBUG(module, ...) ACTOR_LOG(ACTOR_LOG_DEBUG, module, __VA_ARGS__)
#define LOG_INFO(module, ...) ACTOR_LOG(ACTOR_LOG_INFO, module, __VA_ARGS__)
#define LOG_WARN(module, ...) ACTOR_LOG(ACTOR_LOG_WARNING, module, __VA_ARGS__)
#define LOG_ERROR(module, ...) ACTOR_LOG(ACTOR_LOG_ERROR, module, __VA_ARGS__)

#endif
