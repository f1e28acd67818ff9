/* The JSON <-> BSON converter of the Mongo store, without a server: every
 * JSON type survives a round trip exactly (int64 extremes, reals that look
 * like integers, NULs in strings), BSON-only types come back as extended
 * JSON that converts back to the same bytes, and bad input is refused. */
#include <float.h>
#include <stdint.h>

#include "actor/errors.h"
#include "actor/store.h"
#include "test.h"
#include "store_int.h" /* the raw layer, to set up and inspect keys */

/* json -> bson -> json; returns the result (new reference) or NULL. */
static json_t *roundtrip(const json_t *in) {
  bson_t b = BSON_INITIALIZER;
  json_t *out = NULL;
  if (store_mongo_json_to_bson(in, &b) != 0 || store_mongo_bson_to_json(&b, &out) != 0)
    out = NULL;
  bson_destroy(&b);
  return out;
}

static void test_scalars(void) {
  json_t *in = json_pack("{s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:b, s:b, s:n, s:s}", "zero",
                         (json_int_t)0, "big", (json_int_t)9007199254740993LL, "max",
                         (json_int_t)INT64_MAX, "min", (json_int_t)INT64_MIN, "tenth", 0.1,
                         "one", 1.0, "huge", 1e300, "tiny", DBL_MIN, "t", 1, "f", 0, "nul",
                         "text", "h\xc3\xa9llo \xe2\x82\xac");
  json_t *out = roundtrip(in);
  ASSERT_TRUE(out != NULL);
  ASSERT_TRUE(json_equal(in, out));
  /* json_equal treats 1 and 1.0 as different types: check explicitly */
  ASSERT_TRUE(json_is_integer(json_object_get(out, "max")));
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "max")), INT64_MAX);
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "min")), INT64_MIN);
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "big")), 9007199254740993LL);
  ASSERT_TRUE(json_is_real(json_object_get(out, "one")));
  ASSERT_TRUE(json_real_value(json_object_get(out, "tenth")) == 0.1);
  ASSERT_TRUE(json_real_value(json_object_get(out, "tiny")) == DBL_MIN);
  ASSERT_TRUE(json_is_true(json_object_get(out, "t")));
  ASSERT_TRUE(json_is_null(json_object_get(out, "nul")));
  json_decref(in);
  json_decref(out);
}

static void test_bson_types_are_int64_double(void) {
  bson_t b = BSON_INITIALIZER;
  bson_iter_t it;
  json_t *in = json_pack("{s:i, s:f}", "i", 5, "d", 5.0);
  ASSERT_EQ_INT(store_mongo_json_to_bson(in, &b), 0);
  ASSERT_TRUE(bson_iter_init_find(&it, &b, "i") && BSON_ITER_HOLDS_INT64(&it));
  ASSERT_TRUE(bson_iter_init_find(&it, &b, "d") && BSON_ITER_HOLDS_DOUBLE(&it));
  bson_destroy(&b);
  json_decref(in);
}

static void test_nested_and_order(void) {
  json_t *in = json_loads("{\"z\":1,\"a\":{\"y\":[1,2.5,\"x\",[],{},{\"k\":[null,true]}],"
                          "\"b\":{}},\"m\":[[[[1]]]]}",
                          0, NULL);
  json_t *out = roundtrip(in);
  char *s = out ? json_dumps(out, JSON_COMPACT) : NULL;
  ASSERT_TRUE(out != NULL && json_equal(in, out));
  /* key order is BSON order, which matters for sort specs */
  ASSERT_EQ_STR(s, "{\"z\":1,\"a\":{\"y\":[1,2.5,\"x\",[],{},{\"k\":[null,true]}],\"b\":{}},"
                   "\"m\":[[[[1]]]]}");
  free(s);
  json_decref(in);
  json_decref(out);
}

static void test_nul_in_string(void) {
  json_t *in = json_object();
  json_object_set_new(in, "s", json_stringn("a\0b", 3));
  json_t *out = roundtrip(in);
  ASSERT_TRUE(out != NULL);
  ASSERT_EQ_INT(json_string_length(json_object_get(out, "s")), 3);
  ASSERT_TRUE(json_equal(in, out));
  json_decref(in);
  json_decref(out);
}

static void test_int32_reads_as_integer(void) {
  bson_t b = BSON_INITIALIZER;
  json_t *out = NULL;
  BSON_APPEND_INT32(&b, "n", -7);
  BSON_APPEND_UNDEFINED(&b, "u");
  ASSERT_EQ_INT(store_mongo_bson_to_json(&b, &out), 0);
  ASSERT_TRUE(json_is_integer(json_object_get(out, "n")));
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "n")), -7);
  ASSERT_TRUE(json_is_null(json_object_get(out, "u")));
  json_decref(out);
  bson_destroy(&b);
}

