/* /instances and /instances/{id} (docs/cloud.md "REST routes"): list,
 * launch, read, start/stop/restart/terminate, delete, audit.
 *
 * A launch is checked whole before anything is stored: the configuration
 * and instance type, the count, the group, and every {{{token}}} of the
 * user data rendered for each new instance (a token without a value is a
 * 400 naming it). Each instance then gets its record (state launching)
 * and a message on [cloud] launch_queue; the launcher does the rest.
 *
 * An action moves the record to its in-between state with a guarded
 * transition (cloud_instance_transition: "only if the state is still the
 * one the action needs"), so of two racing requests one wins and the other
 * gets the 409; then it publishes the command. A command that cannot be
 * published is undone (the record goes back) and the caller gets a 503. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/timefmt.h"
#include "cloud_api.h"

#define INSTANCE_NAME_MAX 64
#define AUDIT_LIMIT 200

/* ---- list ---- */

static bool filter_ok(api_req_t *r, const json_t *rec, const char *field) {
  const char *want = ahttp_kvs_get(&r->http->query, field, 0);
  return want == NULL || *want == '\0' || strcmp(actor_json_str(rec, field, ""), want) == 0;
}

void api_instances_list(api_req_t *r) {
  json_t *ids = NULL, *recs = NULL, *out = json_array();
  int rc = out ? cloud_instance_ids(r->ctx->redis, r->ident.tenant, &ids) : ACTOR_ENOMEM;
  if (rc == 0)
    rc = cloud_instances_get_many(r->ctx->redis, r->ident.tenant, ids, &recs);
  if (rc != 0) {
    json_decref(ids);
    json_decref(out);
    api_store_error(r, rc, "instance");
    return;
  }
  size_t i;
  json_t *rec;
  json_array_foreach(recs, i, rec) {
    if (!r->ident.admin && strcmp(actor_json_str(rec, "owner", ""), r->ident.username) != 0)
      continue;
    if (filter_ok(r, rec, "state") && filter_ok(r, rec, "owner") && filter_ok(r, rec, "config"))
      json_array_append_new(out, api_instance_display(r, rec));
  }
  json_decref(ids);
  json_decref(recs);
  api_ok(r, "Instances retrieved successfully.", out);
}

/* ---- launch ---- */

typedef struct {
  char id[ACTOR_ID_MAX];
  char token[65];
  json_t *rec;
} new_instance_t;

/* The launch request, checked. */
typedef struct {
  const char *config_name, *type, *name, *group_name;
  long long count;
  json_t *config; /* the software configuration */
  json_t *group;  /* the launch group, or NULL */
  json_t *targets; /* {link?, webhook?} of the request */
} launch_t;

