/* Nonces (API.md §2, §3): credentials made by a user for one actor or
 * alias, with a level and a number of uses, redeemed with ?x-nonce=.
 * The id is "<TENANT>_<hashid>", so a nonce names its own tenant (split at
 * the last '_': a tenant may hold one, a hashid never does); the
 * request then runs as the nonce's owner with the nonce's roles, and the
 * router lets it reach only the nonce's actor or alias (api_authorize).
 *
 * A use is one Lua script over the nonce's record (a store_record hash
 * whose current_uses field is an integer's JSON text, which HINCRBY
 * understands): it refuses when current_uses has reached max_uses (unless
 * max_uses is -1) and otherwise increments it and stamps last_use_time, so
 * N uses are granted exactly N times however many requests race. */
#include <limits.h>
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

#define NONCE_ID_MAX 192

/* KEYS[1] the record, ARGV[1] last_use_time as JSON text. Returns the
 * uses so far after this one, -1 when none is left, -2 when the nonce is
 * gone. */
static const char REDEEM_LUA[] =
    "local m = redis.call('HGET', KEYS[1], 'max_uses')\n"
    "if not m then return -2 end\n"
    "m = tonumber(m)\n"
    "local c = tonumber(redis.call('HGET', KEYS[1], 'current_uses') or '0')\n"
    "if m ~= -1 and c >= m then return -1 end\n"
    "redis.call('HINCRBY', KEYS[1], 'current_uses', 1)\n"
    "redis.call('HSET', KEYS[1], 'last_use_time', ARGV[1])\n"
    "return c + 1\n";

static void nonce_key(const char *nid, char out[MODEL_KEY_MAX]) {
  snprintf(out, MODEL_KEY_MAX, "abaco:nonce:%s", nid);
}

static void scope_key(const char *scope, char out[MODEL_KEY_MAX + 32]) {
  snprintf(out, MODEL_KEY_MAX + 32, "abaco:nonces:%s", scope);
}

/* "<TENANT>_<hashid>": an upper-case tenant name, '_', letters and digits. */
static bool nonce_id_ok(const char *nid) {
  size_t n = nid ? strlen(nid) : 0;
  const char *us = nid ? strrchr(nid, '_') : NULL;
  if (n == 0 || n >= NONCE_ID_MAX || us == NULL || us == nid || us[1] == '\0' ||
      (size_t)(us - nid) >= ACTOR_AUTH_TENANT_MAX)
    return false;
  char tenant[ACTOR_AUTH_TENANT_MAX], norm[ACTOR_AUTH_TENANT_MAX];
  snprintf(tenant, sizeof(tenant), "%.*s", (int)(us - nid), nid);
  if (actor_tenant_norm(tenant, norm, sizeof(norm)) != 0 || strcmp(tenant, norm) != 0)
    return false;
  for (const char *p = us + 1; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
      return false;
  return true;
}

static json_t *nonce_display(api_req_t *r, const json_t *rec) {
  long long max = actor_json_int(rec, "max_uses", -1), cur = actor_json_int(rec, "current_uses", 0);
  const char *nid = actor_json_str(rec, "id", "");
  const char *actor_id = actor_json_str(rec, "actor_id", "");
  const char *alias = actor_json_str(rec, "alias", NULL);
  const char *owner = actor_json_str(rec, "owner", "");
  json_t *roles = json_array();
  for (const char *p = actor_json_str(rec, "roles", ""); roles && *p;) {
    size_t len = strcspn(p, ",");
    if (len > 0)
      json_array_append_new(roles, json_stringn(p, len));
    p += len + (p[len] == ',');
  }
  json_t *last = json_object_get(rec, "last_use_time");
  json_t *last_v = json_is_string(last) ? json_incref(last) : json_string("None");
  char self[512];
  if (alias)
    snprintf(self, sizeof(self), "aliases/%s/nonces/%s", alias, nid);
  else
    snprintf(self, sizeof(self), "%s/nonces/%s", actor_id, nid);
  /* api_server: where the nonce was made (records from before it was
   * kept: this request's). */
  json_t *out = json_pack(
      "{s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:s, s:s, s:o, s:s, s:s, s:o}", "id", nid, "owner",
      owner, "roles", roles ? roles : json_array(), "level",
      actor_json_str(rec, "level", "EXECUTE"), "max_uses", (json_int_t)max, "current_uses",
      (json_int_t)cur, "remaining_uses", (json_int_t)(max == -1 ? -1 : (max > cur ? max - cur : 0)),
      "actor_id", actor_id, "create_time", actor_json_str(rec, "create_time", "None"),
      "last_use_time", last_v, "description", actor_json_str(rec, "description", ""), "api_server",
      actor_json_str(rec, "api_server", r->api_server), "_links",
      api_links(r, self, owner, "actor", alias ? alias : actor_id));
  if (out && alias)
    json_object_set_new(out, "alias", json_string(alias));
  return out;
}

/* The record of nonce nid (new reference); ACTOR_ENOTFOUND also for an
 * id that cannot be a nonce's. */
static int nonce_get(api_req_t *r, const char *nid, json_t **out) {
  char key[MODEL_KEY_MAX];
  *out = NULL;
  if (!nonce_id_ok(nid))
    return ACTOR_ENOTFOUND;
  nonce_key(nid, key);
  return store_record_get(r->ctx->redis, key, out);
}

int api_nonce_authenticate(api_req_t *r, const char *nonce_id) {
  json_t *rec = NULL;
  int rc = nonce_get(r, nonce_id, &rec);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 401, "Invalid nonce: no such nonce.");
    return -1;
  }
  if (rc != 0) {
    api_store_error(r, rc, "nonce");
    return -1;
  }
  const char *tenant = actor_json_str(rec, "tenant", "");
  int level = api_level_parse(actor_json_str(rec, "level", ""));
  size_t tl = strlen(tenant);
  if (tl == 0 || strncmp(nonce_id, tenant, tl) != 0 || strrchr(nonce_id, '_') != nonce_id + tl ||
      level < 0) {
    json_decref(rec);
    api_error(r, 401, "Invalid nonce: the nonce record is damaged.");
    return -1;
  }
  snprintf(r->ident.tenant, sizeof(r->ident.tenant), "%s", tenant);
  snprintf(r->ident.username, sizeof(r->ident.username), "%s", actor_json_str(rec, "owner", ""));
  snprintf(r->ident.roles, sizeof(r->ident.roles), "%s", actor_json_str(rec, "roles", ""));
  snprintf(r->ident.nonce, sizeof(r->ident.nonce), "%s", nonce_id);
  snprintf(r->ident.nonce_scope, sizeof(r->ident.nonce_scope), "%s",
           actor_json_str(rec, "scope", ""));
  r->ident.nonce_level = level;
  json_decref(rec);
  if (!api_ident_roles(r)) {
    api_error(r, 400, "Not authorized -- missing required role.");
    return -1;
  }
  return 0;
}

