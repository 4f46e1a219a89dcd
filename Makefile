# SPDX-License-Identifier: GPL-2.0
#
# iouring-pbuf: out-of-tree module, tests and tooling.
#
#   make                      build the module for the running kernel
#   make modules_install      install it (/lib/modules/R/updates, depmod)
#   make KDIR=/lib/modules/R/build   ... or for kernel release R
#   make check                every test tier (installs what is missing)
#   make demo                 boot Debian's 6.1 in QEMU: the file server demo
#   make help                 all targets

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build

# Sources a build for another kernel needs (DKMS, scratch build dirs).
MODULE_SOURCES := Kbuild Makefile module include uapi scripts/conftest.sh

.PHONY: all module modules clean help deps tests tools kunit vm-test \
	build-matrix style check demo dkms-install dkms-remove dkms-test \
	bench bench-profile debug-test fuzz lib lib-install modules_install install deb

all: module

# Kbuild runs the compat probes (scripts/conftest.sh), so this is the
# same as `make -C $(KDIR) M=$(CURDIR)`.
module modules:
	@test -d "$(KDIR)" || { echo "no kernel build tree at $(KDIR):" \
		"install the headers, or pass KDIR=... or KVER=..." >&2; exit 1; }
	$(MAKE) -C "$(KDIR)" M="$(CURDIR)" modules

# /lib/modules/R/updates/iouring_pbuf.ko (INSTALL_MOD_PATH=,
# INSTALL_MOD_DIR= as for any external module), then depmod, which kbuild
# skips when the headers have no System.map (Debian's have none).
modules_install install: module
	$(MAKE) -C "$(KDIR)" M="$(CURDIR)" INSTALL_MOD_DIR=$(or $(INSTALL_MOD_DIR),updates) modules_install
	depmod $(if $(INSTALL_MOD_PATH),-b "$(INSTALL_MOD_PATH)") \
		"$$(cat "$(KDIR)/include/config/kernel.release")"

# Every build product: kbuild's, the probes' header, build/ (packages,
# check logs, VM logs), and lib/, examples/, tests/, tools/ builds.
clean:
	@if [ -d "$(KDIR)" ]; then $(MAKE) -C "$(KDIR)" M="$(CURDIR)" clean; fi
	find . \( -path ./.git -o -path ./build \) -prune -o -type f \
		\( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name '*.a' -o -name modules.order \
		-o -name Module.symvers \) -print0 | xargs -0r rm -f
	rm -rf include/generated build .tmp_versions
	@for d in lib examples tests tools; do \
		if [ -f $$d/Makefile ]; then $(MAKE) -C $$d clean; fi; done

help:
	@sed -n 's/^#   //p' Makefile
	@echo "targets: module clean deps tests tools kunit vm-test build-matrix"
	@echo "         style check demo dkms-install dkms-remove dkms-test"
	@echo "         bench bench-profile debug-test fuzz lib lib-install modules_install"
	@echo "         install deb"

deps:
	scripts/install-deps.sh

tests:
	$(MAKE) -C tests

tools:
	$(MAKE) -C tools

kunit:
	scripts/kunit.sh

# make vm-test [KVER=release]: one kernel, or the whole matrix
vm-test:
	scripts/vm-test.sh $(if $(filter command line,$(origin KVER)),$(KVER))

build-matrix:
	scripts/build-matrix.sh

style:
	scripts/style.sh

check:
	scripts/check.sh

demo:
	scripts/demo.sh

dkms-install:
	scripts/dkms.sh install

dkms-remove:
	scripts/dkms.sh remove

dkms-test:
	scripts/dkms.sh test

# benchmarks: every kernel in QEMU, writes docs/BENCHMARKS.md (not in check)
bench:
	scripts/bench.sh

# where a send's instructions go, module vs native (function_graph, icount)
bench-profile:
	BENCH_MODE=profile scripts/bench.sh

# the selftests on a KASAN/lockdep/kmemleak/fault-injection kernel
debug-test:
	scripts/debug-kernel.sh test

# the fuzzer inside the debug guest; FUZZ_SECONDS=N runs it longer
fuzz:
	scripts/debug-kernel.sh fuzz

# the application library (lib/), and its installation (PREFIX=, DESTDIR=)
lib:
	$(MAKE) -C lib

lib-install:
	$(MAKE) -C lib install

# Debian packages (debian/, dpkg-buildpackage): iouring-pbuf-dkms,
# libiouring-pbuf0 and libiouring-pbuf-dev into build/deb/
deb:
	scripts/deb.sh
