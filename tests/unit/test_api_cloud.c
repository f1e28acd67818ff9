/* Unit tests for the api's pure cloud helpers (services/api/src/pricing.c
 * and progress.c): the pricing file parser (ec2instances.info's format,
 * prices as text or numbers, the region chosen, entries without a price,
 * sorted lookup, refusals that say why) and MLiy's progress report form
 * "<message>(<percent>)" (underscores, clamping, malformed reports). */
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "cloud_api.h"
#include "test.h"

static const char PRICES[] =
    "[{\"instance_type\": \"m5.large\", \"vCPU\": 2, \"memory\": 8.0,"
    "  \"pricing\": {\"us-east-1\": {\"linux\": {\"ondemand\": \"0.096\"}},"
    "               \"eu-west-1\": {\"linux\": {\"ondemand\": 0.107}}}},"
    " {\"instance_type\": \"a1.medium\", \"vCPU\": \"1\", \"memory\": 2,"
    "  \"pricing\": {\"eu-west-1\": {\"linux\": {\"ondemand\": \"0.0288\"}}}},"
    " {\"family\": \"no type: skipped\"},"
    " {\"instance_type\": \"t2.micro\", \"pricing\": {\"us-east-1\": {\"linux\": {\"ondemand\": 0.0116}}}}]";

static void test_pricing_parse(void) {
  api_price_t *p = NULL;
  size_t n = 0;
  char err[256] = "";
  ASSERT_EQ_INT(api_pricing_parse(PRICES, strlen(PRICES), "us-east-1", &p, &n, err, sizeof(err)),
                0);
  ASSERT_EQ_INT(n, 3);
  /* sorted by type */
  ASSERT_EQ_STR(p[0].type, "a1.medium");
  ASSERT_EQ_STR(p[1].type, "m5.large");
  ASSERT_EQ_STR(p[2].type, "t2.micro");
  ASSERT_TRUE(p[0].price < 0); /* no price in us-east-1 */
  ASSERT_TRUE(p[0].vcpus == 1 && p[0].memory_gib == 2);
  ASSERT_TRUE(p[1].price > 0.0959 && p[1].price < 0.0961);
  ASSERT_TRUE(p[1].vcpus == 2 && p[1].memory_gib == 8);
  ASSERT_TRUE(p[2].price > 0.0115 && p[2].price < 0.0117);
  ASSERT_TRUE(p[2].vcpus < 0 && p[2].memory_gib < 0);
  api_cloud_t cl = {.prices = p, .nprices = n};
  ASSERT_TRUE(api_price_of(&cl, "m5.large") == &p[1]);
  ASSERT_TRUE(api_price_of(&cl, "m5.xlarge") == NULL);
  ASSERT_TRUE(api_price_of(&cl, NULL) == NULL);
  free(p);
  /* another region */
  ASSERT_EQ_INT(api_pricing_parse(PRICES, strlen(PRICES), "eu-west-1", &p, &n, err, sizeof(err)),
                0);
  ASSERT_TRUE(p[0].price > 0.0287 && p[0].price < 0.0289);
  ASSERT_TRUE(p[1].price > 0.1069 && p[1].price < 0.1071);
  ASSERT_TRUE(p[2].price < 0);
  free(p);
}

/* Numbers that are not believable prices, vCPUs or sizes read as "not
 * given" (they once went through: "inf" made every cost of the type
 * undefined, and its /instances/types entry vanished, since JSON has no
 * infinity). */
