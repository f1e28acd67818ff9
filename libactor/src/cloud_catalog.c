/* What a launch is made from (docs/cloud.md): software configurations and
 * launch groups (records named in a per-tenant set) and the tenant's token
 * params (a hash of strings). Listings read every record in one pipelined
 * round trip per CLOUD_PAGE names and come back sorted by name. */
#include <stdlib.h>
#include <string.h>

#include "actor/cloud.h"
#include "actor/log.h"
#include "actor/store_kv.h"
#include "actor/store_record.h"
#include "cloud_int.h"

#define NAME_MAX_LEN 64

typedef int (*key_fn)(char *, size_t, const char *, const char *);

/* One kind of named record: its key function and its name set. */
typedef struct {
  key_fn key;
  const char *set_fmt; /* "abaco:swconfigs:%s" */
} kind_t;

static const kind_t SWCONFIG = {cloud_key_swconfig, "abaco:swconfigs:%s"};
static const kind_t GROUP = {cloud_key_group, "abaco:cloudgroups:%s"};

static int named_put(store_redis_t *r, const kind_t *k, const char *tenant, const json_t *obj) {
  char key[CLOUD_KEY_MAX], set[CLOUD_KEY_MAX];
  const char *name = json_string_value(json_object_get(obj, "name"));
  if (!json_is_object(obj) || !cloud__name_ok(name, NAME_MAX_LEN))
    return ACTOR_EINVAL;
  int rc = k->key(key, sizeof(key), tenant, name);
  if (rc == 0)
    rc = cloud__key(set, k->set_fmt, tenant);
  bool known = false;
  long long n = 0;
  if (rc == 0 && (rc = store_key_exists(r, key, &known)) == 0 && !known &&
      (rc = store_set_count(r, set, &n)) == 0 && n >= CLOUD_CATALOG_MAX)
    rc = ACTOR_ETOOBIG; /* a new name past the tenant's limit */
  if (rc == 0)
    rc = store_record_put(r, key, obj);
  if (rc == 0)
    rc = store_set_add(r, set, name, NULL);
  return rc;
}

static int named_get(store_redis_t *r, const kind_t *k, const char *tenant, const char *name,
                     json_t **out) {
  char key[CLOUD_KEY_MAX];
  *out = NULL;
  if (!cloud__name_ok(name, NAME_MAX_LEN))
    return ACTOR_ENOTFOUND; /* no such record can exist */
  int rc = k->key(key, sizeof(key), tenant, name);
  return rc ? rc : store_record_get(r, key, out);
}

static int named_delete(store_redis_t *r, const kind_t *k, const char *tenant,
                        const char *name) {
  char key[CLOUD_KEY_MAX], set[CLOUD_KEY_MAX];
  bool existed = false;
  if (!cloud__name_ok(name, NAME_MAX_LEN))
    return ACTOR_ENOTFOUND;
  int rc = k->key(key, sizeof(key), tenant, name);
  if (rc == 0)
    rc = cloud__key(set, k->set_fmt, tenant);
  if (rc == 0)
    rc = store_key_delete(r, key, &existed);
  if (rc == 0)
    rc = store_set_remove(r, set, name);
  return rc == 0 && !existed ? ACTOR_ENOTFOUND : rc;
}

static int by_name(const void *a, const void *b) {
  const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
  const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));
  return strcmp(x ? x : "", y ? y : "");
}

static int named_list(store_redis_t *r, const kind_t *k, const char *tenant, json_t **out) {
  char set[CLOUD_KEY_MAX];
  json_t *names = NULL, *recs = NULL, *sorted = NULL;
  char (*keys)[CLOUD_KEY_MAX] = NULL;
  const char **kp = NULL;
  json_t **items = NULL;
  *out = NULL;
  int rc = cloud__key(set, k->set_fmt, tenant);
  if (rc == 0)
    rc = store_set_members(r, set, &names);
  if (rc != 0)
    return rc;
  size_t n = json_array_size(names), m = 0;
  keys = calloc(n ? n : 1, sizeof(*keys));
  kp = calloc(n ? n : 1, sizeof(*kp));
  recs = json_array();
  sorted = json_array();
  rc = keys && kp && recs && sorted ? 0 : ACTOR_ENOMEM;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    if (k->key(keys[m], CLOUD_KEY_MAX, tenant, json_string_value(json_array_get(names, i))) != 0)
      continue;
    kp[m] = keys[m];
    m++;
  }
  if (rc == 0)
    rc = cloud__records_of(r, kp, m, recs, NULL);
  /* a name whose record is gone (a delete half done) is simply not listed */
  size_t nrec = json_array_size(recs);
  if (rc == 0 && (items = calloc(nrec ? nrec : 1, sizeof(*items))) == NULL)
    rc = ACTOR_ENOMEM;
  for (size_t i = 0; rc == 0 && i < nrec; i++)
    items[i] = json_array_get(recs, i);
  if (rc == 0)
    qsort(items, nrec, sizeof(*items), by_name);
  for (size_t i = 0; rc == 0 && i < nrec; i++)
    if (json_array_append(sorted, items[i]) != 0)
      rc = ACTOR_ENOMEM;
  free(items);
  free(keys);
  free(kp);
  json_decref(names);
  json_decref(recs);
  if (rc != 0) {
    json_decref(sorted);
    return rc;
  }
  *out = sorted;
  return 0;
}

