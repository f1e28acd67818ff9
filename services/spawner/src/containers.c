/* The docker backend ([spawner] worker_backend = docker): each worker is a
 * container of the platform image ([spawner] worker_image, default
 * abaco/core:dev) running `worker -c /etc/abaco/abaco.conf -- <db_id>
 * <wid>` under tini, created through the Engine API (libactor's docker.c).
 *
 * What the worker needs reaches it as host paths, bind-mounted at the same
 * paths so that what it hands the engine for its actors' containers is
 * valid there too:
 *   - the config file ([spawner] abaco_conf_host_path, else the spawner's
 *     own), read-only at /etc/abaco/abaco.conf;
 *   - the engine's socket ([docker] dd), with its group added;
 *   - [workers] socket_host_path_dir and fifo_host_path_dir (absolute,
 *     passed as environment overrides), and [logs] directory when set.
 * The spawner's environment overrides of the file (`<section>_<key>`
 * variables of known sections) are passed on, as a worker process would
 * inherit them, and the worker's access token as a process gets it. The
 * container runs as the spawner's uid:gid, so the files it makes on those
 * mounts are the spawner's as with the process backend, and joins
 * [spawner] worker_network (default host: the servers of abaco.conf are
 * on 127.0.0.1).
 *
 * Labels: abaco.platform=1, abaco.role=worker, abaco.host, abaco.actor,
 * abaco.worker. A timer lists this host's exited worker containers every
 * second: their logs go to the spawner's stderr (where a worker process
 * writes), they are removed, and one that ended by a signal (exit code >
 * 128 from tini, or killed for memory) is reaped like a worker process
 * killed by a signal (reaper.c); a created one older than
 * CREATED_GRACE_S is removed too. The health agent sees the worker process
 * in the host's /proc like any other (the record's pid is tini's) and
 * leaves worker containers to the spawner. Error paths remove what they
 * may leave, by label when the id is unknown; a redelivered command finds
 * a running container its dead spawner did not record
 * (spawner_container_find). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "spawner.h"

#define WATCH_MS 1000
#define STOP_GRACE_MS 10000
#define LOGS_MAX (256 * 1024)
#define CREATED_GRACE_S 10 /* a created container older than this is not being started */

/* The environment variables set for every worker container; a variable of
 * the spawner's environment with one of these names is not passed on. */
static const char *const OWN_VARS[] = {"workers_socket_host_path_dir",
                                       "workers_fifo_host_path_dir", "logs_directory", NULL};

static bool own_var(const char *name, size_t len) {
  for (size_t i = 0; OWN_VARS[i]; i++)
    if (strlen(OWN_VARS[i]) == len && strncasecmp(OWN_VARS[i], name, len) == 0)
      return true;
  return false;
}

extern char **environ;

/* Whether the case of s[0..len) is all lower (want_upper false) or all
 * upper: characters without case count as either. */
static bool one_case(const char *s, size_t len, bool want_upper) {
  for (size_t i = 0; i < len; i++)
    if (want_upper ? islower((unsigned char)s[i]) : isupper((unsigned char)s[i]))
      return false;
  return true;
}

/* Whether the variable name[0..len) overrides a key of the file as the
 * config reader looks them up: `<section>_<key>` of a known section in
 * its own (lower) case, or `<SECTION>_<KEY>` all upper case, with a key
 * the platform or Abaco knows. Unrelated variables that merely start with
 * a section's name (DOCKER_HOST, Store_x) are not. */
static bool config_override(const char *name, size_t len) {
  for (size_t us = 1; us + 1 < len; us++) {
    if (name[us] != '_')
      continue; /* sections may contain '_' (cloud_tokens): try each split */
    char section[64], key[256];
    size_t klen = len - us - 1;
    if (us >= sizeof(section) || klen >= sizeof(key))
      continue;
    bool upper = !one_case(name, us, false);
    if (upper && !(one_case(name, us, true) && one_case(name + us + 1, klen, true)))
      continue;
    for (size_t i = 0; i < us; i++)
      section[i] = (char)tolower((unsigned char)name[i]);
    section[us] = '\0';
    memcpy(key, name + us + 1, klen);
    key[klen] = '\0';
    if (actor_config_key_kind(section, key, NULL) != ACTOR_KEY_UNKNOWN)
      return true;
  }
  return false;
}

