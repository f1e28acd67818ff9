/* Orphan queues: the platform's queues (channels/proto/name.h) whose
 * actor or worker no longer has a record -- left by a crash between the
 * record's removal and the queue's, by a message published to a worker that
 * had just gone (a publish declares its queue), or by anything else that
 * died half-way. AMQP cannot list queues, so they are listed with
 * RabbitMQ's management API ([rabbit] management_url; the plugin is enabled
 * by scripts/up.sh) and deleted through it with if-unused=true, so a queue
 * that has gained a consumer since the listing stays.
 *
 * Queues are the broker's, shared by every host, so one health agent at a
 * time sweeps them: the pass runs under a Redis lock (SET NX PX, released
 * by its owner at the end; its expiry only bounds a pass whose agent died).
 * Agents that do not get the lock skip the sweep for that tick. Every agent
 * keeps its own memory of the orphans it saw at its previous pass, and
 * deletes only a queue it has seen orphaned twice in a row (judge.c), so
 * agents taking turns never shorten that grace.
 *
 * Which actors exist is read after the listing, so an actor created before
 * the listing is always seen; a mailbox is checked once more, by its
 * actor's record, right before it is deleted. Which workers exist comes
 * from the tick's read of every worker record (tick.c), which must have
 * been complete. A management API that does not answer is warned about
 * once and retried every tick. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "health.h"

#define LOCK_KEY "abaco:health:queue_sweep"
#define LOCK_MS 60000
#define HTTP_TIMEOUT_MS 5000
#define HTTP_CONNECT_TIMEOUT_MS 2000
#define BODY_MAX ((size_t)64 * 1024 * 1024)
/* More orphans than this in one pass wait for the next. */
#define DELETE_MAX 200

/* ---- configuration ---- */

/* user, password and vhost of an amqp:// URI, decoded (malloc'd). A URI
 * without a path means the vhost "/", as rabbitmq-c reads it. */
static int amqp_parts(const char *uri, char **user, char **password, char **vhost) {
  *user = *password = *vhost = NULL;
  CURLU *u = curl_url();
  if (u == NULL)
    return ACTOR_ENOMEM;
  int rc = ACTOR_ECONFIG;
  char *path = NULL;
  if (curl_url_set(u, CURLUPART_URL, uri, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
    goto cleanup;
  /* No user or password in the URI: they stay NULL. */
  if (curl_url_get(u, CURLUPART_USER, user, CURLU_URLDECODE) != CURLUE_OK)
    *user = NULL;
  if (curl_url_get(u, CURLUPART_PASSWORD, password, CURLU_URLDECODE) != CURLUE_OK)
    *password = NULL;
  if (curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK)
    path = NULL;
  *vhost = strdup(path && path[0] == '/' && path[1] ? path + 1 : "/");
  rc = *vhost ? 0 : ACTOR_ENOMEM;

cleanup:
  curl_free(path);
  curl_url_cleanup(u);
  return rc;
}

int health_queues_config(health_t *h, const actor_config_t *cfg, const char *amqp_uri) {
  const char *url = actor_config_get(cfg, "rabbit", "management_url", "http://127.0.0.1:15672");
  if (url[0] == '\0')
    return 0; /* no sweep */
  if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
    LOG_ERROR("health", "[rabbit] management_url: '%s' is not an http(s):// URL", url);
    return ACTOR_ECONFIG;
  }
  char *user = NULL, *password = NULL, *vhost = NULL;
  int rc = amqp_parts(amqp_uri, &user, &password, &vhost);
  if (rc == ACTOR_ECONFIG)
    LOG_ERROR("health", "[rabbit] uri: cannot read it as a URL");
  if (rc != 0)
    goto cleanup;
  const char *cuser = actor_config_get(cfg, "rabbit", "management_user", "");
  const char *cpass = actor_config_get(cfg, "rabbit", "management_password", "");
  size_t ulen = strlen(url);
  while (ulen > 0 && url[ulen - 1] == '/')
    ulen--;
  h->mgmt_url = strndup(url, ulen);
  h->mgmt_user = strdup(cuser[0] ? cuser : user && user[0] ? user : "guest");
  h->mgmt_password = strdup(cuser[0]          ? cpass
                            : user && user[0] ? (password ? password : "")
                                              : "guest");
  h->vhost = strdup(vhost);
  char host[64] = "";
  if (gethostname(host, sizeof(host) - 1) != 0)
    snprintf(host, sizeof(host), "?");
  snprintf(h->lock_owner, sizeof(h->lock_owner), "%s/%s/%ld", h->host_id, host, (long)getpid());
  rc = h->mgmt_url && h->mgmt_user && h->mgmt_password && h->vhost ? 0 : ACTOR_ENOMEM;

cleanup:
  curl_free(user);
  curl_free(password);
  free(vhost);
  return rc;
}

void health_queues_free(health_t *h) {
  if (h->curl)
    curl_easy_cleanup(h->curl);
  h->curl = NULL;
  free(h->mgmt_url);
  free(h->mgmt_user);
  free(h->mgmt_password);
  free(h->vhost);
  h->mgmt_url = h->mgmt_user = h->mgmt_password = h->vhost = NULL;
  json_decref(h->queue_suspects);
  h->queue_suspects = NULL;
}

/* ---- the management API ---- */

typedef struct {
  char *data;
  size_t len, cap;
  bool too_big;
} body_t;

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  body_t *b = ud;
  size_t add = size * n;
  if (b->len + add + 1 > BODY_MAX) {
    b->too_big = true;
    return 0;
  }
  char *d = actor_grow(b->data, &b->cap, b->len + add + 1, 1, 16384);
  if (d == NULL)
    return 0;
  b->data = d;
  memcpy(b->data + b->len, p, add);
  b->len += add;
  b->data[b->len] = '\0';
  return add;
}

