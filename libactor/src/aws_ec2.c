/* The EC2 operations of the AWS client (actor/aws.h): DescribeInstances
 * (every page), the four instance actions, DescribeVolumes. Each builds its
 * parameters, makes one aws__call per page and hands the answer to its
 * parser in aws_xml.c. */
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"

/* Appends <prefix>.1 .. <prefix>.N for an array of strings; ACTOR_EINVAL
 * for anything else in it. *count: how many. */
static int aws__id_list(aws__params_t *p, const char *prefix, const json_t *ids, size_t *count) {
  *count = 0;
  if (!ids || json_is_null(ids))
    return 0;
  if (!json_is_array(ids))
    return ACTOR_EINVAL;
  size_t i;
  json_t *v;
  json_array_foreach(ids, i, v) {
    const char *s = json_string_value(v);
    if (!s || !*s)
      return ACTOR_EINVAL;
    int rc = aws__paramf(p, s, "%s.%zu", prefix, i + 1);
    if (rc != 0)
      return rc;
  }
  *count = json_array_size(ids);
  return 0;
}

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
  if ((rc = aws__id_list(&base, "InstanceId", ids, &nids)) != 0)
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
    aws__params_t p = {{0}};
    actor_buf_add(&p.b, base.b.p ? base.b.p : "", base.b.len);
    if (p.b.failed || (token && aws__param(&p, "NextToken", token) != 0)) {
      aws__params_free(&p);
      rc = ACTOR_ENOMEM;
      goto out;
    }
    actor_buf_t body = {0};
    rc = aws__call(a, AWS__SVC_EC2, "DescribeInstances", &p, &body, res);
    aws__params_free(&p);
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
    rc = aws__id_list(&p, by_filter ? "Filter.1.Value" : "VolumeId", ids, &n);
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
