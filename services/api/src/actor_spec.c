/* What a client may say about an actor: reading a registration (POST
 * /actors) or a full update (PUT /actors/{id}) body into the record that is
 * stored, with every check of API.md §3 "Actors". A PUT is a full
 * description: a field it leaves out takes its default, except `name` and
 * `stateless`, which keep their values (a PUT need not repeat them), and
 * the server's fields (id, owner, create_time, state, ...), which a client
 * never sets. The revision moves when the image changes or `force` is true;
 * the caller then replaces the workers. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/json.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "api.h"

/* Most links followed when looking for a cycle; a longer chain is refused
 * as if it were one, since it cannot be checked. */
#define LINK_DEPTH_MAX 32

/* Hints are free text but may not carry quoting or structure characters.
 * A form sends a list as JSON text or as "a,b". */
static int read_hints(api_req_t *r, json_t *body, json_t **out) {
  json_t *v = json_object_get(body, "hints");
  json_t *list = NULL;
  *out = NULL;
  if (v == NULL || json_is_null(v)) {
    *out = json_array();
    return *out ? 0 : ACTOR_ENOMEM;
  }
  if (json_is_array(v)) {
    list = json_incref(v);
  } else if (json_is_string(v)) {
    const char *s = json_string_value(v);
    list = json_loads(s, JSON_DECODE_ANY, NULL);
    if (!json_is_array(list)) {
      json_decref(list);
      list = json_array();
      char *copy = strdup(s), *save = NULL;
      for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && list;
           t = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*t))
          t++;
        size_t len = strlen(t);
        while (len > 0 && isspace((unsigned char)t[len - 1]))
          t[--len] = '\0';
        if (len > 0)
          json_array_append_new(list, json_string(t));
      }
      free(copy);
    }
  }
  if (list == NULL) {
    api_error(r, 400, "Invalid hints: hints must be a list of strings.");
    return -1;
  }
  if (api_check_limit(r, API_LIM_HINTS, json_array_size(list)) != 0) {
    json_decref(list);
    return -1;
  }
  size_t i;
  json_t *h;
  json_array_foreach(list, i, h) {
    if (json_is_number(h))
      continue;
    const char *s = json_string_value(h);
    const char *bad = s ? strpbrk(s, "\"'{}[]") : NULL;
    if (api_check_text(r, API_LIM_HINT, s) != 0) {
      json_decref(list);
      return -1;
    }
    if (s == NULL || bad) {
      json_decref(list);
      if (bad)
        api_error(r, 400,
                  "Invalid hints: hints must be simple strings or numbers, without "
                  "the characters \" ' { } [ ]. Error character: %c",
                  *bad);
      else
        api_error(r, 400,
                  "Invalid hints: hints must be simple strings or numbers, not "
                  "lists or dicts.");
      return -1;
    }
  }
  *out = list;
  return 0;
}

static bool queue_allowed(const char *host_queues, const char *queue) {
  char *copy = strdup(host_queues ? host_queues : "default"), *save = NULL;
  bool found = false;
  for (char *t = copy ? strtok_r(copy, ", ", &save) : NULL; t && !found;
       t = strtok_r(NULL, ", ", &save))
    found = strcmp(t, queue) == 0;
  free(copy);
  return found;
}

/* "512m", "2g", "1.5G", "1024", "2gb": what the worker's size parser takes. */
static bool mem_limit_ok(const char *s) {
  char *end = NULL;
  if (s == NULL || !isdigit((unsigned char)*s))
    return false;
  double v = strtod(s, &end);
  if (end == s || v <= 0)
    return false;
  if (*end && strchr("kKmMgG", *end))
    end++;
  if (*end == 'b' || *end == 'B')
    end++;
  return *end == '\0';
}

/* mem_limit: a size string, or a JSON integer of bytes; stored as text. */
static int read_mem_limit(api_req_t *r, json_t *body, json_t **out) {
  json_t *v = json_object_get(body, "mem_limit");
  *out = json_null();
  if (v == NULL || json_is_null(v))
    return 0;
  char num[32];
  const char *s = json_string_value(v);
  if (api_check_text(r, API_LIM_MEM_LIMIT, s) != 0)
    return -1;
  if (json_is_integer(v)) {
    snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
    s = num;
  }
  if (!mem_limit_ok(s)) {
    api_error(r, 400,
              "Invalid mem_limit: the value must be a memory size such as \"512m\" "
              "or \"2g\".");
    return -1;
  }
  *out = json_string(s);
  return 0;
}

