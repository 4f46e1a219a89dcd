// SPDX-License-Identifier: GPL-2.0
/*
 * examples/fileserver.c in the guest: many concurrent busybox wget clients
 * (the guest has no curl) fetch files of assorted sizes, and every download
 * must have the checksum (busybox sha256sum) of its file; a missing file
 * gives 404; one hand-written client pipelines HEAD and two GETs on one
 * keep-alive connection. Keep-alive costs no stall per response (LAT_N
 * GETs on one connection take little longer than as many HEADs), HTTP/1.0 keeps the
 * connection when asked, IDLE_N idle connections (more than the server's
 * -c limit) do not stop a new client being served, and the idle and
 * header timeouts close what they should, when they should. The server
 * exits after the expected number of connections and its counters must
 * show every send went the zero-copy way (ZC requested; loopback may copy).
 *
 * The server is the built program (examples/build/static/fileserver,
 * t_prog()).
 */
#include "util.h"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>


#define ROOT		"/tmp/fsroot"
#define DL		"/tmp/fsdl"
#define CLIENTS		32
#define NFILES		(sizeof(sizes) / sizeof(sizes[0]))

/* sizes around the chunk (32 KiB) and bundle (8 chunks) boundaries; 4 KiB */
static const size_t sizes[] = {
	0, 1, 100, 32767, 32768, 32769, 262144, 262145, 1000000, 3 << 20, 4096,
};
#define F4K		10	/* the 4 KiB file */

/* The server's limits (fileserver -c, -i, -t): IDLE_N idle clients exceed
 * MAX_CONNS, and HEADER_S < IDLE_S tells the two timeouts apart. */
#define MAX_CONNS	200
#define IDLE_S		10
#define HEADER_S	2
#define IDLE_N		256

/*
 * LAT_N GETs of the 4 KiB file and LAT_N HEADs of it, alternating, one
 * after the other on one keep-alive connection. A server that stalls on
 * Nagle + delayed ACK (header sent alone, body held until the header is
 * acknowledged) waits for the client's delayed ACK once per GET: at least
 * 40 ms (TCP_DELACK_MIN is a timer, no shorter on a fast machine): with
 * the header sent alone and no TCP_NODELAY, 6.1 measured a GET median of
 * 47.8 ms against 2.6 ms for HEAD, 9.6 s for 200 GETs. A HEAD is one small
 * send and never waits, so it measures what a request costs on this guest
 * (0.4-7 ms under TCG on 2 shared cores; more on the debug kernel). The
 * GETs' median may exceed the HEADs' by less than LAT_EXTRA_MS (half the
 * stall; 0.06 ms measured on 6.1) and their total the HEADs' total by less than LAT_N *
 * LAT_EXTRA_MS (4 s; a stall adds >= 8 s): bounds relative to the same
 * guest's HEADs, so a slow machine or kernel does not fail them and a
 * stalling server cannot pass them.
 */
#define LAT_N		200
#define LAT_EXTRA_MS	20

static pid_t server = -1;
static FILE *server_out;
static int port;
static long connections;	/* the server exits after this many */

static void file_name(char *buf, size_t len, const char *dir, size_t i)
{
	snprintf(buf, len, "%s/f%zu", dir, i);
}

/* The sha256 of a file, as busybox sha256sum prints it. */
static bool sha256(const char *path, char out[65])
{
	char cmd[256], line[256];
	FILE *f;
	bool ok;

	snprintf(cmd, sizeof(cmd), "sha256sum %s", path);
	f = popen(cmd, "r");
	if (!f)
		return false;
	ok = fgets(line, sizeof(line), f) && strlen(line) > 64;
	if (ok)
		snprintf(out, 65, "%.64s", line);
	return pclose(f) == 0 && ok;
}