static int append_fmt(json_t *arr, const char *fmt, const char *a, const char *b) {
  char *s = NULL;
  if (asprintf(&s, fmt, a, b) < 0)
    return ACTOR_ENOMEM;
  int rc = json_array_append_new(arr, json_string(s)) == 0 ? 0 : ACTOR_ENOMEM;
  free(s);
  return rc;
}

/* The container's Env: the spawner's config overrides, the directories,
 * the token. */
static json_t *worker_env(const spawner_t *sp, const char *token, int64_t token_exp) {
  json_t *env = json_array();
  if (env == NULL)
    return NULL;
  int rc = 0;
  for (char **ep = environ; rc == 0 && *ep; ep++) {
    const char *eq = strchr(*ep, '=');
    if (eq == NULL || !config_override(*ep, (size_t)(eq - *ep)) ||
        own_var(*ep, (size_t)(eq - *ep)))
      continue;
    rc = json_array_append_new(env, json_string(*ep)) == 0 ? 0 : ACTOR_ENOMEM;
  }
  if (rc == 0)
    rc = append_fmt(env, "%s=%s", OWN_VARS[0], sp->socket_dir);
  if (rc == 0)
    rc = append_fmt(env, "%s=%s", OWN_VARS[1], sp->fifo_dir);
  if (rc == 0)
    rc = append_fmt(env, "%s=%s", OWN_VARS[2], sp->logs_dir);
  if (rc == 0 && token != NULL) {
    char exp[32];
    snprintf(exp, sizeof(exp), "%lld", (long long)token_exp);
    rc = append_fmt(env, "ABACO_WORKER_ACCESS_TOKEN%s=%s", "", token);
    if (rc == 0)
      rc = append_fmt(env, "ABACO_WORKER_ACCESS_TOKEN_EXPIRES%s=%s", "", exp);
  }
  if (rc != 0) {
    json_decref(env);
    return NULL;
  }
  return env;
}

json_t *spawner__worker_spec(const spawner_t *sp, const char *db_id, const char *wid,
                             const char *token, int64_t token_exp) {
  json_t *env = worker_env(sp, token, token_exp);
  char user[64];
  snprintf(user, sizeof(user), "%u:%u", (unsigned)getuid(), (unsigned)getgid());
  json_t *binds = json_array(), *groups = json_array();
  json_t *spec = NULL, *host = NULL;
  if (env == NULL || binds == NULL || groups == NULL)
    goto done;
  int rc = append_fmt(binds, "%s:%s:ro", sp->conf_host_path, SPAWNER_WORKER_CONF);
  rc |= append_fmt(binds, "%s:%s", sp->socket_dir, sp->socket_dir);
  rc |= append_fmt(binds, "%s:%s", sp->fifo_dir, sp->fifo_dir);
  if (sp->logs_dir[0])
    rc |= append_fmt(binds, "%s:%s", sp->logs_dir, sp->logs_dir);
  const char *sock = dkr_unix_path(sp->docker);
  if (sock) {
    rc |= append_fmt(binds, "%s:%s", sock, sock);
    struct stat st;
    if (stat(sock, &st) == 0 && st.st_gid != 0) {
      char gid[32];
      snprintf(gid, sizeof(gid), "%u", (unsigned)st.st_gid);
      rc |= json_array_append_new(groups, json_string(gid)) == 0 ? 0 : ACTOR_ENOMEM;
    }
  }
  if (rc != 0)
    goto done;
  host = json_pack("{s:O, s:O, s:{s:s}}", "Binds", binds, "GroupAdd", groups,
                           "RestartPolicy", "Name", "no");
  if (host && sp->worker_network[0])
    json_object_set_new(host, "NetworkMode", json_string(sp->worker_network));
  spec = host ? json_pack("{s:s, s:[s,s,s,s,s,s], s:O, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:o}",
                          "Image", sp->worker_image, "Cmd", "worker", "-c", SPAWNER_WORKER_CONF,
                          "--", db_id, wid, "Env", env, "User", user, "Labels", "abaco.platform",
                          "1", "abaco.role", "worker", "abaco.host", sp->host_id, "abaco.actor",
                          db_id, "abaco.worker", wid, "HostConfig", host)
              : NULL;
done:
  json_decref(env);
  json_decref(binds);
  json_decref(groups);
  return spec;
}

/* ---- starting one ---- */

/* This host's worker containers: all of them, or wid's only (unless
 * NULL); with ended_only those that exited, died or were never started. */