int api_nonce_redeem(api_req_t *r) {
  char key[MODEL_KEY_MAX], now[ACTOR_TIME_MAX], now_json[ACTOR_TIME_MAX + 4];
  nonce_key(r->ident.nonce, key);
  actor_time_format(actor_time_now_ms(), now);
  snprintf(now_json, sizeof(now_json), "\"%s\"", now);
  long long uses = 0;
  int rc = store_script_int(r->ctx->redis, REDEEM_LUA, key, now_json, &uses);
  if (rc != 0) {
    api_store_error(r, rc, "nonce");
    return -1;
  }
  if (uses == -2) {
    api_error(r, 401, "Invalid nonce: no such nonce.");
    return -1;
  }
  if (uses < 0) {
    api_error(r, 400, "Not authorized -- no remaining uses for nonce.");
    return -1;
  }
  LOG_DEBUG("api", "nonce %s used (%lld)", r->ident.nonce, uses);
  return 0;
}

int api_nonces_forget(api_req_t *r, const char *scope) {
  char skey[MODEL_KEY_MAX + 32], key[MODEL_KEY_MAX];
  scope_key(scope, skey);
  json_t *ids = NULL;
  int rc = store_set_members(r->ctx->redis, skey, &ids);
  for (size_t i = 0; rc == 0 && i < json_array_size(ids); i++) {
    nonce_key(json_string_value(json_array_get(ids, i)), key);
    rc = store_key_delete(r->ctx->redis, key, NULL);
  }
  json_decref(ids);
  if (rc == 0)
    rc = store_key_delete(r->ctx->redis, skey, NULL);
  return rc;
}

/* Whether a scope is an alias' ("alias:<alias_id>"): Abaco's messages
 * then say "Alias nonce..." instead of "Actor nonce...". */
static bool alias_scope(const char *scope) {
  return strncmp(scope, "alias:", 6) == 0;
}

static void nonces_list(api_req_t *r, const char *scope) {
  /* The nonce routes need UPDATE on the whole scope (api_authorize). */
  static const api_listing_t ACTOR_NONCES = {
      NULL, "nonce", "Actor nonces retrieved successfully.", nonce_key, nonce_display};
  static const api_listing_t ALIAS_NONCES = {
      NULL, "nonce", "Alias nonces retrieved successfully.", nonce_key, nonce_display};
  char skey[MODEL_KEY_MAX + 32];
  scope_key(scope, skey);
  api_list_readable(r, skey, alias_scope(scope) ? &ALIAS_NONCES : &ACTOR_NONCES);
}

static void nonce_ok(api_req_t *r, const char *scope, const char *done, json_t *result) {
  char msg[64];
  snprintf(msg, sizeof(msg), "%s nonce %s successfully.", alias_scope(scope) ? "Alias" : "Actor",
           done);
  api_ok(r, msg, result);
}

