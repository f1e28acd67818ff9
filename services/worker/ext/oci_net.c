/* An OCI execution's network namespace, made with rtnetlink from the
 * calling thread (no `ip` process): what `ip netns add`, `ip link add ...
 * type veth peer ... netns`, `ip link set ... master ... up` and, inside
 * the namespace, `lo` up, the address, `eth0` up and the default route
 * did (docs/oci.md "Network").
 *
 * The namespace is made by unshare(CLONE_NEWNET) on this thread only and
 * bound to /run/netns/<name> (a shared mount, as iproute2 makes it); the
 * thread returns to its own namespace before anything else. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actor/log.h"
#include "oci.h"

#define NETNS_DIR "/run/netns"

typedef struct {
  struct nlmsghdr h;
  char body[1024];
} nlreq_t;

static struct rtattr *put(nlreq_t *r, int type, const void *data, size_t len) {
  size_t at = NLMSG_ALIGN(r->h.nlmsg_len), need = at + RTA_SPACE(len);
  if (need > sizeof(*r))
    return NULL;
  struct rtattr *a = (struct rtattr *)((char *)r + at);
  memset(a, 0, RTA_SPACE(len));
  a->rta_type = (unsigned short)type;
  a->rta_len = (unsigned short)RTA_LENGTH(len);
  if (len)
    memcpy(RTA_DATA(a), data, len);
  r->h.nlmsg_len = (uint32_t)need;
  return a;
}

/* Room for a fixed header inside the message (the veth peer's
 * ifinfomsg), zeroed. */
static void *reserve(nlreq_t *r, size_t len) {
  size_t at = NLMSG_ALIGN(r->h.nlmsg_len), need = at + NLMSG_ALIGN(len);
  if (need > sizeof(*r))
    return NULL;
  void *p = (char *)r + at;
  memset(p, 0, NLMSG_ALIGN(len));
  r->h.nlmsg_len = (uint32_t)need;
  return p;
}

static void nest_end(nlreq_t *r, struct rtattr *a) {
  a->rta_len = (unsigned short)((char *)r + r->h.nlmsg_len - (char *)a);
}

static void start(nlreq_t *r, int type, int flags, const void *hdr, size_t hlen) {
  memset(r, 0, sizeof(*r));
  r->h.nlmsg_type = (unsigned short)type;
  r->h.nlmsg_flags = (unsigned short)(NLM_F_REQUEST | NLM_F_ACK | flags);
  r->h.nlmsg_len = (uint32_t)NLMSG_LENGTH(hlen);
  memcpy(NLMSG_DATA(&r->h), hdr, hlen);
}

/* Sends the request and reads its ack: 0 or -errno. */
static int talk(int fd, nlreq_t *r) {
  static __thread uint32_t seq;
  if (r->h.nlmsg_len > sizeof(*r))
    return -EMSGSIZE;
  r->h.nlmsg_seq = ++seq;
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (sendto(fd, r, r->h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
    return -errno;
  for (;;) {
    union {
      struct nlmsghdr h;
      char buf[8192];
    } in;
    ssize_t n = recv(fd, &in, sizeof(in), 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? -errno : -EIO;
    int len = (int)n;
    for (struct nlmsghdr *m = &in.h; NLMSG_OK(m, len); m = NLMSG_NEXT(m, len)) {
      if (m->nlmsg_seq != r->h.nlmsg_seq)
        continue;
      if (m->nlmsg_type == NLMSG_ERROR)
        return ((struct nlmsgerr *)NLMSG_DATA(m))->error;
    }
  }
}

static int link_up(int fd, int index, int master) {
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_change = IFF_UP,
                          .ifi_flags = IFF_UP};
  nlreq_t r;
  start(&r, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
  if (master > 0 && put(&r, IFLA_MASTER, &(uint32_t){(uint32_t)master}, 4) == NULL)
    return -EMSGSIZE;
  return talk(fd, &r);
}

static int ifindex(int ioc, const char *name) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
  return ioctl(ioc, SIOCGIFINDEX, &ifr) == 0 ? ifr.ifr_ifindex : -errno;
}

/* /run/netns as a shared mount point (iproute2's layout), once. */
static pthread_once_t dir_once = PTHREAD_ONCE_INIT;
static int dir_rc;
static void dir_setup(void) {
  if (mkdir(NETNS_DIR, 0755) != 0 && errno != EEXIST) {
    dir_rc = -errno;
    return;
  }
  if (mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) == 0)
    return;
  if (errno != EINVAL ||
      mount(NETNS_DIR, NETNS_DIR, "none", MS_BIND | MS_REC, NULL) != 0 ||
      mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) != 0)
    dir_rc = -errno;
}

