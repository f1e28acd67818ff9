/* The ContainerCreate body of an execution (API.md §4), built without I/O
 * from the actor record, the worker's settings and the execution's files:
 * who the container runs as, its memory and CPU limits, the results socket
 * and binary FIFO mounts, and privilege (with the engine's socket) only
 * for a privileged actor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actor/json.h"
#include "worker.h"

#define RESULTS_TARGET "/_abaco_results.sock"
#define FIFO_TARGET "/_abaco_binary_data"
#define DOCKER_SOCK "/var/run/docker.sock"

/* An id field that may be a number or a string; "" when unset. */
static void id_text(const json_t *v, char *out, size_t len) {
  out[0] = '\0';
  if (json_is_integer(v))
    snprintf(out, len, "%lld", (long long)json_integer_value(v));
  else if (json_is_string(v))
    snprintf(out, len, "%s", json_string_value(v));
}

/* "uid[:gid]" from the actor's own uid/gid when set, else from config;
 * "" when the container's own user applies. */
static void container_user(const worker_t *w, const json_t *actor, char *out, size_t len) {
  out[0] = '\0';
  if (actor_json_bool(actor, "use_container_uid", false))
    return;
  char uid[64], gid[64];
  id_text(json_object_get(actor, "uid"), uid, sizeof(uid));
  id_text(json_object_get(actor, "gid"), gid, sizeof(gid));
  if (uid[0] == '\0') {
    snprintf(uid, sizeof(uid), "%s", w->exec.uid ? w->exec.uid : "");
    snprintf(gid, sizeof(gid), "%s", w->exec.gid ? w->exec.gid : "");
  }
  if (uid[0] != '\0')
    snprintf(out, len, "%s%s%s", uid, gid[0] ? ":" : "", gid);
}

/* Bytes from the actor's mem_limit ("1g" or a number), else config; <= 0: none. */
static long long memory_bytes(const worker_t *w, const json_t *actor) {
  const json_t *v = json_object_get(actor, "mem_limit");
  if (json_is_integer(v) && json_integer_value(v) > 0)
    return (long long)json_integer_value(v);
  if (json_is_string(v) && *json_string_value(v))
    return actor_parse_bytes(json_string_value(v));
  return w->exec.mem_bytes;
}

static long long nano_cpus(const worker_t *w, const json_t *actor) {
  const json_t *v = json_object_get(actor, "max_cpus");
  if (json_is_integer(v) && json_integer_value(v) > 0)
    return (long long)json_integer_value(v);
  if (json_is_string(v) && *json_string_value(v)) {
    char *end = NULL;
    long long n = strtoll(json_string_value(v), &end, 10);
    if (end && *end == '\0' && n > 0)
      return n;
  }
  return w->exec.max_cpus;
}

static int add_bind(json_t *binds, const char *src, const char *dst) {
  json_t *b = json_sprintf("%s:%s", src, dst);
  return b ? json_array_append_new(binds, b) : -1;
}

json_t *worker_spec(const worker_t *w, const worker_spec_in_t *in) {
  const json_t *actor = in->actor;
  bool privileged = actor_json_bool(actor, "privileged", false);
  json_t *labels =
      json_pack("{s:s, s:s, s:s, s:s, s:s}", "abaco.platform", "1", "abaco.actor", w->db_id,
                "abaco.worker", w->wid, "abaco.execution", in->eid, "abaco.host", w->host_id);
  json_t *binds = json_array();
  json_t *host = json_pack("{s:b, s:b}", "Privileged", privileged, "AutoRemove", 0);
  json_t *spec = json_object();
  if (spec == NULL)
    json_decref(in->env);
  else /* set_new steals env even when it fails */
    json_object_set_new(spec, "Env", in->env);
  if (spec && json_object_set_new(spec, "Image", json_string(actor_json_str(actor, "image", ""))))
    goto fail;
  int bad = labels == NULL || binds == NULL || host == NULL || spec == NULL;
  if (!bad && in->results_sock)
    bad = add_bind(binds, in->results_sock, RESULTS_TARGET) != 0;
  if (!bad && in->binary_fifo)
    bad = add_bind(binds, in->binary_fifo, FIFO_TARGET) != 0;
  if (!bad && privileged && w->docker_sock)
    bad = add_bind(binds, w->docker_sock, DOCKER_SOCK) != 0;
  if (bad)
    goto fail;

  long long mem = memory_bytes(w, actor);
  if (mem > 0)
    json_object_set_new(host, "Memory", json_integer(mem));
  long long cpus = nano_cpus(w, actor);
  if (cpus > 0)
    json_object_set_new(host, "NanoCpus", json_integer(cpus));
  if (w->network && *w->network)
    json_object_set_new(host, "NetworkMode", json_string(w->network));
  json_object_set_new(host, "Binds", binds);
  binds = NULL;

  char user[160];
  container_user(w, actor, user, sizeof(user));
  if (user[0])
    json_object_set_new(spec, "User", json_string(user));
  json_object_set_new(spec, "Labels", labels);
  json_object_set_new(spec, "HostConfig", host);
  return spec;

fail:
  json_decref(labels);
  json_decref(binds);
  json_decref(host);
  json_decref(spec);
  return NULL;
}
