/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Connected socket pairs over loopback, for the tests (util.h wraps them
 * with failure reporting) and for tools/ (send_demo), which link the same
 * archive, tests/build/libtestutil.a. No harness here: each returns 0, or
 * -1 with errno set and both fds -1.
 */
#ifndef IOPBUF_TESTS_SOCK_H
#define IOPBUF_TESTS_SOCK_H

#include <sys/socket.h>

/* The loopback address of @family (AF_INET, AF_INET6) with port @port. */
socklen_t sock_loopback(int family, struct sockaddr_storage *ss,
			unsigned short port);

/*
 * A connected TCP pair over the loopback address of @family, made with
 * socket, bind, listen, connect and accept: fds[0] receives (accepted),
 * fds[1] sends (connected); both TCP_NODELAY, so every send leaves at
 * once. A
 * non-zero @sndbuf / @rcvbuf sets the sender's SO_SNDBUF / the receiver's
 * SO_RCVBUF before the connection.
 */
int sock_tcp_pair(int family, int fds[2], int sndbuf, int rcvbuf);

/* Two UDP sockets on the loopback address of @family, connected. */
int sock_udp_pair(int family, int fds[2]);

#endif /* IOPBUF_TESTS_SOCK_H */
