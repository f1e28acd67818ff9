/* health: the per-host health agent (health.h). main() reads the config,
 * makes the store, engine and broker clients (all connect lazily, so a
 * server that is down at start only shows in the first tick's log), and
 * runs one tick at a time on the thread pool: the timer for the next tick
 * is started only when the previous one has finished. SIGTERM stops the
 * timer and, once a tick in flight has ended, closes the loop. */
#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/log.h"
#include "actor/timefmt.h"
#include "health.h"

static health_t hl;
static int64_t tick_started_ms;

static void finish_stop(void) {
  if (!uv_is_closing((uv_handle_t *)&hl.timer))
    uv_close((uv_handle_t *)&hl.timer, NULL);
  actor_service_close_signals(hl.svc);
}

static void tick_work(uv_work_t *w) {
  health_tick_run(w->data);
}

static void on_timer(uv_timer_t *t);

static void tick_done(uv_work_t *w, int status) {
  (void)w;
  (void)status;
  hl.ticking = false;
  if (hl.stopping) {
    finish_stop();
    return;
  }
  int64_t spent = actor_time_mono_ms() - tick_started_ms;
  int64_t wait = hl.interval_ms > spent ? hl.interval_ms - spent : 0;
  uv_timer_start(&hl.timer, on_timer, (uint64_t)wait, 0);
}

static void on_timer(uv_timer_t *t) {
  (void)t;
  if (hl.stopping || hl.ticking)
    return;
  hl.ticking = true;
  tick_started_ms = actor_time_mono_ms();
  hl.work.data = &hl;
  if (uv_queue_work(&hl.svc->loop, &hl.work, tick_work, tick_done) != 0) {
    hl.ticking = false;
    uv_timer_start(&hl.timer, on_timer, (uint64_t)hl.interval_ms, 0);
  }
}

static void on_stop(actor_service_t *svc) {
  (void)svc;
  hl.stopping = true;
  uv_timer_stop(&hl.timer);
  if (!hl.ticking)
    finish_stop();
}

/* A [workers] directory made absolute against the working directory, as
 * the spawner and the workers resolve it. */
