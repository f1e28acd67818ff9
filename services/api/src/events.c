/* Platform events -> links and webhooks (docs/api.md "Events, links, webhooks, cron"). The api consumes the
 * durable `events` queue on its own loop-driven connection (prefetch
 * API_EVENTS_PREFETCH); everything that blocks runs on the thread pool.
 *
 * Design note. Each delivery becomes a job with up to two targets, the
 * actor's `link` (the event becomes a JSON message to the linked actor,
 * executor "Abaco Event", through api_message_submit) and its `webhook`
 * (an HTTP POST of the event, libcurl, 5 s timeout, 2xx = delivered).
 * A job makes at most API_EVENTS_ATTEMPTS tries; between tries it waits
 * on a loop timer (0.5 s, then 2 s), so a failing target holds no pool
 * thread while it backs off. A target that still fails after the last try
 * (or a link naming no actor, which no retry can fix) is dead-lettered:
 * {event, kind, target, error, attempts, time} is pushed onto the Redis
 * list abaco:events:dead_letter:<TENANT> of the event's tenant, capped at
 * API_EVENTS_DEAD_MAX entries (newest first): one list per tenant, so a
 * tenant's listing reads only its own, and one tenant's failures never
 * push another's out. Redis rather than a queue because the admin route
 * GET /actors/admin/events/dead-letter must list them without consuming
 * them, which AMQP cannot do. The delivery is acked only once every
 * target is delivered or dead-lettered; if even the dead-letter write
 * fails, the job keeps trying every few seconds and stays unacked. A
 * target already delivered is not tried again within the job; an api
 * restart in between may deliver it twice (at-least-once).
 *
 * Whose link and webhook: an actor event's (ACTOR_*, EXECUTION_COMPLETE)
 * are its actor's, read by actor_dbid; an actor deleted since has nobody
 * to tell and the event is acked. An instance event's (event_type
 * INSTANCE_*, docs/cloud.md "Channels") are its instance record's `link` and
 * `webhook` (cloud_instance_get by tenant_id and instance_id), which the
 * api fills at POST /instances from the request or else from the software
 * configuration; a record with neither field (adopted, or older than
 * them) takes its configuration's at delivery. The link is an actor id or
 * alias of the event's tenant, and the message is the event JSON, as for
 * actors. An instance event naming no instance is not dropped: it is
 * dead-lettered at once (kind "instance", target the instance id,
 * attempts 0) so that a producer's mistake shows in the listing, and
 * acked, so it cannot loop. The same retries and dead letters then apply
 * to both kinds. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/cloud.h"
#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/notify.h"
#include "actor/store_kv.h"
#include "actor/timefmt.h"
#include "api.h"
#include "channels/proto/event.h"

#define API_EVENTS_PREFETCH 8
#define API_EVENTS_ATTEMPTS 3
#define API_EVENTS_DEAD_MAX 1000
#define API_EVENTS_DEAD_KEY "abaco:events:dead_letter:%s"
#define API_EVENTS_HOOK_TIMEOUT_MS 5000
/* Pause before try n+1 (n = tries made); the last one also paces the
 * retries of a dead-letter write that failed. */
static const unsigned BACKOFF_MS[] = {500, 2000, 5000};

typedef struct {
  const char *kind; /* "link", "webhook", or "instance" (an instance event naming none) */
  char *target;     /* actor id/alias, URL or instance id (malloc'd) */
  bool pending;     /* not yet delivered nor dead-lettered */
  char error[512];  /* why the last try failed */
  bool permanent;   /* no retry can fix it: dead-letter now */
} target_t;

typedef struct event_job_s {
  uv_work_t work;
  uv_timer_t timer;
  struct event_job_s *prev, *next; /* jobs alive, for stop */
  chan_tag_t tag;
  char *body;    /* the event (JSON text, malloc'd) */
  json_t *event; /* decoded on the pool */
  bool loaded;   /* the actor's or instance's targets are known */
  int attempts;  /* tries made */
  target_t targets[2];
  bool waiting; /* on the timer */
} event_job_t;

static struct {
  api_ctx_t *ctx;
  uv_loop_t *loop;
  chan_conn_t *conn;
  event_job_t *jobs;
  bool stopping;
} ev;