/* Reads and checks the body into l; 0, or -1 after answering. */
static int launch_checked(api_req_t *r, json_t *body, launch_t *l) {
  const api_cloud_t *cl = r->ctx->cloud;
  bool has_count = false;
  if (api_field_string(r, body, "config", &l->config_name) != 0 ||
      api_field_string(r, body, "instance_type", &l->type) != 0 ||
      api_field_string(r, body, "name", &l->name) != 0 ||
      api_field_string(r, body, "group", &l->group_name) != 0 ||
      api_field_int(r, body, "count", -(1LL << 40), &has_count, &l->count) != 0)
    return -1;
  if (!has_count)
    l->count = 1;
  if ((l->targets = json_object()) == NULL) {
    api_error(r, 500, "out of memory");
    return -1;
  }
  if (api_cloud_targets(r, body, l->targets) != 0)
    return -1;
  if (l->config_name == NULL || *l->config_name == '\0') {
    api_error(r, 400, "config is required: the name of a software configuration.");
    return -1;
  }
  int rc = api_cloud_name_ok(l->config_name, 64)
               ? cloud_swconfig_get(r->ctx->redis, r->ident.tenant, l->config_name, &l->config)
               : ACTOR_ENOTFOUND;
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 400, "unknown configuration: %.64s", l->config_name);
    return -1;
  }
  if (rc != 0) {
    api_store_error(r, rc, "configuration");
    return -1;
  }
  if (l->type == NULL || *l->type == '\0') {
    api_error(r, 400, "instance_type is required: one of the types configuration %s allows.",
              l->config_name);
    return -1;
  }
  bool allowed = false;
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(l->config, "instance_types"), i, t) {
    allowed = allowed || (json_is_string(t) && strcmp(json_string_value(t), l->type) == 0);
  }
  if (!allowed) {
    api_error(r, 400, "instance type %.64s is not allowed by configuration %s", l->type,
              l->config_name);
    return -1;
  }
  if (api_price_of(cl, l->type) == NULL) {
    api_error(r, 400, "instance type %.64s is not in the pricing file", l->type);
    return -1;
  }
  if (l->count < 1 || l->count > cl->s.max_count) {
    api_error(r, 400, "count must be between 1 and %ld", cl->s.max_count);
    return -1;
  }
  if (l->name == NULL || *l->name == '\0')
    l->name = l->config_name;
  if (api_utf8_chars(l->name) > INSTANCE_NAME_MAX) {
    api_error(r, 400, "Invalid name: at most %d characters.", INSTANCE_NAME_MAX);
    return -1;
  }
  for (const unsigned char *p = (const unsigned char *)l->name; *p; p++)
    if (*p < 0x20 || *p == 0x7f) {
      api_error(r, 400, "Invalid name: control characters are not allowed.");
      return -1;
    }
  const char *named = l->group_name && *l->group_name ? l->group_name : NULL;
  if (named && !api_cloud_name_ok(named, 64)) {
    api_error(r, 400, "unknown group: %.64s", named);
    return -1;
  }
  rc = cloud_group_for(r->ctx->redis, r->ident.tenant, r->ident.username, named, &l->group);
  if (rc != 0 && rc != ACTOR_ENOTFOUND) {
    api_store_error(r, rc, "group");
    return -1;
  }
  if (named && l->group == NULL) {
    api_error(r, 400, "unknown group: %s", named);
    return -1;
  }
  if (named && !r->ident.admin) {
    json_t *members = json_object_get(l->group, "members");
    bool member = json_array_size(members) == 0;
    json_array_foreach(members, i, t) {
      member = member || strcmp(json_string_value(t) ? json_string_value(t) : "",
                                r->ident.username) == 0;
    }
    if (!member) {
      api_error(r, 400, "Not authorized -- %s is not a member of group %s.", r->ident.username,
                named);
      return -1;
    }
  }
  return 0;
}

/* The platform's tokens of one new instance (new reference). */
static json_t *platform_tokens(api_req_t *r, const launch_t *l, const new_instance_t *n) {
  const char *base = r->ctx->cloud->s.progress_url ? r->ctx->cloud->s.progress_url : "";
  size_t bl = strlen(base);
  while (bl > 0 && base[bl - 1] == '/')
    bl--;
  char url[512];
  snprintf(url, sizeof(url), "%.*s/instances/%s/progress", (int)bl, base, n->id);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "progress_url", url, "progress_token",
                   n->token, "instance_id", n->id, "instance_name", l->name, "owner",
                   r->ident.username, "tenant", r->ident.tenant, "config", l->config_name);
}

/* Renders the user data for each new instance: 0, or -1 after answering
 * (400 naming a token without a value). Nothing is kept: the launcher
 * renders it again from the same sources when it creates the stack. */
static int render_all(api_req_t *r, const launch_t *l, new_instance_t *ni) {
  json_t *params = NULL;
  int rc = cloud_params_get(r->ctx->redis, r->ident.tenant, &params);
  if (rc != 0) {
    api_store_error(r, rc, "params");
    return -1;
  }
  const char *text = actor_json_str(l->config, "user_data", "");
  int status = 0;
  for (long long i = 0; status == 0 && i < l->count; i++) {
    json_t *mine = platform_tokens(r, l, &ni[i]);
    const json_t *sources[] = {mine, params, r->ctx->cloud->config_tokens, NULL};
    char *out = NULL, missing[128] = "";
    rc = mine ? cloud_render_tokens(text, sources, &out, missing, sizeof(missing))
              : ACTOR_ENOMEM;
    size_t len = out ? strlen(out) : 0;
    free(out);
    json_decref(mine);
    if (rc == 0 && (len + 2) / 3 * 4 > CLOUD_USER_DATA_PARAM_MAX) {
      api_error(r, 400, "user data of configuration %s is %zu bytes after token replacement; "
                "the UserData parameter holds at most %d bytes of base64 (%d bytes of script).",
                l->config_name, len, CLOUD_USER_DATA_PARAM_MAX, CLOUD_USER_DATA_PARAM_MAX / 4 * 3);
      status = -1;
    } else if (rc == ACTOR_ENOTFOUND) {
      api_error(r, 400, "no value for token {{{%s}}}", missing);
      status = -1;
    } else if (rc != 0) {
      api_error(r, 400, "Invalid user_data of configuration %s: %s.", l->config_name,
                actor_strerror(rc));
      status = -1;
    }
  }
  json_decref(params);
  return status;
}

