// SPDX-License-Identifier: GPL-2.0
/*
 * bench: the paths' network setup: rtnetlink for links (no dependency on
 * ip(8)), ioctls for addresses; the UDP sink, the TCP receivers behind a
 * veth pair and behind the e1000 pair.
 */

#include "bench.h"

/* A link request: nlmsghdr + ifinfomsg + attributes, in one buffer. */
struct b_nlreq {
	char buf[1024] __attribute__((aligned(NLMSG_ALIGNTO)));
};

static struct nlmsghdr *b_nl_init(struct b_nlreq *req, unsigned short type,
				  unsigned short flags)
{
	struct nlmsghdr *n = (struct nlmsghdr *)req->buf;
	struct ifinfomsg *i = NLMSG_DATA(n);

	memset(req, 0, sizeof(*req));
	n->nlmsg_len = NLMSG_LENGTH(sizeof(*i));
	n->nlmsg_type = type;
	n->nlmsg_flags = flags;
	i->ifi_family = AF_UNSPEC;
	return n;
}

static struct rtattr *b_nla(struct nlmsghdr *n, unsigned short type,
			    const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(rta->rta_len);
	return rta;
}

static void b_nla_end(struct nlmsghdr *n, struct rtattr *nest)
{
	nest->rta_len = (char *)n + NLMSG_ALIGN(n->nlmsg_len) - (char *)nest;
}

/* Send one request and return the kernel's answer (0 or -errno). */
static int b_nl_talk(struct nlmsghdr *n)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[4096];
	int fd, ret;
	ssize_t len;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	n->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	n->nlmsg_seq = 1;
	if (sendto(fd, n, n->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out;
	}
	len = recv(fd, buf, sizeof(buf), 0);
	if (len < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
		ret = len < 0 ? -errno : -EIO;
		goto out;
	}
	ret = ((struct nlmsghdr *)buf)->nlmsg_type == NLMSG_ERROR ?
	      ((struct nlmsgerr *)NLMSG_DATA(buf))->error : -EIO;
out:
	close(fd);
	return ret;
}

/* ip link add @name type @kind [peer name @peer netns @peer_ns] */
static int b_link_add(const char *name, const char *kind, const char *peer,
		      int peer_ns)
{
	struct b_nlreq req;
	struct nlmsghdr *n = b_nl_init(&req, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct rtattr *li, *data, *pinfo;
	struct ifinfomsg pi = { .ifi_family = AF_UNSPEC };

	b_nla(n, IFLA_IFNAME, name, strlen(name) + 1);
	li = b_nla(n, IFLA_LINKINFO, NULL, 0);
	b_nla(n, IFLA_INFO_KIND, kind, strlen(kind));
	if (peer) {
		data = b_nla(n, IFLA_INFO_DATA, NULL, 0);
		pinfo = b_nla(n, VETH_INFO_PEER, &pi, sizeof(pi));
		b_nla(n, IFLA_IFNAME, peer, strlen(peer) + 1);
		if (peer_ns >= 0)
			b_nla(n, IFLA_NET_NS_FD, &peer_ns, sizeof(peer_ns));
		b_nla_end(n, pinfo);
		b_nla_end(n, data);
	}
	b_nla_end(n, li);
	return b_nl_talk(n);
}

static int b_link_del(const char *name)
{
	struct b_nlreq req;
	struct nlmsghdr *n = b_nl_init(&req, RTM_DELLINK, 0);

	b_nla(n, IFLA_IFNAME, name, strlen(name) + 1);
	return b_nl_talk(n);
}

/* Address @addr/24, mtu, up; in the calling thread's network namespace. */
static int b_if_config(const char *name, const char *addr, int mtu)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (mtu) {
		ifr.ifr_mtu = mtu;
		if (ioctl(fd, SIOCSIFMTU, &ifr))
			ret = -errno;
	}
	if (addr && !ret) {
		memset(&ifr.ifr_addr, 0, sizeof(ifr.ifr_addr));
		sin->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &sin->sin_addr);
		if (ioctl(fd, SIOCSIFADDR, &ifr) && errno != EEXIST)
			ret = -errno;
		inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
		if (!ret && ioctl(fd, SIOCSIFNETMASK, &ifr))
			ret = -errno;
	}
	if (!ret && !ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			ret = -errno;
	} else if (!ret) {
		ret = -errno;
	}
	close(fd);
	return ret;
}

