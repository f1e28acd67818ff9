/* api: the REST API (API.md). Wires config, stores, the channel client and
 * the HTTP server together; the request pipeline is in router.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/service.h"
#include "api.h"

static ahttp_server_t *server;

static void on_server_stopped(void *ud) {
  actor_service_t *s = ud;
  actor_service_close_signals(s);
}

static void on_stop(actor_service_t *s) { ahttp_server_stop(server, on_server_stopped, s); }

/* Reads and checks every [web]/[workers] key the api uses; a bad value is
 * a start-up error naming the key (logged by the getter). */
static int read_config(const actor_config_t *cfg, api_ctx_t *c, ahttp_options_t *http) {
  static const char *const CASES[] = {"snake", "camel", NULL};
  static const char *const ACCESS[] = {"none", "jwt", NULL};
  const char *kase = NULL;
  long port = 0;
  bool show_tb = false;
  if (actor_config_get_int(cfg, "web", "port", 8000, &port) ||
      actor_config_get_enum(cfg, "web", "case", "snake", CASES, &kase) ||
      actor_config_get_enum(cfg, "web", "access_control", "none", ACCESS,
                            &c->access_control) ||
      actor_config_get_bool(cfg, "web", "show_traceback", false, &show_tb) ||
      actor_config_get_int(cfg, "web", "max_content_length", 500000000,
                           &c->max_content_length) ||
      actor_config_get_int(cfg, "web", "max_log_length", 1000000, &c->max_log_length) ||
      actor_config_get_int(cfg, "web", "log_ex", 86400, &c->log_ex) ||
      actor_config_get_int(cfg, "web", "log_ex_limit", 86400, &c->log_ex_limit) ||
      actor_config_get_int(cfg, "workers", "init_count", 1, &c->init_count) ||
      actor_config_get_int(cfg, "workers", "max_run_time", 0, &c->max_run_time) ||
      actor_config_get_int(cfg, "workers", "sync_max_idle_time", 600,
                           &c->sync_max_idle_time))
    return ACTOR_ECONFIG;
  if (port <= 0 || port > 65535) {
    LOG_ERROR("api", "[web] port: %ld is not a TCP port", port);
    return ACTOR_ECONFIG;
  }
  if (strcmp(c->access_control, "jwt") == 0) {
    LOG_ERROR("api", "[web] access_control: jwt is not available in this build yet; use none");
    return ACTOR_ECONFIG;
  }
  if (c->log_ex_limit <= 0) {
    LOG_ERROR("api", "[web] log_ex_limit: %ld must be a positive number of seconds",
              c->log_ex_limit);
    return ACTOR_ECONFIG;
  }
  if (c->max_content_length <= 0) {
    LOG_ERROR("api", "[web] max_content_length: %ld must be a positive number of bytes",
              c->max_content_length);
    return ACTOR_ECONFIG;
  }
  if (c->sync_max_idle_time <= 0) {
    LOG_ERROR("api", "[workers] sync_max_idle_time: %ld must be a positive number of seconds",
              c->sync_max_idle_time);
    return ACTOR_ECONFIG;
  }
  if (c->init_count < 0 || c->init_count > 100) {
    LOG_ERROR("api", "[workers] init_count: %ld is out of range 0..100", c->init_count);
    return ACTOR_ECONFIG;
  }
  c->camel = strcmp(kase, "camel") == 0;
  c->show_traceback = show_tb;
  c->version = actor_config_get(cfg, "general", "TAG", "dev");
  c->tenant_name = actor_config_get(cfg, "web", "tenant_name", "DEV-DEVELOP");
  c->host_queues = actor_config_get(cfg, "spawner", "host_queues", "default");
  http->bind = actor_config_get(cfg, "web", "bind", "0.0.0.0");
  http->port = (int)port;
  http->max_body = (size_t)c->max_content_length;
  return 0;
}

int main(int argc, char **argv) {
  /* Request handlers block on the stores; give them threads (read by libuv
   * on the first uv_queue_work): API_THREADS for ordinary requests plus
   * API_SYNC_MAX that only synchronous-message waits may hold (sync.c). */
  char threads[8];
  snprintf(threads, sizeof(threads), "%d", API_THREADS + API_SYNC_MAX);
  setenv("UV_THREADPOOL_SIZE", threads, 0);

  actor_service_t svc;
  if (actor_service_init(&svc, "api", argc, argv) != 0)
    return 1;

  api_ctx_t ctx;
  memset(&ctx, 0, sizeof(ctx));
  atomic_init(&ctx.sync_waits, 0);
  ahttp_options_t http;
  memset(&http, 0, sizeof(http));
  int status = 1;
  const char *uri = actor_config_get(svc.cfg, "rabbit", "uri", "amqp://guest:guest@127.0.0.1:5672/%2f");
  ctx.cfg = svc.cfg;
  if (read_config(svc.cfg, &ctx, &http) != 0)
    goto cleanup;
  if (store_redis_new(svc.cfg, API_THREADS + API_SYNC_MAX, &ctx.redis) != 0 ||
      store_mongo_new(svc.cfg, &ctx.mongo) != 0 ||
      chan_client_new(uri, API_THREADS + API_SYNC_MAX, &ctx.chan) != 0 ||
      store_batch_new(ctx.mongo, MODEL_COLL_EXECUTIONS, 128, &ctx.exec_batch) != 0) {
    LOG_ERROR("api", "cannot set up the stores or the channel client (see above)");
    goto cleanup;
  }
  if (model_ensure_indexes(ctx.mongo) != 0)
    LOG_WARN("api", "could not create the MongoDB indexes now; queries work without them");
  int rc = ahttp_server_start(&svc.loop, &http, api_dispatch, &ctx, &server);
  if (rc != 0) {
    LOG_ERROR("api", "cannot listen on %s:%d: %s", http.bind, http.port, actor_strerror(rc));
    goto cleanup;
  }
  LOG_INFO("api", "listening on http://%s:%d", http.bind, http.port);
  actor_service_run(&svc, on_stop);
  status = 0;

cleanup:
  store_batch_free(ctx.exec_batch);
  chan_client_free(ctx.chan);
  store_mongo_free(ctx.mongo);
  store_redis_free(ctx.redis);
  actor_service_done(&svc);
  return status;
}
