/* JSON <-> BSON for the MongoDB store.
 *
 * Design note. Documents are converted by walking them (jansson objects in,
 * bson_iter out) rather than through extended-JSON text: that is exact for
 * the JSON types (an integer stays an int64, a real a double, whatever
 * their values) and skips a print/parse per document. Only the BSON types
 * JSON has no word for (ObjectId, date, binary, decimal...) go through
 * libbson's extended-JSON reader and writer, one value at a time. */
#include "actor/store.h"

#include <bson/bson.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "store_int.h"

/* Nesting deeper than this is refused (a stack-depth bound). */
#define STORE__MONGO_MAX_DEPTH 100

/* ---- JSON -> BSON ---- */



/* Type keywords of extended JSON: a one-key object {"$oid": ...} is a value
 * of that type, not a document. Query operators ($in, $regex...) are not. */
static int is_extjson_key(const char *k) {
  static const char *const keys[] = {"$oid",    "$date",        "$numberDecimal", "$numberLong",
                                     "$numberInt", "$numberDouble", "$binary",   "$uuid",
                                     "$regularExpression", "$timestamp", "$minKey", "$maxKey",
                                     "$symbol", "$code",        "$undefined",     "$dbPointer",
                                     NULL};
  for (int i = 0; keys[i]; i++)
    if (strcmp(k, keys[i]) == 0)
      return 1;
  return 0;
}

/* Appends an extended-JSON value by letting libbson read {"v": value}. */
static int append_extjson(bson_t *b, const char *key, const json_t *v) {
  json_t *wrap = json_pack("{s:O}", "v", v);
  char *text = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
  bson_error_t err;
  bson_t *tmp = NULL;
  bson_iter_t it;
  int rc = ACTOR_ENOMEM;

  if (!text)
    goto cleanup;
  tmp = bson_new_from_json((const uint8_t *)text, -1, &err);
  if (!tmp || !bson_iter_init_find(&it, tmp, "v")) {
    LOG_ERROR("store", "mongo: bad extended JSON value for \"%s\": %s", key,
              tmp ? "no value" : err.message);
    rc = ACTOR_EINVAL;
    goto cleanup;
  }
  rc = bson_append_iter(b, key, -1, &it) ? 0 : ACTOR_ETOOBIG;
cleanup:
  if (tmp)
    bson_destroy(tmp);
  free(text);
  json_decref(wrap);
  return rc;
}

static int append_members(bson_t *b, const json_t *obj, int depth) {
  const char *k;
  json_t *val;
  void *iter;
  for (iter = json_object_iter((json_t *)obj); iter;
       iter = json_object_iter_next((json_t *)obj, iter)) {
    k = json_object_iter_key(iter);
    val = json_object_iter_value(iter);
    if (strlen(k) != json_object_iter_key_len(iter))
      return ACTOR_EINVAL; /* a key with a NUL cannot be a BSON key */
    int rc = store__bson_append_json(b, k, val, depth);
    if (rc != 0)
      return rc;
  }
  return 0;
}

static int append_object(bson_t *b, const char *key, const json_t *v, int depth) {
  bson_t child;
  int rc;
  if (json_object_size(v) == 1) {
    const char *k = json_object_iter_key(json_object_iter((json_t *)v));
    const json_t *x = json_object_iter_value(json_object_iter((json_t *)v));
    if (is_extjson_key(k)) {
      bson_oid_t oid;
      if (strcmp(k, "$oid") == 0 && json_is_string(x) &&
          bson_oid_is_valid(json_string_value(x), json_string_length(x)) &&
          json_string_length(x) == 24) {
        bson_oid_init_from_string(&oid, json_string_value(x));
        return bson_append_oid(b, key, -1, &oid) ? 0 : ACTOR_ETOOBIG;
      }
      if (strcmp(k, "$date") == 0 && json_is_integer(x))
        return bson_append_date_time(b, key, -1, json_integer_value(x)) ? 0 : ACTOR_ETOOBIG;
      return append_extjson(b, key, v);
    }
  }
  if (!bson_append_document_begin(b, key, -1, &child))
    return ACTOR_ETOOBIG;
  rc = append_members(&child, v, depth + 1);
  if (!bson_append_document_end(b, &child) && rc == 0)
    rc = ACTOR_ETOOBIG;
  return rc;
}

static int append_array(bson_t *b, const char *key, const json_t *v, int depth) {
  bson_t child;
  int rc = 0;
  if (!bson_append_array_begin(b, key, -1, &child))
    return ACTOR_ETOOBIG;
  for (size_t i = 0; i < json_array_size(v) && rc == 0; i++) {
    char buf[16];
    const char *ik;
    bson_uint32_to_string((uint32_t)i, &ik, buf, sizeof(buf));
    rc = store__bson_append_json(&child, ik, json_array_get(v, i), depth + 1);
  }
  if (!bson_append_array_end(b, &child) && rc == 0)
    rc = ACTOR_ETOOBIG;
  return rc;
}