static int list_workers(spawner_t *sp, const char *wid, bool ended_only, json_t **out) {
  char role[64], host[320], worker[128];
  snprintf(role, sizeof(role), "abaco.role=worker");
  snprintf(host, sizeof(host), "abaco.host=%s", sp->host_id);
  snprintf(worker, sizeof(worker), "abaco.worker=%s", wid ? wid : "");
  json_t *labels = json_pack("[s,s]", role, host);
  if (labels && wid && json_array_append_new(labels, json_string(worker)) != 0) {
    json_decref(labels);
    labels = NULL;
  }
  json_t *f = labels == NULL ? NULL
              : ended_only   ? json_pack("{s:o, s:[s,s,s]}", "label", labels, "status", "exited",
                                         "dead", "created")
                             : json_pack("{s:o}", "label", labels);
  char *filters = f ? json_dumps(f, JSON_COMPACT) : NULL;
  json_decref(f);
  if (filters == NULL)
    return ACTOR_ENOMEM;
  char *err = NULL;
  int rc = dkr_container_list(sp->docker, filters, 1, out, &err);
  free(filters);
  /* Said once per outage (the watch asks every second). */
  if (rc != 0 && !atomic_exchange(&sp->engine_down, true))
    LOG_WARN("spawner", "cannot list the worker containers: %s", err ? err : actor_strerror(rc));
  else if (rc == 0 && atomic_exchange(&sp->engine_down, false))
    LOG_INFO("spawner", "the Docker engine answers again");
  free(err);
  return rc;
}

/* Removes every container of the worker on this host (after an error
 * that may have left one whose id is unknown or that could not be
 * removed by id). 0 when none is left. */
static int remove_worker_containers(spawner_t *sp, const char *wid) {
  json_t *list = NULL;
  int rc = list_workers(sp, wid, false, &list);
  if (rc != 0)
    return rc;
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c) {
    const char *id = actor_json_str(c, "Id", NULL);
    char *err = NULL;
    int r = id ? dkr_container_remove(sp->docker, id, &err) : 0; /* gone already: 0 */
    if (r != 0) {
      LOG_WARN("spawner", "worker %s: cannot remove its container %.12s: %s", wid, id,
               err ? err : actor_strerror(r));
      rc = r;
    } else if (id) {
      LOG_INFO("spawner", "worker %s: removed its container %.12s", wid, id);
    }
    free(err);
  }
  json_decref(list);
  return rc;
}

/* After a failed create/start/inspect: the container (id known or not)
 * must not be left behind, running or not. */
static void discard(spawner_t *sp, const char *wid, const char *id) {
  if (id && dkr_container_remove(sp->docker, id, NULL) == 0)
    return;
  if (remove_worker_containers(sp, wid) != 0)
    LOG_WARN("spawner", "worker %s: a container of it may be left; the watch removes it once "
                        "it is not running, a redelivered command records a running one", wid);
}

int spawner_container_start(spawner_t *sp, const char *db_id, const char *wid, const char *token,
                            int64_t token_exp, char *cid, size_t cidlen, int *pid) {
  json_t *spec = spawner__worker_spec(sp, db_id, wid, token, token_exp);
  if (spec == NULL)
    return ACTOR_ENOMEM;
  char *id = NULL, *err = NULL;
  int rc = dkr_container_create(sp->docker, NULL, spec, &id, &err);
  json_decref(spec);
  if (rc != 0) {
    LOG_ERROR("spawner", "worker %s: cannot create its container (image %s): %s", wid,
              sp->worker_image, err ? err : actor_strerror(rc));
    free(err);
    free(id);
    /* A timeout or a lost answer may have left one with an id we do not know. */
    discard(sp, wid, NULL);
    return rc;
  }
  rc = dkr_container_start(sp->docker, id, &err);
  json_t *info = NULL;
  if (rc == 0)
    rc = dkr_container_inspect(sp->docker, id, &info, &err);
  if (rc != 0) {
    LOG_ERROR("spawner", "worker %s: cannot start its container %.12s: %s", wid, id,
              err ? err : actor_strerror(rc));
    free(err);
    discard(sp, wid, id);
    free(id);
    return rc;
  }
  /* 0 when it has exited already: the watch reaps it, health judges the record. */
  *pid = (int)actor_json_int(json_object_get(info, "State"), "Pid", 0);
  json_decref(info);
  snprintf(cid, cidlen, "%s", id);
  free(id);
  return 0;
}

/* ---- the watch ---- */