static json_t *new_record(api_req_t *r, const launch_t *l, const new_instance_t *n,
                          const char *now) {
  json_t *group_name = l->group ? json_object_get(l->group, "name") : NULL;
  json_t *rec = cloud_instance_new_record(
      r->ident.tenant, r->ident.username, l->name, l->config_name,
      json_is_string(group_name) ? json_string_value(group_name) : NULL, l->type,
      r->ctx->cloud->s.tag, n->id, n->token, now);
  if (rec && json_object_update(rec, l->targets) != 0) {
    json_decref(rec);
    rec = NULL;
  }
  return rec;
}

void api_instances_launch(api_req_t *r) {
  json_t *body = api_body_object(r), *out = NULL;
  launch_t l;
  memset(&l, 0, sizeof(l));
  new_instance_t *ni = NULL;
  long long queued = 0;
  if (body == NULL)
    return;
  if (launch_checked(r, body, &l) != 0)
    goto cleanup;
  ni = calloc((size_t)l.count, sizeof(*ni));
  out = json_array();
  if (ni == NULL || out == NULL) {
    api_error(r, 500, "out of memory");
    goto cleanup;
  }
  for (long long i = 0; i < l.count; i++)
    if (actor_id_new(ni[i].id) != 0 || actor_token_new(ni[i].token) != 0) {
      api_error(r, 500, "Could not make a new instance id or token.");
      goto cleanup;
    }
  if (render_all(r, &l, ni) != 0)
    goto cleanup;
  char now[ACTOR_TIME_MAX], request_id[ACTOR_ID_MAX];
  actor_time_now_text(now);
  if (actor_id_new(request_id) != 0) {
    api_error(r, 500, "Could not make a request id.");
    goto cleanup;
  }
  int rc = 0;
  const char *what = "instance";
  for (long long i = 0; i < l.count && rc == 0; i++) {
    ni[i].rec = new_record(r, &l, &ni[i], now);
    if (ni[i].rec == NULL) {
      rc = ACTOR_ENOMEM;
      break;
    }
    if ((rc = cloud_instance_create(r->ctx->redis, ni[i].rec)) != 0)
      break;
    json_t *msg = json_pack("{s:s, s:s, s:s, s:s}", "tenant", r->ident.tenant, "instance_id",
                            ni[i].id, "request_id", request_id, "who", r->ident.username);
    rc = msg ? api_cloud_publish(r->ctx, r->ctx->cloud->s.launch_queue, msg) : ACTOR_ENOMEM;
    json_decref(msg);
    if (rc != 0) {
      /* never queued: the record goes, nobody would ever launch it */
      what = "launch queue";
      ACTOR_IGNORE(cloud_instance_delete(r->ctx->redis, r->ident.tenant, ni[i].id));
      break;
    }
    queued++;
    api_cloud_audit(r, ni[i].rec, "launch", "ok", "launch requested", request_id);
    json_array_append_new(out, api_instance_display(r, ni[i].rec));
    LOG_INFO("api", "instance %s:%s (%s, %s) launch requested by %s", r->ident.tenant, ni[i].id,
             l.config_name, l.type, r->ident.username);
  }
  if (queued == 0) {
    api_store_error(r, rc, what);
    goto cleanup;
  }
  if (queued < l.count) {
    char msg[256];
    snprintf(msg, sizeof(msg), "%lld of %lld instances are being launched; the others could not "
                               "be queued (%s): try again.", queued, l.count, actor_strerror(rc));
    api_answer(r, 201, msg, out);
  } else {
    api_answer(r, 201, "Instances are being launched.", out);
  }
  out = NULL;

cleanup:
  for (long long i = 0; ni && i < l.count; i++)
    json_decref(ni[i].rec);
  free(ni);
  json_decref(out);
  json_decref(l.config);
  json_decref(l.group);
  json_decref(l.targets);
  json_decref(body);
}

