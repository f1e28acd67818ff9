/* The AWS client's Elastic Load Balancing (classic) calls and the EC2
 * calls abaco-launch makes (actor/aws.h), against moto server at MOTO_URL
 * (unset: skipped; set and unreachable: failed): a key pair and an image
 * are described (and unknown ones give AWS's codes), instances are run
 * with a root volume deleted on termination, a load balancer is created,
 * described, given the instances, has one taken away, and is deleted; a
 * missing one is AWS_NOTFOUND. */
#include <jansson.h>
#include <time.h>

#include "actor/aws.h"
#include "moto_test_client.h"
#include "test.h"

static char run_id[24];

static aws_t *moto_client(void) {
  aws_t *a = moto_test_client("testing-secret");
  ASSERT_TRUE(a != NULL);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(run_id, sizeof run_id, "t%ld%ld", (long)getpid() % 100000, (long)(ts.tv_nsec % 100000));
  return a;
}

static void test_ec2_image_and_key_pair(void) {
  aws_t *a = moto_client();
  json_t *out = NULL;
  aws_result_t res;
  /* moto's default AMI in every region */
  ASSERT_EQ_INT(aws_ec2_describe_image(a, "ami-760aaa0f", &out, &res), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(out, "image_id")), "ami-760aaa0f");
  ASSERT_TRUE(json_string_value(json_object_get(out, "root_device_name")) != NULL);
  json_decref(out);
  out = NULL;
  ASSERT_EQ_INT(aws_ec2_describe_image(a, "ami-0123456789abcdef0", &out, &res), ACTOR_EAWS);
  ASSERT_EQ_STR(res.code, "InvalidAMIID.NotFound");
  ASSERT_TRUE(out == NULL);
  char key[64];
  snprintf(key, sizeof key, "no-such-key-%s", run_id);
  ASSERT_EQ_INT(aws_ec2_describe_key_pair(a, key, &out, &res), ACTOR_EAWS);
  ASSERT_EQ_STR(res.code, "InvalidKeyPair.NotFound");
  ASSERT_TRUE(out == NULL);
  aws_free(a);
}

static void test_run_instances(void) {
  aws_t *a = moto_client();
  json_t *tags = json_pack("{s:s}", "LaunchedBy", run_id), *out = NULL;
  aws_run_req_t req = {.image_id = "ami-760aaa0f",
                       .instance_type = "t2.micro",
                       .min_count = 3,
                       .max_count = 3,
                       .user_data = "#!/bin/sh\necho hi\n",
                       .user_data_len = 18,
                       .availability_zone = "us-east-1b",
                       .root_device = "/dev/xvda",
                       .root_volume_gib = 9,
                       .tags = tags,
                       .client_token = run_id};
  aws_result_t res;
  int rc = aws_ec2_run_instances(a, &req, &out, &res);
  if (rc != 0)
    fprintf(stderr, "RunInstances: %s %s\n", res.code, res.message);
  ASSERT_EQ_INT(rc, 0);
  ASSERT_EQ_INT(json_array_size(out), 3);
  json_t *ids = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(out, i, v) {
    ASSERT_EQ_STR(json_string_value(json_object_get(v, "availability_zone")), "us-east-1b");
    json_array_append(ids, json_object_get(v, "instance_id"));
  }
  json_decref(out);
  out = NULL;
  ASSERT_EQ_INT(aws_ec2_describe_instances(a, "LaunchedBy", run_id, NULL, &out, &res), 0);
  ASSERT_EQ_INT(json_array_size(out), 3);
  /* the mapped volume: 9 GiB, and gone once its instance is terminated */
  json_t *vols = json_object_get(json_array_get(out, 0), "volumes");
  ASSERT_TRUE(json_array_size(vols) >= 1);
  json_t *vd = NULL;
  ASSERT_EQ_INT(aws_ec2_describe_volumes(a, vols, &vd, &res), 0);
  bool nine = false;
  json_array_foreach(vd, i, v) nine = nine || json_integer_value(json_object_get(v, "size")) == 9;
  ASSERT_TRUE(nine);
  json_decref(vd);
  json_array_foreach(ids, i, v)
      ASSERT_EQ_INT(aws_ec2_instance_action(a, "TerminateInstances", json_string_value(v), &res), 0);
  vd = NULL;
  ASSERT_EQ_INT(aws_ec2_volumes_present(a, vols, &vd, &res), 0);
  ASSERT_EQ_INT(json_array_size(vd), 0);
  json_decref(vd);
  json_decref(out);
  json_decref(ids);
  json_decref(tags);
  aws_free(a);
}