static void queue_stop(spawner_t *sp);

/* Copies an exited container's output to our stderr, where a worker
 * process would have written it. */
static void pass_logs(spawner_t *sp, const char *id) {
  char *out = NULL;
  size_t len = 0;
  int truncated = 0;
  if (dkr_container_logs(sp->docker, id, LOGS_MAX, &out, &len, &truncated, NULL) == 0) {
    for (size_t off = 0; off < len;) {
      ssize_t n = write(STDERR_FILENO, out + off, len - off);
      if (n <= 0 && errno != EINTR)
        break;
      off += n > 0 ? (size_t)n : 0;
    }
    if (truncated)
      LOG_WARN("spawner", "container %.12s: its log was longer than %d bytes: cut", id, LOGS_MAX);
  }
  free(out);
}

/* Removes one ended worker container; true when it ended by a signal.
 * One whose state cannot be read is left for the next look (it may have
 * been killed: reporting it as exited would never reap it). *removed
 * (unless NULL): whether it is gone. */
static bool settle(spawner_t *sp, const json_t *c, bool *removed) {
  const char *id = actor_json_str(c, "Id", NULL);
  const json_t *labels = json_object_get(c, "Labels");
  const char *wid = actor_json_str(labels, "abaco.worker", "?");
  const char *db_id = actor_json_str(labels, "abaco.actor", "?");
  bool gone = false;
  if (removed == NULL)
    removed = &gone;
  *removed = false;
  if (id == NULL)
    return false;
  json_t *info = NULL;
  char *err = NULL;
  int rc = dkr_container_inspect(sp->docker, id, &info, &err);
  if (rc != 0) {
    *removed = rc == ACTOR_ENOTFOUND;
    if (rc != ACTOR_ENOTFOUND) /* gone: removed by someone else, nothing to settle */
      LOG_WARN("spawner", "worker %s: cannot read the state of its container %.12s: %s; "
                          "trying again later", wid, id, err ? err : actor_strerror(rc));
    free(err);
    return false;
  }
  const json_t *state = json_object_get(info, "State");
  long long code = actor_json_int(state, "ExitCode", 0);
  bool oom = actor_json_bool(state, "OOMKilled", false);
  bool never_started = strcmp(actor_json_str(state, "Status", ""), "created") == 0;
  json_decref(info);
  if (!never_started)
    pass_logs(sp, id);
  rc = dkr_container_remove(sp->docker, id, &err);
  if (rc != 0) {
    LOG_WARN("spawner", "worker %s: cannot remove its container %.12s: %s", wid, id,
             err ? err : actor_strerror(rc));
    free(err);
    return false; /* the next look settles it */
  }
  *removed = true;
  bool signalled = !never_started && (code > 128 || oom);
  if (never_started)
    LOG_WARN("spawner", "worker %s of actor %s: its container %.12s was never started: removed",
             wid, db_id, id);
  else if (code == 0)
    LOG_INFO("spawner", "worker %s of actor %s exited (container %.12s removed)", wid, db_id, id);
  else
    LOG_WARN("spawner", "worker %s of actor %s ended with status %lld%s (container %.12s removed)",
             wid, db_id, code, oom ? ", killed for memory" : signalled ? ", by a signal" : "", id);
  return signalled;
}

int spawner_container_find(spawner_t *sp, const char *wid, char *cid, size_t cidlen, int *pid) {
  json_t *list = NULL;
  int rc = list_workers(sp, wid, false, &list);
  if (rc != 0)
    return rc;
  int found = 0;
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c) {
    const char *id = actor_json_str(c, "Id", NULL);
    const char *state = actor_json_str(c, "State", "");
    if (id == NULL)
      continue;
    if (strcmp(state, "running") == 0 || strcmp(state, "paused") == 0 ||
        strcmp(state, "restarting") == 0) {
      json_t *info = NULL;
      char *err = NULL;
      int r = dkr_container_inspect(sp->docker, id, &info, &err);
      if (r != 0) {
        LOG_WARN("spawner", "worker %s: cannot inspect its container %.12s: %s", wid, id,
                 err ? err : actor_strerror(r));
        free(err);
        rc = r;
        continue;
      }
      if (found == 0) {
        *pid = (int)actor_json_int(json_object_get(info, "State"), "Pid", 0);
        snprintf(cid, cidlen, "%s", id);
        found = 1;
      } else {
        /* Cannot happen with this check in place; never keep two. */
        LOG_WARN("spawner", "worker %s: a second running container %.12s: removing it", wid, id);
        ACTOR_IGNORE(dkr_container_remove(sp->docker, id, NULL));
      }
      json_decref(info);
      continue;
    }
    /* Ended, or created and never started: settled (its output kept),
     * not reaped, as the worker is about to be started again. */
    bool removed = false;
    settle(sp, c, &removed);
    if (!removed)
      rc = ACTOR_EDOCKER; /* logged; the command waits */
  }
  json_decref(list);
  return rc != 0 ? rc : found;
}

