/* clientg: issues and revokes per-worker access tokens on the `clients`
 * channel (see clientg.h for the files). Shutdown: stop consuming, let the
 * requests in flight be answered, close the broker connection. */
#include <stdio.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "clientg.h"

static clientg_t g;

static void on_conn_closed(chan_conn_t *c, void *ud) {
  actor_service_close_signals(g.svc);
}

static void on_idle(clientg_t *cg) {
  chan_conn_close(cg->conn, on_conn_closed, NULL);
}

static void on_stop(actor_service_t *svc) {
  clientg_serve_stop(&g, on_idle);
}

int main(int argc, char **argv) {
  actor_service_t svc;
  if (actor_service_init(&svc, "clientg", argc, argv) != 0)
    return 1;
  g.svc = &svc;
  int status = 1;
  bool generated = false;
  const actor_config_t *cfg = svc.cfg;
  if (clientg_conf_load(cfg, &g.conf) != 0 ||
      clientg_key_load(g.conf.key_file, &g.key, &generated) != 0)
    goto cleanup;
  if (generated)
    LOG_INFO(CLIENTG_LOG, "generated the platform key %s in %s", g.key.kid, g.conf.key_file);
  if (store_redis_new(cfg, 4, &g.redis) != 0) {
    LOG_ERROR(CLIENTG_LOG, "cannot set up the store");
    goto cleanup;
  }
  /* Published again with every token; a Redis that is down now is not fatal. */
  int rc = actor_platform_key_publish(g.redis, g.key.pub);
  if (rc != 0)
    LOG_WARN(CLIENTG_LOG, "cannot publish the platform key yet: %s", actor_strerror(rc));
  const char *uri = actor_config_get(cfg, "rabbit", "uri", "amqp://guest:guest@127.0.0.1:5672/%2f");
  if (chan_conn_new(&svc.loop, uri, "clientg", &g.conn) != 0 || clientg_serve_start(&g) != 0) {
    LOG_ERROR(CLIENTG_LOG, "cannot set up the broker connection");
    if (g.conn)
      chan_conn_close(g.conn, NULL, NULL);
    goto cleanup;
  }
  actor_service_run(&svc, on_stop);
  status = 0;

cleanup:
  store_redis_free(g.redis);
  clientg_key_free(&g.key);
  actor_service_done(&svc);
  return status;
}
