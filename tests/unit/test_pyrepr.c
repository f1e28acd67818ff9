/* Unit tests for actor_pyrepr(): the expected strings were produced by
 * CPython 3.11 as str(json.loads(text)) and repr(json.loads(text)) for the
 * same JSON text (what Abaco puts into an actor's MSG). */
#include "actor/json.h"
#include "test.h"

struct pycase {
  const char *json;
  const char *str;  /* str(v) */
  const char *repr; /* repr(v) */
};

static const struct pycase cases[] = {
    {"{\"a\": 1, \"b\": true, \"c\": null}", "{'a': 1, 'b': True, 'c': None}", "{'a': 1, 'b': True, 'c': None}"},
    {"{\"key\": \"value\", \"flag\": true, \"n\": null}", "{'key': 'value', 'flag': True, 'n': None}", "{'key': 'value', 'flag': True, 'n': None}"},
    {"{\"z\": 1, \"a\": 2, \"m\": 3}", "{'z': 1, 'a': 2, 'm': 3}", "{'z': 1, 'a': 2, 'm': 3}"},
    {"[1, 2, [3, [4, {}]], []]", "[1, 2, [3, [4, {}]], []]", "[1, 2, [3, [4, {}]], []]"},
    {"{\"nested\": {\"list\": [1.5, \"x\", false], \"empty\": {}}}", "{'nested': {'list': [1.5, 'x', False], 'empty': {}}}", "{'nested': {'list': [1.5, 'x', False], 'empty': {}}}"},
    {"[1.0, 0.1, 1e100, 1e16, 1e15, 1e-05, 0.0001, 123456789012345678.0, -0.0, 2.5, 5e-324, 1.7976931348623157e308, 0.30000000000000004, 100.0, 3.14159]", "[1.0, 0.1, 1e+100, 1e+16, 1000000000000000.0, 1e-05, 0.0001, 1.2345678901234568e+17, -0.0, 2.5, 5e-324, 1.7976931348623157e+308, 0.30000000000000004, 100.0, 3.14159]", "[1.0, 0.1, 1e+100, 1e+16, 1000000000000000.0, 1e-05, 0.0001, 1.2345678901234568e+17, -0.0, 2.5, 5e-324, 1.7976931348623157e+308, 0.30000000000000004, 100.0, 3.14159]"},
    {"[-9223372036854775808, 9223372036854775807, 0, -1]", "[-9223372036854775808, 9223372036854775807, 0, -1]", "[-9223372036854775808, 9223372036854775807, 0, -1]"},
    {"[\"it's\", \"say \\\"hi\\\"\", \"both ' and \\\"\", \"back\\\\slash\", \"tab\\tnew\\nline\\rcr\"]", "[\"it's\", 'say \"hi\"', 'both \\' and \"', 'back\\\\slash', 'tab\\tnew\\nline\\rcr']", "[\"it's\", 'say \"hi\"', 'both \\' and \"', 'back\\\\slash', 'tab\\tnew\\nline\\rcr']"},
    {"[\"\\u0000\\u0001\\u001f\\u007f\", \"caf\\u00e9 \\u00fc\\u00f1\\u00ee\\u00e7\\u00f8d\\u00e9\", \"\\u65e5\\u672c\\u8a9e\", \"\\ud83d\\ude00 emoji\"]", "['\\x00\\x01\\x1f\\x7f', 'café üñîçødé', '日本語', '😀 emoji']", "['\\x00\\x01\\x1f\\x7f', 'café üñîçødé', '日本語', '😀 emoji']"},
    {"[\"nbsp\\u00a0\", \"soft\\u00adhyphen\", \"zw\\u200bsp\", \"zwj\\u200d\", \"bom\\ufeff\", \"ls\\u2028ps\\u2029\", \"pua\\ue000\", \"c1\\u0085\\u009f\", \"unassigned\\u0378\", \"astral pua\\udb80\\udc00\"]", "['nbsp\\xa0', 'soft\\xadhyphen', 'zw\\u200bsp', 'zwj\\u200d', 'bom\\ufeff', 'ls\\u2028ps\\u2029', 'pua\\ue000', 'c1\\x85\\x9f', 'unassigned\\u0378', 'astral pua\\U000f0000']", "['nbsp\\xa0', 'soft\\xadhyphen', 'zw\\u200bsp', 'zwj\\u200d', 'bom\\ufeff', 'ls\\u2028ps\\u2029', 'pua\\ue000', 'c1\\x85\\x9f', 'unassigned\\u0378', 'astral pua\\U000f0000']"},
    {"{\"it's\": \"key with quote\", \"new\\nline\": [\"\\\\\"]}", "{\"it's\": 'key with quote', 'new\\nline': ['\\\\']}", "{\"it's\": 'key with quote', 'new\\nline': ['\\\\']}"},
    {"\"plain string\"", "plain string", "'plain string'"},
    {"42", "42", "42"},
    {"true", "True", "True"},
    {"null", "None", "None"},
    {"{}", "{}", "{}"},
    {"[]", "[]", "[]"},
    {"\"\"", "", "''"},
};

static void test_python_cases(void) {
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_error_t err;
    json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (v == NULL)
      fprintf(stderr, "cannot parse %s: %s\n", cases[i].json, err.text);
    ASSERT_TRUE(v != NULL);
    char *s = actor_pyrepr(v), *r = actor_pyrepr_quoted(v);
    ASSERT_EQ_STR(s, cases[i].str);
    ASSERT_EQ_STR(r, cases[i].repr);
    free(s);
    free(r);
    json_decref(v);
  }
}

/* Floats built in C rather than parsed, including ones whose shortest
 * digits sit at a power-of-two boundary (Python: repr(2.0**-1022) etc.). */
static void test_floats(void) {
  static const struct {
    double d;
    const char *py;
  } f[] = {
      {1.0, "1.0"},
      {0.1, "0.1"},
      {1e100, "1e+100"},
      {1e22, "1e+22"},
      {9007199254740993.0, "9007199254740992.0"},
      {2.2250738585072014e-308, "2.2250738585072014e-308"},
      {1.0 / 3.0, "0.3333333333333333"},
      {-1.5e-7, "-1.5e-07"},
      {123.456, "123.456"},
      {0x1p-1022, "2.2250738585072014e-308"},
      {0x1p+60, "1.152921504606847e+18"},
      {0x1p-60, "8.673617379884035e-19"},
      {0x1p+1023, "8.98846567431158e+307"},
  };
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
    json_t *v = json_real(f[i].d);
    char *s = actor_pyrepr(v);
    ASSERT_EQ_STR(s, f[i].py);
    free(s);
    json_decref(v);
  }
}

/* Insertion order survives building objects in code, and NUL inside a
 * value is escaped rather than cutting the text. */
static void test_built_values(void) {
  json_t *o = json_object();
  json_object_set_new(o, "zeta", json_stringn("a\0b", 3));
  json_object_set_new(o, "alpha", json_pack("[iIbn]", 1, (json_int_t)-2, 0));
  json_object_set_new(o, "mid", json_real(0.5));
  char *s = actor_pyrepr(o);
  ASSERT_EQ_STR(s, "{'zeta': 'a\\x00b', 'alpha': [1, -2, False, None], 'mid': 0.5}");
  free(s);
  json_decref(o);
  ASSERT_TRUE(actor_pyrepr(NULL) == NULL);
}

int main(void) {
  RUN_TEST(test_python_cases);
  RUN_TEST(test_floats);
  RUN_TEST(test_built_values);
  TEST_EXIT();
}