/* One look at the ended containers (its own allocation: a look still in
 * flight when the spawner stops ends on its own). */
typedef struct {
  uv_work_t work;
  spawner_t *sp;
  json_t *dead; /* [[db_id, wid], ...] that ended by a signal */
} watch_t;

static void watch_run(uv_work_t *w) {
  watch_t *wt = w->data;
  json_t *list = NULL;
  if (list_workers(wt->sp, NULL, true, &list) != 0)
    return;
  int64_t now = (int64_t)time(NULL);
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c) {
    const json_t *labels = json_object_get(c, "Labels");
    const char *wid = actor_json_str(labels, "abaco.worker", NULL);
    const char *db_id = actor_json_str(labels, "abaco.actor", NULL);
    /* A created one is being started by a command, unless it is older
     * than that takes (a failed start whose removal failed too). */
    if (strcmp(actor_json_str(c, "State", ""), "created") == 0 &&
        now - actor_json_int(c, "Created", now) < CREATED_GRACE_S)
      continue;
    if (settle(wt->sp, c, NULL) && wid && db_id &&
        json_array_append_new(wt->dead, json_pack("[s,s]", db_id, wid)) != 0)
      LOG_ERROR("spawner", "worker %s of actor %s: out of memory: not reaped", wid, db_id);
  }
  json_decref(list);
}

static void watch_done(uv_work_t *w, int status) {
  (void)status;
  watch_t *wt = w->data;
  spawner_t *sp = wt->sp;
  sp->watching = false;
  size_t i;
  json_t *d;
  json_array_foreach(wt->dead, i, d) {
    if (!sp->stopping)
      spawner_worker_died(sp, json_string_value(json_array_get(d, 0)),
                          json_string_value(json_array_get(d, 1)));
  }
  json_decref(wt->dead);
  free(wt);
  if (sp->stop_deferred) {
    sp->stop_deferred = false;
    queue_stop(sp);
  }
}

static void on_watch(uv_timer_t *t) {
  spawner_t *sp = t->data;
  if (sp->watching || sp->stopping)
    return;
  watch_t *wt = calloc(1, sizeof(*wt));
  if (wt == NULL || (wt->dead = json_array()) == NULL) {
    free(wt);
    return; /* the next tick tries again */
  }
  wt->sp = sp;
  wt->work.data = wt;
  if (uv_queue_work(&sp->svc->loop, &wt->work, watch_run, watch_done) != 0) {
    json_decref(wt->dead);
    free(wt);
    return;
  }
  sp->watching = true;
}

/* ---- start-up ---- */

static int check_engine_object(spawner_t *sp, const char *key, const char *what, const char *name,
                               bool network) {
  json_t *info = NULL;
  char *err = NULL;
  int rc = network ? dkr_network_inspect(sp->docker, name, &info, &err)
                   : dkr_image_inspect(sp->docker, name, &info, &err);
  json_decref(info);
  if (rc == ACTOR_ENOTFOUND || rc == ACTOR_EINVAL || rc == ACTOR_EDOCKER)
    LOG_ERROR("spawner", "[spawner] %s: the Docker engine has no %s '%s'%s", key, what, name,
              network ? "" : " (scripts/images.sh core builds abaco/core)");
  else if (rc != 0)
    LOG_WARN("spawner", "[spawner] %s: cannot check the %s '%s' now: %s", key, what, name,
             err ? err : actor_strerror(rc));
  free(err);
  return rc == ACTOR_ENOTFOUND || rc == ACTOR_EINVAL || rc == ACTOR_EDOCKER ? ACTOR_ECONFIG : 0;
}

