/* api: the REST API (docs/api.md). Wires config, stores, the channel client,
 * the metrics, the HTTP server and the periodic jobs (autoscaler, cron)
 * together; the request pipeline is in router.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/service.h"
#include "actor/timefmt.h"
#include "access.h"
#include "api.h"
#include "cloud_api.h"

static ahttp_server_t *server;
static api_ticker_t autoscaler, cron, retention, metrics_flush;
static unsigned long long autoscale_cursor, cron_cursor;

static void on_server_stopped(void *ud) {
  actor_service_t *s = ud;
  actor_service_close_signals(s);
}

static void on_stop(actor_service_t *s) {
  api_ticker_stop(&autoscaler);
  api_ticker_stop(&cron);
  api_ticker_stop(&retention);
  api_ticker_stop(&metrics_flush);
  api_events_stop();
  ahttp_server_stop(server, on_server_stopped, s);
}

static void autoscale_tick(api_ticker_t *t) { api_autoscale_tick(t->ctx, t->data); }
static void cron_tick(api_ticker_t *t) { api_cron_tick(t->ctx, t->data); }
static void retention_tick(api_ticker_t *t) { api_retention_tick(t->ctx); }
static void metrics_tick(api_ticker_t *t) { api_metrics_flush_submitted(t->ctx); }

/* [store] executions_retention and its pass's interval and batch. */
static int read_retention_config(const actor_config_t *cfg, api_ctx_t *c) {
  const char *text = actor_config_get(cfg, "store", "executions_retention", "keep");
  if (api_retention_parse(text, &c->retention_ms) != 0) {
    LOG_ERROR("api",
              "[store] executions_retention: '%.80s' is not keep, a number of days, or a "
              "duration <n>s, <n>m, <n>h or <n>d (1 s to 100000 days)",
              text);
    return ACTOR_ECONFIG;
  }
  if (actor_config_get_int(cfg, "store", "executions_retention_interval", 60,
                           &c->retention_interval) ||
      actor_config_get_int(cfg, "store", "executions_retention_batch", 1000,
                           &c->retention_batch))
    return ACTOR_ECONFIG;
  if (c->retention_interval < 1 || c->retention_interval > 86400) {
    LOG_ERROR("api", "[store] executions_retention_interval: %ld is out of range 1..86400 s",
              c->retention_interval);
    return ACTOR_ECONFIG;
  }
  if (c->retention_batch < 1 || c->retention_batch > 10000) {
    LOG_ERROR("api", "[store] executions_retention_batch: %ld is out of range 1..10000",
              c->retention_batch);
    return ACTOR_ECONFIG;
  }
  return 0;
}

/* Reads and checks the keys of the autoscaler and the cron tick. */
static int read_jobs_config(const actor_config_t *cfg, api_ctx_t *c) {
  long offset = 0;
  if (actor_config_get_bool(cfg, "workers", "autoscaling", true, &c->autoscaling) ||
      actor_config_get_int(cfg, "workers", "autoscale_interval", 1, &c->autoscale_interval) ||
      actor_config_get_int(cfg, "workers", "autoscale_idle_grace", 10,
                           &c->autoscale_idle_grace) ||
      actor_config_get_int(cfg, "spawner", "max_workers_per_actor", 6,
                           &c->max_workers_per_actor) ||
      actor_config_get_int(cfg, "spawner", "max_cmd_length", 10, &c->max_cmd_length) ||
      actor_config_get_int(cfg, "web", "cron_interval", 10, &c->cron_interval) ||
      actor_config_get_int(cfg, "web", "cron_clock_offset", 0, &offset))
    return ACTOR_ECONFIG;
  static const struct {
    const char *section, *key;
    long min;
  } RANGES[] = {{"workers", "autoscale_interval", 1},   {"workers", "autoscale_idle_grace", 0},
                {"spawner", "max_workers_per_actor", 1}, {"spawner", "max_cmd_length", 0},
                {"web", "cron_interval", 1}};
  const long values[] = {c->autoscale_interval, c->autoscale_idle_grace,
                         c->max_workers_per_actor, c->max_cmd_length, c->cron_interval};
  for (size_t i = 0; i < sizeof(RANGES) / sizeof(RANGES[0]); i++)
    if (values[i] < RANGES[i].min || values[i] > 86400L * 365) {
      LOG_ERROR("api", "[%s] %s: %ld is out of range %ld..%ld", RANGES[i].section,
                RANGES[i].key, values[i], RANGES[i].min, 86400L * 365);
      return ACTOR_ECONFIG;
    }
  if (offset < -86400L * 36500 || offset > 86400L * 36500) {
    LOG_ERROR("api", "[web] cron_clock_offset: %ld s is more than a century", offset);
    return ACTOR_ECONFIG;
  }
  c->cron_offset_ms = (int64_t)offset * 1000;
  if (offset != 0)
    LOG_WARN("api", "[web] cron_clock_offset = %ld: cron schedules run on a clock shifted by "
                    "%ld s (a test setting)", offset, offset);
  return 0;
}