/* A link must name an actor the caller may EXECUTE; on an update it must
 * not lead back to the actor itself. */
static int check_link(api_req_t *r, const char *link, const char *self_db_id) {
  json_t *target = NULL;
  int rc = api_lookup_actor(r, link, &target);
  if (rc == 0 && !api_has_level(r, target, API_EXECUTE))
    rc = ACTOR_ENOTFOUND;
  if (rc == ACTOR_ENOTFOUND) {
    json_decref(target);
    api_error(r, 400,
              "Invalid link parameter; unable to retrieve linked actor data. The link "
              "must be a valid actor id or alias for which you have EXECUTE "
              "permission.");
    return -1;
  }
  if (rc != 0) {
    api_store_error(r, rc, "actor");
    return -1;
  }
  bool cycle = false;
  json_t *cur = target;
  for (int depth = 0; self_db_id && cur && !cycle; depth++) {
    const char *cur_db = actor_json_str(cur, "db_id", "");
    const char *next = actor_json_str(cur, "link", "");
    if (strcmp(cur_db, self_db_id) == 0 || depth == LINK_DEPTH_MAX) {
      cycle = true;
      break;
    }
    json_t *nxt = NULL;
    rc = *next ? api_lookup_actor(r, next, &nxt) : ACTOR_ENOTFOUND;
    json_decref(cur);
    cur = rc == 0 ? nxt : NULL;
  }
  json_decref(cur);
  if (cycle) {
    api_error(r, 400, "Invalid link: this update would result in a cycle of linked actors.");
    return -1;
  }
  return 0;
}

/* The image: required, and a Docker image reference (bounds.h). */
static int read_image(api_req_t *r, json_t *body, const char **image) {
  char why[256];
  if (api_field_text(r, body, API_LIM_IMAGE, image))
    return -1;
  if (*image == NULL || **image == '\0') {
    api_error(r, 400, "image is required: the Docker image of the actor.");
    return -1;
  }
  if (api_image_ref_check(*image, why, sizeof(why)) != 0) {
    api_error(r, 400, "Invalid image: %s", why);
    return -1;
  }
  return 0;
}

/* The client fields of an actor, as read from a body. Texts are borrowed
 * from the body (or the existing record); the JSON values are owned. */
typedef struct {
  const char *image, *name, *desc, *link, *webhook, *queue, *cron;
  bool stateless, privileged, use_uid, token, cron_on;
  long long max_workers, max_cpus, log_ex;
  bool has_mw, has_cpus, has_log_ex;
  char next[API_CRON_NEXT_MAX]; /* cron_next_ex, "" for none */
  json_t *env, *hints, *mounts, *mem;
} fields_t;

/* The steps below run in this order, each 0 or -1 after a 400: the first
 * bad field is the one a client is told about. */

/* Every text is bounded (bounds.c) before it is looked up or parsed. */
static int read_texts(api_req_t *r, json_t *body, fields_t *f) {
  if (read_image(r, body, &f->image) || api_field_text(r, body, API_LIM_NAME, &f->name) ||
      api_field_text(r, body, API_LIM_DESCRIPTION, &f->desc) ||
      api_field_text(r, body, API_LIM_LINK, &f->link) ||
      api_field_text(r, body, API_LIM_WEBHOOK, &f->webhook) ||
      api_field_string(r, body, "queue", &f->queue) ||
      api_field_text(r, body, API_LIM_CRON_SCHEDULE, &f->cron))
    return -1;
  return 0;
}

static int read_flags(api_req_t *r, json_t *body, const json_t *existing, fields_t *f) {
  bool was_stateless = actor_json_bool(existing, "stateless", true);
  if (api_field_bool(r, body, "stateless", was_stateless, &f->stateless) ||
      api_field_bool(r, body, "privileged", false, &f->privileged) ||
      api_field_bool(r, body, "use_container_uid", false, &f->use_uid) ||
      api_field_bool(r, body, "token", api_default_token(r->ctx, r->ident.tenant), &f->token) ||
      api_field_bool(r, body, "cron_on", f->cron != NULL, &f->cron_on))
    return -1;
  if (existing && !was_stateless && f->stateless) {
    api_error(r, 400, "Invalid stateless: a stateful actor cannot be made stateless.");
    return -1;
  }
  return 0;
}

