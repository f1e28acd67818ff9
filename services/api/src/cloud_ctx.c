/* The api's cloud context (cloud_api.h): [cloud] settings and the price
 * table read at start-up, and what the instance routes share: finding the
 * instance of a path with its visibility rule (the owner or an admin of
 * its tenant), what clients see of a record, publishing a command, and
 * the audit. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "cloud_api.h"

/* Most bytes of a pricing file (ec2instances.info's full file is ~60 MB). */
#define PRICING_FILE_MAX (256L * 1024 * 1024)

/* Reads a whole file (at most max bytes): malloc'd, NUL-terminated. */
static int read_file(const char *path, long max, char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return ACTOR_ENOTFOUND;
  char *buf = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  for (;;) {
    if (n + 65536 + 1 > cap) {
      if ((long)cap > max) {
        rc = ACTOR_ETOOBIG;
        break;
      }
      size_t ncap = cap ? cap * 2 : 1 << 20;
      char *p = realloc(buf, ncap);
      if (p == NULL) {
        rc = ACTOR_ENOMEM;
        break;
      }
      buf = p;
      cap = ncap;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0)
      break;
  }
  if (rc == 0 && ferror(f))
    rc = ACTOR_EIO;
  if (rc == 0 && (long)n > max)
    rc = ACTOR_ETOOBIG;
  fclose(f);
  if (rc != 0) {
    free(buf);
    return rc;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

int api_cloud_init(api_ctx_t *c) {
  api_cloud_t *cl = calloc(1, sizeof(*cl));
  if (cl == NULL)
    return ACTOR_ENOMEM;
  c->cloud = cl;
  if (cloud_settings_load(c->cfg, &cl->s) != 0)
    return ACTOR_ECONFIG;
  cl->region = actor_config_get(c->cfg, "cloud", "region", "us-east-1");
  cl->config_tokens = cloud_config_tokens(c->cfg);
  if (cl->config_tokens == NULL)
    return ACTOR_ENOMEM;
  const char *path = cl->s.pricing_file;
  if (path == NULL || *path == '\0') {
    LOG_ERROR("api", "[cloud] pricing_file: empty (the instance types and their prices)");
    return ACTOR_ECONFIG;
  }
  char *text = NULL, err[256] = "";
  size_t len = 0;
  int rc = read_file(path, PRICING_FILE_MAX, &text, &len);
  if (rc != 0) {
    LOG_ERROR("api", "[cloud] pricing_file: cannot read %s: %s", path,
              rc == ACTOR_ENOTFOUND ? "no such file" : actor_strerror(rc));
    return ACTOR_ECONFIG;
  }
  rc = api_pricing_parse(text, len, cl->region, &cl->prices, &cl->nprices, err, sizeof(err));
  free(text);
  if (rc != 0) {
    LOG_ERROR("api", "[cloud] pricing_file: %s: %s", path, err);
    return ACTOR_ECONFIG;
  }
  size_t priced = 0;
  for (size_t i = 0; i < cl->nprices; i++)
    priced += cl->prices[i].price >= 0;
  LOG_INFO("api", "cloud: tag %s, %zu instance types in %s (%zu priced in %s)", cl->s.tag,
           cl->nprices, path, priced, cl->region);
  return 0;
}

void api_cloud_free(api_ctx_t *c) {
  api_cloud_t *cl = c->cloud;
  if (cl == NULL)
    return;
  free(cl->prices);
  json_decref(cl->config_tokens);
  free(cl);
  c->cloud = NULL;
}

bool api_cloud_name_ok(const char *name, size_t max) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > max)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
      return false;
  return true;
}

int api_cloud_targets(api_req_t *r, json_t *body, json_t *rec) {
  const char *link = NULL, *hook = NULL;
  if (api_field_string(r, body, "link", &link) != 0 ||
      api_field_string(r, body, "webhook", &hook) != 0)
    return -1;
  if (link && *link && !api_cloud_name_ok(link, 128)) {
    api_error(r, 400, "Invalid link: '%.128s' is not an actor id or alias.", link);
    return -1;
  }
  if (hook && *hook &&
      (strlen(hook) > 2048 || (strncmp(hook, "http://", 7) != 0 && strncmp(hook, "https://", 8) != 0))) {
    api_error(r, 400, "Invalid webhook: an http:// or https:// URL of at most 2048 bytes.");
    return -1;
  }
  if ((link && *link && json_object_set_new(rec, "link", json_string(link)) != 0) ||
      (hook && *hook && json_object_set_new(rec, "webhook", json_string(hook)) != 0)) {
    api_error(r, 500, "out of memory");
    return -1;
  }
  return 0;
}

