/* The launcher's pure parts: command bodies, the stack's parameters and
 * tags, the poll schedule and the reason a stack failed. No I/O here, so
 * tests/unit/test_launcher_plan.c covers them without servers.
 *
 * Parameters are MLiy's (KeyName, ImageId, InstanceType, IamInstanceProfile,
 * SecurityGroupIds, SubnetId, AvailabilityZone, KmsKeyId,
 * EBSVolumeDeviceName, VolumeSize, UserData), but CloudFormation refuses a
 * parameter its template does not declare, so only the declared ones are
 * sent: a template without a volume gets no volume parameters. The
 * declared keys come from the template's top-level Parameters mapping,
 * read with jansson for JSON and libyaml's event parser for YAML (whose
 * short tags such as !Ref are just tagged nodes to it); a YAML text libyaml
 * cannot read gets every parameter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "actor/json.h"
#include "launcher.h"

#define TEMPLATE_MAX_DEPTH 64

static int copy_field(const json_t *o, const char *key, bool required, char *dst, size_t n,
                      char *err, size_t errlen) {
  json_t *v = json_object_get(o, key);
  if (v == NULL || json_is_null(v)) {
    dst[0] = '\0';
    if (!required)
      return 0;
    snprintf(err, errlen, "missing field %s", key);
    return ACTOR_EINVAL;
  }
  const char *s = json_string_value(v);
  if (s == NULL) {
    snprintf(err, errlen, "field %s must be a string", key);
    return ACTOR_EINVAL;
  }
  size_t len = strlen(s);
  if ((required && len == 0) || len >= n) {
    snprintf(err, errlen, "field %s must be 1 to %zu characters", key, n - 1);
    return ACTOR_EINVAL;
  }
  memcpy(dst, s, len + 1);
  return 0;
}

int launcher_cmd_parse(const void *body, size_t len, bool need_action, launcher_cmd_t *out,
                       char *err, size_t errlen) {
  memset(out, 0, sizeof(*out));
  json_error_t je;
  json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
  if (j == NULL) {
    snprintf(err, errlen, "not JSON: %s", je.text);
    return ACTOR_EPARSE;
  }
  int rc = ACTOR_EINVAL;
  if (!json_is_object(j)) {
    snprintf(err, errlen, "the command must be a JSON object");
    goto cleanup;
  }
  if (copy_field(j, "tenant", true, out->tenant, sizeof(out->tenant), err, errlen) ||
      copy_field(j, "instance_id", true, out->instance_id, sizeof(out->instance_id), err,
                 errlen) ||
      copy_field(j, "request_id", false, out->request_id, sizeof(out->request_id), err, errlen) ||
      copy_field(j, "who", false, out->who, sizeof(out->who), err, errlen))
    goto cleanup;
  if (need_action) {
    if (copy_field(j, "action", true, out->action, sizeof(out->action), err, errlen))
      goto cleanup;
    static const char *const ACTIONS[] = {"start", "stop", "restart", "terminate", NULL};
    bool known = false;
    for (int i = 0; ACTIONS[i] && !known; i++)
      known = strcmp(ACTIONS[i], out->action) == 0;
    if (!known) {
      snprintf(err, errlen, "unknown action %s (start, stop, restart or terminate)", out->action);
      goto cleanup;
    }
  }
  rc = 0;
cleanup:
  json_decref(j);
  return rc;
}

/* The keys of the top-level Parameters mapping of a YAML document, or
 * ACTOR_EPARSE when libyaml cannot read it (or it is not a mapping). Nodes
 * are followed by depth: at depth 1 (the document's mapping) keys and
 * values alternate, and so they do at depth 2 inside Parameters' mapping. */
