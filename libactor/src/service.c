/* Service start-up and shutdown shared by the seven daemons. */
#include "actor/service.h"

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/log.h"

static void usage(FILE *f, const char *name) {
  fprintf(f,
          "usage: %s [-c abaco.conf] [-t] [-- service options]\n"
          "  -c PATH  the configuration file (default: $ABACO_CONF, else ./abaco.conf)\n"
          "  -t       load and check the configuration, then exit (0: usable)\n"
          "  -h       this help\n",
          name);
}

int actor_service_init(actor_service_t *s, const char *name, int argc, char **argv) {
  memset(s, 0, sizeof(*s));
  s->name = name;
  int opt;
  bool check_only = false;
  while ((opt = getopt(argc, argv, "c:ht")) != -1) {
    switch (opt) {
    case 'c':
      s->config_path = optarg;
      break;
    case 't':
      check_only = true;
      break;
    case 'h':
      usage(stdout, name);
      exit(0);
    default:
      usage(stderr, name);
      return 1;
    }
  }
  s->argc = argc - optind;
  s->argv = argv + optind;

  int rc = actor_config_load(s->config_path, &s->cfg);
  if (rc != 0) {
    fprintf(stderr, "%s: cannot load configuration %s: %s\n", name,
            s->config_path ? s->config_path : "(ABACO_CONF or ./abaco.conf)",
            actor_strerror(rc));
    return 1;
  }
  if (actor_log_init(s->cfg, name) != 0) {
    fprintf(stderr, "%s: bad [logs] configuration (see the message above)\n", name);
    return 1;
  }
  /* Workers are started by the spawner from the same file, which it has
   * reported on already: one report per host, not one per worker. */
  if (strcmp(name, "worker") != 0)
    actor_config_warn_unused(s->cfg);
  const char *salt = actor_config_get(s->cfg, "general", "id_salt", ACTOR_DEFAULT_SALT);
  if (actor_ids_init(salt) != 0) {
    fprintf(stderr, "%s: bad [general] id_salt\n", name);
    return 1;
  }
  if (check_only) {
    /* -t: the file loads, its [logs] and id_salt are usable and unknown
     * keys were reported; nothing else is started. */
    const char *path = s->config_path ? s->config_path : getenv("ABACO_CONF");
    printf("%s: configuration %s OK\n", name, path ? path : "./abaco.conf");
    actor_config_free(s->cfg);
    s->cfg = NULL;
    exit(0);
  }
  /* A peer that goes away mid-write must not kill the process. */
  signal(SIGPIPE, SIG_IGN);
  if (uv_loop_init(&s->loop) != 0) {
    fprintf(stderr, "%s: cannot create the event loop\n", name);
    return 1;
  }
  return 0;
}

static void on_signal(uv_signal_t *h, int signum) {
  actor_service_t *s = h->data;
  if (s->stopping)
    return;
  s->stopping = 1;
  LOG_INFO(s->name, "signal %d: stopping", signum);
  if (s->on_stop)
    s->on_stop(s);
  else
    actor_service_close_signals(s);
}

int actor_service_run(actor_service_t *s, actor_service_stop_fn on_stop) {
  s->on_stop = on_stop;
  uv_signal_init(&s->loop, &s->sigterm);
  uv_signal_init(&s->loop, &s->sigint);
  s->sigterm.data = s;
  s->sigint.data = s;
  uv_signal_start(&s->sigterm, on_signal, SIGTERM);
  uv_signal_start(&s->sigint, on_signal, SIGINT);
  LOG_INFO(s->name, "started (pid %d)", (int)getpid());
  return uv_run(&s->loop, UV_RUN_DEFAULT);
}

void actor_service_close_signals(actor_service_t *s) {
  if (!uv_is_closing((uv_handle_t *)&s->sigterm))
    uv_close((uv_handle_t *)&s->sigterm, NULL);
  if (!uv_is_closing((uv_handle_t *)&s->sigint))
    uv_close((uv_handle_t *)&s->sigint, NULL);
}

void actor_service_done(actor_service_t *s) {
  uv_run(&s->loop, UV_RUN_DEFAULT); /* let close callbacks run */
  if (uv_loop_close(&s->loop) != 0)
    LOG_WARN(s->name, "event loop closed with handles still open");
  LOG_INFO(s->name, "stopped");
  actor_log_shutdown();
  actor_config_free(s->cfg);
  s->cfg = NULL;
}

int actor_exe_sibling(const char *rel, char *out, size_t len) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0)
    return ACTOR_EIO;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (slash == NULL)
    return ACTOR_EIO;
  slash[1] = '\0';
  int m = snprintf(out, len, "%s%s", exe, rel);
  return m < 0 || (size_t)m >= len ? ACTOR_ETOOBIG : 0;
}
