/* Instance records (docs/cloud.md, "Instance") and their indexes: the
 * tenant's id set, the tag index the reconciler reads and the EC2 id ->
 * record key.
 *
 * Running time: cost is computed on read from two fields kept here,
 * `running_since` (ISO time the record last entered `running`, null
 * otherwise) and `running_seconds` (the time spent running before that).
 * Every update or transition whose fields hold `state` reads them first
 * and adds the changes to the same write: entering running sets
 * running_since (unless set), leaving it adds the elapsed seconds and
 * clears it. The read and the write are two commands; two writers racing
 * write the same absolute values, so time is neither lost nor counted
 * twice beyond the width of the race.
 *
 * Lists (cloud_instances_of_tag, cloud_instances_get_many) read in pages of
 * CLOUD_PAGE: one SSCAN and one pipelined HGETALL per page, so 10,000
 * records cost about 20 round trips. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/cloud.h"
#include "actor/log.h"
#include "actor/store_kv.h"
#include "actor/store_record.h"
#include "actor/timefmt.h"
#include "cloud_int.h"
#include "store_int.h"

#define BACKEND_STATUS_MAX 10

int cloud__key(char *buf, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, CLOUD_KEY_MAX, fmt, ap);
  va_end(ap);
  return n < 0 || n >= CLOUD_KEY_MAX ? ACTOR_ETOOBIG : 0;
}

bool cloud__name_ok(const char *s, size_t max) {
  size_t n = 0;
  for (; s && s[n]; n++) {
    char c = s[n];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '.' || c == '-'))
      return false;
  }
  return n > 0 && n <= max;
}

int cloud__records_of(store_redis_t *r, const char *const *keys, size_t n, json_t *arr,
                      json_t **absent) {
  json_t *miss = absent ? json_array() : NULL;
  int rc = (absent && miss == NULL) ? ACTOR_ENOMEM : 0;
  for (size_t off = 0; rc == 0 && off < n; off += CLOUD_PAGE) {
    size_t m = n - off < CLOUD_PAGE ? n - off : CLOUD_PAGE;
    json_t *page = NULL;
    rc = store_record_get_many(r, keys + off, m, &page);
    for (size_t i = 0; rc == 0 && i < m; i++) {
      json_t *rec = json_array_get(page, i);
      if (json_is_object(rec))
        rc = json_array_append(arr, rec) == 0 ? 0 : ACTOR_ENOMEM;
      else if (miss)
        rc = json_array_append_new(miss, json_integer((json_int_t)(off + i))) == 0
                 ? 0
                 : ACTOR_ENOMEM;
    }
    json_decref(page);
  }
  if (rc != 0 || absent == NULL)
    json_decref(miss);
  else
    *absent = miss;
  return rc;
}

static int tenant_set_key(char *buf, const char *tenant) {
  return cloud__key(buf, "abaco:instances:%s", tenant);
}

static int tag_index_key(char *buf, const char *tag) {
  return cloud__key(buf, "abaco:cloud:index:%s", tag);
}

static int ec2_key(char *buf, const char *ec2_id) {
  return cloud__key(buf, "abaco:cloud:ec2:%s", ec2_id);
}

static int member_of(char *buf, const char *tenant, const char *id) {
  return cloud__key(buf, "%s:%s", tenant, id);
}

static int id_key(char *buf, const char *id) {
  return cloud__key(buf, "abaco:cloud:id:%s", id);
}

/* Points a pointer key (abaco:cloud:ec2:<ec2_id> or abaco:cloud:id:<id>)
 * at the record. */
static int pointer_set(store_redis_t *r, const char *key, const char *tenant, const char *id) {
  char member[CLOUD_KEY_MAX];
  int rc = member_of(member, tenant, id);
  if (rc == 0)
    rc = store_redis_reply_rc(store_redis_cmd(r, "SET %s %s", key, member));
  return rc;
}

/* Removes a pointer key when it still points at this record (another
 * record may have taken the EC2 id since). */
static int pointer_drop(store_redis_t *r, const char *key, const char *tenant, const char *id) {
  static const char script[] =
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
      "return 0";
  char member[CLOUD_KEY_MAX];
  long long n = 0;
  int rc = member_of(member, tenant, id);
  if (rc == 0)
    rc = store_script_int(r, script, key, member, &n);
  return rc;
}