/* One request; *status gets the HTTP status. 0, or ACTOR_ECONN with err
 * set (no answer), ACTOR_ETOOBIG, ACTOR_ENOMEM. */
static int mgmt_request(health_t *h, const char *method, const char *url, body_t *body,
                        long *status, char *err, size_t errlen) {
  if (h->curl == NULL && (h->curl = curl_easy_init()) == NULL)
    return ACTOR_ENOMEM;
  CURL *c = h->curl;
  char cerr[CURL_ERROR_SIZE] = "";
  curl_easy_reset(c); /* keeps the connection for the next request */
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
  curl_easy_setopt(c, CURLOPT_USERNAME, h->mgmt_user);
  curl_easy_setopt(c, CURLOPT_PASSWORD, h->mgmt_password);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)HTTP_TIMEOUT_MS);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)HTTP_CONNECT_TIMEOUT_MS);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
  CURLcode cc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
  if (body->too_big)
    return ACTOR_ETOOBIG;
  if (cc != CURLE_OK) {
    snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(cc));
    return cc == CURLE_WRITE_ERROR ? ACTOR_ENOMEM : ACTOR_ECONN;
  }
  *status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  return 0;
}

/* The vhost's queues as {name: consumers or -1}; NULL when the API did not
 * answer usefully (warned once until it does again). */
static json_t *list_queues(health_t *h) {
  char err[CURL_ERROR_SIZE + 64] = "", url[2048];
  char *vh = curl_easy_escape(NULL, h->vhost, 0);
  if (vh == NULL)
    return NULL;
  snprintf(url, sizeof(url), "%s/api/queues/%s?columns=name,consumers", h->mgmt_url, vh);
  curl_free(vh);
  body_t body = {0};
  long status = 0;
  json_t *queues = NULL;
  int rc = mgmt_request(h, "GET", url, &body, &status, err, sizeof(err));
  if (rc == 0 && status != 200) {
    snprintf(err, sizeof(err), "HTTP %ld", status);
    rc = ACTOR_EPROTO;
  }
  if (rc == 0 && health_queue_list_parse(body.data, body.len, &queues) != 0) {
    snprintf(err, sizeof(err), "the queue listing is not a JSON array");
    rc = ACTOR_EPARSE;
  }
  free(body.data);
  if (rc != 0) {
    if (!h->mgmt_down)
      LOG_WARN("health",
               "RabbitMQ management API at %s unusable (%s): orphan queues are not swept until "
               "it answers (rabbitmq_management plugin, [rabbit] management_url)",
               h->mgmt_url, err[0] ? err : actor_strerror(rc));
    h->mgmt_down = true;
    return NULL;
  }
  if (h->mgmt_down)
    LOG_INFO("health", "RabbitMQ management API at %s answers again", h->mgmt_url);
  h->mgmt_down = false;
  return queues;
}

/* 0 deleted (or already gone), 1 refused because it has consumers, else
 * an error (logged). */
