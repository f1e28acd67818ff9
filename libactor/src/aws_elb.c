/* The Elastic Load Balancing (classic, Version 2012-06-01) operations of
 * the AWS client (actor/aws.h): CreateLoadBalancer, DescribeLoadBalancers
 * (every page), DeleteLoadBalancer, Register/DeregisterInstances. Each
 * builds its parameters, makes its aws__call and hands the answer to its
 * parser in aws_xml.c. Kept general (any listeners, zones or subnets,
 * security groups, scheme, tags): abaco-launch puts one in front of the
 * instances it starts, clusters may do the same. */
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"

/* Most DescribeLoadBalancers pages followed (400 load balancers each). */
#define AWS__ELB_MAX_PAGES 100

/* A classic load balancer's name: 1-32 of [A-Za-z0-9-], no '-' at either end. */
static bool elb_name_ok(const char *name) {
  size_t n = name ? strlen(name) : 0;
  return n >= 1 && n <= 32 &&
         strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n &&
         name[0] != '-' && name[n - 1] != '-';
}

/* Listeners.member.N.{Protocol, LoadBalancerPort, InstanceProtocol, InstancePort}. */
static int listeners(aws__params_t *p, const json_t *ls) {
  if (!ls || json_is_null(ls) || (json_is_array(ls) && json_array_size(ls) == 0)) {
    int rc = aws__param(p, "Listeners.member.1.Protocol", "HTTP");
    if (rc == 0)
      rc = aws__param(p, "Listeners.member.1.LoadBalancerPort", "80");
    if (rc == 0)
      rc = aws__param(p, "Listeners.member.1.InstanceProtocol", "HTTP");
    if (rc == 0)
      rc = aws__param(p, "Listeners.member.1.InstancePort", "80");
    return rc;
  }
  if (!json_is_array(ls))
    return ACTOR_EINVAL;
  size_t i;
  json_t *l;
  json_array_foreach(ls, i, l) {
    const char *proto = json_string_value(json_object_get(l, "protocol"));
    const char *iproto = json_string_value(json_object_get(l, "instance_protocol"));
    json_t *port = json_object_get(l, "port"), *iport = json_object_get(l, "instance_port");
    if (!proto || !json_is_integer(port) || json_integer_value(port) < 1 ||
        json_integer_value(port) > 65535 || (iport && !json_is_integer(iport)))
      return ACTOR_EINVAL;
    json_int_t ip = iport ? json_integer_value(iport) : json_integer_value(port);
    if (ip < 1 || ip > 65535)
      return ACTOR_EINVAL;
    char a[16], b[16];
    snprintf(a, sizeof a, "%d", (int)json_integer_value(port));
    snprintf(b, sizeof b, "%d", (int)ip);
    int rc = aws__paramf(p, proto, "Listeners.member.%zu.Protocol", i + 1);
    if (rc == 0)
      rc = aws__paramf(p, a, "Listeners.member.%zu.LoadBalancerPort", i + 1);
    if (rc == 0)
      rc = aws__paramf(p, iproto ? iproto : proto, "Listeners.member.%zu.InstanceProtocol", i + 1);
    if (rc == 0)
      rc = aws__paramf(p, b, "Listeners.member.%zu.InstancePort", i + 1);
    if (rc != 0)
      return rc;
  }
  return 0;
}

int aws_elb_create(aws_t *a, const aws_elb_req_t *req, char **dns_name, aws_result_t *res) {
  aws_result_t local;
  res = aws__res(res, &local);
  *dns_name = NULL;
  if (!req || !elb_name_ok(req->name) || (req->tags && !json_is_object(req->tags)))
    return ACTOR_EINVAL;
  aws__params_t p = {{0}};
  actor_buf_t body = {0};
  int rc = aws__param(&p, "LoadBalancerName", req->name);
  if (rc == 0)
    rc = listeners(&p, req->listeners);
  if (rc == 0)
    rc = aws__param_list(&p, "AvailabilityZones.member", req->zones, NULL);
  if (rc == 0)
    rc = aws__param_list(&p, "Subnets.member", req->subnets, NULL);
  if (rc == 0)
    rc = aws__param_list(&p, "SecurityGroups.member", req->security_groups, NULL);
  if (rc == 0 && req->scheme && *req->scheme)
    rc = aws__param(&p, "Scheme", req->scheme);
  if (rc == 0)
    rc = aws__param_pairs(&p, "Tags.member", "Key", "Value", req->tags);
  if (rc == 0)
    rc = aws__call(a, AWS__SVC_ELB, "CreateLoadBalancer", &p, &body, res);
  if (rc == 0) {
    xmlDocPtr doc = aws__xml_read(body.p, body.len);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || strcmp((const char *)root->name, "CreateLoadBalancerResponse") != 0) {
      rc = aws__malformed(res, "CreateLoadBalancer");
    } else {
      json_t *dns = aws__xml_json(aws__xml_child(root, "CreateLoadBalancerResult"), "DNSName");
      if (!dns)
        rc = ACTOR_ENOMEM;
      else if (json_is_string(dns) && !(*dns_name = strdup(json_string_value(dns))))
        rc = ACTOR_ENOMEM;
      json_decref(dns);
    }
    xmlFreeDoc(doc);
  }
  free(body.p);
  aws__params_free(&p);
  return rc;
}