void oci_netns_del(const char *name) {
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", NETNS_DIR, name);
  if (umount2(path, MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    LOG_WARN("worker", "umount %s: %s", path, strerror(errno));
  if (unlink(path) != 0 && errno != ENOENT)
    LOG_WARN("worker", "unlink %s: %s", path, strerror(errno));
}

#define FAIL(what, e)                                                                            \
  do {                                                                                           \
    snprintf(err, errlen, "%s: %s", what, strerror((e) < 0 ? -(e) : (e)));                       \
    goto out;                                                                                    \
  } while (0)

int oci_net_make(const oci_net_t *n, char *err, size_t errlen) {
  int rc = -1, own = -1, nsfd = -1, ns_nl = -1, ns_ioc = -1, host_nl = -1, host_ioc = -1, e;
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", NETNS_DIR, n->netns);
  if (pthread_once(&dir_once, dir_setup) != 0 || dir_rc != 0)
    FAIL(NETNS_DIR, dir_rc ? dir_rc : EIO);
  if ((own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
    FAIL("/proc/thread-self/ns/net", errno);
  int pf = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (pf < 0)
    FAIL(path, errno);
  close(pf);
  /* This thread in a new namespace: bind it, take a netlink socket and an
   * ioctl socket there, `lo` up; then back. */
  if (unshare(CLONE_NEWNET) != 0)
    FAIL("unshare(CLONE_NEWNET)", errno);
  bool bound = mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) == 0;
  e = errno;
  if (bound) {
    nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    ns_nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    ns_ioc = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
  if (setns(own, CLONE_NEWNET) != 0) {
    /* This pool thread would go on in the container's namespace. */
    LOG_ERROR("worker", "cannot return to the worker's network namespace: %s", strerror(errno));
    abort();
  }
  if (!bound)
    FAIL("bind mount of the network namespace", e);
  if (nsfd < 0 || ns_nl < 0 || ns_ioc < 0)
    FAIL("sockets in the network namespace", EIO);
  if ((host_nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) < 0 ||
      (host_ioc = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
    FAIL("netlink socket", errno);
  /* The veth pair: host end on this side, eth0 in the namespace. */
  {
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
    nlreq_t r;
    start(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
    put(&r, IFLA_IFNAME, n->host_if, strlen(n->host_if) + 1);
    struct rtattr *li = put(&r, IFLA_LINKINFO, NULL, 0);
    put(&r, IFLA_INFO_KIND, "veth", 5);
    struct rtattr *data = put(&r, IFLA_INFO_DATA, NULL, 0);
    struct rtattr *peer = put(&r, VETH_INFO_PEER, NULL, 0);
    struct ifinfomsg *pi = reserve(&r, sizeof(struct ifinfomsg));
    if (li == NULL || data == NULL || peer == NULL || pi == NULL)
      FAIL("veth request", EMSGSIZE);
    pi->ifi_family = AF_UNSPEC;
    if (put(&r, IFLA_IFNAME, "eth0", 5) == NULL ||
        put(&r, IFLA_NET_NS_FD, &(uint32_t){(uint32_t)nsfd}, 4) == NULL)
      FAIL("veth request", EMSGSIZE);
    nest_end(&r, peer);
    nest_end(&r, data);
    nest_end(&r, li);
    if ((e = talk(host_nl, &r)) != 0)
      FAIL("veth pair", e);
  }
  int hidx = ifindex(host_ioc, n->host_if), bidx = ifindex(host_ioc, n->bridge);
  if (hidx <= 0)
    FAIL(n->host_if, hidx);
  if (bidx <= 0)
    FAIL(n->bridge, bidx);
  if ((e = link_up(host_nl, hidx, bidx)) != 0)
    FAIL("host end on the bridge", e);
  /* Inside: lo up, the address on eth0, eth0 up, the default route. */
  int lidx = ifindex(ns_ioc, "lo"), cidx = ifindex(ns_ioc, "eth0");
  if (lidx <= 0 || cidx <= 0)
    FAIL("lo/eth0 in the namespace", lidx <= 0 ? lidx : cidx);
  if ((e = link_up(ns_nl, lidx, 0)) != 0)
    FAIL("lo up", e);
  {
    struct ifaddrmsg ifa = {.ifa_family = AF_INET, .ifa_prefixlen = (unsigned char)n->prefix,
                            .ifa_index = (uint32_t)cidx, .ifa_scope = RT_SCOPE_UNIVERSE};
    uint32_t a = htonl(n->addr);
    nlreq_t r;
    start(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof(ifa));
    put(&r, IFA_LOCAL, &a, 4);
    put(&r, IFA_ADDRESS, &a, 4);
    if ((e = talk(ns_nl, &r)) != 0)
      FAIL("address", e);
  }
  if ((e = link_up(ns_nl, cidx, 0)) != 0)
    FAIL("eth0 up", e);
  {
    struct rtmsg rt = {.rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN,
                       .rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_UNIVERSE,
                       .rtm_type = RTN_UNICAST};
    uint32_t gw = htonl(n->gateway);
    nlreq_t r;
    start(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rt, sizeof(rt));
    put(&r, RTA_GATEWAY, &gw, 4);
    put(&r, RTA_OIF, &(uint32_t){(uint32_t)cidx}, 4);
    if ((e = talk(ns_nl, &r)) != 0)
      FAIL("default route", e);
  }
  rc = 0;
out:;
  int fds[] = {own, nsfd, ns_nl, ns_ioc, host_nl, host_ioc};
  for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
    if (fds[i] >= 0)
      close(fds[i]);
  return rc;
}
