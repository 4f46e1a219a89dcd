// SPDX-License-Identifier: GPL-2.0
/*
 * The harness's state (harness.h), defined once for a test binary and the
 * helper library it links (util.c): a failure a helper records counts for
 * the case that called it.
 */
#include "harness.h"

struct h_shared *h_st;
const char *h_test_name = "test";
const char *h_case_name = "";
int h_npass, h_nfail, h_nskip;
struct h_global h_global_start;

/*
 * IOPBUF_TIME_FACTOR: a whole number from 1 to 100; anything else is 1
 * (and said once, so a typo does not go unnoticed).
 */
int h_time_factor(void)
{
	static int factor;
	const char *env;
	char *end;
	long v;

	if (factor)
		return factor;
	factor = 1;
	env = getenv("IOPBUF_TIME_FACTOR");
	if (env && *env) {
		errno = 0;
		v = strtol(env, &end, 10);
		if (!errno && !*end && v >= 1 && v <= 100)
			factor = (int)v;
		else
			printf("# %s: IOPBUF_TIME_FACTOR=%s is not a number from 1 to 100: 1\n",
			       h_test_name, env);
	}
	return factor;
}

/* h_run_arg()'s case, for the h_run() it calls. */
static struct {
	void (*fn)(const void *arg);
	const void *arg;
} h_arg_case;

static void h_arg_case_run(void)
{
	h_arg_case.fn(h_arg_case.arg);
}

void h_run_arg(const char *name, void (*fn)(const void *arg),
	       const void *arg)
{
	h_arg_case.fn = fn;
	h_arg_case.arg = arg;
	h_run(name, h_arg_case_run);
}

struct h_dev_case {
	void (*fn)(int fd, char *mem);
	size_t len;
};

static void h_dev_case_run(const void *arg)
{
	const struct h_dev_case *c = arg;
	char *mem = h_map(c->len);
	int fd = h_open();

	if (fd >= 0 && mem)
		c->fn(fd, mem);
	h_close(&fd);
	h_unmap(mem, c->len);
}

void h_run_dev(const char *name, void (*fn)(int fd, char *mem),
	       unsigned int pages)
{
	struct h_dev_case c = { fn, pages * H_PAGE };

	h_run_arg(name, h_dev_case_run, &c);
}