static void start_server(void)
{
	char line[256], nbuf[16], cbuf[16], ibuf[16], tbuf[16];
	char *argv[] = { "fileserver", "-c", cbuf, "-i", ibuf, "-t", tbuf,
			 ROOT, "0", nbuf, NULL };
	size_t i, j;

	if (!EXPECT_OK(system("rm -rf " ROOT " " DL " && mkdir -p " ROOT " " DL)))
		return;
	for (i = 0; i < NFILES; i++) {
		char path[64];
		FILE *f;

		file_name(path, sizeof(path), ROOT, i);
		f = fopen(path, "w");
		if (!EXPECT(f))
			return;
		for (j = 0; j < sizes[i]; j++)
			putc((int)((j * 2654435761u) >> 13) ^ (int)i, f);
		fclose(f);
	}
	/* + two 404 + keep-alive + latency + two HTTP/1.0 + the idle ones
	 * and the new client + two timed out */
	connections = CLIENTS + 3 + 1 + 2 + IDLE_N + 1 + 2;
	snprintf(nbuf, sizeof(nbuf), "%ld", connections);
	snprintf(cbuf, sizeof(cbuf), "%d", MAX_CONNS);
	snprintf(ibuf, sizeof(ibuf), "%d", IDLE_S);
	snprintf(tbuf, sizeof(tbuf), "%d", HEADER_S);
	server = t_spawn("fileserver", argv, &server_out);
	if (server < 0)
		return;
	if (!EXPECT(fgets(line, sizeof(line), server_out)) ||
	    !EXPECT(sscanf(line, "fileserver: listening on port %d", &port) == 1))
		return;
	h_note("%s", strtok(line, "\n"));
}

/* CLIENTS busybox wget at once, each fetching one of the files. */
static void wget_concurrent(void)
{
	char sums[NFILES][65], url[128], out[64], got[65];
	pid_t pids[CLIENTS];
	int i, status, ok = 0;

	if (!port) {
		h_skip("no server");
		return;
	}
	for (i = 0; i < (int)NFILES; i++) {
		file_name(out, sizeof(out), ROOT, i);
		if (!EXPECT(sha256(out, sums[i])))
			return;
	}
	fflush(stdout);
	for (i = 0; i < CLIENTS; i++) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/f%zu", port,
			 i % NFILES);
		file_name(out, sizeof(out), DL, i);
		pids[i] = fork();
		if (pids[i] == 0) {
			execlp("wget", "wget", "-q", "-O", out, url, (char *)NULL);
			_exit(127);
		}
	}
	for (i = 0; i < CLIENTS; i++) {
		if (pids[i] < 0 || waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status)) {
			FAILF("wget %d (f%zu) failed: status %#x", i, i % NFILES,
			      status);
			continue;
		}
		file_name(out, sizeof(out), DL, i);
		if (!sha256(out, got) || strcmp(got, sums[i % NFILES]))
			FAILF("%s: sha256 %s, want %s", out, got,
			      sums[i % NFILES]);
		else
			ok++;
	}
	h_note("%d of %d downloads match, %zu files of 0 .. %zu bytes", ok,
	       CLIENTS, NFILES, sizes[NFILES - 2]);
}

/* Read one response: status, Content-Length, then the body into @body. */
static bool read_response(FILE *f, int *status, char *body, size_t *len,
			  bool head);

/*
 * A connection to the server; reads time out after @timeout_s seconds
 * (0: never).
 */