int cloud_swconfig_put(store_redis_t *r, const char *tenant, const json_t *obj) {
  return named_put(r, &SWCONFIG, tenant, obj);
}

int cloud_swconfig_get(store_redis_t *r, const char *tenant, const char *name, json_t **out) {
  return named_get(r, &SWCONFIG, tenant, name, out);
}

int cloud_swconfig_delete(store_redis_t *r, const char *tenant, const char *name) {
  return named_delete(r, &SWCONFIG, tenant, name);
}

int cloud_swconfig_list(store_redis_t *r, const char *tenant, json_t **out) {
  return named_list(r, &SWCONFIG, tenant, out);
}

int cloud_group_put(store_redis_t *r, const char *tenant, const json_t *obj) {
  return named_put(r, &GROUP, tenant, obj);
}

int cloud_group_get(store_redis_t *r, const char *tenant, const char *name, json_t **out) {
  return named_get(r, &GROUP, tenant, name, out);
}

int cloud_group_delete(store_redis_t *r, const char *tenant, const char *name) {
  return named_delete(r, &GROUP, tenant, name);
}

int cloud_group_list(store_redis_t *r, const char *tenant, json_t **out) {
  return named_list(r, &GROUP, tenant, out);
}

static bool is_member(const json_t *group, const char *user) {
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(group, "members"), i, v) {
    const char *s = json_string_value(v);
    if (s && user && strcmp(s, user) == 0)
      return true;
  }
  return false;
}

int cloud_group_for(store_redis_t *r, const char *tenant, const char *user, const char *named,
                    json_t **out) {
  *out = NULL;
  if (named && *named)
    return cloud_group_get(r, tenant, named, out);
  json_t *groups = NULL;
  int rc = cloud_group_list(r, tenant, &groups);
  if (rc != 0)
    return rc;
  json_t *pick = NULL, *deflt = NULL;
  size_t i;
  json_t *g;
  json_array_foreach(groups, i, g) {
    const char *name = json_string_value(json_object_get(g, "name"));
    if (pick == NULL && is_member(g, user))
      pick = g;
    if (name && strcmp(name, "default") == 0)
      deflt = g;
  }
  if (pick == NULL)
    pick = deflt;
  if (pick)
    *out = json_incref(pick);
  json_decref(groups);
  return 0;
}

/* ---- params ---- */

static int params_key(char *buf, const char *tenant) {
  if (tenant == NULL || *tenant == '\0')
    return ACTOR_EINVAL;
  return cloud__key(buf, "abaco:cloudparams:%s", tenant);
}

int cloud_params_get(store_redis_t *r, const char *tenant, json_t **out) {
  char key[CLOUD_KEY_MAX];
  *out = NULL;
  int rc = params_key(key, tenant);
  return rc ? rc : store_hash_get_all(r, key, out);
}

int cloud_params_set(store_redis_t *r, const char *tenant, const json_t *values) {
  char key[CLOUD_KEY_MAX];
  const char *name;
  json_t *v;
  if (!json_is_object(values))
    return ACTOR_EINVAL;
  /* all checked before anything is written */
  json_object_foreach((json_t *)values, name, v) {
    if (!cloud__name_ok(name, NAME_MAX_LEN) || !json_is_string(v))
      return ACTOR_EINVAL;
  }
  int rc = params_key(key, tenant);
  /* at most CLOUD_PARAMS_MAX names in all: they are read at every launch */
  json_t *cur = NULL;
  if (rc == 0)
    rc = store_hash_get_all(r, key, &cur);
  size_t total = json_object_size(cur);
  json_object_foreach((json_t *)values, name, v) {
    if (json_object_get(cur, name) == NULL)
      total++;
  }
  json_decref(cur);
  if (rc == 0 && total > CLOUD_PARAMS_MAX)
    rc = ACTOR_ETOOBIG;
  json_object_foreach((json_t *)values, name, v) {
    if (rc == 0)
      rc = store_hash_set(r, key, name, json_string_value(v), json_string_length(v));
  }
  return rc;
}

int cloud_params_delete(store_redis_t *r, const char *tenant, const char *name) {
  char key[CLOUD_KEY_MAX];
  int rc = params_key(key, tenant);
  return rc ? rc : store_redis_hdel(r, key, name);
}
