/* The route table and the request pipeline (see api.h). A path matches a
 * pattern segment by segment; `{x}` captures one segment. Static routes
 * are listed before parameterised ones so `/actors/aliases` wins over
 * `/actors/{id}`. Anything unmatched, path or method, is Abaco's 405.
 * Every answered request is counted for /metrics under its route pattern
 * (never the raw path, which would make one series per actor).
 * docs/openapi.json documents every route of this table, and
 * tests/functional/test_openapi.py checks that they agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access.h"
#include "actor/log.h"
#include "api.h"
#include "cloud_api.h"

typedef struct {
  const char *method;
  const char *pattern;
  api_handler_fn fn;
  bool actor; /* first parameter is an actor id or alias to resolve */
  bool open;  /* no user authentication: /metrics, /docs, progress reports (whose
               * instance token is the credential, progress.c) and node samples
               * (the counter's token, routes_cluster_rules.c) */
} api_route_t;

static const api_route_t ROUTES[] = {
    {"GET", "/metrics", api_metrics_get, false, true},
    {"GET", "/docs/openapi.json", api_docs_openapi, false, true},
    {"GET", "/actors", api_actors_list, false, false},
    {"GET", "/actors/admin/events/dead-letter", api_events_dead_letter, false, false},
    {"POST", "/actors", api_actors_create, false, false},
    /* sharing, search, admin (access.h); before /actors/{id} */
    {"GET", "/actors/aliases", api_aliases_list, false, false},
    {"POST", "/actors/aliases", api_alias_create, false, false},
    {"GET", "/actors/aliases/{alias}", api_alias_get_route, false, false},
    {"PUT", "/actors/aliases/{alias}", api_alias_update, false, false},
    {"DELETE", "/actors/aliases/{alias}", api_alias_delete, false, false},
    {"GET", "/actors/aliases/{alias}/permissions", api_alias_perms, false, false},
    {"POST", "/actors/aliases/{alias}/permissions", api_alias_perms, false, false},
    {"GET", "/actors/aliases/{alias}/nonces", api_alias_nonces, false, false},
    {"POST", "/actors/aliases/{alias}/nonces", api_alias_nonces, false, false},
    {"GET", "/actors/aliases/{alias}/nonces/{nid}", api_alias_nonces, false, false},
    {"DELETE", "/actors/aliases/{alias}/nonces/{nid}", api_alias_nonces, false, false},
    {"GET", "/actors/configs", api_configs_list, false, false},
    {"POST", "/actors/configs", api_config_create, false, false},
    {"GET", "/actors/configs/{name}", api_config_get, false, false},
    {"PUT", "/actors/configs/{name}", api_config_update, false, false},
    {"DELETE", "/actors/configs/{name}", api_config_delete, false, false},
    {"GET", "/actors/configs/{name}/permissions", api_config_perms, false, false},
    {"POST", "/actors/configs/{name}/permissions", api_config_perms, false, false},
    {"GET", "/actors/search/{type}", api_search, false, false},
    {"GET", "/actors/admin", api_admin_actors, false, false},
    {"GET", "/actors/admin/workers", api_admin_workers, false, false},
    {"GET", "/actors/admin/executions", api_admin_executions, false, false},
    {"GET", "/actors/utilization", api_utilization, false, false},
    {"GET", "/actors/{id}", api_actor_get, true, false},
    {"PUT", "/actors/{id}", api_actor_update, true, false},
    {"DELETE", "/actors/{id}", api_actor_delete, true, false},
    {"GET", "/actors/{id}/state", api_state_get, true, false},
    {"POST", "/actors/{id}/state", api_state_set, true, false},
    {"GET", "/actors/{id}/messages", api_messages_count, true, false},
    {"POST", "/actors/{id}/messages", api_messages_send, true, false},
    {"DELETE", "/actors/{id}/messages", api_messages_purge, true, false},
    {"GET", "/actors/{id}/executions", api_executions_list, true, false},
    {"POST", "/actors/{id}/executions", api_executions_add, true, false},
    {"GET", "/actors/{id}/executions/{eid}", api_execution_get, true, false},
    {"DELETE", "/actors/{id}/executions/{eid}", api_execution_force_quit, true, false},
    {"GET", "/actors/{id}/executions/{eid}/logs", api_execution_logs, true, false},
    {"GET", "/actors/{id}/executions/{eid}/results", api_execution_results, true, false},
    {"GET", "/actors/{id}/workers", api_workers_list, true, false},
    {"POST", "/actors/{id}/workers", api_workers_ensure, true, false},
    {"GET", "/actors/{id}/workers/{wid}", api_worker_get, true, false},
    {"DELETE", "/actors/{id}/workers/{wid}", api_worker_stop, true, false},
    {"GET", "/actors/{id}/permissions", api_actor_perms, true, false},
    {"POST", "/actors/{id}/permissions", api_actor_perms, true, false},
    {"GET", "/actors/{id}/nonces", api_actor_nonces, true, false},
    {"POST", "/actors/{id}/nonces", api_actor_nonces, true, false},
    {"GET", "/actors/{id}/nonces/{nid}", api_actor_nonces, true, false},
    {"DELETE", "/actors/{id}/nonces/{nid}", api_actor_nonces, true, false},
    /* cloud instances (cloud_api.h); static routes before /instances/{id} */
    {"GET", "/instances/configs", api_swconfigs_list, false, false},
    {"POST", "/instances/configs", api_swconfig_create, false, false},
    {"GET", "/instances/configs/{name}", api_swconfig_get, false, false},
    {"PUT", "/instances/configs/{name}", api_swconfig_update, false, false},
    {"DELETE", "/instances/configs/{name}", api_swconfig_delete, false, false},
    {"GET", "/instances/groups", api_groups_list, false, false},
    {"POST", "/instances/groups", api_group_create, false, false},
    {"GET", "/instances/groups/{name}", api_group_get, false, false},
    {"PUT", "/instances/groups/{name}", api_group_update, false, false},
    {"DELETE", "/instances/groups/{name}", api_group_delete, false, false},
    {"GET", "/instances/params", api_params_get, false, false},
    {"POST", "/instances/params", api_params_set, false, false},
    {"DELETE", "/instances/params/{name}", api_param_delete, false, false},
    {"GET", "/instances/types", api_instance_types, false, false},
    {"GET", "/instances/progress/{iid}/{report}", api_progress_path, false, true},
    {"POST", "/instances/progress/{iid}/{report}", api_progress_path, false, true},
    {"GET", "/instances", api_instances_list, false, false},
    {"POST", "/instances", api_instances_launch, false, false},
    {"GET", "/instances/{id}", api_instance_get, false, false},
    {"DELETE", "/instances/{id}", api_instance_delete, false, false},
    {"POST", "/instances/{id}/start", api_instance_action, false, false},
    {"POST", "/instances/{id}/stop", api_instance_action, false, false},
    {"POST", "/instances/{id}/restart", api_instance_action, false, false},
    {"POST", "/instances/{id}/terminate", api_instance_action, false, false},
    {"GET", "/instances/{id}/audit", api_instance_audit, false, false},
    {"POST", "/instances/{id}/progress", api_progress_post, false, true},
    /* clusters (docs/clusters.md) */
    {"GET", "/clusters", api_clusters_list, false, false},
    {"POST", "/clusters", api_cluster_create, false, false},
    {"GET", "/clusters/{id}", api_cluster_get, false, false},
    {"PUT", "/clusters/{id}", api_cluster_update, false, false},
    {"DELETE", "/clusters/{id}", api_cluster_delete, false, false},
    {"POST", "/clusters/{id}/nodes", api_cluster_node_add, false, false},
    {"DELETE", "/clusters/{id}/nodes/{nid}", api_cluster_node_delete, false, false},
    {"POST", "/clusters/{id}/counters", api_cluster_counter_add, false, false},
    {"GET", "/clusters/{id}/counters/{cid}", api_cluster_counter_get, false, false},
    {"DELETE", "/clusters/{id}/counters/{cid}", api_cluster_counter_delete, false, false},
    {"POST", "/clusters/{id}/counters/{cid}/samples", api_cluster_sample_post, false, true},
    {"POST", "/clusters/{id}/triggers", api_cluster_trigger_add, false, false},
    {"DELETE", "/clusters/{id}/triggers/{tid}", api_cluster_trigger_delete, false, false},
    {"POST", "/clusters/{id}/triggers/{tid}/fire", api_cluster_trigger_fire, false, false},
    {"GET", "/clusters/{id}/runs/{rid}", api_cluster_run_get, false, false},
};
#define NROUTES (sizeof(ROUTES) / sizeof(ROUTES[0]))