/* Reads and checks every [web]/[workers] key the api uses; a bad value is
 * a start-up error naming the key (logged by the getter). */
static int read_config(const actor_config_t *cfg, api_ctx_t *c, ahttp_options_t *http) {
  static const char *const CASES[] = {"snake", "camel", NULL};
  static const char *const ACCESS[] = {"none", "jwt", "plugin", NULL};
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
      actor_config_get_int(cfg, "web", "max_body_size", 1L << 20, &c->max_body_size) ||
      actor_config_get_int(cfg, "web", "max_log_length", 1000000, &c->max_log_length) ||
      actor_config_get_int(cfg, "workers", "init_count", 1, &c->init_count) ||
      actor_config_get_limit(cfg, "workers", "max_run_time", 0, &c->max_run_time) ||
      actor_config_get_int(cfg, "workers", "sync_max_idle_time", 600,
                           &c->sync_max_idle_time))
    return ACTOR_ECONFIG;
  if (port <= 0 || port > 65535) {
    LOG_ERROR("api", "[web] port: %ld is not a TCP port", port);
    return ACTOR_ECONFIG;
  }
  if (c->max_content_length <= 0) {
    LOG_ERROR("api", "[web] max_content_length: %ld must be a positive number of bytes",
              c->max_content_length);
    return ACTOR_ECONFIG;
  }
  if (c->max_body_size < 1024 || c->max_body_size > (1L << 30)) {
    LOG_ERROR("api", "[web] max_body_size: %ld is out of range 1024..%ld bytes",
              c->max_body_size, 1L << 30);
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
  if (read_jobs_config(cfg, c) != 0 || read_retention_config(cfg, c) != 0 ||
      api_tenant_conf_check(cfg) != 0)
    return ACTOR_ECONFIG;
  c->camel = strcmp(kase, "camel") == 0;
  c->show_traceback = show_tb;
  c->version = actor_config_get(cfg, "general", "TAG", "dev");
  const char *tenant = actor_config_get(cfg, "web", "tenant_name", "DEV-DEVELOP");
  if (actor_tenant_norm(tenant, c->tenant_name, sizeof(c->tenant_name)) != 0) {
    LOG_ERROR("api", "[web] tenant_name: '%.80s' is not a tenant name (1 to %d letters, digits, "
                     "'_', '-' or '.')", tenant, ACTOR_AUTH_TENANT_MAX - 1);
    return ACTOR_ECONFIG;
  }
  c->host_queues = actor_config_get(cfg, "spawner", "host_queues", "default");
  http->bind = actor_config_get(cfg, "web", "bind", "0.0.0.0");
  http->port = (int)port;
  http->max_body = (size_t)c->max_body_size;
  http->body_limit = api_body_limit;
  http->too_large = api_body_too_large;
  return 0;
}