/* The event's subject, for the logs: its actor's or its instance's id. */
static const char *subject(const json_t *event) {
  const char *id = actor_json_str(event, "actor_id", "");
  return *id ? id : actor_json_str(event, "instance_id", "");
}

static bool is_instance_event(const json_t *event) {
  return strncmp(actor_json_str(event, "event_type", ""), CHAN_EVENT_INSTANCE_PREFIX,
                 strlen(CHAN_EVENT_INSTANCE_PREFIX)) == 0;
}

/* ---- webhook ---- */

/* notify_webhook_post (actor/notify.h): the POST, 2xx = delivered. */
static int post_hook(const char *url, const char *body, char *err, size_t errlen) {
  return notify_webhook_post(url, body, API_EVENTS_HOOK_TIMEOUT_MS, NULL, err, errlen);
}

/* ---- link ---- */

static int send_link(event_job_t *j, target_t *t) {
  api_req_t r;
  api_background_req(ev.ctx, "Abaco Event", &r);
  snprintf(r.ident.tenant, sizeof(r.ident.tenant), "%s", actor_json_str(j->event, "tenant_id", ""));
  json_t *target = NULL;
  int rc = api_lookup_actor(&r, t->target, &target);
  if (rc == ACTOR_ENOTFOUND) {
    snprintf(t->error, sizeof(t->error), "linked actor %s not found", t->target);
    t->permanent = true;
    return rc;
  }
  if (rc != 0) {
    snprintf(t->error, sizeof(t->error), "linked actor %s: %s", t->target, actor_strerror(rc));
    return rc;
  }
  api_message_t m = {.message = j->event,
                     .content_type = "application/json",
                     .executor = "Abaco Event",
                     .api_server = ""};
  char eid[ACTOR_ID_MAX];
  const char *what = NULL;
  rc = api_message_submit(&r, target, &m, eid, &what);
  if (rc != 0)
    snprintf(t->error, sizeof(t->error), "message to %s: %s: %s", t->target, what,
             actor_strerror(rc));
  else
    LOG_DEBUG("api", "event %s of %s -> execution %s of %s",
              actor_json_str(j->event, "event_type", ""), subject(j->event), eid, t->target);
  json_decref(target);
  return rc;
}

/* ---- dead letters ---- */

static int dead_letter(event_job_t *j, const target_t *t) {
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  json_t *d =
      json_pack("{s:O, s:s, s:s, s:s, s:i, s:s}", "event", j->event, "kind", t->kind, "target",
                t->target, "error", t->error, "attempts", j->attempts, "time", now);
  char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
  json_decref(d);
  if (text == NULL)
    return ACTOR_ENOMEM;
  char key[MODEL_KEY_MAX];
  snprintf(key, sizeof(key), API_EVENTS_DEAD_KEY, actor_json_str(j->event, "tenant_id", ""));
  int rc = store_list_push_capped(ev.ctx->redis, key, text, API_EVENTS_DEAD_MAX);
  if (rc == 0) {
    LOG_WARN("api", "event %s of %s: %s %s failed %d times (%s): dead-lettered",
             actor_json_str(j->event, "event_type", ""), subject(j->event), t->kind, t->target,
             j->attempts, t->error);
  }
  free(text);
  return rc;
}

/* ---- the job ---- */

/* The actor record of an actor event, or *owner = NULL when the actor is
 * gone (nobody to tell). */
static int load_actor(event_job_t *j, json_t **owner) {
  int rc = model_actor_get(ev.ctx->redis, actor_json_str(j->event, "actor_dbid", ""), owner);
  return rc == ACTOR_ENOTFOUND ? 0 : rc;
}

/* The record holding an instance event's link and webhook: the instance
 * record, or its configuration when the record has neither field. An
 * event naming no instance gets a permanent "instance" target instead
 * (*owner = NULL), dead-lettered by deliver. */
