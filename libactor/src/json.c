/* JSON helpers over jansson: the response envelope every API answer is
 * wrapped in, borrowed getters with defaults, compact dumps, and the
 * snake_case <-> camelCase key conversion of `[web] case = camel`.
 * to_snake follows Abaco's camel_to_under (two regular expressions,
 * "(.)([A-Z][a-z]+)" -> "\1_\2" then "([a-z0-9])([A-Z])" -> "\1_\2", then
 * lower-case); to_camel upper-cases a lower-case letter after '_' and drops
 * the '_', so the two round-trip on our own field names. */
#include "actor/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *actor_envelope(bool ok, const char *message, json_t *result, const char *version) {
  json_t *env = json_object();
  if (env == NULL) {
    json_decref(result);
    return NULL;
  }
  if (json_object_set_new(env, "status", json_string(ok ? "success" : "error")) != 0 ||
      json_object_set_new(env, "message", json_string(message != NULL ? message : "")) != 0 ||
      json_object_set_new(env, "result", result != NULL ? result : json_null()) != 0 ||
      json_object_set_new(env, "version", json_string(version != NULL ? version : "")) != 0) {
    /* json_object_set_new consumes the value even when it fails. */
    json_decref(env);
    return NULL;
  }
  return env;
}

static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Appends c if there is room (one byte is kept for the NUL). */
static void put(char *out, size_t outlen, size_t *o, char c) {
  if (*o + 1 < outlen)
    out[(*o)++] = c;
}

/* The cases both conversions leave alone: no room, no input, or a name
 * starting with '_' (copied as it is). 1 when out is done. */
static int case_trivial(const char *in, char *out, size_t outlen) {
  if (out == NULL || outlen == 0)
    return 1;
  if (in == NULL) {
    out[0] = '\0';
    return 1;
  }
  if (in[0] == '_') {
    snprintf(out, outlen, "%s", in);
    return 1;
  }
  return 0;
}

void actor_case_to_camel(const char *in, char *out, size_t outlen) {
  size_t o = 0;
  if (case_trivial(in, out, outlen))
    return;
  for (size_t i = 0; in[i]; i++) {
    if (in[i] == '_' && is_lower(in[i + 1])) {
      put(out, outlen, &o, (char)(in[i + 1] - 'a' + 'A'));
      i++;
    } else {
      put(out, outlen, &o, in[i]);
    }
  }
  out[o] = '\0';
}

void actor_case_to_snake(const char *in, char *out, size_t outlen) {
  if (case_trivial(in, out, outlen))
    return;
  /* Pass 1: "(.)([A-Z][a-z]+)" -> "\1_\2", non-overlapping, left to right.
   * Each match adds one '_', so the result is at most twice as long. */
  size_t n = strlen(in);
  char *s1 = malloc(2 * n + 1), *s2 = malloc(4 * n + 1);
  if (s1 == NULL || s2 == NULL) {
    free(s1);
    free(s2);
    out[0] = '\0';
    return;
  }
  size_t a = 0, i = 0;
  while (i < n) {
    if (i + 2 < n && in[i] != '\n' && is_upper(in[i + 1]) && is_lower(in[i + 2])) {
      size_t j = i + 3;
      while (j < n && is_lower(in[j]))
        j++;
      s1[a++] = in[i];
      s1[a++] = '_';
      memcpy(s1 + a, in + i + 1, j - i - 1);
      a += j - i - 1;
      i = j;
    } else {
      s1[a++] = in[i++];
    }
  }
  /* Pass 2: "([a-z0-9])([A-Z])" -> "\1_\2", then lower-case. */
  size_t b = 0;
  i = 0;
  while (i < a) {
    if (i + 1 < a && (is_lower(s1[i]) || is_digit(s1[i])) && is_upper(s1[i + 1])) {
      s2[b++] = s1[i];
      s2[b++] = '_';
      s2[b++] = s1[i + 1];
      i += 2;
    } else {
      s2[b++] = s1[i++];
    }
  }
  size_t o = 0;
  for (i = 0; i < b; i++)
    put(out, outlen, &o, is_upper(s2[i]) ? (char)(s2[i] - 'A' + 'a') : s2[i]);
  out[o] = '\0';
  free(s1);
  free(s2);
}

static bool is_opaque(const char *key, const char *const *opaque) {
  if (opaque == NULL)
    return false;
  char snake[256];
  actor_case_to_snake(key, snake, sizeof(snake));
  for (size_t i = 0; opaque[i] != NULL; i++)
    if (strcmp(key, opaque[i]) == 0 || strcmp(snake, opaque[i]) == 0)
      return true;
  return false;
}

json_t *actor_json_convert_keys(const json_t *v, bool camel, const char *const *opaque) {
  if (v == NULL)
    return NULL;
  if (json_is_array(v)) {
    json_t *arr = json_array();
    size_t i;
    json_t *item;
    if (arr == NULL)
      return NULL;
    json_array_foreach((json_t *)v, i, item) {
      if (json_array_append_new(arr, actor_json_convert_keys(item, camel, opaque)) != 0) {
        json_decref(arr);
        return NULL;
      }
    }
    return arr;
  }
  if (!json_is_object(v))
    return json_deep_copy(v);

  json_t *obj = json_object();
  const char *key;
  json_t *val;
  if (obj == NULL)
    return NULL;
  json_object_foreach((json_t *)v, key, val) {
    size_t klen = strlen(key);
    char stack[128];
    /* Conversion at most doubles a key (to_snake) and never lengthens it
     * otherwise; a heap buffer for the rare long key. */
    char *nk = 2 * klen + 1 <= sizeof(stack) ? stack : malloc(2 * klen + 1);
    if (nk == NULL) {
      json_decref(obj);
      return NULL;
    }
    if (camel)
      actor_case_to_camel(key, nk, 2 * klen + 1);
    else
      actor_case_to_snake(key, nk, 2 * klen + 1);
    json_t *nv = strcmp(key, "_links") == 0 || is_opaque(key, opaque)
                     ? json_deep_copy(val)
                     : actor_json_convert_keys(val, camel, opaque);
    int rc = json_object_set_new(obj, nk, nv);
    if (nk != stack)
      free(nk);
    if (rc != 0) {
      json_decref(obj);
      return NULL;
    }
  }
  return obj;
}

const char *actor_json_str(const json_t *obj, const char *key, const char *def) {
  json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : def;
}

long long actor_json_int(const json_t *obj, const char *key, long long def) {
  json_t *v = json_object_get(obj, key);
  if (json_is_integer(v))
    return json_integer_value(v);
  if (json_is_real(v)) { /* 3.0 from a Python client is still 3 */
    double d = json_real_value(v);
    if (d >= -9.2e18 && d <= 9.2e18 && d == (double)(long long)d)
      return (long long)d;
  }
  return def;
}

bool actor_json_bool(const json_t *obj, const char *key, bool def) {
  json_t *v = json_object_get(obj, key);
  return json_is_boolean(v) ? json_is_true(v) : def;
}

char *actor_json_dumps(const json_t *v) {
  if (v == NULL)
    return NULL;
  return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
}