static void test_oid_and_date(void) {
  bson_t b = BSON_INITIALIZER, back = BSON_INITIALIZER;
  bson_oid_t oid;
  bson_iter_t it;
  json_t *out = NULL;
  char hex[25];

  bson_oid_init(&oid, NULL);
  bson_oid_to_string(&oid, hex);
  BSON_APPEND_OID(&b, "_id", &oid);
  BSON_APPEND_DATE_TIME(&b, "when", 1700000000123LL);
  ASSERT_EQ_INT(store_mongo_bson_to_json(&b, &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(out, "_id"), "$oid")), hex);
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(out, "when"), "$date")),
                1700000000123LL);
  /* and back to the same BSON */
  ASSERT_EQ_INT(store_mongo_json_to_bson(out, &back), 0);
  ASSERT_TRUE(bson_equal(&b, &back));
  ASSERT_TRUE(bson_iter_init_find(&it, &back, "_id") && BSON_ITER_HOLDS_OID(&it));
  ASSERT_TRUE(bson_iter_init_find(&it, &back, "when") && BSON_ITER_HOLDS_DATE_TIME(&it));
  json_decref(out);
  bson_destroy(&b);
  bson_destroy(&back);
}

/* Types JSON has no word for travel as canonical extended JSON and back. */
static void test_other_types_roundtrip(void) {
  bson_t b = BSON_INITIALIZER, back = BSON_INITIALIZER;
  bson_decimal128_t dec;
  json_t *out = NULL;
  const uint8_t bin[] = {0, 1, 2, 255};

  bson_decimal128_from_string("12.345", &dec);
  BSON_APPEND_DECIMAL128(&b, "dec", &dec);
  BSON_APPEND_BINARY(&b, "bin", BSON_SUBTYPE_BINARY, bin, sizeof(bin));
  BSON_APPEND_REGEX(&b, "re", "^a.*", "i");
  BSON_APPEND_TIMESTAMP(&b, "ts", 1700000000, 3);
  BSON_APPEND_MINKEY(&b, "min");
  BSON_APPEND_MAXKEY(&b, "max");
  ASSERT_EQ_INT(store_mongo_bson_to_json(&b, &out), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(out, "dec"), "$numberDecimal")),
                "12.345");
  ASSERT_EQ_INT(store_mongo_json_to_bson(out, &back), 0);
  ASSERT_TRUE(bson_equal(&b, &back));
  json_decref(out);
  bson_destroy(&b);
  bson_destroy(&back);
}

static void test_extjson_input(void) {
  json_t *in = json_loads("{\"a\":{\"$numberLong\":\"5\"},\"b\":{\"$numberDouble\":\"2.0\"},"
                          "\"c\":{\"$numberInt\":\"3\"},"
                          "\"q\":{\"$in\":[1,2]},\"r\":{\"$regex\":\"^x\",\"$options\":\"i\"}}",
                          0, NULL);
  json_t *out = roundtrip(in);
  ASSERT_TRUE(out != NULL);
  ASSERT_TRUE(json_is_integer(json_object_get(out, "a")));
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "a")), 5);
  ASSERT_TRUE(json_is_real(json_object_get(out, "b")));
  ASSERT_EQ_INT(json_integer_value(json_object_get(out, "c")), 3);
  /* query operators are plain documents */
  ASSERT_TRUE(json_equal(json_object_get(in, "q"), json_object_get(out, "q")));
  ASSERT_TRUE(json_equal(json_object_get(in, "r"), json_object_get(out, "r")));
  json_decref(in);
  json_decref(out);
}

static void test_bad_input(void) {
  bson_t b = BSON_INITIALIZER;
  json_t *arr = json_array(), *bad_oid = json_pack("{s:{s:s}}", "x", "$oid", "xyz");
  json_t *nulkey = json_object(), *deep = json_pack("{s:i}", "leaf", 1);

  ASSERT_EQ_INT(store_mongo_json_to_bson(arr, &b), ACTOR_EINVAL);
  ASSERT_EQ_INT(store_mongo_json_to_bson(NULL, &b), ACTOR_EINVAL);
  bson_reinit(&b);
  ASSERT_EQ_INT(store_mongo_json_to_bson(bad_oid, &b), ACTOR_EINVAL);
  bson_reinit(&b);
  json_object_setn_new(nulkey, "a\0b", 3, json_true());
  ASSERT_EQ_INT(store_mongo_json_to_bson(nulkey, &b), ACTOR_EINVAL);
  bson_reinit(&b);
  for (int i = 0; i < 150; i++)
    deep = json_pack("{s:o}", "d", deep);
  ASSERT_EQ_INT(store_mongo_json_to_bson(deep, &b), ACTOR_ETOOBIG);
  bson_destroy(&b);
  json_decref(arr);
  json_decref(bad_oid);
  json_decref(nulkey);
  json_decref(deep);
}

static void test_invalid_utf8_out(void) {
  bson_t b = BSON_INITIALIZER;
  json_t *out = (json_t *)1;
  bson_append_utf8(&b, "s", 1, "\xff\xfe", 2);
  ASSERT_EQ_INT(store_mongo_bson_to_json(&b, &out), ACTOR_EPARSE);
  ASSERT_TRUE(out == NULL);
  bson_destroy(&b);
}

int main(void) {
  RUN_TEST(test_scalars);
  RUN_TEST(test_bson_types_are_int64_double);
  RUN_TEST(test_nested_and_order);
  RUN_TEST(test_nul_in_string);
  RUN_TEST(test_int32_reads_as_integer);
  RUN_TEST(test_oid_and_date);
  RUN_TEST(test_other_types_roundtrip);
  RUN_TEST(test_extjson_input);
  RUN_TEST(test_bad_input);
  RUN_TEST(test_invalid_utf8_out);
  store_mongo_cleanup();
  TEST_EXIT();
}