static void abs_dir(const actor_config_t *cfg, const char *key, const char *def, char *out,
                    size_t len) {
  const char *dir = actor_config_get(cfg, "workers", key, def);
  char cwd[PATH_MAX];
  int n;
  if (dir[0] == '\0')
    n = snprintf(out, len, "%s", "");
  else if (dir[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
    n = snprintf(out, len, "%s", dir);
  else
    n = snprintf(out, len, "%s/%s", cwd, dir);
  if (n < 0 || (size_t)n >= len)
    out[0] = '\0'; /* too long to use: those files are not swept */
}

/* [spawner] host_queues as a NULL-terminated array. */
static char **split_queues(const char *list) {
  char *copy = strdup(list), *save = NULL;
  size_t n = 0;
  char **v = calloc(strlen(list) / 2 + 2, sizeof(*v));
  if (copy == NULL || v == NULL) {
    free(copy);
    free(v);
    return NULL;
  }
  for (char *q = strtok_r(copy, ", ", &save); q; q = strtok_r(NULL, ", ", &save))
    v[n++] = strdup(q);
  free(copy);
  return v;
}

static void free_queues(char **v) {
  for (char **q = v; q && *q; q++)
    free(*q);
  free(v);
}

static int read_config(const actor_config_t *cfg) {
  double interval = 30;
  long repair = 300;
  long ttl = -1, shutdown = 60, spawn = 300, misses = 3;
  bool leave = false;
  if (actor_config_get_double(cfg, "health", "interval", 30, &interval) ||
      actor_config_get_int(cfg, "health", "shutdown_timeout", 60, &shutdown) ||
      actor_config_get_int(cfg, "health", "spawn_timeout", 300, &spawn) ||
      actor_config_get_int(cfg, "health", "status_misses", 3, &misses) ||
      actor_config_get_int(cfg, "health", "index_repair_interval", 300, &repair) ||
      actor_config_get_int(cfg, "workers", "worker_ttl", -1, &ttl) ||
      actor_config_get_bool(cfg, "workers", "leave_containers", false, &leave))
    return ACTOR_ECONFIG;
  if (!(interval >= 0.05 && interval <= 86400)) {
    LOG_ERROR("health", "[health] interval: %g is not a number of seconds in [0.05, 86400]",
              interval);
    return ACTOR_ECONFIG;
  }
  if (shutdown < 0 || spawn < 0) {
    LOG_ERROR("health", "[health] %s: must not be negative",
              shutdown < 0 ? "shutdown_timeout" : "spawn_timeout");
    return ACTOR_ECONFIG;
  }
  if (misses < 0 || misses > 1000) {
    LOG_ERROR("health", "[health] status_misses: %ld is not in [0, 1000]", misses);
    return ACTOR_ECONFIG;
  }
  if (repair != 0 && (repair < 10 || repair > 7 * 86400)) {
    LOG_ERROR("health", "[health] index_repair_interval: %ld is not 0 (never) or a number of "
                        "seconds in [10, 604800]",
              repair);
    return ACTOR_ECONFIG;
  }
  hl.interval_ms = (int64_t)(interval * 1000);
  hl.index_repair_ms = (int64_t)repair * 1000;
  hl.limits.worker_ttl_ms = ttl > 0 ? (int64_t)ttl * 1000 : -1;
  hl.limits.shutdown_timeout_ms = (int64_t)shutdown * 1000;
  hl.limits.spawn_timeout_ms = (int64_t)spawn * 1000;
  hl.limits.status_misses = (unsigned)misses;
  hl.leave_containers = leave;
  hl.host_id = actor_config_get(cfg, "spawner", "host_id", "0");
  hl.queues = split_queues(actor_config_get(cfg, "spawner", "host_queues", "default"));
  if (hl.queues == NULL)
    return ACTOR_ENOMEM;
  abs_dir(cfg, "socket_host_path_dir", "var/run/sockets", hl.socket_dir, sizeof(hl.socket_dir));
  abs_dir(cfg, "fifo_host_path_dir", "var/run/fifos", hl.fifo_dir, sizeof(hl.fifo_dir));
  return 0;
}

int main(int argc, char **argv) {
  actor_service_t svc;
  if (actor_service_init(&svc, "health", argc, argv) != 0)
    return 1;
  int status = 1;
  bool curl_ready = false;
  hl.svc = &svc;
  const actor_config_t *cfg = svc.cfg;
  if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
    LOG_ERROR("health", "cannot initialise libcurl");
    goto cleanup;
  }
  curl_ready = true;
  const char *uri = actor_config_get(cfg, "rabbit", "uri", "amqp://guest:guest@127.0.0.1:5672/%2f");
  if (read_config(cfg) != 0 || health_queues_config(&hl, cfg, uri) != 0)
    goto cleanup;
  if (dkr_new_from_config(cfg, &hl.docker) != 0)
    goto cleanup;
  if (store_redis_new(cfg, 2, &hl.redis) != 0 || store_mongo_new(cfg, &hl.mongo) != 0 ||
      chan_client_new(uri, 1, &hl.chan) != 0) {
    LOG_ERROR("health", "cannot set up the store or broker clients");
    goto cleanup;
  }
  uv_timer_init(&svc.loop, &hl.timer);
  char ttl[32] = "never";
  if (hl.limits.worker_ttl_ms > 0)
    snprintf(ttl, sizeof(ttl), "%llds", (long long)(hl.limits.worker_ttl_ms / 1000));
  LOG_INFO("health",
           "host %s: checking workers every %.3gs (worker_ttl %s, "
           "shutdown_timeout %llds, spawn_timeout %llds, status_misses %u); orphan queues %s%s",
           hl.host_id, (double)hl.interval_ms / 1000, ttl,
           (long long)(hl.limits.shutdown_timeout_ms / 1000),
           (long long)(hl.limits.spawn_timeout_ms / 1000), hl.limits.status_misses,
           hl.mgmt_url ? "through " : "not swept ([rabbit] management_url is empty)",
           hl.mgmt_url ? hl.mgmt_url : "");
  uv_timer_start(&hl.timer, on_timer, 0, 0);
  actor_service_run(&svc, on_stop);
  status = 0;

cleanup:
  chan_client_free(hl.chan);
  dkr_free(hl.docker);
  store_mongo_free(hl.mongo);
  store_redis_free(hl.redis);
  store_mongo_cleanup();
  health_track_free(&hl);
  health_queues_free(&hl);
  free_queues(hl.queues);
  if (curl_ready)
    curl_global_cleanup();
  actor_service_done(&svc);
  actor_ids_shutdown();
  return status;
}
