/* JSON helpers over jansson: the API response envelope, snake/camel case
 * conversion of object keys, and rendering a value the way Python's str()
 * prints it (what Abaco puts into an actor's MSG). */
#ifndef ACTOR_JSON_H
#define ACTOR_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* {"status","message","result","version"}. `result` is stolen (NULL -> null);
 * a NULL message or version becomes "". Returns a new reference (NULL only
 * when out of memory, result then released). */
json_t *actor_envelope(bool ok, const char *message, json_t *result, const char *version);

/* "execution_id" -> "executionId"; "_links" and keys starting with '_' are
 * kept as they are. Writes into out (NUL-terminated, truncating). */
void actor_case_to_camel(const char *in, char *out, size_t outlen);
/* "maxWorkers" -> "max_workers", as Abaco's camel_to_under
 * ("getHTTPResponse" -> "get_http_response"); keys starting with '_' are
 * kept. to_camel only folds "_<a-z>", so the two round-trip. */
void actor_case_to_snake(const char *in, char *out, size_t outlen);
/* Deep copy with every object key converted (camel=true: to camelCase,
 * else to snake_case). The contents of a key named "_links" are not
 * converted, and neither are keys of objects under keys listed in
 * `opaque` (NULL-terminated, e.g. "default_environment", "state"). New reference. */
json_t *actor_json_convert_keys(const json_t *v, bool camel, const char *const *opaque);

/* Python str() of a JSON value: {'key': 'value', 'flag': True, 'n': None},
 * lists as [1, 2], floats as Python repr, strings quoted with ' unless they
 * contain ' and no " (then "), escaping like Python. A top-level string
 * is returned unquoted (str() of a str). Returns malloc'd text or NULL. */
char *actor_pyrepr(const json_t *v);
/* Like actor_pyrepr but a top-level string is quoted too (repr()). */
char *actor_pyrepr_quoted(const json_t *v);

/* A growable NUL-terminated text buffer for rendering (start from {0}).
 * After an allocation failure `failed` is set and appends do nothing; p
 * (NULL until the first append) belongs to the caller: free() it. */
typedef struct {
  char *p;
  size_t len, cap;
  bool failed;
} actor_buf_t;

/* Appends n bytes of s (keeping p NUL-terminated). */
void actor_buf_add(actor_buf_t *b, const char *s, size_t n);

/* Grows an array p of *cap elements of `size` bytes to hold at least
 * `need`, doubling *cap from `first`. Returns the array (p itself when it
 * is big enough), or NULL when out of memory: p and *cap are then
 * unchanged. */
void *actor_grow(void *p, size_t *cap, size_t need, size_t size, size_t first);

/* Borrowed getters with defaults, for readable model code. */
const char *actor_json_str(const json_t *obj, const char *key, const char *def);
long long actor_json_int(const json_t *obj, const char *key, long long def);
bool actor_json_bool(const json_t *obj, const char *key, bool def);

/* Dumps compactly (no spaces), any value type, keys in insertion order;
 * malloc'd, caller frees; NULL for NULL. */
char *actor_json_dumps(const json_t *v);

#endif