static int yaml_params(const char *tmpl, json_t **out) {
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p))
    return ACTOR_ENOMEM;
  yaml_parser_set_input_string(&p, (const unsigned char *)tmpl, strlen(tmpl));
  json_t *keys = json_object();
  int depth = 0;
  bool top_key = true; /* at depth 1 the next node is a key */
  int params = 0;      /* 1: the next node is Parameters' value; 2: inside its mapping */
  bool param_key = true;
  int rc = ACTOR_EPARSE;
  for (bool end = false; !end;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&p, &ev))
      goto cleanup;
    bool bad = false;
    switch (ev.type) {
    case YAML_DOCUMENT_END_EVENT:
    case YAML_STREAM_END_EVENT:
      end = true;
      break;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT:
      if (depth == 0 && ev.type != YAML_MAPPING_START_EVENT)
        bad = true;
      if (depth == 1) {
        params = params == 1 && !top_key && ev.type == YAML_MAPPING_START_EVENT ? 2 : 0;
        param_key = true;
      }
      if (++depth > TEMPLATE_MAX_DEPTH)
        bad = true;
      break;
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
      depth--;
      if (depth == 1) {
        if (params == 2)
          params = 0;
        top_key = !top_key;
      } else if (depth == 2 && params == 2) {
        param_key = !param_key;
      }
      break;
    case YAML_SCALAR_EVENT:
    case YAML_ALIAS_EVENT:
      if (depth == 1) {
        bool is_params = ev.type == YAML_SCALAR_EVENT &&
                         strcmp((const char *)ev.data.scalar.value, "Parameters") == 0;
        params = top_key && is_params ? 1 : 0;
        top_key = !top_key;
      } else if (depth == 2 && params == 2) {
        if (param_key && ev.type == YAML_SCALAR_EVENT)
          json_object_set_new(keys, (const char *)ev.data.scalar.value, json_false());
        param_key = !param_key;
      } else if (depth == 0 && ev.type == YAML_SCALAR_EVENT) {
        bad = true; /* a bare scalar document */
      }
      break;
    default:
      break;
    }
    yaml_event_delete(&ev);
    if (bad)
      goto cleanup;
  }
  rc = 0;
cleanup:
  yaml_parser_delete(&p);
  if (rc == 0)
    *out = keys;
  else
    json_decref(keys);
  return rc;
}

int launcher_template_params(const char *tmpl, json_t **out) {
  *out = NULL;
  const char *s = tmpl ? tmpl : "";
  while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
    s++;
  if (*s != '{') {
    json_t *keys = NULL;
    if (yaml_params(s, &keys) == 0)
      *out = keys;
    return 0; /* unreadable YAML: send everything, CloudFormation judges */
  }
  json_error_t je;
  json_t *t = json_loads(s, 0, &je);
  if (!json_is_object(t)) {
    json_decref(t);
    return ACTOR_EPARSE;
  }
  json_t *params = json_object_get(t, "Parameters");
  json_t *keys = json_object();
  int rc = 0;
  if (params && !json_is_object(params)) {
    rc = ACTOR_EPARSE;
  } else if (params) {
    const char *k;
    json_t *v;
    json_object_foreach(params, k, v) {
      json_object_set_new(keys, k, json_boolean(json_object_get(v, "Default") != NULL));
    }
  }
  json_decref(t);
  if (rc != 0) {
    json_decref(keys);
    return rc;
  }
  *out = keys;
  return 0;
}

/* An empty value is left out when the template gives the parameter a
 * Default (an empty VolumeSize would override a Number's "0"); without one
 * CloudFormation needs a value, so "" is sent. */
static void put(json_t *p, const json_t *declared, const char *key, const char *value) {
  const json_t *d = declared ? json_object_get(declared, key) : NULL;
  if (declared && (d == NULL || (json_is_true(d) && (value == NULL || *value == '\0'))))
    return;
  json_object_set_new(p, key, json_string(value ? value : ""));
}

/* A JSON value as parameter text: strings as they are, numbers printed. */
static void value_text(const json_t *v, char *buf, size_t n) {
  buf[0] = '\0';
  if (json_is_string(v))
    snprintf(buf, n, "%s", json_string_value(v));
  else if (json_is_integer(v))
    snprintf(buf, n, "%lld", (long long)json_integer_value(v));
  else if (json_is_real(v))
    snprintf(buf, n, "%g", json_real_value(v));
}

json_t *launcher_stack_params(const json_t *config, const json_t *group, const json_t *rec,
                              const char *user_data_b64, const json_t *declared) {
  json_t *p = json_object();
  if (p == NULL)
    return NULL;
  put(p, declared, "KeyName", actor_json_str(group, "key_name", ""));
  put(p, declared, "ImageId", actor_json_str(config, "image_id", ""));
  put(p, declared, "InstanceType", actor_json_str(rec, "instance_type", ""));
  put(p, declared, "IamInstanceProfile", actor_json_str(group, "iam_instance_profile", ""));
  actor_buf_t sg = {0};
  json_t *ids = json_object_get(group, "security_group_ids");
  size_t i;
  json_t *id;
  json_array_foreach(ids, i, id) {
    if (!json_is_string(id))
      continue;
    if (sg.len > 0)
      actor_buf_add(&sg, ",", 1);
    actor_buf_add(&sg, json_string_value(id), json_string_length(id));
  }
  put(p, declared, "SecurityGroupIds", sg.p && !sg.failed ? sg.p : "");
  free(sg.p);
  put(p, declared, "SubnetId", actor_json_str(group, "subnet_id", ""));
  put(p, declared, "AvailabilityZone", actor_json_str(group, "availability_zone", ""));
  const json_t *vol = json_object_get(config, "volume");
  char size[32];
  value_text(json_object_get(vol, "size"), size, sizeof(size));
  put(p, declared, "KmsKeyId", actor_json_str(vol, "kms_key_id", ""));
  put(p, declared, "EBSVolumeDeviceName", actor_json_str(vol, "device", ""));
  put(p, declared, "VolumeSize", size);
  put(p, declared, "UserData", user_data_b64);
  return p;
}