static int split_member(const char *member, char *tenant, size_t n, const char **id);

/* The record a pointer key names, or ACTOR_ENOTFOUND. */
static int pointer_get(store_redis_t *r, const char *key, json_t **out) {
  char tenant[CLOUD_KEY_MAX];
  const char *id = NULL;
  char *member = NULL;
  int rc = store_value_get(r, key, &member);
  if (rc != 0)
    return rc;
  rc = split_member(member, tenant, sizeof(tenant), &id);
  if (rc == 0)
    rc = cloud_instance_get(r, tenant, id, out);
  else
    rc = ACTOR_ENOTFOUND; /* not ours: ignore it */
  free(member);
  return rc;
}

static int ec2_index_set(store_redis_t *r, const char *ec2_id, const char *tenant,
                         const char *id) {
  char key[CLOUD_KEY_MAX];
  int rc = ec2_key(key, ec2_id);
  return rc ? rc : pointer_set(r, key, tenant, id);
}

static int ec2_index_drop(store_redis_t *r, const char *ec2_id, const char *tenant,
                          const char *id) {
  char key[CLOUD_KEY_MAX];
  int rc = ec2_key(key, ec2_id);
  return rc ? rc : pointer_drop(r, key, tenant, id);
}

/* The tenant set and the tag index hold the record. */
static int index_add(store_redis_t *r, const char *tenant, const char *id, const char *tag) {
  char key[CLOUD_KEY_MAX], member[CLOUD_KEY_MAX];
  int rc = tenant_set_key(key, tenant);
  if (rc == 0)
    rc = store_set_add(r, key, id, NULL);
  if (rc == 0 && tag && *tag && (rc = tag_index_key(key, tag)) == 0 &&
      (rc = member_of(member, tenant, id)) == 0)
    rc = store_set_add(r, key, member, NULL);
  return rc;
}

static int tag_index_drop(store_redis_t *r, const char *tag, const char *tenant, const char *id) {
  char key[CLOUD_KEY_MAX], member[CLOUD_KEY_MAX];
  int rc = tag_index_key(key, tag);
  if (rc == 0)
    rc = member_of(member, tenant, id);
  if (rc == 0)
    rc = store_set_remove(r, key, member);
  return rc;
}

/* ---- running time ---- */

/* Seconds from an ISO time to now (0 when unreadable or in the future). */
static long long seconds_since(const char *iso, int64_t now_ms) {
  int64_t ms = 0;
  if (iso == NULL || actor_time_parse(iso, &ms) != 0 || ms > now_ms)
    return 0;
  return (long long)((now_ms - ms) / 1000);
}

/* More than any instance runs (about 31,700 years): a record holding more
 * (corrupt, or edited by hand) is read as this, so that sums with it and
 * the cost computed from it can neither overflow nor be undefined. */
#define RUNNING_SECONDS_MAX 1000000000000LL

static long long running_seconds_of(const json_t *rec) {
  json_t *v = json_object_get(rec, "running_seconds");
  if (json_is_integer(v)) {
    json_int_t n = json_integer_value(v);
    return n < 0 ? 0 : n > RUNNING_SECONDS_MAX ? RUNNING_SECONDS_MAX : (long long)n;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    return !(d > 0) ? 0 : d > (double)RUNNING_SECONDS_MAX ? RUNNING_SECONDS_MAX : (long long)d;
  }
  return 0;
}

/* Adds to fields (a copy the caller owns) the running_since and
 * running_seconds that its `state` implies, given the record's current
 * values in cur (may be NULL). */
static int account_running(json_t *fields, const json_t *cur) {
  const char *state = json_string_value(json_object_get(fields, "state"));
  if (state == NULL)
    return 0;
  const char *since = json_string_value(json_object_get(cur, "running_since"));
  int64_t now = actor_time_now_ms();
  if (strcmp(state, "running") == 0) {
    if (since != NULL)
      return 0;
    char t[ACTOR_TIME_MAX];
    actor_time_format(now, t);
    return json_object_set_new(fields, "running_since", json_string(t)) == 0 ? 0 : ACTOR_ENOMEM;
  }
  if (since == NULL)
    return 0;
  long long total = running_seconds_of(cur) + seconds_since(since, now);
  if (json_object_set_new(fields, "running_seconds", json_integer(total)) != 0 ||
      json_object_set_new(fields, "running_since", json_null()) != 0)
    return ACTOR_ENOMEM;
  return 0;
}