int main(int argc, char **argv) {
  /* Request handlers block on the stores; give them threads (read by libuv
   * on the first uv_queue_work): API_THREADS for ordinary requests plus
   * API_SYNC_MAX that only synchronous-message waits may hold (sync.c),
   * and one each for the autoscaler and the cron tick. */
  char threads[8];
  snprintf(threads, sizeof(threads), "%d", API_POOL);
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
  if (api_metrics_new(&ctx.metrics) != 0 ||
      store_redis_new(svc.cfg, API_POOL, &ctx.redis) != 0 ||
      store_mongo_new(svc.cfg, &ctx.mongo) != 0 || chan_client_new(uri, API_POOL, &ctx.chan) != 0 ||
      store_batch_new(ctx.mongo, MODEL_COLL_EXECUTIONS, 128, &ctx.exec_batch) != 0) {
    LOG_ERROR("api", "cannot set up the stores or the channel client (see above)");
    goto cleanup;
  }
  if (api_access_init(&ctx) != 0) /* keys and caches of identity (auth.c) */
    goto cleanup;
  if (api_cloud_init(&ctx) != 0) /* [cloud] and the pricing file (cloud_ctx.c) */
    goto cleanup;
  if (model_ensure_indexes(ctx.mongo) != 0)
    LOG_WARN("api", "could not create the MongoDB indexes now; queries work without them");
  if (api_retention_setup(&ctx) != 0)
    goto cleanup;
  long long nactive = 0;
  if (model_autoscale_index_repair(ctx.redis, &nactive) != 0 ||
      api_cron_index_repair(&ctx) != 0)
    LOG_WARN("api", "could not (re)build the autoscaler's and cron's indexes now; they are "
                    "rebuilt at the next start");
  long long nindexed = 0;
  int64_t ix0 = actor_time_mono_ms();
  if (model_index_rebuild(ctx.redis, false, &nindexed) != 0)
    LOG_WARN("api", "could not build the status and host indexes of actors and workers now; "
                    "they are built at the next start of an api or health agent");
  else if (nindexed > 0)
    LOG_INFO("api", "indexed %lld actor and worker record(s) by status and host in %lld ms",
             nindexed, (long long)(actor_time_mono_ms() - ix0));
  int rc = ahttp_server_start(&svc.loop, &http, api_dispatch, &ctx, &server);
  if (rc != 0) {
    LOG_ERROR("api", "cannot listen on %s:%d: %s", http.bind, http.port, actor_strerror(rc));
    goto cleanup;
  }
  LOG_INFO("api", "listening on http://%s:%d", http.bind, http.port);
  rc = api_events_start(&svc.loop, &ctx, uri);
  if (rc != 0)
    LOG_ERROR("api", "cannot consume the events channel: %s (links and webhooks are off)",
              actor_strerror(rc));
  if (ctx.autoscaling &&
      (rc = api_ticker_start(&svc.loop, &autoscaler, &ctx, "autoscaler",
                             (uint64_t)ctx.autoscale_interval * 1000, autoscale_tick,
                             &autoscale_cursor)) != 0)
    LOG_ERROR("api", "cannot start the autoscaler: %s", uv_strerror(rc));
  if ((rc = api_ticker_start(&svc.loop, &cron, &ctx, "cron", (uint64_t)ctx.cron_interval * 1000,
                             cron_tick, &cron_cursor)) != 0)
    LOG_ERROR("api", "cannot start the cron tick: %s", uv_strerror(rc));
  /* Always, the first tick right away (on its thread, not delaying the
   * start): it also rebuilds the executions' indexes when missing. */
  if ((rc = api_ticker_start_first(&svc.loop, &retention, &ctx, "retention", 100,
                                   (uint64_t)ctx.retention_interval * 1000, retention_tick,
                                   NULL)) != 0)
    LOG_ERROR("api", "cannot start the retention tick: %s", uv_strerror(rc));
  if ((rc = api_ticker_start(&svc.loop, &metrics_flush, &ctx, "metrics", API_METRICS_FLUSH_MS,
                             metrics_tick, NULL)) != 0)
    LOG_ERROR("api", "cannot start the metrics flush: %s (SUBMITTED executions are counted "
                     "at /metrics scrapes only)", uv_strerror(rc));
  if (ctx.retention_ms > 0)
    LOG_INFO("api", "executions retention: %lld s, a pass every %ld s of at most %ld",
             (long long)(ctx.retention_ms / 1000), ctx.retention_interval, ctx.retention_batch);
  LOG_INFO("api", "autoscaler %s (every %ld s, idle grace %ld s); cron tick every %ld s",
           ctx.autoscaling ? "on" : "off", ctx.autoscale_interval, ctx.autoscale_idle_grace,
           ctx.cron_interval);
  actor_service_run(&svc, on_stop);
  api_metrics_flush_submitted(&ctx); /* what the last ticks did not write */
  status = 0;

cleanup:
  api_cloud_free(&ctx);
  api_access_free(&ctx);
  store_batch_free(ctx.exec_batch);
  chan_client_free(ctx.chan);
  store_mongo_free(ctx.mongo);
  store_redis_free(ctx.redis);
  api_metrics_free(ctx.metrics);
  actor_service_done(&svc);
  return status;
}
