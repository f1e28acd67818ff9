/* What every service's main() does: read `-c <abaco.conf>`, load the
 * config, set up logging and ids, run a libuv loop, and turn SIGTERM or
 * SIGINT into one call of the service's stop function, after which the
 * service closes its handles so the loop ends and main() returns 0. */
#ifndef ACTOR_SERVICE_H
#define ACTOR_SERVICE_H

#include "actor/errors.h"

#include <uv.h>

#include "actor/config.h"

typedef struct actor_service_s actor_service_t;
typedef void (*actor_service_stop_fn)(actor_service_t *s);

struct actor_service_s {
  const char *name;
  uv_loop_t loop;
  actor_config_t *cfg;
  const char *config_path;
  int argc;
  char **argv;
  int stopping;
  actor_service_stop_fn on_stop;
  void *data;
  uv_signal_t sigterm, sigint;
};

/* Parses argv (-c PATH, -t, -h), loads the config, initialises logging and ids,
 * and warns once per key of the file the platform does not use
 * (actor_config_warn_unused; not in a worker, whose spawner did).
 * Prints a start-up error to stderr and returns non-zero on failure: the
 * caller exits with status 1. -h prints the usage and -t (after the
 * checks above pass) "<name>: configuration <path> OK", both exiting 0.
 * Options after `--` are left for the service in s->argc/s->argv. */
ACTOR_MUST_CHECK
int actor_service_init(actor_service_t *s, const char *name, int argc, char **argv);
/* Runs the loop until every handle is closed. on_stop runs once, on the
 * first SIGTERM/SIGINT, and must close the service's handles. Returns
 * uv_run's result (not a status: nonzero only when handles are left). */
int actor_service_run(actor_service_t *s, actor_service_stop_fn on_stop);
/* Closes the signal watchers (call from on_stop). */
void actor_service_close_signals(actor_service_t *s);
void actor_service_done(actor_service_t *s);
/* The path of rel (a file name, or a path relative to that directory) in
 * the directory of the running executable (/proc/self/exe) into out: 0,
 * ACTOR_EIO (the executable's path is unreadable) or ACTOR_ETOOBIG. */
ACTOR_MUST_CHECK int actor_exe_sibling(const char *rel, char *out, size_t len);

#endif