/* ---- instances ---- */

int cloud_instance_create(store_redis_t *r, const json_t *obj) {
  const char *id = json_string_value(json_object_get(obj, "id"));
  const char *tenant = json_string_value(json_object_get(obj, "tenant"));
  const char *tag = json_string_value(json_object_get(obj, "tag"));
  const char *ec2 = json_string_value(json_object_get(obj, "ec2_instance_id"));
  char key[CLOUD_KEY_MAX];
  if (!json_is_object(obj) || id == NULL || tenant == NULL || tag == NULL || *tag == '\0')
    return ACTOR_EINVAL;
  int rc = cloud_key_instance(key, sizeof(key), tenant, id);
  if (rc != 0)
    return rc;
  bool exists = false;
  if ((rc = store_key_exists(r, key, &exists)) != 0)
    return rc;
  if (exists)
    return ACTOR_EEXIST;
  json_t *rec = json_deep_copy(obj);
  if (rec == NULL)
    return ACTOR_ENOMEM;
  if (json_object_get(rec, "running_seconds") == NULL &&
      json_object_set_new(rec, "running_seconds", json_integer(0)) != 0)
    rc = ACTOR_ENOMEM;
  if (rc == 0)
    rc = account_running(rec, NULL);
  if (rc == 0)
    rc = store_record_put(r, key, rec);
  json_decref(rec);
  if (rc == 0)
    rc = index_add(r, tenant, id, tag);
  if (rc == 0 && (rc = id_key(key, id)) == 0)
    rc = pointer_set(r, key, tenant, id);
  if (rc == 0 && ec2 && *ec2)
    rc = ec2_index_set(r, ec2, tenant, id);
  return rc;
}

int cloud_instance_get(store_redis_t *r, const char *tenant, const char *id, json_t **out) {
  char key[CLOUD_KEY_MAX];
  *out = NULL;
  int rc = cloud_key_instance(key, sizeof(key), tenant, id);
  return rc ? rc : store_record_get(r, key, out);
}

/* "<TENANT>:<id>" split at its first ':' (tenant names have none). */
static int split_member(const char *member, char *tenant, size_t n, const char **id) {
  const char *colon = strchr(member, ':');
  if (colon == NULL || colon == member || colon[1] == '\0' || (size_t)(colon - member) >= n)
    return ACTOR_EINVAL;
  memcpy(tenant, member, (size_t)(colon - member));
  tenant[colon - member] = '\0';
  *id = colon + 1;
  return 0;
}

int cloud_instance_by_ec2(store_redis_t *r, const char *ec2_id, json_t **out) {
  char key[CLOUD_KEY_MAX];
  *out = NULL;
  if (ec2_id == NULL || *ec2_id == '\0')
    return ACTOR_EINVAL;
  int rc = ec2_key(key, ec2_id);
  return rc ? rc : pointer_get(r, key, out);
}

int cloud_instance_find(store_redis_t *r, const char *id, json_t **out) {
  char key[CLOUD_KEY_MAX];
  *out = NULL;
  if (id == NULL || *id == '\0')
    return ACTOR_EINVAL;
  int rc = id_key(key, id);
  return rc ? rc : pointer_get(r, key, out);
}

/* The fields an update must read first: for running time, a moved EC2 id
 * or tag. */
static int read_before(store_redis_t *r, const char *key, const json_t *fields, json_t **cur) {
  static const char *const names[] = {"running_since", "running_seconds", "ec2_instance_id",
                                      "tag", NULL};
  *cur = NULL;
  if (!json_object_get(fields, "state") && !json_object_get(fields, "ec2_instance_id") &&
      !json_object_get(fields, "tag"))
    return 0;
  int rc = store_record_fields(r, key, names, cur);
  return rc == ACTOR_ENOTFOUND ? 0 : rc;
}

