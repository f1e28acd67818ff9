/* Aliases (API.md §3): a tenant-unique name for an actor, usable wherever
 * an actor id is ({id} resolves aliases, see api_lookup_actor), with its
 * own permission map and nonces. A name is claimed atomically with SADD
 * on abaco:aliases, so two concurrent creations cannot both win. Names are
 * the unreserved characters of a URL path segment (letters, digits,
 * '-', '.', '_', '~'), not a reserved word, not only dots, and not
 * something that decodes as a hashid (it would shadow an actor id). The
 * route names under /actors (aliases, configs, search, utilization) are
 * reserved as well, since /actors/<name>/... must keep reaching them. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "actor/store_record.h"
#include "actor/timefmt.h"

#define KEY_ALIASES "abaco:aliases"

static const char *const RESERVED[] = {"executions", "nonces",      "logs",    "messages",
                                       "adapters",   "admin",       "aliases", "configs",
                                       "search",     "utilization", NULL};

bool api_alias_valid(api_access_t *a, const char *alias, const char **why) {
  size_t n = alias ? strlen(alias) : 0;
  bool dots_only = true;
  *why = NULL;
  if (n == 0 || n > API_NAME_MAX) {
    *why = "an alias must have 1 to 128 characters.";
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)alias[i];
    if (!isalnum(c) && c != '-' && c != '.' && c != '_' && c != '~') {
      *why = "an alias may only contain letters, digits and the characters - . _ ~";
      return false;
    }
    if (c != '.')
      dots_only = false;
  }
  if (dots_only) {
    *why = "an alias cannot consist only of dots.";
    return false;
  }
  for (int i = 0; RESERVED[i]; i++)
    if (strcmp(alias, RESERVED[i]) == 0) {
      *why = "this word is reserved.";
      return false;
    }
  uint64_t nums[8];
  size_t count = 0;
  if (actor_hashids_decode(a->hashids, alias, nums, 8, &count) == 0 && count > 0) {
    *why = "an alias cannot look like an actor id (it decodes as a hashid).";
    return false;
  }
  return true;
}

static void alias_id_of(api_req_t *r, const char *alias, char out[MODEL_KEY_MAX]) {
  model_db_id(r->ident.tenant, alias, out);
}

static void alias_key(const char *alias_id, char out[MODEL_KEY_MAX + 16]) {
  snprintf(out, MODEL_KEY_MAX + 16, "abaco:alias:%s", alias_id);
}

/* The set of the aliases naming an actor. */
static void aliases_of_key(const char *db_id, char out[MODEL_KEY_MAX + 32]) {
  snprintf(out, MODEL_KEY_MAX + 32, "abaco:aliases_of:%s", db_id);
}

int api_alias_get(api_req_t *r, const char *alias, json_t **out) {
  *out = NULL;
  size_t n = alias ? strlen(alias) : 0;
  if (n == 0 || n > API_NAME_MAX)
    return ACTOR_ENOTFOUND;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)alias[i]) && !strchr("-._~", alias[i]))
      return ACTOR_ENOTFOUND;
  char id[MODEL_KEY_MAX], key[MODEL_KEY_MAX + 16];
  alias_id_of(r, alias, id);
  alias_key(id, key);
  int rc = store_record_get(r->ctx->redis, key, out);
  if (rc == 0 && !api_record_in_tenant(r, *out)) { /* another tenant's (access.h) */
    json_decref(*out);
    *out = NULL;
    rc = ACTOR_ENOTFOUND;
  }
  return rc;
}

static json_t *alias_display(api_req_t *r, const json_t *rec) {
  const char *alias = actor_json_str(rec, "alias", "");
  const char *actor_id = actor_json_str(rec, "actor_id", "");
  const char *owner = actor_json_str(rec, "owner", "");
  char self[256];
  snprintf(self, sizeof(self), "aliases/%s", alias);
  return json_pack("{s:s, s:s, s:s, s:o}", "alias", alias, "actor_id", actor_id, "owner", owner,
                   "_links", api_links(r, self, owner, "actor", actor_id));
}

/* Loads the alias of the path and checks the caller's level on it;
 * answers 404/400 itself and returns NULL. New reference. */
static json_t *load_alias(api_req_t *r, api_level_t level) {
  json_t *rec = NULL;
  int rc = api_alias_get(r, r->params[0], &rec);
  return api_checked_record(r, rc, rec, "alias", "alias_id", level, "Alias");
}

/* The actor an alias is to point at: an actor id (not an alias) of the
 * caller's tenant on which the caller holds UPDATE. New reference, or
 * NULL after answering. A denial says what Abaco says: creating names the
 * actor, updating names the association. */