#define MAX_SEGMENTS 8
/* Longest path that can match a route. */
#define PATH_BUF 2048

/* Splits a path into segments in place (buf is a copy of the path). */
static int split_path(char *buf, char **segs) {
  int n = 0;
  for (char *save = NULL, *tok = strtok_r(buf, "/", &save); tok;
       tok = strtok_r(NULL, "/", &save)) {
    if (n == MAX_SEGMENTS)
      return -1;
    segs[n++] = tok;
  }
  return n;
}

/* Matches a pattern against path segments, capturing {params}. Walks the
 * pattern in place: every request tries it against most of the table. */
static bool match(const char *pattern, char **segs, int nsegs, api_req_t *r) {
  const char *params[sizeof(r->params) / sizeof(r->params[0])];
  int n = 0, nparams = 0;
  for (const char *p = pattern;;) {
    while (*p == '/')
      p++;
    if (*p == '\0')
      break;
    size_t len = strcspn(p, "/");
    if (n == nsegs)
      return false;
    if (*p == '{') {
      if (nparams == (int)(sizeof(params) / sizeof(params[0])))
        return false;
      params[nparams++] = segs[n];
    } else if (strncmp(segs[n], p, len) != 0 || segs[n][len] != '\0') {
      return false;
    }
    n++;
    p += len;
  }
  if (n != nsegs)
    return false;
  for (int i = 0; i < nparams; i++)
    r->params[i] = params[i];
  r->nparams = nparams;
  return true;
}

