# The examples against the installed library.
CFLAGS ?= -O2 -g -Wall
CFLAGS += $(shell pkg-config --cflags iouring-pbuf)
LDLIBS += $(shell pkg-config --libs iouring-pbuf)
all: fileserver echo
clean:
	rm -f fileserver echo
