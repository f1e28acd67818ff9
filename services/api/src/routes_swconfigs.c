/* /instances/configs, /instances/groups and /instances/params
 * (docs/cloud.md "Objects"): software configurations (any user creates;
 * the owner or an admin changes), launch groups and the tenant's token
 * params (admins write, everyone reads). Every field is checked here
 * before anything is stored, with a 400 naming it; limits follow what
 * AWS accepts (a CloudFormation TemplateBody is at most 51,200 bytes, EC2
 * user data 16 KiB). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/timefmt.h"
#include "cloud_api.h"

#define NAME_MAX_CHARS 64
#define TEXT_MAX 4096
#define LIST_MAX 64
#define VOLUME_SIZE_MAX 16384 /* GiB: EBS's largest gp2/gp3 volume */
#define PARAM_VALUE_MAX 4096

/* A string field: *out borrowed (NULL when absent and not required).
 * 0, or -1 after answering 400 naming the field. */
static int str_field(api_req_t *r, json_t *body, const char *field, bool required, size_t max,
                     const char **out) {
  if (api_field_string(r, body, field, out) != 0)
    return -1;
  if (*out == NULL || (required && **out == '\0')) {
    if (!required)
      return 0;
    api_error(r, 400, "%s is required.", field);
    return -1;
  }
  if (strlen(*out) > max) {
    api_error(r, 400, "Invalid %s: at most %zu bytes.", field, max);
    return -1;
  }
  return 0;
}

/* A list of strings of at most LIST_MAX entries of at most max bytes each:
 * new reference (an empty array when absent). NULL after answering. */
static json_t *str_list(api_req_t *r, json_t *body, const char *field, size_t max) {
  json_t *list = NULL;
  if (api_field_list(r, body, field, &list) != 0)
    return NULL;
  if (list == NULL)
    return json_array();
  if (json_array_size(list) > LIST_MAX) {
    api_error(r, 400, "Invalid %s: at most %d entries.", field, LIST_MAX);
    json_decref(list);
    return NULL;
  }
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max) {
      api_error(r, 400, "Invalid %s: each entry must be a non-empty string of at most %zu bytes.",
                field, max);
      json_decref(list);
      return NULL;
    }
  }
  return list;
}

/* ---- software configurations ---- */

/* volume: null, or {device, size, kms_key_id}: new reference (json null
 * when absent); NULL after answering. */
static json_t *volume_field(api_req_t *r, json_t *body) {
  json_t *v = NULL;
  if (api_field_object(r, body, "volume", &v) != 0)
    return NULL;
  if (v == NULL)
    return json_null();
  const char *device = NULL, *kms = NULL;
  long long size = 0;
  bool has_size = false;
  json_t *out = NULL;
  if (str_field(r, v, "device", false, 64, &device) != 0 ||
      str_field(r, v, "kms_key_id", false, 2048, &kms) != 0 ||
      api_field_int(r, v, "size", 1, &has_size, &size) != 0)
    goto cleanup;
  if (device == NULL || *device == '\0') {
    api_error(r, 400, "Invalid volume: device is required (e.g. /dev/sdf).");
    goto cleanup;
  }
  if (has_size && size > VOLUME_SIZE_MAX) {
    api_error(r, 400, "Invalid volume: size is at most %d GiB.", VOLUME_SIZE_MAX);
    goto cleanup;
  }
  out = json_pack("{s:s, s:o, s:o}", "device", device, "size",
                  has_size ? json_integer(size) : json_null(), "kms_key_id",
                  kms && *kms ? json_string(kms) : json_null());
  if (out == NULL)
    api_error(r, 500, "out of memory");

cleanup:
  json_decref(v);
  return out;
}

/* A configuration record from a create or update body (new reference);
 * NULL after answering. */