/* Adds a response header named by a string literal: the compiler counts
 * the name, strlen the value. */
#define ADD_HEADER(h, name, value) \
  ahttp_kvs_add(&(h)->resp_headers, name, sizeof(name) - 1, (value), strlen(value))

static void answer_options(api_req_t *r) {
  ahttp_req_t *h = r->http;
  const char *want = ahttp_kvs_get(&h->headers, "Access-Control-Request-Headers", 1);
  const char *allow = want ? want : "Content-Type, Authorization, X-Nonce";
  if (ADD_HEADER(h, "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS") != 0 ||
      ADD_HEADER(h, "Access-Control-Allow-Headers", allow) != 0) {
    api_error(r, 500, "Could not build the response (out of memory).");
    return;
  }
  api_ok(r, "OK", NULL);
}

static void api_server_of(api_req_t *r) {
  const char *host = ahttp_kvs_get(&r->http->headers, "Host", 1);
  const char *proto = ahttp_kvs_get(&r->http->headers, "X-Forwarded-Proto", 1);
  snprintf(r->api_server, sizeof(r->api_server), "%s://%s", proto ? proto : "http",
           host ? host : "localhost");
}

static int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void api_background_req(api_ctx_t *c, const char *username, api_req_t *r) {
  memset(r, 0, sizeof(*r));
  r->ctx = c;
  snprintf(r->ident.username, sizeof(r->ident.username), "%s", username);
}

/* The route of the request (NULL: none for its method) and the pattern
 * its path matches whatever the method (NULL: none). r->params point into
 * buf, a copy of the path. */
