/* spawner: starts workers for the actors whose queues this host serves.
 * Shutdown order: stop consuming, let commands in flight finish, stop the
 * workers (processes, or containers with the docker backend), then close
 * the broker connection. */
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "actor/service.h"
#include "spawner.h"

static spawner_t sp;
static char config_abs[PATH_MAX];

static void on_conn_closed(chan_conn_t *c, void *ud) {
  (void)c;
  (void)ud;
  uv_close((uv_handle_t *)&sp.stop_timer, NULL);
  actor_service_close_signals(sp.svc);
}

static void on_workers_stopped(spawner_t *s) {
  chan_conn_close(s->conn, on_conn_closed, NULL);
}

static void on_idle(spawner_t *s) {
  s->on_idle = NULL;
  if (s->docker_backend)
    spawner_containers_stop(s, on_workers_stopped);
  else
    spawner_stop_workers(s, on_workers_stopped);
}

static void on_stop(actor_service_t *svc) {
  (void)svc;
  sp.stopping = true;
  const char *queues = actor_config_get(sp.svc->cfg, "spawner", "host_queues", "default");
  char *copy = strdup(queues), *save = NULL;
  for (char *q = copy ? strtok_r(copy, ", ", &save) : NULL; q; q = strtok_r(NULL, ", ", &save)) {
    char name[CHAN_NAME_MAX];
    chan_name_command(q, name);
    /* Fails only without a consumer (or after close): nothing to stop. */
    ACTOR_IGNORE(chan_cancel(sp.conn, name));
  }
  free(copy);
  if (sp.inflight == 0)
    on_idle(&sp);
  else
    sp.on_idle = on_idle;
}

/* The worker executable sits next to ours unless [spawner] worker_path says otherwise. */
static int find_worker(const actor_config_t *cfg, char *out, size_t len) {
  const char *path = actor_config_get(cfg, "spawner", "worker_path", NULL);
  if (path && *path) {
    int n1 = snprintf(out, len, "%s", path);
    if (n1 < 0 || (size_t)n1 >= len)
      return ACTOR_ETOOBIG;
  } else {
    int rc = actor_exe_sibling("worker", out, len);
    if (rc != 0)
      return rc;
  }
  if (access(out, X_OK) != 0) {
    LOG_ERROR("spawner", "[spawner] worker_path: %s is not an executable", out);
    return ACTOR_ECONFIG;
  }
  return 0;
}

/* A [workers] directory from config, made absolute against the working
 * directory (workers and containers need absolute paths for bind mounts)
 * and created now, so that one the workers cannot use stops the spawner
 * instead of failing every execution. */
