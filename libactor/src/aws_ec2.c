/* The EC2 operations of the AWS client (actor/aws.h): DescribeInstances
 * (every page), the four instance actions, DescribeVolumes. Each builds its
 * parameters, makes one aws__call per page and hands the answer to its
 * parser in aws_xml.c. */
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"
#include "b64_int.h"

int aws_ec2_describe_instances(aws_t *a, const char *tag_key, const char *tag_value,
                               const json_t *ids, json_t **out, aws_result_t *res) {
  aws_result_t local;
  res = aws__res(res, &local);
  *out = NULL;
  aws__params_t base = {{0}};
  json_t *all = json_array();
  char *token = NULL;
  size_t nids = 0;
  int rc = ACTOR_ENOMEM;
  if (!all)
    goto out;
  if (tag_key && *tag_key) {
    char name[200];
    int n = snprintf(name, sizeof name, "tag:%s", tag_key);
    if (n < 0 || (size_t)n >= sizeof name) {
      rc = ACTOR_EINVAL;
      goto out;
    }
    if ((rc = aws__param(&base, "Filter.1.Name", name)) != 0 ||
        (rc = aws__param(&base, "Filter.1.Value.1", tag_value ? tag_value : "")) != 0)
      goto out;
  }
  if ((rc = aws__param_list(&base, "InstanceId", ids, &nids)) != 0)
    goto out;
  if (nids == 0 && (rc = aws__param(&base, "MaxResults", "1000")) != 0)
    goto out;
  for (int page = 0;; page++) {
    if (page >= AWS__MAX_PAGES) {
      rc = aws__malformed(res, "DescribeInstances");
      snprintf(res->message, sizeof res->message, "more than %d pages of instances",
               AWS__MAX_PAGES);
      goto out;
    }
    actor_buf_t body = {0};
    rc = aws__call_page(a, AWS__SVC_EC2, "DescribeInstances", &base, "NextToken", token, &body,
                        res);
    if (rc != 0)
      goto out;
    free(token);
    token = NULL;
    rc = aws_parse_describe_instances(body.p, body.len, all, &token);
    free(body.p);
    if (rc == ACTOR_EPARSE)
      rc = aws__malformed(res, "DescribeInstances");
    if (rc != 0 || !token)
      break;
  }
out:
  aws__params_free(&base);
  free(token);
  if (rc == 0)
    *out = all;
  else
    json_decref(all);
  return rc;
}

int aws_ec2_instance_action(aws_t *a, const char *action, const char *instance_id,
                            aws_result_t *res) {
  static const char *const ok[] = {"StartInstances", "StopInstances", "RebootInstances",
                                   "TerminateInstances", NULL};
  aws_result_t local;
  res = aws__res(res, &local);
  const char *const *k = ok;
  while (*k && (!action || strcmp(*k, action) != 0))
    k++;
  if (!*k || !instance_id || !*instance_id)
    return ACTOR_EINVAL;
  aws__params_t p = {{0}};
  int rc = aws__param(&p, "InstanceId.1", instance_id);
  actor_buf_t body = {0};
  if (rc == 0)
    rc = aws__call(a, AWS__SVC_EC2, *k, &p, &body, res);
  free(body.p);
  aws__params_free(&p);
  return rc;
}

/* DescribeVolumes by VolumeId.N (a missing id fails the call) or, with
 * by_filter, by the volume-id filter (missing ids are just not listed). */
static int describe_volumes(aws_t *a, const json_t *ids, bool by_filter, json_t **out,
                            aws_result_t *res) {
  aws_result_t local;
  res = aws__res(res, &local);
  *out = NULL;
  aws__params_t p = {{0}};
  size_t n = 0;
  actor_buf_t body = {0};
  int rc = by_filter ? aws__param(&p, "Filter.1.Name", "volume-id") : 0;
  if (rc == 0)
    rc = aws__param_list(&p, by_filter ? "Filter.1.Value" : "VolumeId", ids, &n);
  if (rc == 0 && by_filter && n == 0) { /* no filter value would list every volume */
    aws__params_free(&p);
    *out = json_array();
    return *out ? 0 : ACTOR_ENOMEM;
  }
  if (rc == 0)
    rc = aws__call(a, AWS__SVC_EC2, "DescribeVolumes", &p, &body, res);
  if (rc == 0 && (rc = aws_parse_describe_volumes(body.p, body.len, out)) == ACTOR_EPARSE)
    rc = aws__malformed(res, "DescribeVolumes");
  free(body.p);
  aws__params_free(&p);
  return rc;
}

int aws_ec2_describe_volumes(aws_t *a, const json_t *ids, json_t **out, aws_result_t *res) {
  return describe_volumes(a, ids, false, out, res);
}

int aws_ec2_volumes_present(aws_t *a, const json_t *ids, json_t **out, aws_result_t *res) {
  return describe_volumes(a, ids, true, out, res);
}

