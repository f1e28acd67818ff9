/* Instance types and their prices (docs/cloud.md "Pricing"): the parser of
 * [cloud] pricing_file, ec2instances.info's JSON array, read once at
 * start-up into a table sorted by type, and GET /instances/types. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/store_kv.h"
#include "cloud_api.h"

/* Most a pricing entry's numbers are believed: an hourly price, vCPUs,
 * GiB. A value above (or "inf", "nan", a negative one) reads as not given,
 * so that nothing computed from it (an instance's cost) can overflow. */
#define PRICE_MAX 1e6
#define VCPUS_MAX 1e5
#define MEMORY_MAX 1e7

/* A number in 0..max, or the text of one ("0.096"); def when neither. */
static double number_of(const json_t *v, double max, double def) {
  double d = def;
  if (json_is_number(v)) {
    d = json_number_value(v);
  } else if (json_is_string(v)) {
    const char *s = json_string_value(v);
    char *end = NULL;
    errno = 0;
    d = strtod(s, &end);
    if (!*s || end == NULL || *end != '\0' || errno != 0)
      return def;
  }
  return isfinite(d) && d >= 0 && d <= max ? d : def;
}

static int by_type(const void *a, const void *b) {
  return strcmp(((const api_price_t *)a)->type, ((const api_price_t *)b)->type);
}

int api_pricing_parse(const char *text, size_t len, const char *region, api_price_t **out,
                      size_t *n, char *err, size_t errlen) {
  json_error_t jerr;
  *out = NULL;
  *n = 0;
  json_t *all = json_loadb(text, len, 0, &jerr);
  if (all == NULL)
    return actor_errorf(ACTOR_EPARSE, err, errlen, "not JSON: %s (line %d)", jerr.text,
                        jerr.line);
  if (!json_is_array(all)) {
    json_decref(all);
    return actor_errorf(ACTOR_EPARSE, err, errlen,
                        "not a JSON array of instance types (ec2instances.info's format)");
  }
  size_t cap = json_array_size(all), k = 0;
  api_price_t *t = calloc(cap ? cap : 1, sizeof(*t));
  if (t == NULL) {
    json_decref(all);
    return actor_errorf(ACTOR_ENOMEM, err, errlen, "out of memory");
  }
  size_t i;
  json_t *e;
  json_array_foreach(all, i, e) {
    const char *type = json_string_value(json_object_get(e, "instance_type"));
    if (type == NULL || *type == '\0')
      continue;
    if (strlen(type) >= API_INSTANCE_TYPE_MAX) {
      free(t);
      json_decref(all);
      return actor_errorf(ACTOR_EPARSE, err, errlen, "entry %zu: instance_type '%.80s' is too long",
                          i, type);
    }
    api_price_t *p = &t[k++];
    snprintf(p->type, sizeof(p->type), "%s", type);
    json_t *od = json_object_get(
        json_object_get(json_object_get(json_object_get(e, "pricing"), region), "linux"),
        "ondemand");
    p->price = number_of(od, PRICE_MAX, -1);
    p->vcpus = number_of(json_object_get(e, "vCPU"), VCPUS_MAX, -1);
    p->memory_gib = number_of(json_object_get(e, "memory"), MEMORY_MAX, -1);
  }
  json_decref(all);
  if (k == 0) {
    free(t);
    return actor_errorf(ACTOR_EPARSE, err, errlen, "no entry with an instance_type");
  }
  qsort(t, k, sizeof(*t), by_type);
  *out = t;
  *n = k;
  return 0;
}

const api_price_t *api_price_of(const api_cloud_t *cl, const char *type) {
  if (cl == NULL || type == NULL)
    return NULL;
  api_price_t key;
  memset(&key, 0, sizeof(key));
  if (strlen(type) >= sizeof(key.type))
    return NULL;
  snprintf(key.type, sizeof(key.type), "%s", type);
  return bsearch(&key, cl->prices, cl->nprices, sizeof(key), by_type);
}

static json_t *num_or_null(double v) { return v >= 0 ? json_real(v) : json_null(); }

/* The types some configuration of the tenant allows (object type -> true),
 * or NULL after answering a store error. */
static json_t *allowed_types(api_req_t *r) {
  json_t *configs = NULL, *set = json_object();
  int rc = set ? cloud_swconfig_list(r->ctx->redis, r->ident.tenant, &configs) : ACTOR_ENOMEM;
  if (rc != 0) {
    json_decref(set);
    api_store_error(r, rc, "configuration");
    return NULL;
  }
  size_t i, j;
  json_t *cfg, *t;
  json_array_foreach(configs, i, cfg) {
    json_array_foreach(json_object_get(cfg, "instance_types"), j, t) {
      if (json_is_string(t))
        json_object_set_new(set, json_string_value(t), json_true());
    }
  }
  json_decref(configs);
  return set;
}

void api_instance_types(api_req_t *r) {
  const api_cloud_t *cl = r->ctx->cloud;
  const char *q = ahttp_kvs_get(&r->http->query, "allowed", 0);
  bool only_allowed = q && (strcmp(q, "true") == 0 || strcmp(q, "True") == 0 || strcmp(q, "1") == 0);
  json_t *allowed = NULL, *out = json_array();
  if (out == NULL) {
    api_error(r, 500, "out of memory");
    return;
  }
  if (only_allowed && (allowed = allowed_types(r)) == NULL) {
    json_decref(out);
    return;
  }
  for (size_t i = 0; i < cl->nprices; i++) {
    const api_price_t *p = &cl->prices[i];
    if (allowed && json_object_get(allowed, p->type) == NULL)
      continue;
    json_array_append_new(out, json_pack("{s:s, s:o, s:o, s:o}", "instance_type", p->type,
                                         "price_per_hour", num_or_null(p->price), "vcpus",
                                         num_or_null(p->vcpus), "memory_gib",
                                         num_or_null(p->memory_gib)));
  }
  json_decref(allowed);
  api_ok(r, "Instance types retrieved successfully.", out);
}
