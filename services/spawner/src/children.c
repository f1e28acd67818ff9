/* Worker processes: started with uv_spawn, reaped in their exit callback.
 * A worker that exits on its own is logged; a worker still alive when the
 * spawner stops gets SIGTERM, then SIGKILL after a grace period. */
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "spawner.h"

#define STOP_GRACE_MS 10000

struct spawner_child_s {
  uv_process_t proc;
  spawner_t *sp;
  char db_id[256];
  char wid[64];
  spawner_child_t *next;
};

static void child_closed(uv_handle_t *h) {
  spawner_child_t *ch = h->data;
  spawner_t *sp = ch->sp;
  for (spawner_child_t **pp = &sp->children; *pp; pp = &(*pp)->next) {
    if (*pp == ch) {
      *pp = ch->next;
      break;
    }
  }
  sp->nchildren--;
  free(ch);
  if (sp->stopping && sp->nchildren == 0 && sp->stop_done) {
    uv_timer_stop(&sp->stop_timer);
    void (*done)(spawner_t *) = sp->stop_done;
    sp->stop_done = NULL;
    done(sp);
  }
}

static void on_child_exit(uv_process_t *p, int64_t status, int signal) {
  spawner_child_t *ch = p->data;
  if (status == 0 && signal == 0)
    LOG_INFO("spawner", "worker %s of actor %s exited", ch->wid, ch->db_id);
  else
    LOG_WARN("spawner", "worker %s of actor %s ended with status %lld signal %d", ch->wid,
             ch->db_id, (long long)status, signal);
  /* Killed or crashed: whatever it held must not leak. A worker that exits
   * with a status decided to (bad start-up); it cleaned up after itself. */
  if (signal != 0 && !ch->sp->stopping)
    spawner_worker_died(ch->sp, ch->db_id, ch->wid);
  uv_close((uv_handle_t *)p, child_closed);
}

extern char **environ;

/* The spawner's environment plus the token variables (worker/src/token.c);
 * NULL-terminated, malloc'd, the token strings wiped by env_free. */
static char **env_with_token(const char *token, int64_t exp) {
  size_t n = 0;
  while (environ[n])
    n++;
  char **env = calloc(n + 3, sizeof(*env));
  if (env == NULL)
    return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "ABACO_WORKER_ACCESS_TOKEN", 25) != 0)
      env[k++] = environ[i];
  if (asprintf(&env[k], "ABACO_WORKER_ACCESS_TOKEN=%s", token) < 0) {
    free(env);
    return NULL;
  }
  if (asprintf(&env[k + 1], "ABACO_WORKER_ACCESS_TOKEN_EXPIRES=%lld", (long long)exp) < 0) {
    OPENSSL_cleanse(env[k], strlen(env[k]));
    free(env[k]);
    free(env);
    return NULL;
  }
  return env;
}

static void env_free(char **env) {
  if (env == NULL)
    return;
  size_t k = 0;
  while (env[k + 2])
    k++;
  for (size_t i = k; i < k + 2; i++) {
    OPENSSL_cleanse(env[i], strlen(env[i]));
    free(env[i]);
  }
  free(env);
}

int spawner_start_worker(spawner_t *sp, const char *db_id, const char *wid, const char *token,
                         int64_t token_exp, int *pid) {
  spawner_child_t *ch = calloc(1, sizeof(*ch));
  if (ch == NULL)
    return ACTOR_ENOMEM;
  ch->sp = sp;
  snprintf(ch->db_id, sizeof(ch->db_id), "%s", db_id);
  snprintf(ch->wid, sizeof(ch->wid), "%s", wid);
  char *args[] = {sp->worker_path, "-c", (char *)sp->config_path, "--", ch->db_id, ch->wid, NULL};
  uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE},
                                   {.flags = UV_INHERIT_FD, .data.fd = 1},
                                   {.flags = UV_INHERIT_FD, .data.fd = 2}};
  uv_process_options_t opts;
  memset(&opts, 0, sizeof(opts));
  opts.file = sp->worker_path;
  opts.args = args;
  opts.exit_cb = on_child_exit;
  opts.stdio = stdio;
  opts.stdio_count = 3;
  char **env = NULL;
  if (token != NULL) {
    if ((env = env_with_token(token, token_exp)) == NULL) {
      free(ch);
      return ACTOR_ENOMEM;
    }
    opts.env = env;
  }
  ch->proc.data = ch;
  int rc = uv_spawn(&sp->svc->loop, &ch->proc, &opts);
  env_free(env); /* the child has its copy */
  if (rc != 0) {
    LOG_ERROR("spawner", "cannot start %s for worker %s: %s", sp->worker_path, wid,
              uv_strerror(rc));
    /* uv_spawn initialised the handle even on failure: close it. */
    ch->next = sp->children;
    sp->children = ch;
    sp->nchildren++;
    uv_close((uv_handle_t *)&ch->proc, child_closed);
    return ACTOR_EIO;
  }
  ch->next = sp->children;
  sp->children = ch;
  sp->nchildren++;
  *pid = ch->proc.pid;
  return 0;
}

static void on_stop_timeout(uv_timer_t *t) {
  spawner_t *sp = t->data;
  for (spawner_child_t *ch = sp->children; ch; ch = ch->next) {
    LOG_WARN("spawner", "worker %s did not stop in time: killing it", ch->wid);
    uv_process_kill(&ch->proc, SIGKILL);
  }
}

void spawner_stop_workers(spawner_t *sp, void (*done)(spawner_t *)) {
  if (sp->nchildren == 0) {
    done(sp);
    return;
  }
  sp->stop_done = done;
  for (spawner_child_t *ch = sp->children; ch; ch = ch->next)
    uv_process_kill(&ch->proc, SIGTERM);
  sp->stop_timer.data = sp;
  uv_timer_start(&sp->stop_timer, on_stop_timeout, STOP_GRACE_MS, 0);
}
