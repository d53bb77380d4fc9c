#ifndef IMCTL_CLINUX_SHIM_H
#define IMCTL_CLINUX_SHIM_H

// Linux calls that Glibc's Swift module does not import.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <malloc.h>

int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);
int pthread_setname_np(pthread_t thread, const char *name);

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static inline int clinux_ip_bind_address_no_port(void) { return IP_BIND_ADDRESS_NO_PORT; }

// epoll flag values as plain integers (Swift imports them as an enum of its own type).
static inline uint32_t clinux_epollin(void) { return EPOLLIN; }
static inline uint32_t clinux_epollout(void) { return EPOLLOUT; }
static inline uint32_t clinux_epollerr(void) { return EPOLLERR; }
static inline uint32_t clinux_epollhup(void) { return EPOLLHUP; }
static inline uint32_t clinux_epollrdhup(void) { return EPOLLRDHUP; }

// The RLIMIT_NOFILE soft limit, or -1 when it cannot be read (RLIM_INFINITY maps to -2).
static inline long long clinux_nofile_soft_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
    if (limit.rlim_cur == RLIM_INFINITY) return -2;
    return (long long)limit.rlim_cur;
}

#endif