static int load_instance(event_job_t *j, json_t **owner) {
  const char *tenant = actor_json_str(j->event, "tenant_id", "");
  const char *id = actor_json_str(j->event, "instance_id", "");
  json_t *rec = NULL;
  int rc = cloud_instance_get(ev.ctx->redis, tenant, id, &rec);
  if (rc == ACTOR_ENOTFOUND || rc == ACTOR_EINVAL || rc == ACTOR_ETOOBIG) {
    target_t *t = &j->targets[0];
    t->kind = "instance";
    t->target = strdup(*id ? id : "(none)");
    t->pending = t->target != NULL;
    t->permanent = true;
    snprintf(t->error, sizeof(t->error), "instance %s of tenant %s %s", *id ? id : "(none)",
             tenant, rc == ACTOR_ENOTFOUND ? "not found" : "is not a valid name");
    return 0;
  }
  if (rc != 0)
    return rc;
  const char *config = actor_json_str(rec, "config", "");
  if (json_object_get(rec, "link") || json_object_get(rec, "webhook") || *config == '\0') {
    *owner = rec;
    return 0;
  }
  json_t *sw = NULL;
  rc = cloud_swconfig_get(ev.ctx->redis, tenant, config, &sw);
  if (rc == 0) {
    json_decref(rec);
    *owner = sw;
    return 0;
  }
  if (rc == ACTOR_ENOTFOUND || rc == ACTOR_EINVAL || rc == ACTOR_ETOOBIG) {
    *owner = rec; /* the configuration is gone: no targets */
    return 0;
  }
  json_decref(rec);
  return rc;
}

/* Reads the subject's link and webhook (until it succeeds once). */
static int load(event_job_t *j) {
  if (j->event == NULL && chan_json_decode(j->body, strlen(j->body), 0, &j->event) != 0) {
    LOG_ERROR("api", "dropping an unreadable event (%zu bytes)", strlen(j->body));
    return 0; /* nothing pending: acked */
  }
  if (!json_is_object(j->event)) {
    j->loaded = true;
    return 0;
  }
  json_t *owner = NULL;
  int rc = is_instance_event(j->event) ? load_instance(j, &owner) : load_actor(j, &owner);
  if (rc != 0)
    return rc;
  const char *link = actor_json_str(owner, "link", "");
  const char *hook = actor_json_str(owner, "webhook", "");
  if (owner && *link) {
    j->targets[0].kind = "link";
    j->targets[0].target = strdup(link);
    j->targets[0].pending = j->targets[0].target != NULL;
  }
  if (owner && *hook) {
    j->targets[1].kind = "webhook";
    j->targets[1].target = strdup(hook);
    j->targets[1].pending = j->targets[1].target != NULL;
  }
  json_decref(owner);
  j->loaded = true;
  return 0;
}

static void deliver(uv_work_t *w) {
  event_job_t *j = w->data;
  if (!j->loaded && (load(j) != 0 || !j->loaded))
    return; /* store down (try again later) or nothing to do */
  bool tried = false;
  for (int i = 0; i < 2; i++) {
    target_t *t = &j->targets[i];
    if (!t->pending || t->permanent || j->attempts >= API_EVENTS_ATTEMPTS)
      continue; /* a permanent one only awaits its dead letter */
    tried = true;
    int rc;
    if (strcmp(t->kind, "link") == 0) {
      rc = send_link(j, t);
    } else {
      char *text = json_dumps(j->event, JSON_COMPACT);
      rc = text ? post_hook(t->target, text, t->error, sizeof(t->error)) : ACTOR_ENOMEM;
      free(text);
      if (rc == ACTOR_EINVAL)
        t->permanent = true;
    }
    if (rc == 0)
      t->pending = false;
  }
  if (tried)
    j->attempts++;
  for (int i = 0; i < 2; i++) {
    target_t *t = &j->targets[i];
    if (t->pending && (t->permanent || j->attempts >= API_EVENTS_ATTEMPTS) &&
        dead_letter(j, t) == 0)
      t->pending = false;
  }
}

static void job_free(event_job_t *j) {
  if (j->prev)
    j->prev->next = j->next;
  else
    ev.jobs = j->next;
  if (j->next)
    j->next->prev = j->prev;
  for (int i = 0; i < 2; i++)
    free(j->targets[i].target);
  json_decref(j->event);
  free(j->body);
  free(j);
}

static void after_deliver(uv_work_t *w, int status);

