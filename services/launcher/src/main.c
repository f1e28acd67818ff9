/* launcher: launches cloud instances and enacts their actions (see
 * launcher.h). Shutdown order: stop consuming, stop the pollers, let the
 * commands in flight finish (their acks go out), then close the broker
 * connection. */
#include <stdlib.h>
#include <string.h>

#include "actor/log.h"
#include "launcher.h"

static launcher_t ln;

static void on_conn_closed(chan_conn_t *c, void *ud) {
  (void)c;
  (void)ud;
  actor_service_close_signals(ln.svc);
}

static void on_idle(launcher_t *l) {
  chan_conn_close(l->conn, on_conn_closed, NULL);
}

static void on_stop(actor_service_t *svc) {
  (void)svc;
  ln.stopping = true;
  /* Fails only without a consumer (or after close): nothing to stop. */
  ACTOR_IGNORE(chan_cancel(ln.conn, ln.cs.launch_queue));
  ACTOR_IGNORE(chan_cancel(ln.conn, ln.cs.command_queue));
  ln.on_idle = on_idle;
  launcher_poll_stop_all(&ln);
  launcher_check_idle(&ln);
}

int main(int argc, char **argv) {
  actor_service_t svc;
  if (actor_service_init(&svc, "launcher", argc, argv) != 0)
    return 1;
  ln.svc = &svc;
  ln.loop = &svc.loop;
  ln.cfg = svc.cfg;
  int status = 1;
  aws_opts_t ao;
  if (cloud_settings_load(svc.cfg, &ln.cs) != 0 || aws_opts_from_config(svc.cfg, &ao) != 0)
    goto cleanup;
  if (aws_new(&ao, &ln.aws) != 0) {
    LOG_ERROR("launcher", "cannot set up the AWS client");
    goto cleanup;
  }
  if (!aws_opts_have_credentials(&ao))
    LOG_WARN("launcher",
             "no AWS credentials ([cloud] access_key_id and secret_access_key, or "
             "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY): launches will fail with "
             "MissingCredentials");
  if (store_redis_new(svc.cfg, 8, &ln.redis) != 0 || store_mongo_new(svc.cfg, &ln.mongo) != 0) {
    LOG_ERROR("launcher", "cannot set up the stores");
    goto cleanup;
  }
  aws_set_observer(ln.aws, launcher_observe_aws, &ln);
  if (actor_plugin_load(svc.cfg, ACTOR_PLUGIN_DNS, ln.aws, &ln.dns) != 0)
    goto cleanup;
  ln.config_tokens = cloud_config_tokens(svc.cfg);
  const char *uri = actor_config_get(svc.cfg, "rabbit", "uri",
                                     "amqp://guest:guest@127.0.0.1:5672/%2f");
  if (ln.config_tokens == NULL || chan_conn_new(ln.loop, uri, "launcher", &ln.conn) != 0)
    goto cleanup;
  int rc = chan_consume(ln.conn, ln.cs.launch_queue, LAUNCHER_PREFETCH, launcher_on_launch, &ln);
  if (rc == 0)
    rc = chan_consume(ln.conn, ln.cs.command_queue, LAUNCHER_PREFETCH, launcher_on_command, &ln);
  if (rc != 0) {
    LOG_ERROR("launcher", "cannot consume %s and %s: %s", ln.cs.launch_queue,
              ln.cs.command_queue, actor_strerror(rc));
    chan_conn_close(ln.conn, NULL, NULL);
    ln.conn = NULL;
    uv_run(ln.loop, UV_RUN_NOWAIT);
    goto cleanup;
  }
  LOG_INFO("launcher", "serving %s and %s (tag %s)", ln.cs.launch_queue, ln.cs.command_queue,
           ln.cs.tag);
  launcher_poll_resume_all(&ln);
  actor_service_run(&svc, on_stop);
  status = 0;

cleanup:
  json_decref(ln.config_tokens);
  actor_plugin_unload(ln.dns);
  aws_free(ln.aws);
  store_mongo_free(ln.mongo);
  store_redis_free(ln.redis);
  store_mongo_cleanup();
  actor_service_done(&svc);
  return status;
}
