/* The HTTP glue's parts checked without a server: the ahttp_kvs_* lists
 * (header and query pairs: lookup with and without case, flags without a
 * value, duplicates, growth, free and reuse) and ahttp_respond /
 * ahttp_respond_owned. The server end to end: test_http.c. */
#include <string.h>

#include "actor/http.h"
#include "test.h"

static void test_kvs(void) {
  ahttp_kvs_t kvs = {0};
  ASSERT_TRUE(ahttp_kvs_get(&kvs, "a", 0) == NULL);
  ASSERT_EQ_INT(ahttp_kvs_add(&kvs, "Content-Type", 12, "text/plain", 10), 0);
  ASSERT_EQ_INT(ahttp_kvs_add(&kvs, "flag", 4, NULL, 0), 0);
  ASSERT_EQ_INT(ahttp_kvs_add(&kvs, "keyXXX", 3, "valueYYY", 5), 0); /* lengths count */
  ASSERT_EQ_INT(ahttp_kvs_add(&kvs, "dup", 3, "first", 5), 0);
  ASSERT_EQ_INT(ahttp_kvs_add(&kvs, "dup", 3, "second", 6), 0);
  ASSERT_EQ_INT(ahttp_kvs_add(&kvs, "empty", 5, "", 0), 0);
  for (int i = 0; i < 40; i++) { /* grows past the first allocation */
    char k[16], v[16];
    int kl = snprintf(k, sizeof(k), "k%d", i), vl = snprintf(v, sizeof(v), "v%d", i);
    ASSERT_EQ_INT(ahttp_kvs_add(&kvs, k, (size_t)kl, v, (size_t)vl), 0);
  }
  ASSERT_EQ_INT(kvs.n, 46);
  ASSERT_TRUE(kvs.cap >= kvs.n);
  ASSERT_EQ_STR(ahttp_kvs_get(&kvs, "Content-Type", 0), "text/plain");
  ASSERT_TRUE(ahttp_kvs_get(&kvs, "content-type", 0) == NULL);
  ASSERT_EQ_STR(ahttp_kvs_get(&kvs, "content-type", 1), "text/plain");
  ASSERT_EQ_STR(ahttp_kvs_get(&kvs, "CONTENT-TYPE", 1), "text/plain");
  ASSERT_TRUE(ahttp_kvs_get(&kvs, "flag", 0) == NULL); /* present, value NULL */
  ASSERT_EQ_STR(kvs.items[1].key, "flag");
  ASSERT_TRUE(kvs.items[1].value == NULL);
  ASSERT_EQ_STR(ahttp_kvs_get(&kvs, "key", 0), "value");
  ASSERT_TRUE(ahttp_kvs_get(&kvs, "keyXXX", 0) == NULL);
  ASSERT_EQ_STR(ahttp_kvs_get(&kvs, "dup", 0), "first");
  ASSERT_EQ_STR(ahttp_kvs_get(&kvs, "empty", 0), "");
  ASSERT_EQ_STR(ahttp_kvs_get(&kvs, "k39", 0), "v39");
  ASSERT_EQ_STR(kvs.items[45].key, "k39");
  ASSERT_TRUE(ahttp_kvs_get(&kvs, "k40", 0) == NULL);
  ahttp_kvs_free(&kvs);
  ASSERT_EQ_INT(kvs.n, 0);
  ASSERT_EQ_INT(kvs.cap, 0);
  ASSERT_TRUE(kvs.items == NULL);
  ahttp_kvs_free(&kvs); /* again: harmless */
  ASSERT_EQ_INT(ahttp_kvs_add(&kvs, "again", 5, "1", 1), 0);
  ASSERT_EQ_STR(ahttp_kvs_get(&kvs, "again", 0), "1");
  ahttp_kvs_free(&kvs);
}

static void test_respond(void) {
  ahttp_req_t req;
  memset(&req, 0, sizeof(req));
  ahttp_respond(&req, 404, NULL, "{\"a\":1}", 7);
  ASSERT_EQ_INT(req.status, 404);
  ASSERT_EQ_STR(req.resp_type, "application/json");
  ASSERT_EQ_INT(req.resp_len, 7);
  ASSERT_EQ_STR(req.resp_body, "{\"a\":1}");
  /* a second response replaces (and frees) the first */
  ahttp_respond_owned(&req, 200, "text/plain", strdup("ok"), 2);
  ASSERT_EQ_INT(req.status, 200);
  ASSERT_EQ_STR(req.resp_type, "text/plain");
  ASSERT_EQ_STR(req.resp_body, "ok");
  ahttp_respond(&req, 204, "text/plain", NULL, 0);
  ASSERT_EQ_INT(req.resp_len, 0);
  ASSERT_EQ_STR(req.resp_body, "");
  ahttp_respond_owned(&req, 204, NULL, NULL, 5);
  ASSERT_EQ_INT(req.resp_len, 0);
  ASSERT_TRUE(req.resp_body == NULL);
}

int main(void) {
  RUN_TEST(test_kvs);
  RUN_TEST(test_respond);
  TEST_EXIT();
}