static json_t *target_actor(api_req_t *r, const char *actor_id, bool update) {
  if (actor_id == NULL || *actor_id == '\0') {
    api_error(r, 400, "actor_id is required: the id of the actor the alias names.");
    return NULL;
  }
  json_t *actor = NULL;
  char db_id[MODEL_KEY_MAX];
  int rc = ACTOR_ENOTFOUND;
  if (strchr(actor_id, '_') == NULL && strlen(actor_id) < ACTOR_ID_MAX) {
    model_db_id(r->ident.tenant, actor_id, db_id);
    rc = model_actor_get(r->ctx->redis, db_id, &actor);
  }
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Actor with identifier '%s' not found", actor_id);
    return NULL;
  }
  if (rc != 0) {
    api_store_error(r, rc, "actor");
    return NULL;
  }
  api_level_t have = API_NONE;
  rc = api_level_of(r, "actor", db_id, &have);
  if (rc != 0)
    api_store_error(r, rc, "permission");
  else if (have < API_UPDATE && update)
    api_error(r, 400,
              "Not authorized -- you do not have UPDATE access to the actor you want to "
              "associate with this alias.");
  else if (have < API_UPDATE)
    api_error(r, 400, "Not authorized -- you do not have access to %s.", actor_id);
  else
    return actor;
  json_decref(actor);
  return NULL;
}

void api_aliases_list(api_req_t *r) {
  static const api_listing_t ALIASES = {"alias", "alias", "Aliases retrieved successfully.",
                                        alias_key, alias_display};
  api_list_readable(r, KEY_ALIASES, &ALIASES);
}

void api_alias_create(api_req_t *r) {
  json_t *body = api_body_object(r), *actor = NULL, *rec = NULL;
  if (body == NULL)
    return;
  const char *alias = NULL, *actor_id = NULL, *why = NULL;
  if (api_field_string(r, body, "alias", &alias) ||
      api_field_string(r, body, "actor_id", &actor_id))
    goto cleanup;
  if (alias == NULL || *alias == '\0') {
    api_error(r, 400, "alias is required: the name to give the actor.");
    goto cleanup;
  }
  if (!api_alias_valid(r->ctx->access, alias, &why)) {
    api_error(r, 400, "Invalid alias: %s", why);
    goto cleanup;
  }
  if ((actor = target_actor(r, actor_id, false)) == NULL)
    goto cleanup;
  char id[MODEL_KEY_MAX], key[MODEL_KEY_MAX + 16], now[ACTOR_TIME_MAX];
  alias_id_of(r, alias, id);
  alias_key(id, key);
  bool added = false;
  int rc = store_set_add(r->ctx->redis, KEY_ALIASES, id, &added);
  if (rc != 0) {
    api_store_error(r, rc, "alias");
    goto cleanup;
  }
  if (!added) {
    api_error(r, 400, "Alias %s already exists.", alias);
    goto cleanup;
  }
  const char *db_id = actor_json_str(actor, "db_id", "");
  actor_time_format(actor_time_now_ms(), now);
  rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "alias", alias, "alias_id", id, "actor_id",
                  actor_json_str(actor, "id", ""), "db_id", db_id, "owner", r->ident.username,
                  "tenant", r->ident.tenant, "create_time", now);
  char of[MODEL_KEY_MAX + 32];
  aliases_of_key(db_id, of);
  rc = rec ? api_perms_grant(r, "alias", id, r->ident.username, API_UPDATE) : ACTOR_ENOMEM;
  if (rc == 0)
    rc = store_record_put(r->ctx->redis, key, rec);
  if (rc == 0)
    rc = store_set_add(r->ctx->redis, of, id, NULL);
  if (rc != 0) {
    /* Best-effort rollback of a create that already failed (the store is
     * likely down); the client gets that failure and may retry. */
    ACTOR_IGNORE(store_record_delete(r->ctx->redis, key));
    api_perms_forget(r, "alias", id);
    ACTOR_IGNORE(store_set_remove(r->ctx->redis, KEY_ALIASES, id));
    api_store_error(r, rc, "alias");
    goto cleanup;
  }
  LOG_INFO("api", "alias %s -> actor %s (by %s)", id, db_id, r->ident.username);
  api_ok(r, "Actor alias created successfully.", alias_display(r, rec));

cleanup:
  json_decref(rec);
  json_decref(actor);
  json_decref(body);
}

void api_alias_get_route(api_req_t *r) {
  json_t *rec = load_alias(r, API_READ);
  if (rec == NULL)
    return;
  api_ok(r, "Alias retrieved successfully.", alias_display(r, rec));
  json_decref(rec);
}

void api_alias_update(api_req_t *r) {
  json_t *rec = load_alias(r, API_UPDATE), *body = NULL, *actor = NULL, *fields = NULL;
  if (rec == NULL)
    return;
  const char *actor_id = NULL;
  if ((body = api_body_object(r)) == NULL || api_field_string(r, body, "actor_id", &actor_id) ||
      (actor = target_actor(r, actor_id, true)) == NULL)
    goto cleanup;
  const char *id = actor_json_str(rec, "alias_id", "");
  const char *old_db = actor_json_str(rec, "db_id", "");
  const char *new_db = actor_json_str(actor, "db_id", "");
  char key[MODEL_KEY_MAX + 16], of_old[MODEL_KEY_MAX + 32], of_new[MODEL_KEY_MAX + 32];
  alias_key(id, key);
  aliases_of_key(old_db, of_old);
  aliases_of_key(new_db, of_new);
  fields = json_pack("{s:s, s:s}", "actor_id", actor_json_str(actor, "id", ""), "db_id", new_db);
  int rc = fields ? store_record_update(r->ctx->redis, key, fields) : ACTOR_ENOMEM;
  if (rc == 0)
    rc = store_set_remove(r->ctx->redis, of_old, id);
  if (rc == 0)
    rc = store_set_add(r->ctx->redis, of_new, id, NULL);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Alias %s not found.", r->params[0]);
    goto cleanup;
  }
  if (rc != 0) {
    api_store_error(r, rc, "alias");
    goto cleanup;
  }
  json_object_update(rec, fields);
  api_ok(r, "Actor alias updated successfully.", alias_display(r, rec));