static json_t *swconfig_from_body(api_req_t *r, json_t *body, const char *name,
                                  const json_t *existing) {
  const char *desc = NULL, *image = NULL, *tmpl = NULL, *user_data = NULL;
  json_t *volume = NULL, *types = NULL, *rec = NULL;
  if (str_field(r, body, "description", false, TEXT_MAX, &desc) != 0 ||
      str_field(r, body, "image_id", true, 128, &image) != 0 ||
      str_field(r, body, "template", true, CLOUD_TEMPLATE_MAX, &tmpl) != 0 ||
      str_field(r, body, "user_data", false, CLOUD_USER_DATA_MAX, &user_data) != 0)
    return NULL;
  if (strncmp(image, "ami-", 4) != 0 || !api_cloud_name_ok(image, 128)) {
    api_error(r, 400, "Invalid image_id: '%.128s' is not an AMI id (ami-...).", image);
    return NULL;
  }
  char err[512] = "";
  if (cloud_template_check(tmpl, err, sizeof(err)) != 0) {
    api_error(r, 400, "template is neither JSON nor YAML: %s", err);
    return NULL;
  }
  if ((volume = volume_field(r, body)) == NULL)
    return NULL;
  if ((types = str_list(r, body, "instance_types", API_INSTANCE_TYPE_MAX - 1)) == NULL)
    goto cleanup;
  if (json_array_size(types) == 0) {
    api_error(r, 400, "instance_types is required: the instance types users may launch.");
    goto cleanup;
  }
  size_t i;
  json_t *t;
  json_array_foreach(types, i, t) {
    if (api_price_of(r->ctx->cloud, json_string_value(t)) == NULL) {
      api_error(r, 400, "Invalid instance_types: %s is not in the pricing file.",
                json_string_value(t));
      goto cleanup;
    }
  }
  char now[ACTOR_TIME_MAX];
  actor_time_now_text(now);
  rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:s, s:s, s:s, s:s}", "name", name,
                  "description", desc ? desc : "", "image_id", image, "template", tmpl,
                  "user_data", user_data ? user_data : "", "volume", volume, "instance_types",
                  types, "owner",
                  existing ? actor_json_str(existing, "owner", "") : r->ident.username, "tenant",
                  r->ident.tenant, "created",
                  existing ? actor_json_str(existing, "created", now) : now, "updated", now);
  if (rec == NULL)
    api_error(r, 500, "out of memory");
  else if (api_cloud_targets(r, body, rec) != 0) {
    json_decref(rec);
    rec = NULL;
  }

cleanup:
  json_decref(volume);
  json_decref(types);
  return rec;
}

/* The configuration of the path (new reference); NULL after answering. */
static json_t *load_swconfig(api_req_t *r, bool write) {
  const char *name = r->params[0];
  json_t *rec = NULL;
  int rc = api_cloud_name_ok(name, NAME_MAX_CHARS)
               ? cloud_swconfig_get(r->ctx->redis, r->ident.tenant, name, &rec)
               : ACTOR_ENOTFOUND;
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Configuration %s not found.", name);
    return NULL;
  }
  if (rc != 0) {
    api_store_error(r, rc, "configuration");
    return NULL;
  }
  if (write && !r->ident.admin &&
      strcmp(actor_json_str(rec, "owner", ""), r->ident.username) != 0) {
    json_decref(rec);
    api_error(r, 400, "Not authorized -- only the owner or an admin may change configuration %s.",
              name);
    return NULL;
  }
  return rec;
}

void api_swconfigs_list(api_req_t *r) {
  json_t *out = NULL;
  int rc = cloud_swconfig_list(r->ctx->redis, r->ident.tenant, &out);
  if (rc != 0) {
    api_store_error(r, rc, "configuration");
    return;
  }
  api_ok(r, "Configurations retrieved successfully.", out);
}

void api_swconfig_create(api_req_t *r) {
  json_t *body = api_body_object(r), *rec = NULL, *old = NULL;
  if (body == NULL)
    return;
  const char *name = NULL;
  if (str_field(r, body, "name", true, 1024, &name) != 0)
    goto cleanup;
  if (!api_cloud_name_ok(name, NAME_MAX_CHARS)) {
    api_error(r, 400, "Invalid name: a configuration name has 1 to %d letters, digits and the "
                      "characters _ . -",
              NAME_MAX_CHARS);
    goto cleanup;
  }
  int rc = cloud_swconfig_get(r->ctx->redis, r->ident.tenant, name, &old);
  if (rc == 0) {
    api_error(r, 400, "Configuration %s already exists.", name);
    goto cleanup;
  }
  if (rc != ACTOR_ENOTFOUND) {
    api_store_error(r, rc, "configuration");
    goto cleanup;
  }
  if ((rec = swconfig_from_body(r, body, name, NULL)) == NULL)
    goto cleanup;
  if ((rc = cloud_swconfig_put(r->ctx->redis, r->ident.tenant, rec)) == ACTOR_ETOOBIG) {
    api_error(r, 400, "A tenant has at most %d configurations: delete one first.",
              CLOUD_CATALOG_MAX);
    goto cleanup;
  }
  if (rc != 0) {
    api_store_error(r, rc, "configuration");
    goto cleanup;
  }
  LOG_INFO("api", "configuration %s:%s created by %s", r->ident.tenant, name, r->ident.username);
  api_ok(r, "Configuration created successfully.", json_incref(rec));

cleanup:
  json_decref(old);
  json_decref(rec);
  json_decref(body);
}

void api_swconfig_get(api_req_t *r) {
  json_t *rec = load_swconfig(r, false);
  if (rec)
    api_ok(r, "Configuration retrieved successfully.", rec);
}

