/* updater: the cloud reconciler (updater.h). main() reads [cloud], makes
 * the AWS, store and broker clients (all connect lazily: a server that is
 * down at start shows in the first pass's log and status key), and runs
 * one pass at a time on the thread pool: the timer for the next pass is
 * started only when the previous one has finished, so two passes never
 * overlap in a process. SIGTERM stops the timer and, once a pass in
 * flight has ended, closes the loop. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "actor/auth.h"
#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/log.h"
#include "actor/service.h"
#include "actor/timefmt.h"
#include "updater.h"

/* Parallel Redis writers of a pass (apply.c). */
#define UPD_THREADS 4

static struct {
  actor_service_t *svc;
  upd_ctx_t ctx;
  uv_timer_t timer;
  uv_work_t work;
  int64_t interval_ms;
  int64_t started_ms;
  bool passing, stopping;
} up;

static void finish_stop(void) {
  if (!uv_is_closing((uv_handle_t *)&up.timer))
    uv_close((uv_handle_t *)&up.timer, NULL);
  actor_service_close_signals(up.svc);
}

static void pass_work(uv_work_t *w) {
  (void)w;
  upd_pass_report_t rep;
  upd_pass_run(&up.ctx, up.interval_ms, &rep);
}

static void on_timer(uv_timer_t *t);

static void pass_done(uv_work_t *w, int status) {
  (void)w;
  (void)status;
  up.passing = false;
  if (up.stopping) {
    finish_stop();
    return;
  }
  int64_t spent = actor_time_mono_ms() - up.started_ms;
  int64_t wait = up.interval_ms > spent ? up.interval_ms - spent : 0;
  uv_timer_start(&up.timer, on_timer, (uint64_t)wait, 0);
}

static void on_timer(uv_timer_t *t) {
  (void)t;
  if (up.stopping || up.passing)
    return;
  up.passing = true;
  up.started_ms = actor_time_mono_ms();
  if (uv_queue_work(&up.svc->loop, &up.work, pass_work, pass_done) != 0) {
    up.passing = false;
    uv_timer_start(&up.timer, on_timer, (uint64_t)up.interval_ms, 0);
  }
}

static void on_stop(actor_service_t *svc) {
  (void)svc;
  up.stopping = true;
  uv_timer_stop(&up.timer);
  if (!up.passing)
    finish_stop();
}

int main(int argc, char **argv) {
  actor_service_t svc;
  if (actor_service_init(&svc, "updater", argc, argv) != 0)
    return 1;
  int status = 1;
  bool curl_ready = false;
  up.svc = &svc;
  upd_ctx_t *c = &up.ctx;
  const actor_config_t *cfg = svc.cfg;
  if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
    LOG_ERROR("updater", "cannot initialise libcurl");
    goto cleanup;
  }
  curl_ready = true;
  if (cloud_settings_load(cfg, &c->settings) != 0)
    goto cleanup;
  if (c->settings.update_interval < 1) {
    LOG_ERROR("updater", "[cloud] update_interval: %ld is not a number of seconds >= 1",
              c->settings.update_interval);
    goto cleanup;
  }
  const char *tenant = actor_config_get(cfg, "web", "tenant_name", "DEV-DEVELOP");
  if (actor_tenant_norm(tenant, c->default_tenant, sizeof(c->default_tenant)) != 0) {
    LOG_ERROR("updater", "[web] tenant_name: '%.80s' is not a tenant name", tenant);
    goto cleanup;
  }
  if (actor_config_get_bool(cfg, "clusters", "test_hooks", false, &c->clusters_test_hooks) !=
      0) {
    LOG_ERROR("updater", "[clusters] test_hooks: not a boolean");
    goto cleanup;
  }
  /* metric counters read the api's /metrics (docs/clusters.md) */
  static char metrics_url[512];
  const char *murl = actor_config_get(cfg, "clusters", "metrics_url", NULL);
  if (murl == NULL || *murl == '\0') {
    snprintf(metrics_url, sizeof(metrics_url), "http://127.0.0.1:%s/metrics",
             actor_config_get(cfg, "web", "port", "8000"));
    murl = metrics_url;
  } else if (strncmp(murl, "http://", 7) != 0 && strncmp(murl, "https://", 8) != 0) {
    LOG_ERROR("updater", "[clusters] metrics_url: '%.200s' is not an http(s) URL", murl);
    goto cleanup;
  }
  upd_metrics_url = murl;
  /* the clusters' notify action ([smtp], docs/notify.md) and load
   * balancer registration (cluster_hooks.c) */
  char nerr[256] = "";
  if (notify_config_load(cfg, &c->notify, nerr, sizeof(nerr)) != 0) {
    LOG_ERROR("updater", "%s", nerr[0] ? nerr : "[smtp]: bad configuration");
    goto cleanup;
  }
  upd_notify_hook = upd_cluster_notify;
  upd_lb_hook = upd_cluster_lb;
  aws_opts_t ao;
  if (aws_opts_from_config(cfg, &ao) != 0 || aws_new(&ao, &c->aws) != 0) {
    LOG_ERROR("updater", "cannot set up the AWS client");
    goto cleanup;
  }
  aws_set_observer(c->aws, upd_aws_observer, c);
  if (actor_plugin_load(cfg, ACTOR_PLUGIN_DNS, c->aws, &c->dns) != 0)
    goto cleanup;
  const char *uri = actor_config_get(cfg, "rabbit", "uri", "amqp://guest:guest@127.0.0.1:5672/%2f");
  if (store_redis_new(cfg, UPD_THREADS + 2, &c->redis) != 0 || store_mongo_new(cfg, &c->mongo) != 0 ||
      chan_client_new(uri, 2, &c->chan) != 0) {
    LOG_ERROR("updater", "cannot set up the store or broker clients");
    goto cleanup;
  }
  char host[64] = "host";
  if (gethostname(host, sizeof(host)) != 0)
    snprintf(host, sizeof(host), "host");
  host[sizeof(host) - 1] = '\0';
  snprintf(c->owner, sizeof(c->owner), "%.63s:%ld", host, (long)getpid());
  c->threads = UPD_THREADS;
  up.interval_ms = (int64_t)c->settings.update_interval * 1000;
  uv_timer_init(&svc.loop, &up.timer);
  LOG_INFO("updater",
           "reconciling tag %s every %lds (stale_guard %lds, gone_grace %lds) against %s",
           c->settings.tag, c->settings.update_interval, c->settings.stale_guard,
           c->settings.gone_grace, ao.endpoint && *ao.endpoint ? ao.endpoint : "AWS");
  if (aws_opts_have_credentials(&ao)) {
    uv_timer_start(&up.timer, on_timer, 0, 0);
  } else {
    /* an actors-only deployment (Abaco's own abaco.conf has no [cloud]):
     * say so once and leave the lease to an updater that can reconcile */
    LOG_WARN("updater",
             "no AWS credentials ([cloud] access_key_id and secret_access_key, or "
             "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY): tag %s is not reconciled by this "
             "updater",
             c->settings.tag);
  }
  actor_service_run(&svc, on_stop);
  status = 0;

cleanup:
  chan_client_free(c->chan);
  store_redis_free(c->redis);
  actor_plugin_unload(c->dns);
  store_mongo_free(c->mongo);
  store_mongo_cleanup();
  aws_free(c->aws);
  json_decref(c->last_error);
  if (curl_ready)
    curl_global_cleanup();
  actor_service_done(&svc);
  actor_ids_shutdown();
  return status;
}
