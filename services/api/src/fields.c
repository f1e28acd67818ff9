/* Typed fields of a request body. A JSON body carries real types; a form
 * body carries only strings, so each reader also accepts the string form
 * of its type (booleans as true/false/True/False, integers as digits,
 * dicts and lists as JSON text). Every refusal is a 400 naming the field. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

static bool absent(const json_t *v) {
  return v == NULL || json_is_null(v);
}

int api_field_bool(api_req_t *r, json_t *body, const char *field, bool def, bool *out) {
  json_t *v = json_object_get(body, field);
  if (absent(v)) {
    *out = def;
    return 0;
  }
  if (json_is_boolean(v)) {
    *out = json_is_true(v);
    return 0;
  }
  const char *s = json_string_value(v);
  if (s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0)) {
    *out = true;
    return 0;
  }
  if (s && (strcmp(s, "false") == 0 || strcmp(s, "False") == 0)) {
    *out = false;
    return 0;
  }
  api_error(r, 400, "Invalid %s: the value must be a boolean (true or false).", field);
  return -1;
}

/* A JSON value, or the value its JSON text (form field) decodes to. */
static json_t *decoded(json_t *v) {
  if (json_is_string(v))
    return json_loads(json_string_value(v), JSON_DECODE_ANY, NULL);
  return json_incref(v);
}

/* A field holding a JSON value of type `want`, possibly as JSON text. */
static int typed_field(api_req_t *r, json_t *body, const char *field, json_type want,
                       const char *what, json_t **out) {
  json_t *v = json_object_get(body, field);
  *out = NULL;
  if (absent(v))
    return 0;
  json_t *d = decoded(v);
  if (d != NULL && json_typeof(d) == want) {
    *out = d;
    return 0;
  }
  json_decref(d);
  api_error(r, 400, "Invalid %s: the value must be a JSON %s.", field, what);
  return -1;
}

int api_field_object(api_req_t *r, json_t *body, const char *field, json_t **out) {
  return typed_field(r, body, field, JSON_OBJECT, "object (dictionary)", out);
}

int api_field_list(api_req_t *r, json_t *body, const char *field, json_t **out) {
  return typed_field(r, body, field, JSON_ARRAY, "list", out);
}

int api_field_int(api_req_t *r, json_t *body, const char *field, long long min, bool *present,
                  long long *out) {
  json_t *v = json_object_get(body, field);
  if (present)
    *present = false;
  if (absent(v))
    return 0;
  long long n = 0;
  bool ok = false;
  if (json_is_integer(v)) {
    n = json_integer_value(v);
    ok = true;
  } else if (json_is_string(v)) {
    const char *s = json_string_value(v);
    char *end = NULL;
    errno = 0;
    n = strtoll(s, &end, 10);
    ok = *s != '\0' && end && *end == '\0' && errno == 0;
  }
  if (!ok) {
    api_error(r, 400, "Invalid %s: the value must be an integer.", field);
    return -1;
  }
  if (n < min) {
    api_error(r, 400, "Invalid %s: the value must be an integer of at least %lld.", field, min);
    return -1;
  }
  *out = n;
  if (present)
    *present = true;
  return 0;
}

int api_field_string(api_req_t *r, json_t *body, const char *field, const char **out) {
  json_t *v = json_object_get(body, field);
  *out = NULL;
  if (absent(v))
    return 0;
  if (!json_is_string(v)) {
    api_error(r, 400, "Invalid %s: the value must be a string.", field);
    return -1;
  }
  *out = json_string_value(v);
  return 0;
}

int api_check_limit(api_req_t *r, api_limit_t which, size_t have) {
  static const char *const UNITS[] = {[API_UNIT_CHARS] = "characters",
                                      [API_UNIT_JSON] = "bytes of JSON text",
                                      [API_UNIT_ITEMS] = "entries"};
  const api_limit_def_t *l = api_limit(which);
  if (have <= l->max)
    return 0;
  api_error(r, 400, "Invalid %s: at most %zu %s are allowed; this one has %zu.", l->field, l->max,
            UNITS[l->unit], have);
  return -1;
}

int api_check_text(api_req_t *r, api_limit_t which, const char *s) {
  return s ? api_check_limit(r, which, api_utf8_chars(s)) : 0;
}

int api_check_json(api_req_t *r, api_limit_t which, const json_t *v) {
  return v ? api_check_limit(r, which, json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY))
           : 0;
}

int api_field_text(api_req_t *r, json_t *body, api_limit_t which, const char **out) {
  if (api_field_string(r, body, api_limit(which)->field, out) != 0)
    return -1;
  return api_check_text(r, which, *out);
}
