// SPDX-License-Identifier: GPL-2.0
/*
 * examples/echo.c in the guest: several clients at once stream data of
 * their own through the echo server, writing and reading concurrently in
 * uneven pieces, and must get every byte back in order. Twice: with the
 * receive ring holding user addresses (the default) and registered-buffer
 * encodings (-r: INC on a REGBUF ring). The server exits after
 * the last client; its counters must show incremental consumption at work
 * (receives with BUF_MORE) and every send asking for zero copy.
 *
 * The server is the built program (examples/build/static/echo, t_prog()).
 */
#include "util.h"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>


#define CLIENTS		8
#define BYTES		(3 << 20)	/* per client, each way */

static unsigned char pat(unsigned int client, size_t i)
{
	return (unsigned char)((i ^ (i >> 11)) * 31 + (i >> 19) + client * 77);
}

/* One client: returns 0 when every byte came back, or what went wrong. */
static int client(int port, unsigned int id)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	static unsigned char buf[1 << 16];
	size_t sent = 0, got = 0, i;
	unsigned int rnd = id * 2654435761u + 1;
	int fd, ret;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return 10;
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (ret && errno != EINPROGRESS)
		return 11;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (sent < BYTES)
			p.events |= POLLOUT;
		if (poll(&p, 1, T_WAIT_MS) <= 0)
			return 12;		/* stuck */
		if (p.revents & POLLOUT) {
			size_t len = 1 + (rnd = rnd * 1103515245 + 12345) % 40000;

			if (len > BYTES - sent)
				len = BYTES - sent;
			for (i = 0; i < len; i++)
				buf[i] = pat(id, sent + i);
			n = send(fd, buf, len, MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN)
				return 13;
			sent += n > 0 ? n : 0;
			if (sent == BYTES)
				shutdown(fd, SHUT_WR);
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, buf, sizeof(buf), 0);
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n < 0)
				return 14;
			if (n == 0)
				break;
			for (i = 0; i < (size_t)n; i++)
				if (buf[i] != pat(id, got + i))
					return 15;	/* wrong byte */
			got += n;
		}
	}
	close(fd);
	return got == BYTES && sent == BYTES ? 0 : 16;
}

static void run_echo(bool regbuf)
{
	char line[512], nbuf[16], pbuf[] = "0";
	char *argv[] = { "echo", regbuf ? "-r" : "0", regbuf ? pbuf : nbuf,
			 regbuf ? nbuf : NULL, NULL };
	unsigned long long bytes, recvs, more, sends, zc, copied;
	pid_t server, pids[CLIENTS];
	int port = 0, status, i;
	FILE *out;
	double avg;

	snprintf(nbuf, sizeof(nbuf), "%d", CLIENTS);
	server = t_spawn("echo", argv, &out);
	if (server < 0 ||
	    !EXPECT(fgets(line, sizeof(line), out)) ||
	    !EXPECT(sscanf(line, "echo: listening on port %d", &port) == 1))
		goto out;
	h_note("%s", strtok(line, "\n"));

	for (i = 0; i < CLIENTS; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(client(port, i));
	}
	for (i = 0; i < CLIENTS; i++) {
		if (pids[i] < 0 || waitpid(pids[i], &status, 0) != pids[i])
			FAILF("client %d: fork/wait failed", i);
		else if (!WIFEXITED(status) || WEXITSTATUS(status))
			FAILF("client %d: status %#x (12 stuck, 15 wrong byte, 16 short)",
			      i, status);
	}
	/* the server ends by itself after CLIENTS connections */
	if (!t_waitpid(server, &status)) {
		FAILF("server still running after %d connections", CLIENTS);
		kill(server, SIGKILL);
		waitpid(server, &status, 0);
	}
	server = -1;
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	while (fgets(line, sizeof(line), out))
		h_note("%s", strtok(line, "\n"));
	if (!EXPECT(sscanf(line, "echo: %llu bytes, %llu receives (%llu with BUF_MORE), %llu sends of %lf buffers on average, zero copy %llu, copied %llu",
			   &bytes, &recvs, &more, &sends, &avg, &zc, &copied) == 7))
		goto out;
	EXPECT_EQ(bytes, (unsigned long long)CLIENTS * BYTES);
	EXPECT(more > 0);		/* incremental consumption */
	EXPECT_EQ(zc + copied, sends);	/* every send asked for zero copy */
out:
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
	}
	if (out)
		fclose(out);
}

static void echo_user_addrs(void)	{ run_echo(false); }
static void echo_regbuf(void)		{ run_echo(true); }

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	h_init("examples_echo");
	RUN(echo_user_addrs);
	RUN(echo_regbuf);
	RUN(h_case_counters_zero);
	return h_exit();
}