int store__bson_append_json(bson_t *b, const char *key, const json_t *v, int depth) {
  bool ok;
  if (depth > STORE__MONGO_MAX_DEPTH)
    return ACTOR_ETOOBIG;
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return append_object(b, key, v, depth);
  case JSON_ARRAY:
    return append_array(b, key, v, depth);
  case JSON_STRING:
    ok = bson_append_utf8(b, key, -1, json_string_value(v), (int)json_string_length(v));
    break;
  case JSON_INTEGER:
    ok = bson_append_int64(b, key, -1, json_integer_value(v));
    break;
  case JSON_REAL:
    ok = bson_append_double(b, key, -1, json_real_value(v));
    break;
  case JSON_TRUE:
  case JSON_FALSE:
    ok = bson_append_bool(b, key, -1, json_is_true(v));
    break;
  case JSON_NULL:
  default:
    ok = bson_append_null(b, key, -1);
    break;
  }
  return ok ? 0 : ACTOR_ETOOBIG;
}

int store_mongo_json_to_bson(const json_t *obj, bson_t *out) {
  if (!json_is_object(obj))
    return ACTOR_EINVAL;
  return append_members(out, obj, 1);
}

/* ---- BSON -> JSON ---- */

static json_t *iter_to_json(bson_iter_t *it, int depth);

/* Canonical extended JSON of one value, for the types JSON has no word for. */
static json_t *extjson_value(const bson_iter_t *it) {
  bson_t tmp = BSON_INITIALIZER;
  json_t *root = NULL, *v = NULL;
  char *text;
  if (!bson_append_iter(&tmp, "v", 1, it))
    goto cleanup;
  text = bson_as_canonical_extended_json(&tmp, NULL);
  if (!text)
    goto cleanup;
  root = json_loads(text, 0, NULL);
  bson_free(text);
  v = json_incref(json_object_get(root, "v"));
cleanup:
  json_decref(root);
  bson_destroy(&tmp);
  return v;
}

static json_t *doc_to_json(bson_iter_t *it, int depth, int array) {
  json_t *out = array ? json_array() : json_object();
  if (!out)
    return NULL;
  while (bson_iter_next(it)) {
    json_t *v = iter_to_json(it, depth + 1);
    int rc;
    if (!v) {
      json_decref(out);
      return NULL;
    }
    if (array)
      rc = json_array_append_new(out, v);
    else
      rc = json_object_setn_new(out, bson_iter_key(it), bson_iter_key_len(it), v);
    if (rc != 0) {
      json_decref(out);
      return NULL;
    }
  }
  return out;
}

static json_t *iter_to_json(bson_iter_t *it, int depth) {
  bson_iter_t child;
  uint32_t len;
  const char *s;
  char hex[25];

  if (depth > STORE__MONGO_MAX_DEPTH)
    return NULL;
  switch (bson_iter_type(it)) {
  case BSON_TYPE_DOUBLE:
    return json_real(bson_iter_double(it));
  case BSON_TYPE_INT32:
    return json_integer(bson_iter_int32(it));
  case BSON_TYPE_INT64:
    return json_integer(bson_iter_int64(it));
  case BSON_TYPE_BOOL:
    return json_boolean(bson_iter_bool(it));
  case BSON_TYPE_NULL:
  case BSON_TYPE_UNDEFINED:
    return json_null();
  case BSON_TYPE_UTF8:
    s = bson_iter_utf8(it, &len);
    return json_stringn(s, len); /* NULL if not UTF-8 */
  case BSON_TYPE_DOCUMENT:
  case BSON_TYPE_ARRAY:
    if (!bson_iter_recurse(it, &child))
      return NULL;
    return doc_to_json(&child, depth, bson_iter_type(it) == BSON_TYPE_ARRAY);
  case BSON_TYPE_OID:
    bson_oid_to_string(bson_iter_oid(it), hex);
    return json_pack("{s:s}", "$oid", hex);
  case BSON_TYPE_DATE_TIME:
    return json_pack("{s:I}", "$date", (json_int_t)bson_iter_date_time(it));
  default:
    return extjson_value(it);
  }
}

int store_mongo_bson_to_json(const bson_t *doc, json_t **out) {
  bson_iter_t it;
  *out = NULL;
  if (!bson_iter_init(&it, doc))
    return ACTOR_EPARSE;
  *out = doc_to_json(&it, 0, 0);
  if (!*out)
    return ACTOR_EPARSE;
  return 0;
}