static int work_dir(const actor_config_t *cfg, const char *key, const char *def, char *out,
                    size_t len) {
  const char *dir = actor_config_get(cfg, "workers", key, def);
  char cwd[PATH_MAX];
  int n;
  if (dir[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
    n = snprintf(out, len, "%s", dir);
  else
    n = snprintf(out, len, "%s/%s", cwd, dir);
  if (dir[0] == '\0' || n < 0 || (size_t)n >= len) {
    LOG_ERROR("spawner", "[workers] %s: '%s' is not a usable directory path", key, dir);
    return ACTOR_ECONFIG;
  }
  for (char *p = out + 1;; p++) { /* mkdir -p */
    char c = *p;
    if (c != '/' && c != '\0')
      continue;
    *p = '\0';
    int made = mkdir(out, 0755) == 0 || errno == EEXIST;
    *p = c;
    if (!made || c == '\0') {
      if (made && access(out, W_OK | X_OK) == 0)
        return 0;
      LOG_ERROR("spawner", "[workers] %s: cannot use the directory %s: %s", key, out,
                strerror(made ? EACCES : errno));
      return ACTOR_ECONFIG;
    }
  }
}

/* [spawner] docker_network must name a network of the engine (else every
 * container would fail to start); an engine that does not answer yet only
 * earns a warning. */
static int check_network(const actor_config_t *cfg, dkr_t *docker) {
  const char *net = actor_config_get(cfg, "spawner", "docker_network", "");
  if (*net == '\0')
    return 0;
  json_t *info = NULL;
  char *err = NULL;
  int rc = dkr_network_inspect(docker, net, &info, &err);
  json_decref(info);
  if (rc == ACTOR_ENOTFOUND || rc == ACTOR_EINVAL)
    LOG_ERROR("spawner", "[spawner] docker_network: the Docker engine has no network '%s'", net);
  else if (rc != 0)
    LOG_WARN("spawner", "[spawner] docker_network: cannot check the network '%s' now: %s", net,
             err ? err : actor_strerror(rc));
  free(err);
  return rc == ACTOR_ENOTFOUND || rc == ACTOR_EINVAL ? ACTOR_ECONFIG : 0;
}

int main(int argc, char **argv) {
  actor_service_t svc;
  if (actor_service_init(&svc, "spawner", argc, argv) != 0)
    return 1;
  sp.svc = &svc;
  int status = 1;
  static const char *const BACKENDS[] = {"process", "docker", NULL};
  const char *backend = NULL;
  const actor_config_t *cfg = svc.cfg;
  if (actor_config_get_enum(cfg, "spawner", "worker_backend", "process", BACKENDS, &backend) ||
      actor_config_get_int(cfg, "spawner", "max_workers_per_host", 50, &sp.max_workers_per_host))
    goto cleanup;
  sp.docker_backend = strcmp(backend, "docker") == 0;
  sp.host_id = actor_config_get(cfg, "spawner", "host_id", "0");
  sp.host_ip = actor_config_get(cfg, "spawner", "host_ip", "127.0.0.1");
  const char *cpath = svc.config_path ? svc.config_path : getenv("ABACO_CONF");
  if (cpath == NULL)
    cpath = "abaco.conf";
  if (realpath(cpath, config_abs) == NULL) {
    LOG_ERROR("spawner", "cannot resolve the config path %s", cpath);
    goto cleanup;
  }
  sp.config_path = config_abs;
  if (!sp.docker_backend && find_worker(cfg, sp.worker_path, sizeof(sp.worker_path)) != 0)
    goto cleanup;
  if (work_dir(cfg, "socket_host_path_dir", "var/run/sockets", sp.socket_dir,
               sizeof(sp.socket_dir)) != 0 ||
      work_dir(cfg, "fifo_host_path_dir", "var/run/fifos", sp.fifo_dir, sizeof(sp.fifo_dir)) != 0)
    goto cleanup;
  if (dkr_new_from_config(cfg, &sp.docker) != 0 || check_network(cfg, sp.docker) != 0)
    goto cleanup;
  if (sp.docker_backend && spawner_containers_init(&sp) != 0)
    goto cleanup;
  if (store_redis_new(cfg, 4, &sp.redis) != 0) {
    LOG_ERROR("spawner", "cannot set up the store");
    goto cleanup;
  }
  const char *uri = actor_config_get(cfg, "rabbit", "uri", "amqp://guest:guest@127.0.0.1:5672/%2f");
  if (spawner_clients_init(&sp, cfg, uri) != 0 ||
      chan_conn_new(&svc.loop, uri, "spawner", &sp.conn) != 0)
    goto cleanup;
  uv_timer_init(&svc.loop, &sp.stop_timer);
  if (sp.docker_backend)
    spawner_containers_watch(&sp);

  const char *queues = actor_config_get(cfg, "spawner", "host_queues", "default");
  char *copy = strdup(queues), *save = NULL;
  for (char *q = copy ? strtok_r(copy, ", ", &save) : NULL; q; q = strtok_r(NULL, ", ", &save)) {
    char name[CHAN_NAME_MAX];
    chan_name_command(q, name);
    int crc = chan_consume(sp.conn, name, 4, spawner_on_command, &sp);
    if (crc != 0)
      LOG_ERROR("spawner", "host %s cannot serve %s: %s", sp.host_id, name, actor_strerror(crc));
    else
      LOG_INFO("spawner", "host %s serving %s", sp.host_id, name);
  }
  free(copy);
  actor_service_run(&svc, on_stop);
  status = 0;

cleanup:
  chan_client_free(sp.clients);
  dkr_free(sp.docker);
  store_redis_free(sp.redis);
  actor_service_done(&svc);
  return status;
}