void api_swconfig_update(api_req_t *r) {
  json_t *old = load_swconfig(r, true), *body = NULL, *rec = NULL;
  if (old == NULL)
    return;
  if ((body = api_body_object(r)) == NULL ||
      (rec = swconfig_from_body(r, body, r->params[0], old)) == NULL)
    goto cleanup;
  int rc = cloud_swconfig_put(r->ctx->redis, r->ident.tenant, rec);
  if (rc != 0) {
    api_store_error(r, rc, "configuration");
    goto cleanup;
  }
  api_ok(r, "Configuration updated successfully.", json_incref(rec));

cleanup:
  json_decref(rec);
  json_decref(body);
  json_decref(old);
}

void api_swconfig_delete(api_req_t *r) {
  json_t *rec = load_swconfig(r, true);
  if (rec == NULL)
    return;
  int rc = cloud_swconfig_delete(r->ctx->redis, r->ident.tenant, r->params[0]);
  if (rc != 0 && rc != ACTOR_ENOTFOUND)
    api_store_error(r, rc, "configuration");
  else
    api_ok(r, "Configuration deleted successfully.", NULL);
  json_decref(rec);
}

/* ---- launch groups ---- */

static json_t *group_from_body(api_req_t *r, json_t *body, const char *name) {
  static const char *const FIELDS[] = {"key_name", "iam_instance_profile", "subnet_id",
                                       "availability_zone", NULL};
  json_t *rec = json_pack("{s:s, s:s}", "name", name, "tenant", r->ident.tenant);
  json_t *sgs = NULL, *members = NULL;
  if (rec == NULL) {
    api_error(r, 500, "out of memory");
    return NULL;
  }
  for (int i = 0; FIELDS[i]; i++) {
    const char *v = NULL;
    if (str_field(r, body, FIELDS[i], false, 256, &v) != 0)
      goto fail;
    json_object_set_new(rec, FIELDS[i], v && *v ? json_string(v) : json_null());
  }
  if ((sgs = str_list(r, body, "security_group_ids", 256)) == NULL ||
      (members = str_list(r, body, "members", 255)) == NULL)
    goto fail;
  json_object_set_new(rec, "security_group_ids", sgs);
  json_object_set_new(rec, "members", members);
  return rec;

fail:
  json_decref(sgs);
  json_decref(members);
  json_decref(rec);
  return NULL;
}

static json_t *load_group(api_req_t *r) {
  const char *name = r->params[0];
  json_t *rec = NULL;
  int rc = api_cloud_name_ok(name, NAME_MAX_CHARS)
               ? cloud_group_get(r->ctx->redis, r->ident.tenant, name, &rec)
               : ACTOR_ENOTFOUND;
  if (rc == ACTOR_ENOTFOUND)
    api_error(r, 404, "Group %s not found.", name);
  else if (rc != 0)
    api_store_error(r, rc, "group");
  return rc == 0 ? rec : NULL;
}

void api_groups_list(api_req_t *r) {
  json_t *out = NULL;
  int rc = cloud_group_list(r->ctx->redis, r->ident.tenant, &out);
  if (rc != 0)
    api_store_error(r, rc, "group");
  else
    api_ok(r, "Groups retrieved successfully.", out);
}

void api_group_get(api_req_t *r) {
  json_t *rec = load_group(r);
  if (rec)
    api_ok(r, "Group retrieved successfully.", rec);
}

/* Stores a group from the body under name (create or replace). */
static void group_put(api_req_t *r, const char *name, bool create) {
  json_t *body = api_body_object(r), *rec = NULL, *old = NULL;
  if (body == NULL)
    return;
  int rc = cloud_group_get(r->ctx->redis, r->ident.tenant, name, &old);
  if (rc != 0 && rc != ACTOR_ENOTFOUND) {
    api_store_error(r, rc, "group");
    goto cleanup;
  }
  if (create && rc == 0) {
    api_error(r, 400, "Group %s already exists.", name);
    goto cleanup;
  }
  if (!create && rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Group %s not found.", name);
    goto cleanup;
  }
  if ((rec = group_from_body(r, body, name)) == NULL)
    goto cleanup;
  if ((rc = cloud_group_put(r->ctx->redis, r->ident.tenant, rec)) == ACTOR_ETOOBIG) {
    api_error(r, 400, "A tenant has at most %d groups: delete one first.", CLOUD_CATALOG_MAX);
    goto cleanup;
  }
  if (rc != 0) {
    api_store_error(r, rc, "group");
    goto cleanup;
  }
  api_ok(r, create ? "Group created successfully." : "Group updated successfully.",
         json_incref(rec));

cleanup:
  json_decref(old);
  json_decref(rec);
  json_decref(body);
}