int aws_elb_describe(aws_t *a, const json_t *names, json_t **out, aws_result_t *res) {
  aws_result_t local;
  res = aws__res(res, &local);
  *out = NULL;
  aws__params_t base = {{0}};
  json_t *all = json_array();
  char *marker = NULL;
  int rc =
      all ? aws__param_list(&base, "LoadBalancerNames.member", names, NULL) : ACTOR_ENOMEM;
  for (int page = 0; rc == 0; page++) {
    if (page >= AWS__ELB_MAX_PAGES) {
      rc = aws__malformed(res, "DescribeLoadBalancers");
      break;
    }
    actor_buf_t body = {0};
    rc = aws__call_page(a, AWS__SVC_ELB, "DescribeLoadBalancers", &base, "Marker", marker,
                        &body, res);
    if (rc != 0)
      break;
    free(marker);
    marker = NULL;
    json_t *items = NULL;
    rc = aws_parse_elb_describe(body.p, body.len, &items, &marker);
    free(body.p);
    if (rc == ACTOR_EPARSE)
      rc = aws__malformed(res, "DescribeLoadBalancers");
    if (rc == 0 && json_array_extend(all, items) != 0)
      rc = ACTOR_ENOMEM;
    json_decref(items);
    if (!marker)
      break;
  }
  aws__params_free(&base);
  free(marker);
  if (rc == 0)
    *out = all;
  else
    json_decref(all);
  return rc;
}

/* One call whose only parameter is LoadBalancerName; *body (the answer)
 * is the caller's to free, even after a failure. */
static int named_call(aws_t *a, const char *action, const char *name, actor_buf_t *body,
                      aws_result_t *res) {
  if (!elb_name_ok(name))
    return ACTOR_EINVAL;
  aws__params_t p = {{0}};
  int rc = aws__param(&p, "LoadBalancerName", name);
  if (rc == 0)
    rc = aws__call(a, AWS__SVC_ELB, action, &p, body, res);
  aws__params_free(&p);
  return rc;
}

int aws_elb_delete(aws_t *a, const char *name, aws_result_t *res) {
  aws_result_t local;
  actor_buf_t body = {0};
  int rc = named_call(a, "DeleteLoadBalancer", name, &body, aws__res(res, &local));
  free(body.p);
  return rc;
}

static int instances_call(aws_t *a, const char *action, const char *name, const json_t *ids,
                          json_t **now, aws_result_t *res) {
  aws_result_t local;
  res = aws__res(res, &local);
  if (now)
    *now = NULL;
  if (!elb_name_ok(name) || !json_is_array(ids) || json_array_size(ids) == 0)
    return ACTOR_EINVAL;
  aws__params_t p = {{0}};
  actor_buf_t body = {0};
  int rc = aws__param(&p, "LoadBalancerName", name);
  size_t i;
  json_t *v;
  json_array_foreach(ids, i, v) {
    if (rc != 0)
      break;
    const char *s = json_string_value(v);
    rc = s && *s ? aws__paramf(&p, s, "Instances.member.%zu.InstanceId", i + 1) : ACTOR_EINVAL;
  }
  if (rc == 0)
    rc = aws__call(a, AWS__SVC_ELB, action, &p, &body, res);
  json_t *got = NULL;
  if (rc == 0 && (rc = aws_parse_elb_instances(body.p, body.len, &got)) == ACTOR_EPARSE)
    rc = aws__malformed(res, action);
  if (rc == 0 && now)
    *now = got;
  else
    json_decref(got);
  free(body.p);
  aws__params_free(&p);
  return rc;
}

int aws_elb_register(aws_t *a, const char *name, const json_t *instance_ids, json_t **now,
                     aws_result_t *res) {
  return instances_call(a, "RegisterInstancesWithLoadBalancer", name, instance_ids, now, res);
}

int aws_elb_deregister(aws_t *a, const char *name, const json_t *instance_ids, json_t **now,
                       aws_result_t *res) {
  return instances_call(a, "DeregisterInstancesFromLoadBalancer", name, instance_ids, now, res);
}

int aws_elb_draining(aws_t *a, const char *name, int *drain_s, aws_result_t *res) {
  aws_result_t local;
  res = aws__res(res, &local);
  *drain_s = 0;
  actor_buf_t body = {0};
  int rc = named_call(a, "DescribeLoadBalancerAttributes", name, &body, res);
  if (rc == 0 && (rc = aws_parse_elb_draining(body.p, body.len, drain_s)) == ACTOR_EPARSE)
    rc = aws__malformed(res, "DescribeLoadBalancerAttributes");
  free(body.p);
  return rc;
}
