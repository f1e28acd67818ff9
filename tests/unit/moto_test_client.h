/* An AWS client for moto server at MOTO_URL, shared by the unit tests that
 * call it (test_aws_moto, test_aws_elb, test_plugin): us-east-1, one retry
 * with short waits, no Describe* throttling. MOTO_URL unset skips the
 * test (test_server_env); NULL, said why, when the client cannot be made. */
#ifndef ABACO_TEST_MOTO_CLIENT_H
#define ABACO_TEST_MOTO_CLIENT_H

#include <stdio.h>

#include "actor/aws.h"
#include "test.h"

static inline aws_t *moto_test_client(const char *secret_key) {
  const char *url = test_server_env("MOTO_URL");
  aws_opts_t o = {.endpoint = url,
                  .region = "us-east-1",
                  .access_key = "testing",
                  .secret_key = secret_key,
                  .max_retries = 1,
                  .retry_base_ms = 50,
                  .retry_cap_ms = 100,
                  .describe_rate = 1000,
                  .describe_burst = 1000,
                  .timeout_ms = 20000};
  aws_t *a = NULL;
  if (aws_new(&o, &a) != 0) {
    fprintf(stderr, "FAIL: aws_new for %s\n", url);
    return NULL;
  }
  return a;
}

#endif