void api_group_create(api_req_t *r) {
  if (api_require_admin(r) != 0)
    return;
  json_t *body = api_body_object(r);
  if (body == NULL)
    return;
  const char *name = NULL;
  char copy[NAME_MAX_CHARS + 1];
  if (str_field(r, body, "name", true, 1024, &name) != 0) {
    json_decref(body);
    return;
  }
  if (!api_cloud_name_ok(name, NAME_MAX_CHARS)) {
    json_decref(body);
    api_error(r, 400, "Invalid name: a group name has 1 to %d letters, digits and the "
                      "characters _ . -",
              NAME_MAX_CHARS);
    return;
  }
  snprintf(copy, sizeof(copy), "%s", name);
  json_decref(body);
  group_put(r, copy, true);
}

void api_group_update(api_req_t *r) {
  if (api_require_admin(r) != 0)
    return;
  if (!api_cloud_name_ok(r->params[0], NAME_MAX_CHARS)) {
    api_error(r, 404, "Group %s not found.", r->params[0]);
    return;
  }
  group_put(r, r->params[0], false);
}

void api_group_delete(api_req_t *r) {
  if (api_require_admin(r) != 0)
    return;
  json_t *rec = load_group(r);
  if (rec == NULL)
    return;
  int rc = cloud_group_delete(r->ctx->redis, r->ident.tenant, r->params[0]);
  if (rc != 0 && rc != ACTOR_ENOTFOUND)
    api_store_error(r, rc, "group");
  else
    api_ok(r, "Group deleted successfully.", NULL);
  json_decref(rec);
}

/* ---- params ---- */

void api_params_get(api_req_t *r) {
  json_t *params = NULL, *out = json_array();
  int rc = out ? cloud_params_get(r->ctx->redis, r->ident.tenant, &params) : ACTOR_ENOMEM;
  if (rc != 0) {
    json_decref(out);
    api_store_error(r, rc, "params");
    return;
  }
  /* a list of {name, value}: the names are the user's and keep their case
   * whatever [web] case says */
  const char *k;
  json_t *v;
  json_object_foreach(params, k, v) json_array_append_new(
      out, json_pack("{s:s, s:O}", "name", k, "value", v));
  json_decref(params);
  api_ok(r, "Params retrieved successfully.", out);
}

void api_params_set(api_req_t *r) {
  if (api_require_admin(r) != 0)
    return;
  /* The body's keys are token names: read without case conversion. */
  ahttp_req_t *h = r->http;
  json_t *body = NULL;
  if (h->is_form) {
    body = json_object();
    for (size_t i = 0; body && i < h->form.n; i++)
      json_object_set_new(body, h->form.items[i].key,
                          json_string(h->form.items[i].value ? h->form.items[i].value : ""));
  } else {
    json_error_t err;
    body = json_loadb(h->body ? h->body : "", h->body_len, 0, &err);
    if (body == NULL) {
      api_error(r, 400, "Could not parse the request body as JSON: %s.", err.text);
      return;
    }
  }
  if (!json_is_object(body) || json_object_size(body) == 0) {
    json_decref(body);
    api_error(r, 400, "The request body must be a JSON object {name: value, ...} of at least "
                      "one param.");
    return;
  }
  if (json_object_size(body) > LIST_MAX) {
    json_decref(body);
    api_error(r, 400, "At most %d params at once.", LIST_MAX);
    return;
  }
  const char *k;
  json_t *v;
  json_object_foreach(body, k, v) {
    if (!api_cloud_name_ok(k, NAME_MAX_CHARS)) {
      api_error(r, 400, "Invalid param name '%.80s': 1 to %d letters, digits and the characters "
                        "_ . -", k, NAME_MAX_CHARS);
      json_decref(body);
      return;
    }
    if (!json_is_string(v) || json_string_length(v) > PARAM_VALUE_MAX) {
      api_error(r, 400, "Invalid value of param %s: a string of at most %d bytes.", k,
                PARAM_VALUE_MAX);
      json_decref(body);
      return;
    }
  }
  int rc = cloud_params_set(r->ctx->redis, r->ident.tenant, body);
  json_decref(body);
  if (rc == ACTOR_ETOOBIG) {
    api_error(r, 400, "Too many params: a tenant has at most %d; delete some first.",
              CLOUD_PARAMS_MAX);
    return;
  }
  if (rc != 0) {
    api_store_error(r, rc, "params");
    return;
  }
  api_params_get(r);
}

void api_param_delete(api_req_t *r) {
  if (api_require_admin(r) != 0)
    return;
  int rc = api_cloud_name_ok(r->params[0], NAME_MAX_CHARS)
               ? cloud_params_delete(r->ctx->redis, r->ident.tenant, r->params[0])
               : ACTOR_ENOTFOUND;
  if (rc == ACTOR_ENOTFOUND)
    api_error(r, 404, "Param %s not found.", r->params[0]);
  else if (rc != 0)
    api_store_error(r, rc, "params");
  else
    api_ok(r, "Param deleted successfully.", NULL);
}