/* The UDP sink: a dummy interface that drops what it is given. */
int b_udp_setup(void)
{
	int ret = b_link_add(B_DUMMY_IF, "dummy", NULL, -1);

	if (ret && ret != -EEXIST)
		return ret;
	B.dummy_created = !ret;
	ret = b_if_config(B_DUMMY_IF, B_DUMMY_ADDR, 65535);
	if (ret)
		return ret;
	B.udp_dst.sin_family = AF_INET;
	B.udp_dst.sin_port = htons(9);
	inet_pton(AF_INET, B_DUMMY_DST, &B.udp_dst.sin_addr);
	B.udp_ok = true;
	return 0;
}

static void *b_rx_main(void *arg)
{
	static unsigned char buf[1 << 20];
	struct b_rx *rx = arg;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int one = 1;

	b_pin(B.o.rx_cpu);
	if (rx->ns >= 0 && setns(rx->ns, CLONE_NEWNET)) {
		rx->lfd = -errno;
		sem_post(&rx->ready);
		return NULL;
	}
	rx->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa = rx->dst;
	sa.sin_port = 0;
	setsockopt(rx->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (rx->lfd < 0 || bind(rx->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(rx->lfd, 4) ||
	    getsockname(rx->lfd, (struct sockaddr *)&sa, &len)) {
		if (rx->lfd >= 0)
			close(rx->lfd);
		rx->lfd = -errno;
		sem_post(&rx->ready);
		return NULL;
	}
	rx->dst.sin_port = sa.sin_port;
	sem_post(&rx->ready);
	for (;;) {
		int c = accept(rx->lfd, NULL, NULL);
		ssize_t n;

		if (c < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* MSG_TRUNC: TCP discards the data, no copy to user space */
		while ((n = recv(c, buf, sizeof(buf), MSG_TRUNC)) != 0) {
			if (n < 0 && errno != EINTR)
				break;
		}
		close(c);
		sem_post(&rx->done);
	}
	return NULL;
}

/* A new network namespace with its loopback up; its fd, or -errno. */
static int b_netns_new(void)
{
	int fd, ret;

	if (unshare(CLONE_NEWNET))
		return -errno;
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	ret = fd < 0 ? -errno : b_if_config("lo", NULL, 0);
	if (setns(B.ns_main, CLONE_NEWNET)) {
		b_err("setns back to the main namespace: %s", strerror(errno));
		exit(2);
	}
	if (ret && fd >= 0)
		close(fd);
	return ret ?: fd;
}

/* b_if_config() in namespace @ns. */
static int b_if_config_ns(int ns, const char *name, const char *addr, int mtu)
{
	int ret;

	if (setns(ns, CLONE_NEWNET))
		return -errno;
	ret = b_if_config(name, addr, mtu);
	if (setns(B.ns_main, CLONE_NEWNET)) {
		b_err("setns back to the main namespace: %s", strerror(errno));
		exit(2);
	}
	return ret;
}

/* Start @rx's thread, listening on @addr in @rx->ns. */
static int b_rx_start(struct b_rx *rx, in_addr_t addr)
{
	sigset_t all, old;
	int ret;

	rx->dst.sin_family = AF_INET;
	rx->dst.sin_addr.s_addr = addr;
	sem_init(&rx->ready, 0, 0);
	sem_init(&rx->done, 0, 0);
	/* the receiver never takes the sender's SIGALRM */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = pthread_create(&rx->th, NULL, b_rx_main, rx);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return -ret;
	rx->started = true;
	while (sem_wait(&rx->ready) && errno == EINTR)
		;
	if (rx->lfd < 0)
		return rx->lfd;
	rx->ok = true;
	return 0;
}

/*
 * TCP receiver in its own network namespace behind a veth pair; loopback
 * when the namespace or the veth cannot be had. Either way the receive
 * side copies zero-copy frags (skb_orphan_frags_rx).
 */
int b_tcp_setup(void)
{
	struct b_rx *rx = &B.rx[B_TCP];
	struct in_addr a;
	int ret;

	B.tcp_kind = "veth-netns";
	rx->ns = B.o.tcp_loopback ? -EPERM : b_netns_new();
	ret = rx->ns < 0 ? rx->ns : 0;
	if (!ret) {
		b_link_del(B_VETH_A);	/* left over from a killed run */
		ret = b_link_add(B_VETH_A, "veth", B_VETH_B, rx->ns);
	}
	if (!ret)
		ret = b_if_config(B_VETH_A, B_VETH_ADDR_A, 65535);
	if (!ret)
		ret = b_if_config_ns(rx->ns, B_VETH_B, B_VETH_ADDR_B, 65535);
	if (ret) {
		b_log("no veth/netns receiver (%s): TCP over loopback",
		      strerror(-ret));
		if (rx->ns >= 0)
			close(rx->ns);
		rx->ns = -1;
		B.tcp_kind = "loopback";
		a.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		inet_pton(AF_INET, B_VETH_ADDR_B, &a);
	}
	return b_rx_start(rx, a.s_addr);
}

/* The first two network interfaces driven by e1000, by name. */
static int b_find_nics(void)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *drv;
	unsigned int n = 0;
	struct dirent *d;
	ssize_t len;
	DIR *dir;

	dir = opendir("/sys/class/net");
	if (!dir)
		return -errno;
	while ((d = readdir(dir)) && n < 2) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/device/driver",
			 d->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = 0;
		drv = strrchr(target, '/');
		if (drv && !strcmp(drv + 1, "e1000") &&
		    strlen(d->d_name) < IFNAMSIZ)
			memcpy(B.nic[n++], d->d_name, strlen(d->d_name) + 1);
	}
	closedir(dir);
	/* readdir order is arbitrary: the lower name sends */
	if (n == 2 && strcmp(B.nic[0], B.nic[1]) > 0) {
		char t[IFNAMSIZ];

		memcpy(t, B.nic[0], IFNAMSIZ);
		memcpy(B.nic[0], B.nic[1], IFNAMSIZ);
		memcpy(B.nic[1], t, IFNAMSIZ);
	}
	return n == 2 ? 0 : -ENODEV;
}

/* ip link set @name netns @ns */
static int b_link_setns(const char *name, int ns)
{
	struct b_nlreq req;
	struct nlmsghdr *n = b_nl_init(&req, RTM_SETLINK, 0);

	b_nla(n, IFLA_IFNAME, name, strlen(name) + 1);
	b_nla(n, IFLA_NET_NS_FD, &ns, sizeof(ns));
	return b_nl_talk(n);
}

/* Wait until @name reports carrier (e1000 negotiates after `up`). */
static int b_wait_carrier(const char *name)
{
	char path[96];
	int i, c = 0;

	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", name);
	for (i = 0; i < 1000 && c != 1; i++) {
		FILE *f = fopen(path, "r");

		if (f) {
			if (fscanf(f, "%d", &c) != 1)
				c = 0;
			fclose(f);
		}
		if (c != 1)
			usleep(20000);
	}
	return c == 1 ? 0 : -ENOLINK;
}

/*
 * The NIC path: two e1000 NICs on one QEMU hub (tools/bench.vm), the
 * sender's in our namespace, the receiver's in a namespace of its own, so
 * that every segment leaves through one emulated NIC and arrives through
 * the other. e1000 does scatter-gather and checksum offload, so TCP sends
 * go zero copy and the receive side gets new memory: nothing is copied
 * on the sender's behalf.
 */
int b_nic_setup(void)
{
	struct b_rx *rx = &B.rx[B_NIC];
	struct in_addr a;
	int ret;

	rx->ns = -1;
	ret = b_find_nics();
	if (!ret) {
		rx->ns = b_netns_new();
		ret = rx->ns < 0 ? rx->ns : 0;
	}
	if (!ret)
		ret = b_link_setns(B.nic[1], rx->ns);
	if (!ret)
		ret = b_if_config(B.nic[0], B_NIC_ADDR_A, 0);
	if (!ret)
		ret = b_if_config_ns(rx->ns, B.nic[1], B_NIC_ADDR_B, 0);
	if (!ret)
		ret = b_wait_carrier(B.nic[0]);
	if (ret)
		return ret;
	inet_pton(AF_INET, B_NIC_ADDR_B, &a);
	ret = b_rx_start(rx, a.s_addr);
	B.nic_ok = !ret;
	return ret;
}

/* Whether @path's setup worked. */
bool b_path_ok(int path)
{
	return path == B_UDP ? B.udp_ok : B.rx[path].ok;
}

void b_net_teardown(void)
{
	int p;

	for (p = B_TCP; p < B_NR_PATHS; p++) {
		struct b_rx *rx = &B.rx[p];

		if (rx->started) {
			shutdown(rx->lfd, SHUT_RDWR);
			pthread_join(rx->th, NULL);
			close(rx->lfd);
			rx->started = false;
		}
		if (rx->ns >= 0) {
			/* the peer ends go with their namespace */
			if (p == B_TCP)
				b_link_del(B_VETH_A);
			close(rx->ns);
			rx->ns = -1;
		}
		/* rx->ok stays: whether the path ran, for the results */
	}
	if (B.ns_main >= 0) {
		close(B.ns_main);
		B.ns_main = -1;
	}
	if (B.dummy_created)
		b_link_del(B_DUMMY_IF);
	B.dummy_created = false;
}