static int connect_server(int timeout_s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = timeout_s };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!EXPECT(fd >= 0))
		return -1;
	if (!EXPECT_OK(connect(fd, (struct sockaddr *)&sa, sizeof(sa))) ||
	    !EXPECT_OK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* wget of a missing file fails; the status, read by hand, is 404. */
static void not_found(void)
{
	char cmd[160], body[64];
	int fd, status = 0;
	size_t len;
	FILE *f;

	if (!port) {
		h_skip("no server");
		return;
	}
	snprintf(cmd, sizeof(cmd),
		 "wget -q -O /dev/null http://127.0.0.1:%d/missing 2>/dev/null",
		 port);
	EXPECT(system(cmd) != 0);
	fd = connect_server(0);
	if (fd < 0)
		return;
	snprintf(cmd, sizeof(cmd), "GET /../%s/f1 HTTP/1.0\r\n\r\n", ROOT);
	EXPECT_EQ(write(fd, cmd, strlen(cmd)), strlen(cmd));
	f = fdopen(fd, "r");
	EXPECT(read_response(f, &status, body, &len, false));
	EXPECT_EQ(status, 404);
	fclose(f);
}

static char connection[32];	/* the last response's Connection header */

/* Read one response: status, Content-Length, then the body into @body. */
static bool read_response(FILE *f, int *status, char *body, size_t *len,
			  bool head)
{
	char line[512];

	*len = 0;
	*status = 0;
	connection[0] = 0;
	if (!fgets(line, sizeof(line), f) ||
	    sscanf(line, "HTTP/1.1 %d", status) != 1)
		return false;
	while (fgets(line, sizeof(line), f) && strcmp(line, "\r\n")) {
		sscanf(line, "Content-Length: %zu", len);
		sscanf(line, "Connection: %31[^\r]", connection);
	}
	return head || fread(body, 1, *len, f) == *len;
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The 4 KiB file, to compare bodies with. */
static bool read_f4k(char *want)
{
	char path[64];
	FILE *src;
	bool ok;

	file_name(path, sizeof(path), ROOT, F4K);
	src = fopen(path, "r");
	if (!EXPECT(src))
		return false;
	ok = EXPECT_EQ(fread(want, 1, sizes[F4K], src), sizes[F4K]);
	fclose(src);
	return ok;
}

/* Request the 4 KiB file on @fd (@extra: header lines) and check it. */
static bool get_f4k(int fd, FILE *f, const char *version, const char *extra,
		    const char *want)
{
	char req[256], body[4096];
	size_t len;
	int status;

	snprintf(req, sizeof(req), "GET /f%d %s\r\nHost: x\r\n%s\r\n", F4K,
		 version, extra);
	return EXPECT_EQ(write(fd, req, strlen(req)), strlen(req)) &&
	       EXPECT(read_response(f, &status, body, &len, false)) &&
	       EXPECT_EQ(status, 200) && EXPECT_EQ(len, sizes[F4K]) &&
	       EXPECT(!memcmp(body, want, len));
}

/* The server is up and @want holds the 4 KiB file (else SKIP or FAIL). */
static bool f4k_ready(char *want)
{
	if (!port) {
		h_skip("no server");
		return false;
	}
	return read_f4k(want);
}

/* A new connection to the server, as a stream to read responses from. */
static FILE *server_stream(int *fd)
{
	FILE *f;

	*fd = connect_server(10);
	if (*fd < 0)
		return NULL;
	f = fdopen(*fd, "r");
	if (!EXPECT(f))
		close(*fd);
	return f;
}

static int cmp_double(const void *a, const void *b)
{
	return *(const double *)a < *(const double *)b ? -1 :
	       *(const double *)a > *(const double *)b;
}

/*
 * f4k_ready(), then a connection to the server as a stream; NULL (after
 * a SKIP or FAIL) when either is missing.
 */
static FILE *f4k_stream(char *want, int *fd)
{
	return f4k_ready(want) ? server_stream(fd) : NULL;
}

/* LAT_N requests on one keep-alive connection, each after the last. */
static void keep_alive_latency(void)
{
	static double get[LAT_N], head[LAT_N];
	double get_ms = 0, head_ms = 0;
	char want[4096], req[128];
	struct timespec t0;
	int fd, i, status;
	size_t len;
	FILE *f;

	f = f4k_stream(want, &fd);
	if (!f)
		return;
	snprintf(req, sizeof(req), "HEAD /f%d HTTP/1.1\r\nHost: x\r\n\r\n", F4K);
	for (i = 0; i < LAT_N; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (!get_f4k(fd, f, "HTTP/1.1", "", want))
			break;
		get[i] = elapsed_ms(&t0);
		get_ms += get[i];
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (!EXPECT_EQ(write(fd, req, strlen(req)), strlen(req)) ||
		    !EXPECT(read_response(f, &status, NULL, &len, true)) ||
		    !EXPECT_EQ(status, 200) || !EXPECT_EQ(len, sizes[F4K]))
			break;
		head[i] = elapsed_ms(&t0);
		head_ms += head[i];
	}
	if (!EXPECT_EQ(i, LAT_N))
		goto out;
	qsort(get, LAT_N, sizeof(get[0]), cmp_double);
	qsort(head, LAT_N, sizeof(head[0]), cmp_double);
	h_note("%d GETs of 4 KiB on one connection in %.0f ms (median %.2f ms, slowest %.2f ms), as many HEADs in %.0f ms (median %.2f ms); bounds: median +%d ms, total +%d ms; a 40 ms stall per GET: >= +%d ms",
	       LAT_N, get_ms, get[LAT_N / 2], get[LAT_N - 1], head_ms,
	       head[LAT_N / 2], LAT_EXTRA_MS, LAT_N * LAT_EXTRA_MS, LAT_N * 40);
	EXPECT(get[LAT_N / 2] < head[LAT_N / 2] + LAT_EXTRA_MS);
	EXPECT(get_ms < head_ms + LAT_N * LAT_EXTRA_MS);
out:
	fclose(f);
}

/* HTTP/1.0 keeps the connection with Connection: keep-alive, else not. */
static void http10_keep_alive(void)
{
	char want[4096];
	int fd;
	FILE *f;

	f = f4k_stream(want, &fd);
	if (!f)
		return;
	if (!get_f4k(fd, f, "HTTP/1.0", "Connection: Keep-Alive\r\n", want) ||
	    !EXPECT(!strcasecmp(connection, "keep-alive")) ||
	    !get_f4k(fd, f, "HTTP/1.0", "Connection: keep-alive\r\n", want) ||
	    !EXPECT(!strcasecmp(connection, "keep-alive")) ||
	    !get_f4k(fd, f, "HTTP/1.0", "", want) ||
	    !EXPECT(!strcasecmp(connection, "close")))
		goto out;
	EXPECT(fgetc(f) == EOF);	/* closed after the plain 1.0 request */
out:
	fclose(f);
	/* and HTTP/1.1 with Connection: close, keep-alive listed after it */
	f = server_stream(&fd);
	if (!f)
		return;
	if (get_f4k(fd, f, "HTTP/1.1", "Connection: keep-alive, close\r\n", want) &&
	    EXPECT(!strcasecmp(connection, "close")))
		EXPECT(fgetc(f) == EOF);
	fclose(f);
}

/* IDLE_N connections that send nothing (more than MAX_CONNS): a new
 * client is still served, and the server closed the longest idle ones. */
static void idle_clients(void)
{
	static int idle[IDLE_N];
	struct rlimit rl;
	char want[4096];
	struct timespec t0;
	int fd, i, n = 0, closed = 0, ms;
	FILE *f;

	if (!f4k_ready(want))
		return;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < IDLE_N + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (n = 0; n < IDLE_N; n++) {
		idle[n] = connect_server(10);
		if (idle[n] < 0)
			goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = connect_server(10);
	if (fd >= 0) {
		f = fdopen(fd, "r");
		get_f4k(fd, f, "HTTP/1.1", "Connection: close\r\n", want);
		h_note("a new client behind %d idle connections served in %.0f ms",
		       IDLE_N, elapsed_ms(&t0));
		fclose(f);
	}
	/* the server makes room by closing the longest idle ones */
	for (ms = 0; ms < T_WAIT_MS && closed < IDLE_N - MAX_CONNS; ms += 50) {
		usleep(50000);
		for (i = closed = 0; i < n; i++) {
			struct pollfd p = { .fd = idle[i], .events = POLLIN };

			closed += poll(&p, 1, 0) == 1;
		}
	}
	h_note("the server closed %d of them (limit %d connections)", closed,
	       MAX_CONNS);
	EXPECT(closed >= IDLE_N - MAX_CONNS && closed < IDLE_N);
out:
	while (n--)
		close(idle[n]);
}

/* A silent connection is closed after IDLE_S, a started header after
 * HEADER_S (counted from its first byte). */
static void timeouts(void)
{
	struct pollfd p[2] = { { .events = POLLIN }, { .events = POLLIN } };
	const char *part = "GET /f1 HTTP/1.1\r\nHost: x\r\n";
	double at[2] = { 0, 0 };
	struct timespec t0;
	int i, left = 2;

	if (!port) {
		h_skip("no server");
		return;
	}
	p[0].fd = connect_server(30);
	p[1].fd = connect_server(30);
	if (p[0].fd < 0 || p[1].fd < 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(write(p[1].fd, part, strlen(part)), strlen(part));
	while (left && elapsed_ms(&t0) < IDLE_S * 1000 + T_WAIT_MS &&
	       poll(p, 2, 1000) >= 0)
		for (i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP)) || at[i])
				continue;
			at[i] = elapsed_ms(&t0);
			p[i].events = 0;
			left--;
		}
	h_note("idle connection closed after %.1f s (-i %d), a started header after %.1f s (-t %d)",
	       at[0] / 1e3, IDLE_S, at[1] / 1e3, HEADER_S);
	/*
	 * A timer is never early; how late it is depends on the guest's
	 * scheduling, so only the order is asserted: the started header's
	 * (shorter) timeout fired first, and both fired (the hang guard).
	 */
	EXPECT(at[1] >= HEADER_S * 1000 - 100 && at[1] < at[0]);
	EXPECT(at[0] >= IDLE_S * 1000 - 100);
	EXPECT(!left);
	for (i = 0; i < 2; i++) {
		char c;

		EXPECT_EQ(read(p[i].fd, &c, 1), 0);	/* closed, no answer */
	}
out:
	for (i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
}

/* HEAD, GET, GET pipelined on one HTTP/1.1 connection. */
static void keep_alive(void)
{
	size_t len, big = 8, small = 2;
	static char body[4 << 20], want[4 << 20];
	char req[512], path[64];
	int fd, status;
	FILE *f, *src;

	if (!port) {
		h_skip("no server");
		return;
	}
	fd = connect_server(0);
	if (fd < 0)
		return;
	snprintf(req, sizeof(req),
		 "HEAD /f%zu HTTP/1.1\r\nHost: x\r\n\r\n"
		 "GET /f%zu?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"
		 "GET /f%zu HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		 big, big, small);
	EXPECT_EQ(write(fd, req, strlen(req)), strlen(req));
	f = fdopen(fd, "r");
	if (!EXPECT(read_response(f, &status, body, &len, true)) ||
	    !EXPECT_EQ(status, 200) || !EXPECT_EQ(len, sizes[big]))
		goto out;
	if (!EXPECT(read_response(f, &status, body, &len, false)) ||
	    !EXPECT_EQ(status, 200) || !EXPECT_EQ(len, sizes[big]))
		goto out;
	file_name(path, sizeof(path), ROOT, big);
	src = fopen(path, "r");
	if (EXPECT(src)) {
		EXPECT_EQ(fread(want, 1, sizes[big], src), sizes[big]);
		EXPECT(!memcmp(body, want, sizes[big]));
		fclose(src);
	}
	if (!EXPECT(read_response(f, &status, body, &len, false)) ||
	    !EXPECT_EQ(status, 200) || !EXPECT_EQ(len, sizes[small]))
		goto out;
	EXPECT(fgetc(f) == EOF);	/* Connection: close honoured */
out:
	fclose(f);
}

/* The server exits by itself after the last connection. */
static void server_exit(void)
{
	unsigned long long req, bytes, sends, zc, copied, zc_bytes;
	unsigned long long conns = 0, idle_to = 0, header_to = 0, at_limit = 0;
	char line[512] = "";
	int status;
	double avg;

	if (server <= 0) {
		h_skip("no server");
		return;
	}
	if (!t_waitpid(server, &status)) {
		FAILF("server still running after %ld connections", connections);
		kill(server, SIGKILL);
		waitpid(server, &status, 0);
	}
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	while (fgets(line, sizeof(line), server_out)) {
		unsigned long long v[4];

		h_note("%s", strtok(line, "\n"));
		if (sscanf(line, "fileserver: %llu connections, idle timeouts %llu, header timeouts %llu, closed at the limit %llu",
			   &v[0], &v[1], &v[2], &v[3]) == 4) {
			conns = v[0];
			idle_to = v[1];
			header_to = v[2];
			at_limit = v[3];
		}
	}
	if (!EXPECT(sscanf(line, "fileserver: %llu requests, %llu bytes in %llu sends of %lf buffers on average, zero copy %llu, copied %llu, zero-copy bytes %llu",
			   &req, &bytes, &sends, &avg, &zc, &copied,
			   &zc_bytes) == 7))
		return;
	/* + pipelined 3 + latency + HTTP/1.0 3 + 1.1 close 1 + new client 1 */
	EXPECT_EQ(req, CLIENTS + 5 + 2 * LAT_N + 4 + 1);
	EXPECT_EQ(conns, connections);
	/* none of the IDLE_N timed out: room was made by closing idle ones */
	EXPECT_EQ(idle_to, 1);
	EXPECT_EQ(header_to, 1);
	EXPECT(at_limit >= IDLE_N - MAX_CONNS && at_limit < IDLE_N);
	EXPECT(sends > 0);
	EXPECT_EQ(zc + copied, sends);	/* every send asked for zero copy */
	/* bytes of the sends that went zero copy: none of them, or some */
	EXPECT(zc ? zc_bytes > 0 && zc_bytes <= bytes : zc_bytes == 0);
	fclose(server_out);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	h_init("examples_fileserver");
	RUN(start_server);
	RUN(wget_concurrent);
	RUN(not_found);
	RUN(keep_alive);
	RUN(keep_alive_latency);
	RUN(http10_keep_alive);
	RUN(idle_clients);
	RUN(timeouts);
	RUN(server_exit);
	RUN(h_case_counters_zero);
	return h_exit();
}