static int delete_queue(health_t *h, const char *name) {
  char err[CURL_ERROR_SIZE + 64] = "", url[2048];
  char *vh = curl_easy_escape(NULL, h->vhost, 0);
  char *q = curl_easy_escape(NULL, name, 0);
  if (vh && q)
    snprintf(url, sizeof(url), "%s/api/queues/%s/%s?if-unused=true", h->mgmt_url, vh, q);
  curl_free(vh);
  curl_free(q);
  if (vh == NULL || q == NULL)
    return ACTOR_ENOMEM;
  body_t body = {0};
  long status = 0;
  int rc = mgmt_request(h, "DELETE", url, &body, &status, err, sizeof(err));
  bool in_use = body.data && strstr(body.data, "in use");
  free(body.data);
  if (rc == 0 && (status == 204 || status == 200 || status == 404))
    return 0;
  if (rc == 0 && status == 400 && in_use)
    return 1;
  LOG_WARN("health", "orphan queue %s: cannot delete it (%s): next sweep", name,
           rc ? (err[0] ? err : actor_strerror(rc)) : "unexpected HTTP status");
  return rc ? rc : ACTOR_EPROTO;
}

/* ---- the lock ---- */

static bool lock_take(health_t *h) {
  bool mine = false;
  return store_lease_take(h->redis, LOCK_KEY, h->lock_owner, LOCK_MS, &mine) == 0 && mine;
}

/* Only its owner deletes it: a pass that outlived the expiry must not
 * release the next owner's lock. */
static void lock_release(health_t *h) {
  if (store_lease_end(h->redis, LOCK_KEY, h->lock_owner, 0) != 0)
    LOG_DEBUG("health", "queue sweep lock: could not release it; it expires by itself");
}

/* ---- the sweep ---- */

/* Every actor db_id, as a set; NULL when Redis cannot be read. */
static json_t *read_actors(health_t *h) {
  json_t *ids = NULL;
  json_t *set = model_actor_all_ids(h->redis, &ids) == 0 ? json_object() : NULL;
  for (size_t i = 0; set && i < json_array_size(ids); i++)
    json_object_set_new(set, json_string_value(json_array_get(ids, i)), json_true());
  json_decref(ids);
  return set;
}

/* 1 when the actor's record exists now, 0 when not, < 0 unknown. */
static int actor_exists(health_t *h, const char *db_id) {
  bool exists = false;
  int rc = model_actor_exists(h->redis, db_id, &exists);
  return rc != 0 ? rc : exists;
}

static void sweep(health_tick_t *t, const json_t *queues, const json_t *actors,
                  const json_t *known) {
  health_t *h = t->h;
  json_t *suspects = json_object();
  if (suspects == NULL)
    return;
  unsigned deleted = 0, tried = 0;
  const char *name;
  json_t *v;
  json_object_foreach((json_t *)queues, name, v) {
    if (h->stopping)
      break;
    chan_qname_t q;
    if (!health_queue_judged(chan_name_parse(name, &q)))
      continue;
    const char *owner = q.id;
    bool of_actor = health_queue_of_actor(q.kind);
    bool exists = json_object_get(of_actor ? actors : known, owner) != NULL;
    bool was = h->queue_suspects && json_object_get(h->queue_suspects, name);
    health_qverdict_t verdict =
        health_queue_judge(q.kind, exists, (long)json_integer_value(v), was);
    if (verdict == HEALTH_QUEUE_KEEP)
      continue;
    if (verdict == HEALTH_QUEUE_SUSPECT || tried >= DELETE_MAX) {
      LOG_DEBUG("health", "queue %s: its %s %s has no record: deleted if still so next sweep", name,
                of_actor ? "actor" : "worker", owner);
      json_object_set_new(suspects, name, json_true());
      continue;
    }
    if (of_actor && actor_exists(h, owner) != 0)
      continue; /* created meanwhile, or Redis cannot tell: never a live actor's */
    tried++;
    int rc = delete_queue(h, name);
    if (rc == 0) {
      deleted++;
      LOG_WARN("health", "removed orphan queue %s (%s %s has no record)", name,
               of_actor ? "actor" : "worker", owner);
    } else {
      if (rc == 1)
        LOG_INFO("health", "orphan queue %s has consumers: left to them", name);
      json_object_set_new(suspects, name, json_true());
    }
  }
  json_decref(h->queue_suspects);
  h->queue_suspects = suspects;
  LOG_DEBUG("health", "queue sweep: %zu queues, %u orphans removed, %zu suspect",
            json_object_size(queues), deleted, json_object_size(suspects));
}

void health_orphan_queues(health_tick_t *t) {
  health_t *h = t->h;
  if (h->mgmt_url == NULL || !t->complete)
    return;
  if (!lock_take(h))
    return; /* another agent is sweeping (or Redis is down) */
  json_t *queues = list_queues(h);
  json_t *actors = queues ? read_actors(h) : NULL;
  const json_t *known = actors ? health_known(t) : NULL;
  if (known)
    sweep(t, queues, actors, known);
  json_decref(actors);
  json_decref(queues);
  lock_release(h);
}