/* ---- one instance ---- */

void api_instance_get(api_req_t *r) {
  json_t *rec = api_instance_load(r);
  if (rec == NULL)
    return;
  api_ok(r, "Instance retrieved successfully.", api_instance_display(r, rec));
  json_decref(rec);
}

void api_instance_audit(api_req_t *r) {
  json_t *rec = api_instance_load(r), *out = NULL;
  if (rec == NULL)
    return;
  int rc = cloud_audit_list(r->ctx->mongo, r->ident.tenant, actor_json_str(rec, "id", ""),
                            AUDIT_LIMIT, &out);
  if (rc != 0)
    api_store_error(r, rc, "audit");
  else
    api_ok(r, "Audit retrieved successfully.", out);
  json_decref(rec);
}

/* What an action needs and does. */
typedef struct {
  const char *action;
  const char *const *from; /* states it may start from */
  const char *needs;       /* the 409's words */
  const char *state;       /* the in-between state (NULL: unchanged) */
  const char *desired;
} action_t;

static const char *const FROM_STOPPED[] = {"stopped", NULL};
static const char *const FROM_RUNNING[] = {"running", NULL};
static const char *const FROM_LIVE[] = {"launching", "pending", "running", "stopping",
                                        "stopped",   "failed",  NULL};
static const action_t ACTIONS[] = {
    {"start", FROM_STOPPED, "start needs stopped", "pending", "running"},
    {"stop", FROM_RUNNING, "stop needs running", "stopping", "stopped"},
    {"restart", FROM_RUNNING, "restart needs running", NULL, "running"},
    {"terminate", FROM_LIVE, "terminate needs a state other than terminated or shutting-down",
     "shutting-down", "terminated"},
};

static bool in_list(const char *const *list, const char *s) {
  for (int i = 0; list[i]; i++)
    if (strcmp(list[i], s) == 0)
      return true;
  return false;
}

/* Moves rec to the action's in-between state (guarded), publishes the
 * command and audits it; extra fields (may be NULL) go into the same
 * transition. 0, or -1 after answering (409, 503). */
static int enact(api_req_t *r, const json_t *rec, const action_t *a, json_t *extra,
                 const char *audit_action) {
  const char *id = actor_json_str(rec, "id", "");
  const char *state = actor_json_str(rec, "state", "");
  char now[ACTOR_TIME_MAX], request_id[ACTOR_ID_MAX];
  actor_time_now_text(now);
  if (!in_list(a->from, state)) {
    api_error(r, 409, "instance %s is %s; %s", id, state, a->needs);
    return -1;
  }
  if (actor_id_new(request_id) != 0) {
    api_error(r, 500, "Could not make a request id.");
    return -1;
  }
  json_t *fields = json_pack("{s:s, s:s, s:s}", "desired_state", a->desired, "user_transition",
                             now, "updated", now);
  if (fields && a->state)
    json_object_set_new(fields, "state", json_string(a->state));
  if (fields && extra)
    json_object_update(fields, extra);
  int rc = fields ? cloud_instance_transition(r->ctx->redis, r->ident.tenant, id, a->from, fields)
                  : ACTOR_ENOMEM;
  json_decref(fields);
  if (rc == ACTOR_ESTATE || rc == ACTOR_ENOTFOUND) {
    json_t *now_rec = NULL;
    if (cloud_instance_get(r->ctx->redis, r->ident.tenant, id, &now_rec) == 0)
      api_error(r, 409, "instance %s is %s; %s", id, actor_json_str(now_rec, "state", "?"),
                a->needs);
    else
      api_error(r, 404, "Instance %s not found.", id);
    json_decref(now_rec);
    return -1;
  }
  if (rc != 0) {
    api_store_error(r, rc, "instance");
    return -1;
  }
  json_t *msg = json_pack("{s:s, s:s, s:s, s:s, s:s}", "tenant", r->ident.tenant, "instance_id",
                          id, "action", a->action, "request_id", request_id, "who",
                          r->ident.username);
  rc = msg ? api_cloud_publish(r->ctx, r->ctx->cloud->s.command_queue, msg) : ACTOR_ENOMEM;
  json_decref(msg);
  if (rc != 0) {
    /* Undo, unless someone moved the record meanwhile. */
    const char *moved[] = {a->state ? a->state : state, NULL};
    json_t *back = json_pack("{s:s, s:O, s:O}", "state", state, "desired_state",
                             json_object_get(rec, "desired_state")
                                 ? json_object_get(rec, "desired_state")
                                 : json_null(),
                             "deleting", json_object_get(rec, "deleting")
                                             ? json_object_get(rec, "deleting")
                                             : json_false());
    if (back == NULL ||
        cloud_instance_transition(r->ctx->redis, r->ident.tenant, id, moved, back) != 0)
      LOG_WARN("api", "instance %s:%s: %s not queued and the record could not be put back",
               r->ident.tenant, id, a->action);
    json_decref(back);
    api_cloud_audit(r, rec, audit_action, "error", "the command could not be queued",
                    request_id);
    api_store_error(r, rc, "command queue");
    return -1;
  }
  api_cloud_audit(r, rec, audit_action, "ok", "requested", request_id);
  LOG_INFO("api", "instance %s:%s: %s requested by %s (was %s)", r->ident.tenant, id,
           audit_action, r->ident.username, state);
  return 0;
}