static void nonce_create(api_req_t *r, const char *scope, const char *actor_id, const char *alias) {
  json_t *body = api_body_object(r), *rec = NULL;
  if (body == NULL)
    return;
  const char *level = NULL, *desc = NULL;
  long long max_uses = -1;
  bool has_max = false;
  if (api_field_string(r, body, "level", &level) ||
      api_field_string(r, body, "description", &desc) ||
      api_field_int(r, body, "max_uses", LLONG_MIN, &has_max, &max_uses))
    goto cleanup;
  int l = level ? api_level_parse(level) : API_EXECUTE;
  if (l <= API_NONE) {
    api_error(r, 400, "Invalid level: the level of a nonce is READ, EXECUTE or UPDATE.");
    goto cleanup;
  }
  if (!has_max)
    max_uses = -1;
  if (max_uses == 0 || max_uses < -1) {
    api_error(r, 400,
              "Invalid max_uses: max_uses must be a positive integer, or -1 for "
              "unlimited uses.");
    goto cleanup;
  }
  if (api_check_text(r, API_LIM_NONCE_DESCRIPTION, desc) != 0)
    goto cleanup;
  char hid[ACTOR_ID_MAX], nid[NONCE_ID_MAX], key[MODEL_KEY_MAX], skey[MODEL_KEY_MAX + 32],
      now[ACTOR_TIME_MAX];
  if (actor_id_new(hid) != 0) {
    api_error(r, 500, "Could not make a nonce id.");
    goto cleanup;
  }
  snprintf(nid, sizeof(nid), "%s_%s", r->ident.tenant, hid);
  nonce_key(nid, key);
  scope_key(scope, skey);
  actor_time_format(actor_time_now_ms(), now);
  rec = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:n, s:s, s:s}", "id",
                  nid, "owner", r->ident.username, "roles", r->ident.roles, "level",
                  api_level_name((api_level_t)l), "max_uses", (json_int_t)max_uses, "current_uses",
                  (json_int_t)0, "actor_id", actor_id, "scope", scope, "tenant", r->ident.tenant,
                  "create_time", now, "last_use_time", "description", desc ? desc : "",
                  "api_server", r->api_server);
  if (rec && alias)
    json_object_set_new(rec, "alias", json_string(alias));
  int rc = rec ? store_record_put(r->ctx->redis, key, rec) : ACTOR_ENOMEM;
  if (rc == 0)
    rc = store_set_add(r->ctx->redis, skey, nid, NULL);
  if (rc != 0) {
    /* Best-effort rollback of a create that already failed. */
    ACTOR_IGNORE(store_record_delete(r->ctx->redis, key));
    api_store_error(r, rc, "nonce");
    goto cleanup;
  }
  LOG_INFO("api", "nonce %s for %s (level %s, max_uses %lld) by %s", nid, scope,
           api_level_name((api_level_t)l), max_uses, r->ident.username);
  nonce_ok(r, scope, "created", nonce_display(r, rec));

cleanup:
  json_decref(rec);
  json_decref(body);
}

/* The nonce nid of the scope (new reference), or NULL after a 400. */
static json_t *load_nonce(api_req_t *r, const char *scope, const char *nid) {
  json_t *rec = NULL;
  int rc = nonce_get(r, nid, &rec);
  if (rc == 0 && strcmp(actor_json_str(rec, "scope", ""), scope) != 0)
    rc = ACTOR_ENOTFOUND;
  if (rc == ACTOR_ENOTFOUND) {
    json_decref(rec);
    api_error(r, 400, "Nonce not found.");
    return NULL;
  }
  if (rc != 0) {
    api_store_error(r, rc, "nonce");
    return NULL;
  }
  return rec;
}

static void nonce_get_route(api_req_t *r, const char *scope, const char *nid) {
  json_t *rec = load_nonce(r, scope, nid);
  if (rec == NULL)
    return;
  nonce_ok(r, scope, "retrieved", nonce_display(r, rec));
  json_decref(rec);
}

static void nonce_delete(api_req_t *r, const char *scope, const char *nid) {
  json_t *rec = load_nonce(r, scope, nid);
  if (rec == NULL)
    return;
  json_decref(rec);
  char key[MODEL_KEY_MAX], skey[MODEL_KEY_MAX + 32];
  nonce_key(nid, key);
  scope_key(scope, skey);
  int rc = store_record_delete(r->ctx->redis, key);
  if (rc == 0 || rc == ACTOR_ENOTFOUND)
    rc = store_set_remove(r->ctx->redis, skey, nid);
  if (rc != 0) {
    api_store_error(r, rc, "nonce");
    return;
  }
  LOG_INFO("api", "nonce %s deleted by %s", nid, r->ident.username);
  nonce_ok(r, scope, "deleted", NULL);
}

void api_nonce_route(api_req_t *r, const char *scope, const char *actor_id, const char *alias) {
  bool get = strcmp(r->http->method, "GET") == 0;
  if (r->nparams < 2 && get)
    nonces_list(r, scope);
  else if (r->nparams < 2)
    nonce_create(r, scope, actor_id, alias);
  else if (get)
    nonce_get_route(r, scope, r->params[1]);
  else
    nonce_delete(r, scope, r->params[1]);
}

void api_actor_nonces(api_req_t *r) {
  char scope[MODEL_KEY_MAX + 16];
  snprintf(scope, sizeof(scope), "actor:%s", r->db_id);
  api_nonce_route(r, scope, actor_json_str(r->actor, "id", ""), NULL);
}