/* The index changes after fields were written over cur. */
static int reindex(store_redis_t *r, const char *tenant, const char *id, const json_t *fields,
                   const json_t *cur) {
  int rc = 0;
  json_t *ec2v = json_object_get(fields, "ec2_instance_id");
  if (ec2v) {
    const char *old = json_string_value(json_object_get(cur, "ec2_instance_id"));
    const char *now = json_string_value(ec2v);
    if (old && *old && (now == NULL || strcmp(old, now) != 0))
      rc = ec2_index_drop(r, old, tenant, id);
    if (rc == 0 && now && *now)
      rc = ec2_index_set(r, now, tenant, id);
  }
  json_t *tagv = json_object_get(fields, "tag");
  if (rc == 0 && tagv) {
    const char *old = json_string_value(json_object_get(cur, "tag"));
    const char *now = json_string_value(tagv);
    if (old && *old && (now == NULL || strcmp(old, now) != 0))
      rc = tag_index_drop(r, old, tenant, id);
    if (rc == 0 && now && *now)
      rc = index_add(r, tenant, id, now);
  }
  return rc;
}

/* update (from == NULL and guarded == false) or transition. */
static int change(store_redis_t *r, const char *tenant, const char *id, bool guarded,
                  const char *const *from, const json_t *fields) {
  char key[CLOUD_KEY_MAX];
  json_t *cur = NULL, *all = NULL;
  if (!json_is_object(fields))
    return ACTOR_EINVAL;
  const char *state = json_string_value(json_object_get(fields, "state"));
  if (json_object_get(fields, "state") && !cloud_state_valid(state))
    return ACTOR_EINVAL;
  int rc = cloud_key_instance(key, sizeof(key), tenant, id);
  if (rc == 0)
    rc = read_before(r, key, fields, &cur);
  if (rc == 0 && (all = json_deep_copy(fields)) == NULL)
    rc = ACTOR_ENOMEM;
  if (rc == 0)
    rc = account_running(all, cur);
  if (rc == 0)
    rc = guarded ? store_record_transition(r, key, "state", from, all)
                 : store_record_update(r, key, all);
  if (rc == 0)
    rc = reindex(r, tenant, id, fields, cur);
  json_decref(all);
  json_decref(cur);
  return rc;
}

int cloud_instance_update(store_redis_t *r, const char *tenant, const char *id,
                          const json_t *fields) {
  return change(r, tenant, id, false, NULL, fields);
}

int cloud_instance_transition(store_redis_t *r, const char *tenant, const char *id,
                              const char *const *from, const json_t *fields) {
  return change(r, tenant, id, true, from, fields);
}

int cloud_instance_delete(store_redis_t *r, const char *tenant, const char *id) {
  static const char *const names[] = {"ec2_instance_id", "tag", NULL};
  char key[CLOUD_KEY_MAX], set[CLOUD_KEY_MAX];
  json_t *cur = NULL;
  int rc = cloud_key_instance(key, sizeof(key), tenant, id);
  if (rc == 0)
    rc = tenant_set_key(set, tenant);
  if (rc != 0)
    return rc;
  rc = store_record_fields(r, key, names, &cur);
  if (rc != 0 && rc != ACTOR_ENOTFOUND)
    return rc;
  const char *ec2 = json_string_value(json_object_get(cur, "ec2_instance_id"));
  const char *tag = json_string_value(json_object_get(cur, "tag"));
  rc = 0;
  if (ec2 && *ec2)
    rc = ec2_index_drop(r, ec2, tenant, id);
  if (rc == 0 && tag && *tag)
    rc = tag_index_drop(r, tag, tenant, id);
  if (rc == 0)
    rc = store_set_remove(r, set, id);
  char idk[CLOUD_KEY_MAX];
  if (rc == 0 && (rc = id_key(idk, id)) == 0)
    rc = pointer_drop(r, idk, tenant, id);
  if (rc == 0)
    rc = store_record_delete(r, key);
  json_decref(cur);
  return rc;
}

int cloud_instance_ids(store_redis_t *r, const char *tenant, json_t **out) {
  char set[CLOUD_KEY_MAX];
  *out = NULL;
  int rc = tenant_set_key(set, tenant);
  return rc ? rc : store_set_members(r, set, out);
}

/* One page of a tag index: its records appended to arr, members whose
 * record is gone removed from the index. seen drops SSCAN's repeats. */