static void on_timer_closed(uv_handle_t *h) {
  event_job_t *j = h->data;
  if (ev.stopping) {
    job_free(j); /* unacked: the broker requeues it */
    return;
  }
  if (uv_queue_work(ev.loop, &j->work, deliver, after_deliver) != 0)
    job_free(j);
}

static void on_timer(uv_timer_t *t) {
  event_job_t *j = t->data;
  j->waiting = false;
  uv_close((uv_handle_t *)&j->timer, on_timer_closed);
}

/* ack, nack and cancel results are dropped (ACTOR_IGNORE) throughout: they fail
 * only for a delivery of an earlier connection or after close, and the broker
 * has requeued such a delivery already (chan.h). */
static void after_deliver(uv_work_t *w, int status) {
  event_job_t *j = w->data;
  bool pending = j->targets[0].pending || j->targets[1].pending || (!j->loaded && j->event);
  if (status != 0 || ev.stopping) {
    job_free(j);
    return;
  }
  if (!pending) {
    ACTOR_IGNORE(chan_ack(ev.conn, j->tag));
    job_free(j);
    return;
  }
  int n = j->attempts > 0 ? j->attempts - 1 : 0;
  if (n > 2)
    n = 2;
  uv_timer_init(ev.loop, &j->timer);
  j->timer.data = j;
  j->waiting = true;
  uv_timer_start(&j->timer, on_timer, BACKOFF_MS[n], 0);
}

static void on_event(chan_conn_t *c, const chan_msg_t *msg, void *ud) {
  (void)ud;
  event_job_t *j = ev.stopping ? NULL : calloc(1, sizeof(*j));
  if (j)
    j->body = malloc(msg->len + 1);
  if (j == NULL || j->body == NULL) {
    free(j);
    ACTOR_IGNORE(chan_nack(c, msg->tag, 1));
    return;
  }
  memcpy(j->body, msg->body, msg->len);
  j->body[msg->len] = '\0';
  j->tag = msg->tag;
  j->work.data = j;
  j->next = ev.jobs;
  if (ev.jobs)
    ev.jobs->prev = j;
  ev.jobs = j;
  if (uv_queue_work(ev.loop, &j->work, deliver, after_deliver) != 0) {
    ACTOR_IGNORE(chan_nack(c, msg->tag, 1));
    job_free(j);
  }
}

int api_events_start(uv_loop_t *loop, api_ctx_t *c, const char *uri) {
  if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
    return ACTOR_ENOMEM;
  ev.ctx = c;
  ev.loop = loop;
  int rc = chan_conn_new(loop, uri, "api-events", &ev.conn);
  if (rc == 0)
    rc = chan_consume(ev.conn, CHAN_EVENTS, API_EVENTS_PREFETCH, on_event, NULL);
  return rc;
}

void api_events_stop(void) {
  ev.stopping = true;
  for (event_job_t *j = ev.jobs; j; j = j->next)
    if (j->waiting) {
      j->waiting = false;
      uv_timer_stop(&j->timer);
      uv_close((uv_handle_t *)&j->timer, on_timer_closed);
    }
  if (ev.conn)
    chan_conn_close(ev.conn, NULL, NULL);
  ev.conn = NULL;
}

/* GET /actors/admin/events/dead-letter: newest first, only the caller's
 * tenant (an admin's reach ends at its tenant, like every other route). */
void api_events_dead_letter(api_req_t *r) {
  if (api_require_admin(r) != 0)
    return;
  char key[MODEL_KEY_MAX];
  snprintf(key, sizeof(key), API_EVENTS_DEAD_KEY, r->ident.tenant);
  json_t *texts = NULL;
  int rc = store_list_range(r->ctx->redis, key, API_EVENTS_DEAD_MAX, &texts);
  if (rc != 0) {
    api_store_error(r, rc, "dead letters");
    return;
  }
  json_t *out = json_array();
  size_t i;
  json_t *t;
  json_array_foreach(texts, i, t) {
    json_t *d = NULL;
    if (out && chan_json_decode(json_string_value(t), json_string_length(t), 0, &d) == 0)
      json_array_append_new(out, d);
  }
  json_decref(texts);
  api_ok(r, "Dead-lettered events retrieved successfully.", out);
}