int aws_ec2_run_instances(aws_t *a, const aws_run_req_t *req, json_t **out, aws_result_t *res) {
  aws_result_t local;
  res = aws__res(res, &local);
  *out = NULL;
  if (!req->image_id || !*req->image_id || !req->instance_type || !*req->instance_type ||
      req->min_count < 1 || req->max_count < req->min_count ||
      (req->root_volume_gib > 0 && (!req->root_device || !*req->root_device)) ||
      (req->tags && !json_is_object(req->tags)))
    return ACTOR_EINVAL;
  aws__params_t p = {{0}};
  actor_buf_t body = {0};
  char *ud = NULL;
  char n[24];
  int rc = aws__param(&p, "ImageId", req->image_id);
  if (rc == 0)
    rc = aws__param(&p, "InstanceType", req->instance_type);
  snprintf(n, sizeof n, "%d", req->min_count);
  if (rc == 0)
    rc = aws__param(&p, "MinCount", n);
  snprintf(n, sizeof n, "%d", req->max_count);
  if (rc == 0)
    rc = aws__param(&p, "MaxCount", n);
  if (rc == 0 && req->key_name && *req->key_name)
    rc = aws__param(&p, "KeyName", req->key_name);
  if (rc == 0 && req->user_data) {
    rc = actor__b64_encode(req->user_data, req->user_data_len, 0, &ud);
    if (rc == 0)
      rc = aws__param(&p, "UserData", ud);
  }
  if (rc == 0 && req->availability_zone && *req->availability_zone)
    rc = aws__param(&p, "Placement.AvailabilityZone", req->availability_zone);
  if (rc == 0 && req->root_volume_gib > 0) {
    snprintf(n, sizeof n, "%d", req->root_volume_gib);
    if ((rc = aws__param(&p, "BlockDeviceMapping.1.DeviceName", req->root_device)) == 0 &&
        (rc = aws__param(&p, "BlockDeviceMapping.1.Ebs.VolumeSize", n)) == 0)
      rc = aws__param(&p, "BlockDeviceMapping.1.Ebs.DeleteOnTermination", "true");
  }
  if (rc == 0 && req->tags && json_object_size(req->tags) > 0) {
    static const char *const kinds[] = {"instance", "volume"};
    for (size_t k = 0; rc == 0 && k < 2; k++) {
      char list[48];
      snprintf(list, sizeof list, "TagSpecification.%zu.Tag", k + 1);
      rc = aws__paramf(&p, kinds[k], "TagSpecification.%zu.ResourceType", k + 1);
      if (rc == 0)
        rc = aws__param_pairs(&p, list, "Key", "Value", req->tags);
    }
  }
  if (rc == 0 && req->client_token && *req->client_token)
    rc = aws__param(&p, "ClientToken", req->client_token);
  if (rc == 0)
    rc = aws__call(a, AWS__SVC_EC2, "RunInstances", &p, &body, res);
  if (rc == 0 && (rc = aws_parse_run_instances(body.p, body.len, out)) == ACTOR_EPARSE)
    rc = aws__malformed(res, "RunInstances");
  free(body.p);
  free(ud);
  aws__params_free(&p);
  return rc;
}

/* One Describe* of a single named thing whose answer parse turns into an
 * array: *out is its first element; an empty answer is AWS_NOTFOUND with
 * `missing` as the code. */
static int describe_one(aws_t *a, const char *action, const char *param, const char *value,
                        int (*parse)(const char *, size_t, json_t **), const char *missing,
                        json_t **out, aws_result_t *res) {
  aws_result_t local;
  res = aws__res(res, &local);
  *out = NULL;
  if (!value || !*value)
    return ACTOR_EINVAL;
  aws__params_t p = {{0}};
  actor_buf_t body = {0};
  json_t *arr = NULL;
  int rc = aws__param(&p, param, value);
  if (rc == 0)
    rc = aws__call(a, AWS__SVC_EC2, action, &p, &body, res);
  if (rc == 0 && (rc = parse(body.p, body.len, &arr)) == ACTOR_EPARSE)
    rc = aws__malformed(res, action);
  if (rc == 0 && json_array_size(arr) == 0) {
    res->cls = AWS_NOTFOUND;
    snprintf(res->code, sizeof res->code, "%s", missing);
    snprintf(res->message, sizeof res->message, "'%s' does not exist", value);
    rc = ACTOR_EAWS;
  }
  if (rc == 0)
    *out = json_incref(json_array_get(arr, 0));
  json_decref(arr);
  free(body.p);
  aws__params_free(&p);
  return rc;
}

int aws_ec2_describe_image(aws_t *a, const char *image_id, json_t **out, aws_result_t *res) {
  return describe_one(a, "DescribeImages", "ImageId.1", image_id, aws_parse_describe_images,
                      "InvalidAMIID.NotFound", out, res);
}

int aws_ec2_describe_key_pair(aws_t *a, const char *key_name, json_t **out, aws_result_t *res) {
  return describe_one(a, "DescribeKeyPairs", "KeyName.1", key_name, aws_parse_describe_key_pairs,
                      "InvalidKeyPair.NotFound", out, res);
}