static const api_route_t *find_route(api_req_t *r, char buf[PATH_BUF], const char **pattern) {
  const ahttp_req_t *http = r->http;
  char *segs[MAX_SEGMENTS];
  int nsegs = -1;
  size_t len = strlen(http->path);
  *pattern = NULL;
  if (len < PATH_BUF) {
    memcpy(buf, http->path, len + 1);
    nsegs = split_path(buf, segs);
  }
  for (size_t i = 0; nsegs >= 0 && i < NROUTES; i++) {
    if (!match(ROUTES[i].pattern, segs, nsegs, r))
      continue;
    if (*pattern == NULL)
      *pattern = ROUTES[i].pattern;
    if (strcmp(ROUTES[i].method, http->method) == 0)
      return &ROUTES[i];
  }
  return NULL;
}

/* A binary message: its limit is [web] max_content_length (Abaco's). */
static bool binary_message(const api_route_t *route, const ahttp_req_t *http) {
  return route && route->fn == api_messages_send && api_octet_stream(http) &&
         ahttp_kvs_get(&http->headers, "Content-Length", 1) != NULL;
}

size_t api_body_limit(const ahttp_req_t *http, void *ud) {
  api_ctx_t *c = ud;
  api_req_t r = {.ctx = c, .http = (ahttp_req_t *)http};
  char buf[PATH_BUF];
  const char *pattern;
  if (binary_message(find_route(&r, buf, &pattern), http))
    return (size_t)c->max_content_length;
  return (size_t)c->max_body_size;
}

void api_body_too_large(ahttp_req_t *http, size_t limit, void *ud) {
  api_ctx_t *c = ud;
  api_req_t r = {.ctx = c, .http = http};
  char buf[PATH_BUF];
  const char *pattern;
  const api_route_t *route = find_route(&r, buf, &pattern);
  if (binary_message(route, http))
    api_error(&r, 400, "Message exceeds max content length of: %ld", c->max_content_length);
  else
    api_error(&r, 413,
              "Request body too large: at most %zu bytes are accepted ([web] max_body_size).",
              limit);
  LOG_INFO("api", "%s %s from %s: body over %zu bytes refused (%d)", http->method, http->path,
           http->client_ip, limit, http->status);
  api_metrics_http(c->metrics, http->method, pattern ? pattern : "unmatched", http->status, 0);
}

void api_dispatch(ahttp_req_t *http, void *ud) {
  int64_t t0 = mono_us();
  api_req_t r;
  memset(&r, 0, sizeof(r));
  r.ctx = ud;
  r.http = http;
  api_server_of(&r);

  char buf[PATH_BUF];
  const char *pattern = NULL; /* of the path, whatever the method */
  const api_route_t *route = find_route(&r, buf, &pattern);

  if (pattern && strcmp(http->method, "OPTIONS") == 0) {
    answer_options(&r);
    goto done;
  }
  if (route == NULL) {
    api_error(&r, 405, "Invalid request: the API endpoint does not exist or the provided "
                       "HTTP method is not allowed.");
    goto done;
  }
  if (!route->open && api_authenticate(&r) != 0)
    goto done;
  if (route->actor && (route->fn == api_messages_send ? api_resolve_actor_send(&r, r.params[0])
                                                     : api_resolve_actor(&r, r.params[0])) != 0)
    goto done;
  if (!route->open && api_authorize(&r, route->pattern, route->actor) != 0)
    goto done;
  route->fn(&r);
  if (http->status == 0) {
    /* a handler that forgot to answer is a bug, but still an envelope */
    LOG_ERROR("api", "%s %s: the handler gave no answer", http->method, http->path);
    api_error(&r, 500, "Unexpected error: the request was not answered; please report it.");
  }

done:
  json_decref(r.actor);
  api_metrics_http(r.ctx->metrics, http->method, pattern ? pattern : "unmatched", http->status,
                   mono_us() - t0);
  LOG_DEBUG("api", "%s %s -> %d", http->method, http->path, http->status);
}