json_t *launcher_stack_tags(const char *tag, const json_t *rec) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "LaunchedBy", tag ? tag : "", "AbacoId",
                   actor_json_str(rec, "id", ""), "Owner", actor_json_str(rec, "owner", ""),
                   "Tenant", actor_json_str(rec, "tenant", ""), "Config",
                   actor_json_str(rec, "config", ""), "Name", actor_json_str(rec, "name", ""));
}

json_t *launcher_platform_tokens(const json_t *rec, const char *progress_url) {
  const char *id = actor_json_str(rec, "id", "");
  char url[1024];
  const char *base = progress_url ? progress_url : "";
  size_t bl = strlen(base);
  while (bl > 0 && base[bl - 1] == '/')
    bl--;
  snprintf(url, sizeof(url), "%.*s/instances/%s/progress", (int)bl, base, id);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "progress_url", url, "progress_token",
                   actor_json_str(rec, "progress_token", ""), "instance_id", id, "instance_name",
                   actor_json_str(rec, "name", ""), "owner", actor_json_str(rec, "owner", ""),
                   "tenant", actor_json_str(rec, "tenant", ""), "config",
                   actor_json_str(rec, "config", ""));
}

long launcher_poll_delay_ms(long initial_ms, long step_ms, long max_ms, long i) {
  if (i < 0)
    i = 0;
  long d = initial_ms;
  /* initial + step * i without overflow: stop adding once past the cap */
  if (step_ms > 0 && i > 0) {
    if (i > (max_ms - initial_ms) / step_ms + 1)
      d = max_ms;
    else
      d = initial_ms + step_ms * i;
  }
  return d > max_ms ? max_ms : d;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

launcher_stack_phase_t launcher_stack_phase(const char *status) {
  if (status == NULL)
    return LAUNCHER_STACK_WAIT;
  if (strcmp(status, "CREATE_COMPLETE") == 0)
    return LAUNCHER_STACK_COMPLETE;
  if (ends_with(status, "_FAILED") || strncmp(status, "ROLLBACK_", 9) == 0 ||
      strncmp(status, "DELETE_", 7) == 0)
    return LAUNCHER_STACK_FAILED;
  return LAUNCHER_STACK_WAIT;
}

const char *launcher_failure_reason(const json_t *events) {
  const char *found = NULL;
  size_t i;
  json_t *e;
  /* newest first: the last match in the array is the earliest failure */
  json_array_foreach(events, i, e) {
    const char *status = actor_json_str(e, "status", "");
    const char *reason = actor_json_str(e, "status_reason", "");
    if (strcmp(status, "CREATE_FAILED") == 0 && *reason &&
        strstr(reason, "Resource creation cancelled") == NULL)
      found = reason;
  }
  return found;
}

void launcher_copy_observed(json_t *fields, const json_t *inst) {
  static const char *const KEYS[] = {"private_ip", "public_ip", "launch_time",
                                     "availability_zone", NULL};
  if (fields == NULL)
    return;
  for (int i = 0; KEYS[i]; i++) {
    json_t *v = json_object_get(inst, KEYS[i]);
    json_object_set_new(fields, KEYS[i], v ? json_incref(v) : json_null());
  }
}

char *launcher_b64(const void *data, size_t len) {
  static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *in = data;
  if (len > ((size_t)-1 - 1) / 4 * 3 - 3)
    return NULL;
  char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
  if (out == NULL)
    return NULL;
  size_t i = 0;
  for (; i + 2 < len; i += 3) {
    unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
    *o++ = A[v >> 18 & 63];
    *o++ = A[v >> 12 & 63];
    *o++ = A[v >> 6 & 63];
    *o++ = A[v & 63];
  }
  if (i < len) {
    unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0);
    *o++ = A[v >> 18 & 63];
    *o++ = A[v >> 12 & 63];
    *o++ = i + 1 < len ? A[v >> 6 & 63] : '=';
    *o++ = '=';
  }
  *o = '\0';
  return out;
}
