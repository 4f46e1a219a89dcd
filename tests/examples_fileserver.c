// SPDX-License-Identifier: GPL-2.0
/*
 * examples/fileserver.c in the guest: many concurrent busybox wget clients
 * (the guest has no curl) fetch files of assorted sizes, and every download
 * must have the checksum (busybox sha256sum) of its file; a missing file
 * gives 404; one hand-written client pipelines HEAD and two GETs on one
 * keep-alive connection. The server exits after the expected number of
 * connections and its counters must show every send went the zero-copy
 * way (ZC requested; loopback may copy).
 *
 * The example and the library are compiled into this binary, which is the
 * server too: `examples_fileserver ROOT [PORT [N]]` runs the example
 * itself (e.g. scripts/vm-test.sh --run "examples_fileserver /tmp 8080").
 */
#include "harness.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include "../lib/include/iopbuf.h"
#include "../lib/src/dev.c"
#include "../lib/src/ring.c"
#define main fileserver_main
#include "../examples/fileserver.c"
#undef main

#define ROOT		"/tmp/fsroot"
#define DL		"/tmp/fsdl"
#define CLIENTS		32
#define NFILES		(sizeof(sizes) / sizeof(sizes[0]))

/* sizes around the chunk (32 KiB) and bundle (8 chunks) boundaries */
static const size_t sizes[] = {
	0, 1, 100, 32767, 32768, 32769, 262144, 262145, 1000000, 3 << 20,
};

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
	char line[256], nbuf[16], *argv[] = { "fileserver", ROOT, "0", nbuf, NULL };
	int pfd[2];
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
	connections = CLIENTS + 3;	/* + two 404 + keep-alive */
	snprintf(nbuf, sizeof(nbuf), "%ld", connections);
	if (!EXPECT_OK(pipe2(pfd, O_CLOEXEC)))
		return;
	fflush(stdout);
	server = fork();
	if (server == 0) {
		dup2(pfd[1], 1);
		exit(fileserver_main(4, argv));
	}
	close(pfd[1]);
	server_out = fdopen(pfd[0], "r");
	if (!EXPECT(server > 0 && server_out))
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
	       CLIENTS, NFILES, sizes[NFILES - 1]);
}

/* Read one response: status, Content-Length, then the body into @body. */
static bool read_response(FILE *f, int *status, char *body, size_t *len,
			  bool head);

/* wget of a missing file fails; the status, read by hand, is 404. */
static void not_found(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
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
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!EXPECT(fd >= 0) ||
	    !EXPECT_OK(connect(fd, (struct sockaddr *)&sa, sizeof(sa))))
		return;
	snprintf(cmd, sizeof(cmd), "GET /../%s/f1 HTTP/1.0\r\n\r\n", ROOT);
	EXPECT_EQ(write(fd, cmd, strlen(cmd)), strlen(cmd));
	f = fdopen(fd, "r");
	EXPECT(read_response(f, &status, body, &len, false));
	EXPECT_EQ(status, 404);
	fclose(f);
}

/* Read one response: status, Content-Length, then the body into @body. */
static bool read_response(FILE *f, int *status, char *body, size_t *len,
			  bool head)
{
	char line[512];

	*len = 0;
	*status = 0;
	if (!fgets(line, sizeof(line), f) ||
	    sscanf(line, "HTTP/1.1 %d", status) != 1)
		return false;
	while (fgets(line, sizeof(line), f) && strcmp(line, "\r\n"))
		sscanf(line, "Content-Length: %zu", len);
	return head || fread(body, 1, *len, f) == *len;
}

/* HEAD, GET, GET pipelined on one HTTP/1.1 connection. */
static void keep_alive(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	size_t len, big = 8, small = 2;
	static char body[4 << 20], want[4 << 20];
	char req[512], path[64];
	int fd, status;
	FILE *f, *src;

	if (!port) {
		h_skip("no server");
		return;
	}
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!EXPECT(fd >= 0) ||
	    !EXPECT_OK(connect(fd, (struct sockaddr *)&sa, sizeof(sa))))
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
	char line[512] = "";
	int status, ms;
	double avg;

	if (server <= 0) {
		h_skip("no server");
		return;
	}
	for (ms = 0; ms < 20000; ms += 10) {
		if (waitpid(server, &status, WNOHANG) == server)
			break;
		usleep(10000);
	}
	if (ms >= 20000) {
		FAILF("server still running after %ld connections", connections);
		kill(server, SIGKILL);
		waitpid(server, &status, 0);
	}
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	while (fgets(line, sizeof(line), server_out))
		h_note("%s", strtok(line, "\n"));
	if (!EXPECT(sscanf(line, "fileserver: %llu requests, %llu bytes in %llu sends of %lf buffers on average, zero copy %llu, copied %llu, zero-copy bytes %llu",
			   &req, &bytes, &sends, &avg, &zc, &copied,
			   &zc_bytes) == 7))
		return;
	EXPECT_EQ(req, CLIENTS + 5);
	EXPECT(sends > 0);
	EXPECT_EQ(zc + copied, sends);	/* every send asked for zero copy */
	/* bytes of the sends that went zero copy: none of them, or some */
	EXPECT(zc ? zc_bytes > 0 && zc_bytes <= bytes : zc_bytes == 0);
	fclose(server_out);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return fileserver_main(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	h_init("examples_fileserver");
	RUN(start_server);
	RUN(wget_concurrent);
	RUN(not_found);
	RUN(keep_alive);
	RUN(server_exit);
	RUN(h_case_counters_zero);
	return h_exit();
}