static void test_pricing_absurd_numbers(void) {
  static const char TEXT[] =
      "[{\"instance_type\": \"a.inf\", \"vCPU\": \"inf\", \"memory\": \"nan\","
      "  \"pricing\": {\"r\": {\"linux\": {\"ondemand\": \"inf\"}}}},"
      " {\"instance_type\": \"b.huge\", \"vCPU\": 1e300, \"memory\": -2,"
      "  \"pricing\": {\"r\": {\"linux\": {\"ondemand\": 1e300}}}},"
      " {\"instance_type\": \"c.neg\", \"pricing\": {\"r\": {\"linux\": {\"ondemand\": \"-0.5\"}}}},"
      " {\"instance_type\": \"d.ok\", \"vCPU\": 2, \"memory\": 4,"
      "  \"pricing\": {\"r\": {\"linux\": {\"ondemand\": \"0.25\"}}}}]";
  api_price_t *p = NULL;
  size_t n = 0;
  char err[256] = "";
  ASSERT_EQ_INT(api_pricing_parse(TEXT, strlen(TEXT), "r", &p, &n, err, sizeof(err)), 0);
  ASSERT_EQ_INT(n, 4);
  for (size_t i = 0; i < 3; i++) {
    ASSERT_TRUE(p[i].price < 0);
    ASSERT_TRUE(p[i].vcpus < 0);
    ASSERT_TRUE(p[i].memory_gib < 0);
  }
  ASSERT_EQ_STR(p[3].type, "d.ok");
  ASSERT_TRUE(p[3].price == 0.25 && p[3].vcpus == 2 && p[3].memory_gib == 4);
  free(p);
}

static void test_pricing_refusals(void) {
  static const char *const BAD[][2] = {
      {"", "not JSON"},
      {"{\"instance_type\": \"m5.large\"}", "not a JSON array"},
      {"[]", "no entry"},
      {"[{\"x\": 1}]", "no entry"},
      {"[{\"instance_type\": \"m5.large\"", "not JSON"},
  };
  for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
    api_price_t *p = (api_price_t *)1;
    size_t n = 7;
    char err[256] = "";
    ASSERT_EQ_INT(api_pricing_parse(BAD[i][0], strlen(BAD[i][0]), "us-east-1", &p, &n, err,
                                    sizeof(err)),
                  ACTOR_EPARSE);
    ASSERT_TRUE(p == NULL && n == 0);
    ASSERT_TRUE(strstr(err, BAD[i][1]) != NULL);
  }
}

static void test_progress_report(void) {
  char msg[64];
  long pct = -1;
  ASSERT_EQ_INT(api_progress_report_parse("Installing_packages(40)", msg, sizeof(msg), &pct), 0);
  ASSERT_EQ_STR(msg, "Installing packages");
  ASSERT_EQ_INT(pct, 40);
  ASSERT_EQ_INT(api_progress_report_parse("Done(100)", msg, sizeof(msg), &pct), 0);
  ASSERT_EQ_INT(pct, 100);
  ASSERT_EQ_INT(api_progress_report_parse("Over(250)", msg, sizeof(msg), &pct), 0);
  ASSERT_EQ_INT(pct, 100);
  ASSERT_EQ_INT(api_progress_report_parse("Under(-5)", msg, sizeof(msg), &pct), 0);
  ASSERT_EQ_INT(pct, 0);
  ASSERT_EQ_INT(api_progress_report_parse("Half(50.7)", msg, sizeof(msg), &pct), 0);
  ASSERT_EQ_INT(pct, 50);
  /* the last parenthesis holds the percent */
  ASSERT_EQ_INT(api_progress_report_parse("Step_(a)_b(3)", msg, sizeof(msg), &pct), 0);
  ASSERT_EQ_STR(msg, "Step (a) b");
  ASSERT_EQ_INT(pct, 3);
  ASSERT_EQ_INT(api_progress_report_parse("(7)", msg, sizeof(msg), &pct), 0);
  ASSERT_EQ_STR(msg, "");
  static const char *const BAD[] = {"", "nopercent", "x()", "x(abc)", "x(5", "x5)", "x( 5)",
                                    "x(5)y", NULL};
  for (int i = 0; BAD[i]; i++)
    ASSERT_EQ_INT(api_progress_report_parse(BAD[i], msg, sizeof(msg), &pct), ACTOR_EPARSE);
  ASSERT_EQ_INT(api_progress_report_parse(NULL, msg, sizeof(msg), &pct), ACTOR_EPARSE);
  char small[4];
  ASSERT_EQ_INT(api_progress_report_parse("toolong(1)", small, sizeof(small), &pct),
                ACTOR_ETOOBIG);
}

int main(void) {
  RUN_TEST(test_pricing_parse);
  RUN_TEST(test_pricing_absurd_numbers);
  RUN_TEST(test_pricing_refusals);
  RUN_TEST(test_progress_report);
  TEST_EXIT();
}