static int tag_page(store_redis_t *r, const char *index, const json_t *members, json_t *seen,
                    json_t *arr) {
  size_t n = json_array_size(members), k = 0;
  char (*keys)[CLOUD_KEY_MAX] = calloc(n ? n : 1, sizeof(*keys));
  const char **kp = calloc(n ? n : 1, sizeof(*kp));
  const char **mp = calloc(n ? n : 1, sizeof(*mp));
  json_t *absent = NULL;
  int rc = keys && kp && mp ? 0 : ACTOR_ENOMEM;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const char *member = json_string_value(json_array_get(members, i));
    char tenant[CLOUD_KEY_MAX];
    const char *id = NULL;
    if (member == NULL || json_object_get(seen, member))
      continue;
    if (json_object_set_new(seen, member, json_true()) != 0) {
      rc = ACTOR_ENOMEM;
      break;
    }
    if (split_member(member, tenant, sizeof(tenant), &id) != 0 ||
        cloud_key_instance(keys[k], CLOUD_KEY_MAX, tenant, id) != 0) {
      LOG_WARN(CLOUD_MODULE, "%s: dropping the malformed member \"%s\"", index, member);
      rc = store_set_remove(r, index, member);
      continue;
    }
    kp[k] = keys[k];
    mp[k] = member;
    k++;
  }
  if (rc == 0)
    rc = cloud__records_of(r, kp, k, arr, &absent);
  for (size_t i = 0; rc == 0 && i < json_array_size(absent); i++) {
    size_t at = (size_t)json_integer_value(json_array_get(absent, i));
    LOG_INFO(CLOUD_MODULE, "%s: dropping %s, whose record is gone", index, mp[at]);
    rc = store_set_remove(r, index, mp[at]);
  }
  json_decref(absent);
  free(keys);
  free(kp);
  free(mp);
  return rc;
}

int cloud_instances_of_tag(store_redis_t *r, const char *tag, json_t **out) {
  char index[CLOUD_KEY_MAX];
  unsigned long long cursor = 0;
  *out = NULL;
  if (tag == NULL || *tag == '\0')
    return ACTOR_EINVAL;
  int rc = tag_index_key(index, tag);
  if (rc != 0)
    return rc;
  json_t *arr = json_array(), *seen = json_object();
  if (arr == NULL || seen == NULL)
    rc = ACTOR_ENOMEM;
  do {
    json_t *members = NULL;
    if (rc == 0)
      rc = store_set_scan_count(r, index, &cursor, CLOUD_PAGE, &members);
    if (rc == 0)
      rc = tag_page(r, index, members, seen, arr);
    json_decref(members);
  } while (rc == 0 && cursor != 0);
  json_decref(seen);
  if (rc != 0) {
    json_decref(arr);
    return rc;
  }
  *out = arr;
  return 0;
}

int cloud_instances_get_many(store_redis_t *r, const char *tenant, const json_t *ids,
                             json_t **out) {
  *out = NULL;
  if (!json_is_array(ids))
    return ACTOR_EINVAL;
  size_t n = json_array_size(ids), k = 0;
  char (*keys)[CLOUD_KEY_MAX] = calloc(n ? n : 1, sizeof(*keys));
  const char **kp = calloc(n ? n : 1, sizeof(*kp));
  json_t *arr = json_array();
  int rc = keys && kp && arr ? 0 : ACTOR_ENOMEM;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const char *id = json_string_value(json_array_get(ids, i));
    if (id == NULL || cloud_key_instance(keys[k], CLOUD_KEY_MAX, tenant, id) != 0)
      continue; /* no such record can exist */
    kp[k] = keys[k];
    k++;
  }
  if (rc == 0)
    rc = cloud__records_of(r, kp, k, arr, NULL);
  free(keys);
  free(kp);
  if (rc != 0) {
    json_decref(arr);
    return rc;
  }
  *out = arr;
  return 0;
}