static int read_numbers(api_req_t *r, json_t *body, fields_t *f) {
  if (api_field_int(r, body, "max_workers", 1, &f->has_mw, &f->max_workers) ||
      api_field_int(r, body, "max_cpus", 1, &f->has_cpus, &f->max_cpus) ||
      api_field_int(r, body, "log_ex", 1, &f->has_log_ex, &f->log_ex))
    return -1;
  if (!f->stateless && f->has_mw && f->max_workers > 1) {
    api_error(r, 400, "stateful actors can only have 1 worker.");
    return -1;
  }
  long log_ex_limit = api_log_ex_limit(r->ctx, r->ident.tenant);
  if (f->has_log_ex && f->log_ex > log_ex_limit) {
    api_error(r, 400,
              "Invalid log_ex: the value must be a positive integer of at most %ld "
              "(seconds).",
              log_ex_limit);
    return -1;
  }
  return 0;
}

/* The queue (default "default") this host's api takes, and the link. */
static int check_queue_and_link(api_req_t *r, const json_t *existing, fields_t *f) {
  if (f->queue == NULL || *f->queue == '\0')
    f->queue = "default";
  if (!queue_allowed(r->ctx->host_queues, f->queue)) {
    api_error(r, 400, "Invalid queue name.");
    return -1;
  }
  const char *self_db_id = existing ? actor_json_str(existing, "db_id", NULL) : NULL;
  if (f->link && *f->link && check_link(r, f->link, self_db_id) != 0)
    return -1;
  return 0;
}

/* cron_next_ex: kept while the schedule is the same, else computed. */
static int next_cron(api_req_t *r, const json_t *existing, fields_t *f) {
  const char *cron = f->cron;
  if (cron && existing && strcmp(cron, actor_json_str(existing, "cron_schedule", "")) == 0) {
    snprintf(f->next, sizeof(f->next), "%s", actor_json_str(existing, "cron_next_ex", ""));
  } else if (cron) {
    char err[API_CRON_ERR_MAX];
    if (api_cron_parse(cron, api_cron_now_ms(r->ctx), f->next, err, sizeof(err)) != 0) {
      api_error(r, 400, "%s", err);
      return -1;
    }
  }
  return 0;
}

/* Fields only privileged callers may set (API.md §2 roles). */
static int check_privileged(api_req_t *r, json_t *body, const fields_t *f) {
  if ((f->privileged && api_require_privileged(r, "privileged")) ||
      (f->has_mw && api_require_privileged(r, "max_workers")) ||
      (f->has_cpus && api_require_privileged(r, "max_cpus")) ||
      (json_object_get(body, "mem_limit") && api_require_privileged(r, "mem_limit")) ||
      (strcmp(f->queue, "default") != 0 && api_require_privileged(r, "queue")))
    return -1;
  return 0;
}

/* The JSON-valued fields; nothing is kept after a failure. */
static int read_objects(api_req_t *r, json_t *body, fields_t *f) {
  if (api_field_object(r, body, "default_environment", &f->env) ||
      api_check_json(r, API_LIM_DEFAULT_ENV, f->env) || read_hints(r, body, &f->hints) ||
      api_field_list(r, body, "mounts", &f->mounts) ||
      api_check_json(r, API_LIM_MOUNTS, f->mounts) || read_mem_limit(r, body, &f->mem)) {
    json_decref(f->env);
    json_decref(f->hints);
    json_decref(f->mounts);
    return -1;
  }
  return 0;
}

