/* Token replacement in user data ({{{name}}}, docs/cloud.md) and the
 * [cloud_tokens] section. No I/O.
 *
 * One left-to-right pass: a value is copied as it is, never scanned again,
 * so a value holding "{{{x}}}" stays literal (no recursion, no loops). An
 * opening "{{{" not followed by a name of [A-Za-z0-9_.-]+ and "}}}" is
 * text, left alone. The output is bounded by CLOUD_USER_DATA_MAX (EC2's
 * 16 KiB limit on user data), checked as it grows, so a small text full of
 * tokens with large values cannot make a large allocation. */
#include <stdlib.h>
#include <string.h>

#include "actor/cloud.h"
#include "cloud_int.h"

#define TOKEN_NAME_MAX 128

typedef struct {
  char *p;
  size_t len, cap;
} out_t;

static int put(out_t *o, const char *s, size_t n) {
  if (o->len + n > CLOUD_USER_DATA_MAX)
    return ACTOR_ETOOBIG;
  if (o->len + n + 1 > o->cap) {
    size_t cap = o->cap ? o->cap : 256;
    while (cap < o->len + n + 1)
      cap *= 2;
    char *p = realloc(o->p, cap);
    if (p == NULL)
      return ACTOR_ENOMEM;
    o->p = p;
    o->cap = cap;
  }
  memcpy(o->p + o->len, s, n);
  o->len += n;
  o->p[o->len] = '\0';
  return 0;
}

static bool name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '.' || c == '-';
}

/* The length of the name of a token at s (just after "{{{") when it is
 * closed by "}}}", else 0. */
static size_t token_at(const char *s) {
  size_t n = 0;
  while (name_char(s[n]))
    n++;
  return n > 0 && strncmp(s + n, "}}}", 3) == 0 ? n : 0;
}

/* The value of a token: the first source that has it. Strings as they
 * are; numbers and booleans as their JSON text (into buf). */
static const char *lookup(const json_t *const *sources, const char *name, char *buf,
                          size_t buflen) {
  for (size_t i = 0; sources && sources[i]; i++) {
    json_t *v = json_object_get(sources[i], name);
    if (json_is_string(v))
      return json_string_value(v);
    if (json_is_number(v) || json_is_boolean(v)) {
      char *text = json_dumps(v, JSON_ENCODE_ANY);
      if (text == NULL)
        return NULL;
      size_t n = strlen(text);
      if (n >= buflen)
        n = buflen - 1;
      memcpy(buf, text, n);
      buf[n] = '\0';
      free(text);
      return buf;
    }
  }
  return NULL;
}

int cloud_render_tokens(const char *text, const json_t *const *sources, char **out,
                        char *missing, size_t missing_len) {
  out_t o = {0};
  int rc = 0;
  *out = NULL;
  if (missing && missing_len)
    *missing = '\0';
  if (text == NULL)
    return ACTOR_EINVAL;
  rc = put(&o, "", 0); /* an empty text renders as "" */
  const char *s = text;
  while (rc == 0 && *s) {
    const char *open = strstr(s, "{{{");
    if (open == NULL) {
      rc = put(&o, s, strlen(s));
      break;
    }
    size_t n = token_at(open + 3);
    if (n == 0) { /* not a token: the brace is text */
      rc = put(&o, s, (size_t)(open - s) + 1);
      s = open + 1;
      continue;
    }
    rc = put(&o, s, (size_t)(open - s));
    char name[TOKEN_NAME_MAX + 1], num[64];
    if (rc == 0 && n > TOKEN_NAME_MAX)
      rc = ACTOR_ENOTFOUND; /* no source can have it */
    if (rc == 0) {
      memcpy(name, open + 3, n);
      name[n] = '\0';
      const char *v = lookup(sources, name, num, sizeof(num));
      rc = v ? put(&o, v, strlen(v)) : ACTOR_ENOTFOUND;
    }
    if (rc == ACTOR_ENOTFOUND && missing && missing_len) {
      size_t m = n < missing_len - 1 ? n : missing_len - 1;
      memcpy(missing, open + 3, m);
      missing[m] = '\0';
    }
    s = open + 3 + n + 3;
  }
  if (rc != 0) {
    free(o.p);
    return rc;
  }
  *out = o.p;
  return 0;
}

static void add_token(const char *key, const char *value, void *ud) {
  json_t *obj = ud;
  if (*key)
    json_object_set_new(obj, key, json_string(value));
}

json_t *cloud_config_tokens(const actor_config_t *cfg) {
  json_t *obj = json_object();
  if (obj)
    actor_config_each(cfg, "cloud_tokens", add_token, obj);
  return obj;
}