/* Answers 202 with the record as it is now. */
static void answer_current(api_req_t *r, const char *id, const char *message) {
  json_t *rec = NULL;
  int rc = cloud_instance_get(r->ctx->redis, r->ident.tenant, id, &rec);
  if (rc != 0) {
    api_store_error(r, rc, "instance");
    return;
  }
  api_answer(r, 202, message, api_instance_display(r, rec));
  json_decref(rec);
}

void api_instance_action(api_req_t *r) {
  const char *path = r->http->path;
  const char *last = strrchr(path, '/');
  const action_t *a = NULL;
  for (size_t i = 0; last && i < sizeof(ACTIONS) / sizeof(ACTIONS[0]); i++)
    if (strcmp(last + 1, ACTIONS[i].action) == 0)
      a = &ACTIONS[i];
  if (a == NULL) {
    api_error(r, 405, "Invalid request: the API endpoint does not exist or the provided "
                      "HTTP method is not allowed.");
    return;
  }
  json_t *rec = api_instance_load(r);
  if (rec == NULL)
    return;
  if (actor_json_bool(rec, "deleting", false) && strcmp(a->action, "terminate") != 0) {
    api_error(r, 409, "instance %s is being deleted", actor_json_str(rec, "id", ""));
  } else if (enact(r, rec, a, NULL, a->action) == 0) {
    char msg[96];
    snprintf(msg, sizeof(msg), "Instance %s requested.", a->action);
    answer_current(r, actor_json_str(rec, "id", ""), msg);
  }
  json_decref(rec);
}

void api_instance_delete(api_req_t *r) {
  json_t *rec = api_instance_load(r);
  if (rec == NULL)
    return;
  const char *id = actor_json_str(rec, "id", "");
  const char *state = actor_json_str(rec, "state", "");
  if (cloud_state_terminal(state)) {
    int rc = cloud_instance_delete(r->ctx->redis, r->ident.tenant, id);
    if (rc != 0 && rc != ACTOR_ENOTFOUND) {
      api_store_error(r, rc, "instance");
    } else {
      api_cloud_audit(r, rec, "delete", "ok", "record removed", "");
      api_ok(r, "Instance deleted.", NULL);
    }
  } else if (strcmp(state, "shutting-down") == 0) {
    /* already going: the record goes once it is terminated */
    json_t *f = json_pack("{s:b}", "deleting", 1);
    static const char *const GOING[] = {"shutting-down", NULL};
    int rc = f ? cloud_instance_transition(r->ctx->redis, r->ident.tenant, id, GOING, f)
               : ACTOR_ENOMEM;
    json_decref(f);
    if (rc != 0 && rc != ACTOR_ESTATE) {
      api_store_error(r, rc, "instance");
    } else {
      api_cloud_audit(r, rec, "delete", "ok", "removed once terminated", "");
      answer_current(r, id, "Instance is being terminated; its record goes once it is.");
    }
  } else {
    json_t *extra = json_pack("{s:b}", "deleting", 1);
    if (extra && enact(r, rec, &ACTIONS[3], extra, "delete") == 0)
      answer_current(r, id, "Instance is being terminated; its record goes once it is.");
    else if (extra == NULL)
      api_error(r, 500, "out of memory");
    json_decref(extra);
  }
  json_decref(rec);
}