/* Into the record; takes the JSON values. */
static void write_fields(json_t *a, fields_t *f) {
  json_object_set_new(a, "image", json_string(f->image));
  json_object_set_new(a, "name", f->name ? json_string(f->name) : json_null());
  json_object_set_new(a, "description", json_string(f->desc ? f->desc : ""));
  json_object_set_new(a, "stateless", json_boolean(f->stateless));
  json_object_set_new(a, "privileged", json_boolean(f->privileged));
  json_object_set_new(a, "use_container_uid", json_boolean(f->use_uid));
  json_object_set_new(a, "token", json_boolean(f->token));
  json_object_set_new(a, "default_environment", f->env ? f->env : json_object());
  json_object_set_new(a, "hints", f->hints);
  json_object_set_new(a, "link", json_string(f->link ? f->link : ""));
  json_object_set_new(a, "webhook", json_string(f->webhook ? f->webhook : ""));
  json_object_set_new(a, "max_workers", f->has_mw ? json_integer(f->max_workers) : json_null());
  json_object_set_new(a, "mem_limit", f->mem);
  json_object_set_new(a, "max_cpus", f->has_cpus ? json_integer(f->max_cpus) : json_null());
  json_object_set_new(a, "queue", json_string(f->queue));
  json_object_set_new(a, "log_ex", f->has_log_ex ? json_integer(f->log_ex) : json_null());
  json_object_set_new(a, "cron_schedule", f->cron ? json_string(f->cron) : json_null());
  json_object_set_new(a, "cron_on", json_boolean(f->cron_on));
  json_object_set_new(a, "cron_next_ex", *f->next ? json_string(f->next) : json_null());
  json_object_set_new(a, "mounts", f->mounts ? f->mounts : json_array());
}

/* Reads every client field of the body into `a`; 0 or -1 after a 400. */
static int read_fields(api_req_t *r, json_t *body, const json_t *existing, json_t *a) {
  fields_t f;
  memset(&f, 0, sizeof(f));
  if (read_texts(r, body, &f) || read_flags(r, body, existing, &f) ||
      read_numbers(r, body, &f) || check_queue_and_link(r, existing, &f) ||
      next_cron(r, existing, &f) || check_privileged(r, body, &f) || read_objects(r, body, &f))
    return -1;
  if (f.name == NULL && existing)
    f.name = actor_json_str(existing, "name", NULL);
  write_fields(a, &f);
  return 0;
}

/* Server fields of a new actor. */
static json_t *new_actor(api_req_t *r) {
  char id[ACTOR_ID_MAX], db_id[MODEL_KEY_MAX], now[ACTOR_TIME_MAX];
  if (actor_id_new(id) != 0)
    return NULL;
  model_db_id(r->ident.tenant, id, db_id);
  actor_time_format(actor_time_now_ms(), now);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{}, s:s, s:s, s:I, s:s, s:n, s:n, "
                   "s:n}",
                   "id", id, "db_id", db_id, "tenant", r->ident.tenant, "api_server", r->api_server,
                   "owner", r->ident.username, "status", ACTOR_SUBMITTED, "status_message", "",
                   "state", "create_time", now, "last_update_time", now, "revision", (json_int_t)1,
                   "type", "none", "gid", "uid", "tasdir");
}

/* Server fields of an updated actor: kept, but for the update time and,
 * when the image changes or is forced, the revision and status. */
static json_t *updated_actor(api_req_t *r, const json_t *existing, bool bump) {
  json_t *a = json_deep_copy(existing);
  if (a == NULL)
    return NULL;
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  json_object_set_new(a, "last_update_time", json_string(now));
  json_object_set_new(a, "api_server", json_string(r->api_server));
  if (bump) {
    json_int_t rev = json_integer_value(json_object_get(existing, "revision"));
    json_object_set_new(a, "revision", json_integer(rev > 0 ? rev + 1 : 2));
    json_object_set_new(a, "status", json_string(ACTOR_SUBMITTED));
    json_object_set_new(a, "status_message", json_string(""));
  }
  return a;
}

json_t *api_actor_from_body(api_req_t *r, json_t *body, const json_t *existing, bool *bump) {
  bool force = false, moved = false;
  if (existing) {
    if (api_field_bool(r, body, "force", false, &force))
      return NULL;
    const char *image = json_string_value(json_object_get(body, "image"));
    moved = force || (image && strcmp(image, actor_json_str(existing, "image", "")) != 0);
  }
  json_t *a = existing ? updated_actor(r, existing, moved) : new_actor(r);
  if (a == NULL) {
    api_error(r, 500, "Could not build the actor record (out of memory or no id).");
    return NULL;
  }
  if (read_fields(r, body, existing, a) != 0) {
    json_decref(a);
    return NULL;
  }
  if (bump)
    *bump = moved;
  return a;
}
