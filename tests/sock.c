// SPDX-License-Identifier: GPL-2.0
/* Socket pairs over loopback (sock.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "sock.h"

socklen_t sock_loopback(int family, struct sockaddr_storage *ss,
			unsigned short port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		s6->sin6_port = htons(port);
		return sizeof(*s6);
	}
	((struct sockaddr_in *)ss)->sin_family = AF_INET;
	((struct sockaddr_in *)ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	((struct sockaddr_in *)ss)->sin_port = htons(port);
	return sizeof(struct sockaddr_in);
}

/* Close what is open, keep errno, say -1. */
static int sock_fail(int fds[2], int lfd)
{
	int err = errno;

	if (lfd >= 0)
		close(lfd);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	fds[0] = fds[1] = -1;
	errno = err;
	return -1;
}

int sock_tcp_pair(int family, int fds[2], int sndbuf, int rcvbuf)
{
	struct sockaddr_storage ss;
	socklen_t sl = sock_loopback(family, &ss, 0);
	int lfd, one = 1;

	fds[0] = fds[1] = -1;
	lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return sock_fail(fds, lfd);
	if (rcvbuf)
		setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(lfd, (struct sockaddr *)&ss, sl) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&ss, &sl))
		return sock_fail(fds, lfd);
	fds[1] = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[1] < 0)
		return sock_fail(fds, lfd);
	if (sndbuf)
		setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (connect(fds[1], (struct sockaddr *)&ss, sl))
		return sock_fail(fds, lfd);
	fds[0] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fds[0] < 0)
		return sock_fail(fds, lfd);
	setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(lfd);
	return 0;
}

int sock_udp_pair(int family, int fds[2])
{
	struct sockaddr_storage ss[2];
	socklen_t sl[2];
	int i;

	fds[0] = fds[1] = -1;
	for (i = 0; i < 2; i++) {
		sl[i] = sock_loopback(family, &ss[i], 0);
		fds[i] = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 ||
		    bind(fds[i], (struct sockaddr *)&ss[i], sl[i]) ||
		    getsockname(fds[i], (struct sockaddr *)&ss[i], &sl[i]))
			return sock_fail(fds, -1);
	}
	if (connect(fds[0], (struct sockaddr *)&ss[1], sl[1]) ||
	    connect(fds[1], (struct sockaddr *)&ss[0], sl[0]))
		return sock_fail(fds, -1);
	return 0;
}