static void test_elb_lifecycle(void) {
  aws_t *a = moto_client();
  char name[32];
  snprintf(name, sizeof name, "lb-%s", run_id);
  aws_result_t res;
  json_t *names = json_pack("[s]", name), *out = NULL;
  ASSERT_EQ_INT(aws_elb_describe(a, names, &out, &res), ACTOR_EAWS);
  ASSERT_EQ_INT(res.cls, AWS_NOTFOUND);
  ASSERT_EQ_STR(res.code, "LoadBalancerNotFound");
  /* two instances to put behind it */
  json_t *insts = NULL, *ids = json_array();
  aws_run_req_t req = {.image_id = "ami-760aaa0f", .instance_type = "t2.micro", .min_count = 2,
                       .max_count = 2};
  ASSERT_EQ_INT(aws_ec2_run_instances(a, &req, &insts, &res), 0);
  size_t i;
  json_t *v;
  json_array_foreach(insts, i, v) json_array_append(ids, json_object_get(v, "instance_id"));
  json_t *zones = json_pack("[s]", "us-east-1a"), *tags = json_pack("{s:s}", "Owner", run_id);
  json_t *ls = json_pack("[{s:s, s:i, s:s, s:i}]", "protocol", "TCP", "port", 8080,
                         "instance_protocol", "TCP", "instance_port", 8000);
  aws_elb_req_t lr = {.name = name, .listeners = ls, .zones = zones, .tags = tags};
  char *dns = NULL;
  int rc = aws_elb_create(a, &lr, &dns, &res);
  if (rc != 0)
    fprintf(stderr, "CreateLoadBalancer: %s %s\n", res.code, res.message);
  ASSERT_EQ_INT(rc, 0);
  ASSERT_TRUE(dns != NULL && strstr(dns, name) != NULL);
  ASSERT_EQ_INT(aws_elb_describe(a, names, &out, &res), 0);
  ASSERT_EQ_INT(json_array_size(out), 1);
  json_t *lb = json_array_get(out, 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(lb, "name")), name);
  ASSERT_EQ_STR(json_string_value(json_object_get(lb, "dns_name")), dns);
  json_t *l0 = json_array_get(json_object_get(lb, "listeners"), 0);
  ASSERT_EQ_INT(json_integer_value(json_object_get(l0, "port")), 8080);
  ASSERT_EQ_INT(json_integer_value(json_object_get(l0, "instance_port")), 8000);
  ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(lb, "zones"), 0)), "us-east-1a");
  ASSERT_EQ_INT(json_array_size(json_object_get(lb, "instances")), 0);
  json_decref(out);
  json_t *now = NULL;
  /* moto answers Register/Deregister with an empty <Instances/> (AWS with
   * the instances now registered): the answer is read, the state is
   * checked through DescribeLoadBalancers */
  ASSERT_EQ_INT(aws_elb_register(a, name, ids, &now, &res), 0);
  ASSERT_TRUE(json_is_array(now));
  json_decref(now);
  ASSERT_EQ_INT(aws_elb_describe(a, names, &out, &res), 0);
  ASSERT_EQ_INT(json_array_size(json_object_get(json_array_get(out, 0), "instances")), 2);
  json_decref(out);
  json_t *first = json_pack("[O]", json_array_get(ids, 0));
  ASSERT_EQ_INT(aws_elb_deregister(a, name, first, &now, &res), 0);
  ASSERT_TRUE(json_is_array(now));
  json_decref(now);
  ASSERT_EQ_INT(aws_elb_describe(a, names, &out, &res), 0);
  json_t *left = json_object_get(json_array_get(out, 0), "instances");
  ASSERT_EQ_INT(json_array_size(left), 1);
  ASSERT_EQ_STR(json_string_value(json_array_get(left, 0)),
                json_string_value(json_array_get(ids, 1)));
  json_decref(out);
  /* listing all includes it */
  ASSERT_EQ_INT(aws_elb_describe(a, NULL, &out, &res), 0);
  bool found = false;
  json_array_foreach(out, i, v) found = found || strcmp(json_string_value(json_object_get(v, "name")), name) == 0;
  ASSERT_TRUE(found);
  json_decref(out);
  /* a load balancer made by the API does not drain (AWS's default) */
  int drain = -1;
  ASSERT_EQ_INT(aws_elb_draining(a, name, &drain, &res), 0);
  ASSERT_EQ_INT(drain, 0);
  ASSERT_EQ_INT(aws_elb_delete(a, name, &res), 0);
  ASSERT_EQ_INT(aws_elb_describe(a, names, &out, &res), ACTOR_EAWS);
  ASSERT_EQ_INT(res.cls, AWS_NOTFOUND);
  /* bad arguments never reach the wire */
  aws_elb_req_t bad = {.name = "under_score"};
  ASSERT_EQ_INT(aws_elb_create(a, &bad, &dns, &res), ACTOR_EINVAL);
  json_array_foreach(ids, i, v)
      ASSERT_EQ_INT(aws_ec2_instance_action(a, "TerminateInstances", json_string_value(v), &res), 0);
  free(dns);
  json_decref(first);
  json_decref(ls);
  json_decref(zones);
  json_decref(tags);
  json_decref(insts);
  json_decref(ids);
  json_decref(names);
  aws_free(a);
}

int main(void) {
  RUN_TEST(test_ec2_image_and_key_pair);
  RUN_TEST(test_run_instances);
  RUN_TEST(test_elb_lifecycle);
  TEST_EXIT();
}