int cloud_instance_backend_error(store_redis_t *r, const char *tenant, const char *id,
                                 const char *op, const char *code, const char *message,
                                 const char *request_id) {
  static const char *const names[] = {"backend_status", NULL};
  char key[CLOUD_KEY_MAX], t[ACTOR_TIME_MAX];
  json_t *cur = NULL, *fields = NULL;
  int rc = cloud_key_instance(key, sizeof(key), tenant, id);
  if (rc != 0)
    return rc;
  rc = store_record_fields(r, key, names, &cur);
  if (rc != 0 && rc != ACTOR_ENOTFOUND)
    return rc;
  actor_time_format(actor_time_now_ms(), t);
  json_t *entry = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?}", "time", t, "op", op, "code", code,
                            "message", message, "request_id", request_id);
  json_t *list = json_array();
  rc = entry && list ? 0 : ACTOR_ENOMEM;
  if (rc == 0 && json_array_append_new(list, entry) != 0) /* takes entry even when it fails */
    rc = ACTOR_ENOMEM;
  if (list != NULL)
    entry = NULL; /* else still ours: freed below */
  json_t *old = json_object_get(cur, "backend_status");
  for (size_t i = 0; rc == 0 && i < json_array_size(old) && i + 1 < BACKEND_STATUS_MAX; i++)
    if (json_array_append(list, json_array_get(old, i)) != 0)
      rc = ACTOR_ENOMEM;
  if (rc == 0 && (fields = json_pack("{s:O, s:s?}", "backend_status", list, "error", message)) ==
                     NULL)
    rc = ACTOR_ENOMEM;
  if (rc == 0)
    rc = store_record_update(r, key, fields);
  json_decref(entry);
  json_decref(list);
  json_decref(fields);
  json_decref(cur);
  return rc;
}

json_t *cloud_instance_public(const json_t *rec, double price_per_hour) {
  json_t *out = json_deep_copy(rec);
  if (out == NULL)
    return NULL;
  json_object_del(out, "progress_token");
  if (price_per_hour < 0) {
    json_object_set_new(out, "cost", json_null());
    return out;
  }
  if (!isfinite(price_per_hour)) {
    json_object_set_new(out, "cost", json_null());
    return out;
  }
  long long secs = running_seconds_of(rec);
  const char *since = json_string_value(json_object_get(rec, "running_since"));
  if (since)
    secs += seconds_since(since, actor_time_now_ms());
  /* floor, not a cast: the product may exceed any integer type */
  double cents = floor(price_per_hour * (double)secs / 3600.0 * 100.0 + 0.5);
  if (!isfinite(cents)) { /* JSON has no infinity */
    json_object_set_new(out, "cost", json_null());
    return out;
  }
  if (json_object_set_new(out, "cost", json_real(cents / 100.0)) != 0) {
    json_decref(out);
    return NULL;
  }
  return out;
}

json_t *cloud_instance_new_record(const char *tenant, const char *owner, const char *name,
                                  const char *config, const char *group, const char *type,
                                  const char *tag, const char *id, const char *token,
                                  const char *now) {
  char stack[160] = "";
  if (cloud_stack_name(stack, sizeof(stack), tag, tenant, id) != 0)
    return NULL;
  json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s}", "id", id, "tenant", tenant,
                          "owner", owner, "name", name, "config", config, "group",
                          group ? json_string(group) : json_null(), "instance_type", type, "tag",
                          tag);
  static const char *const NULLS[] = {"observed_state", "stack_id", "stack_status", "error",
                                      "enacted", "observed", NULL};
  for (int i = 0; rec && NULLS[i]; i++)
    json_object_set_new(rec, NULLS[i], json_null());
  if (rec &&
      (json_object_set_new(rec, "state", json_string("launching")) ||
       json_object_set_new(rec, "desired_state", json_string("running")) ||
       json_object_set_new(rec, "stack_name", json_string(stack)) ||
       json_object_set_new(rec, "progress",
                           json_pack("{s:s, s:i}", "message", "launch requested", "percent", 0)) ||
       json_object_set_new(rec, "progress_token", json_string(token)) ||
       json_object_set_new(rec, "backend_status", json_array()) ||
       json_object_set_new(rec, "created", json_string(now)) ||
       json_object_set_new(rec, "updated", json_string(now)) ||
       json_object_set_new(rec, "user_transition", json_string(now)) ||
       json_object_set_new(rec, "deleting", json_false()) ||
       json_object_set_new(rec, "adopted", json_false()))) {
    json_decref(rec);
    rec = NULL;
  }
  return rec;
}