cleanup:
  json_decref(fields);
  json_decref(actor);
  json_decref(body);
  json_decref(rec);
}

/* Removes one alias and what hangs off it. */
static int forget_alias(api_req_t *r, const char *id, const char *db_id) {
  char key[MODEL_KEY_MAX + 16], of[MODEL_KEY_MAX + 32], scope[MODEL_KEY_MAX + 16];
  alias_key(id, key);
  aliases_of_key(db_id, of);
  snprintf(scope, sizeof(scope), "alias:%s", id);
  int rc = store_record_delete(r->ctx->redis, key);
  if (rc == ACTOR_ENOTFOUND)
    rc = 0;
  if (rc == 0)
    rc = api_nonces_forget(r, scope);
  if (rc == 0)
    rc = api_perms_forget(r, "alias", id);
  if (rc == 0 && db_id)
    rc = store_set_remove(r->ctx->redis, of, id);
  if (rc == 0)
    rc = store_set_remove(r->ctx->redis, KEY_ALIASES, id);
  return rc;
}

void api_alias_delete(api_req_t *r) {
  json_t *rec = load_alias(r, API_UPDATE);
  if (rec == NULL)
    return;
  int rc = forget_alias(r, actor_json_str(rec, "alias_id", ""), actor_json_str(rec, "db_id", ""));
  char msg[API_NAME_MAX + 64];
  snprintf(msg, sizeof(msg), "Alias %s deleted successfully.", actor_json_str(rec, "alias", ""));
  if (rc != 0)
    api_store_error(r, rc, "alias");
  else
    api_ok(r, msg, NULL);
  json_decref(rec);
}

int api_aliases_forget_actor(api_req_t *r, const char *db_id) {
  char of[MODEL_KEY_MAX + 32];
  aliases_of_key(db_id, of);
  json_t *ids = NULL;
  int rc = store_set_members(r->ctx->redis, of, &ids);
  for (size_t i = 0; rc == 0 && i < json_array_size(ids); i++)
    rc = forget_alias(r, json_string_value(json_array_get(ids, i)), db_id);
  json_decref(ids);
  if (rc == 0)
    rc = store_key_delete(r->ctx->redis, of, NULL);
  return rc;
}

void api_alias_perms(api_req_t *r) {
  api_perms_route(r, "alias", load_alias, "alias_id");
}

/* Nonces of an alias need UPDATE on the alias and on its actor (one
 * denial for both, as Abaco words it). Returns the alias record (new
 * reference) and its nonce scope, or NULL. */
static json_t *nonce_alias(api_req_t *r, char scope[MODEL_KEY_MAX + 16]) {
  json_t *rec = NULL;
  int rc = api_alias_get(r, r->params[0], &rec);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Alias %s not found.", r->params[0]);
    return NULL;
  }
  if (rc != 0) {
    api_store_error(r, rc, "alias");
    return NULL;
  }
  const char *db_id = actor_json_str(rec, "db_id", "");
  json_t *actor = NULL;
  api_level_t on_alias = API_NONE, on_actor = API_NONE;
  rc = model_actor_get(r->ctx->redis, db_id, &actor);
  json_decref(actor);
  if (rc == 0)
    rc = api_level_of(r, "alias", actor_json_str(rec, "alias_id", ""), &on_alias);
  if (rc == 0)
    rc = api_level_of(r, "actor", db_id, &on_actor);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Actor with identifier '%s' not found", actor_json_str(rec, "actor_id", ""));
  } else if (rc != 0) {
    api_store_error(r, rc, "actor");
  } else if (on_alias < API_UPDATE || on_actor < API_UPDATE) {
    api_error(r, 400, "Not authorized -- you do not have access to this alias and actor.");
  } else {
    snprintf(scope, MODEL_KEY_MAX + 16, "alias:%s", actor_json_str(rec, "alias_id", ""));
    return rec;
  }
  json_decref(rec);
  return NULL;
}

void api_alias_nonces(api_req_t *r) {
  char scope[MODEL_KEY_MAX + 16];
  json_t *rec = nonce_alias(r, scope);
  if (rec)
    api_nonce_route(r, scope, actor_json_str(rec, "actor_id", ""),
                    actor_json_str(rec, "alias", ""));
  json_decref(rec);
}