/* The fields every answer shows, null until known. */
static const char *const PUBLIC_FIELDS[] = {
    "id",          "tenant",         "owner",           "name",          "config",
    "group",       "instance_type",  "tag",             "state",         "desired_state",
    "observed_state", "stack_name",  "stack_id",        "stack_status",  "ec2_instance_id",
    "volume_id",   "private_ip",     "public_ip",       "launch_time",   "availability_zone",
    "progress",    "error",          "backend_status",  "created",       "updated",
    "enacted",     "observed",       "user_transition", "deleting",      "adopted",
    "link",        "webhook",        "display_name",  NULL};

json_t *api_instance_display(api_req_t *r, const json_t *rec) {
  const api_price_t *p = api_price_of(r->ctx->cloud, actor_json_str(rec, "instance_type", ""));
  json_t *out = cloud_instance_public(rec, p ? p->price : -1);
  if (out == NULL)
    return json_null();
  /* never a secret, whatever the store layer returns */
  json_object_del(out, "progress_token");
  for (int i = 0; PUBLIC_FIELDS[i]; i++)
    if (json_object_get(out, PUBLIC_FIELDS[i]) == NULL)
      json_object_set_new(out, PUBLIC_FIELDS[i], json_null());
  return out;
}

json_t *api_instance_load(api_req_t *r) {
  const char *id = r->params[0];
  json_t *rec = NULL;
  int rc = ACTOR_ENOTFOUND;
  if (id && strncmp(id, "i-", 2) == 0 && strlen(id) < 64) {
    rc = cloud_instance_by_ec2(r->ctx->redis, id, &rec);
    if (rc == 0 && strcmp(actor_json_str(rec, "tenant", ""), r->ident.tenant) != 0) {
      json_decref(rec); /* another tenant's: as if absent */
      rec = NULL;
      rc = ACTOR_ENOTFOUND;
    }
  } else if (api_cloud_name_ok(id, 64)) {
    rc = cloud_instance_get(r->ctx->redis, r->ident.tenant, id, &rec);
  }
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Instance %s not found.", id ? id : "");
    return NULL;
  }
  if (rc != 0) {
    api_store_error(r, rc, "instance");
    return NULL;
  }
  if (!r->ident.admin && strcmp(actor_json_str(rec, "owner", ""), r->ident.username) != 0) {
    json_decref(rec);
    api_error(r, 400, "Not authorized -- you do not have access to this instance.");
    return NULL;
  }
  return rec;
}

int api_cloud_publish(api_ctx_t *c, const char *queue, const json_t *msg) {
  char *text = json_dumps(msg, JSON_COMPACT);
  if (text == NULL)
    return ACTOR_ENOMEM;
  int rc = api_publish(c, "other", queue, text, strlen(text), NULL, 5000);
  free(text);
  return rc;
}

void api_cloud_audit(api_req_t *r, const json_t *rec, const char *action, const char *outcome,
                     const char *message, const char *request_id) {
  json_t *ec2 = json_object_get(rec, "ec2_instance_id");
  json_t *doc = json_pack("{s:s, s:s, s:O, s:s, s:s, s:s, s:n, s:s, s:s}", "tenant",
                          actor_json_str(rec, "tenant", r->ident.tenant), "instance_id",
                          actor_json_str(rec, "id", ""), "ec2_instance_id",
                          ec2 ? ec2 : json_null(), "who", r->ident.username, "action", action,
                          "outcome", outcome, "code", "message", message ? message : "",
                          "request_id", request_id ? request_id : "");
  int rc = doc ? cloud_audit_add(r->ctx->mongo, doc) : ACTOR_ENOMEM;
  if (rc != 0) {
    api_metrics_store_error(r->ctx->metrics, "mongo");
    LOG_WARN("api", "instance %s: could not audit %s by %s: %s", actor_json_str(rec, "id", ""),
             action, r->ident.username, actor_strerror(rc));
  }
  json_decref(doc);
}
