/* dns:/// targets resolved on every poll with getaddrinfo: each A/AAAA record is one instance
 * (a Kubernetes headless Service names every ready pod this way). */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "svc/management/management.h"

int mgmt_resolve(const char *target, char out[][MGMT_ADDR_MAX], int max, char *err, size_t errlen) {
  bool dns;
  char host[MGMT_HOST_MAX + 1], port[6];
  if (!mgmt_target_split(target, &dns, host, port)) {
    snprintf(err, errlen, "%s: not a dns:///host:port target", target);
    return -1;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP},
                  *res = NULL;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    snprintf(err, errlen, "%s: %s", target, gai_strerror(rc));
    return -1;
  }
  int n = 0;
  for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
    char ip[INET6_ADDRSTRLEN], addr[MGMT_ADDR_MAX];
    if (ai->ai_family == AF_INET) {
      const struct sockaddr_in *sin = (const struct sockaddr_in *)ai->ai_addr;
      inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
      snprintf(addr, sizeof addr, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
    } else if (ai->ai_family == AF_INET6) {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ai->ai_addr;
      inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip);
      snprintf(addr, sizeof addr, "[%s]:%u", ip, (unsigned)ntohs(sin6->sin6_port));
    } else {
      continue;
    }
    bool seen = false;
    for (int i = 0; i < n && !seen; i++) seen = strcmp(out[i], addr) == 0;
    if (!seen) memcpy(out[n++], addr, strlen(addr) + 1);
  }
  freeaddrinfo(res);
  if (n == 0) snprintf(err, errlen, "%s: no A or AAAA record", target);
  return n ? n : -1;
}