int spawner_containers_init(spawner_t *sp) {
  const actor_config_t *cfg = sp->svc->cfg;
  sp->worker_image = actor_config_get(cfg, "spawner", "worker_image", "abaco/core:dev");
  sp->worker_network = actor_config_get(cfg, "spawner", "worker_network", "host");
  sp->conf_host_path = actor_config_get(cfg, "spawner", "abaco_conf_host_path", "");
  sp->docker_dd = actor_config_get(cfg, "docker", "dd", "unix:///var/run/docker.sock");
  if (sp->worker_image[0] == '\0') {
    LOG_ERROR("spawner", "[spawner] worker_image: empty; the docker backend needs an image");
    return ACTOR_ECONFIG;
  }
  if (sp->conf_host_path[0] == '\0')
    sp->conf_host_path = sp->config_path;
  if (sp->conf_host_path[0] != '/' || strchr(sp->conf_host_path, ':')) {
    LOG_ERROR("spawner", "[spawner] abaco_conf_host_path: '%s' is not an absolute path without ':'",
              sp->conf_host_path);
    return ACTOR_ECONFIG;
  }
  const char *logs = actor_config_get(cfg, "logs", "directory", "");
  char cwd[4096];
  int n = 0;
  if (logs[0] == '\0' || logs[0] == '/')
    n = snprintf(sp->logs_dir, sizeof(sp->logs_dir), "%s", logs);
  else if (getcwd(cwd, sizeof(cwd)) != NULL)
    n = snprintf(sp->logs_dir, sizeof(sp->logs_dir), "%s/%s", cwd, logs);
  else
    n = -1;
  if (n < 0 || (size_t)n >= sizeof(sp->logs_dir)) {
    LOG_ERROR("spawner", "[logs] directory: '%s' cannot be made absolute", logs);
    return ACTOR_ECONFIG;
  }
  if (check_engine_object(sp, "worker_image", "image", sp->worker_image, false) != 0 ||
      (sp->worker_network[0] &&
       check_engine_object(sp, "worker_network", "network", sp->worker_network, true) != 0))
    return ACTOR_ECONFIG;
  LOG_INFO("spawner", "workers are containers of %s (network %s, config %s)", sp->worker_image,
           sp->worker_network[0] ? sp->worker_network : "default", sp->conf_host_path);
  return 0;
}

void spawner_containers_watch(spawner_t *sp) {
  uv_timer_init(&sp->svc->loop, &sp->watch_timer);
  sp->watch_timer.data = sp;
  uv_timer_start(&sp->watch_timer, on_watch, WATCH_MS, WATCH_MS);
}

/* ---- shutdown ---- */

static void stop_run(uv_work_t *w) {
  spawner_t *sp = w->data;
  json_t *list = NULL;
  if (list_workers(sp, NULL, false, &list) != 0)
    return;
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c) {
    const char *state = actor_json_str(c, "State", "");
    if (strcmp(state, "running") == 0 || strcmp(state, "paused") == 0)
      ACTOR_IGNORE(dkr_container_kill(sp->docker, actor_json_str(c, "Id", ""), "SIGTERM", NULL));
  }
  int64_t deadline = (int64_t)uv_hrtime() / 1000000 + STOP_GRACE_MS;
  json_array_foreach(list, i, c) {
    const char *id = actor_json_str(c, "Id", "");
    int64_t left = deadline - (int64_t)uv_hrtime() / 1000000;
    int64_t code = 0;
    if (dkr_container_wait(sp->docker, id, left > 1 ? (long)left : 1, &code, NULL) ==
        ACTOR_ETIMEDOUT) {
      LOG_WARN("spawner", "worker container %.12s did not stop in time: killing it", id);
      ACTOR_IGNORE(dkr_container_kill(sp->docker, id, "SIGKILL", NULL));
    }
    settle(sp, c, NULL);
  }
  json_decref(list);
}

static void stop_done(uv_work_t *w, int status) {
  (void)status;
  spawner_t *sp = w->data;
  void (*done)(spawner_t *) = sp->stop_done;
  sp->stop_done = NULL;
  done(sp);
}

static void queue_stop(spawner_t *sp) {
  sp->stop_work.data = sp;
  if (uv_queue_work(&sp->svc->loop, &sp->stop_work, stop_run, stop_done) != 0)
    stop_done(&sp->stop_work, 0);
}

void spawner_containers_stop(spawner_t *sp, void (*done)(spawner_t *)) {
  uv_close((uv_handle_t *)&sp->watch_timer, NULL);
  sp->stop_done = done;
  /* A look in flight would settle the same containers: stop after it. */
  if (sp->watching)
    sp->stop_deferred = true;
  else
    queue_stop(sp);
}
