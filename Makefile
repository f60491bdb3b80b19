# umha: build, install, package.
#
#   make                  static release binaries (x86_64-unknown-linux-musl)
#   make install          into DESTDIR/PREFIX (PREFIX=/usr; OCF agents go to
#                         OCF_ROOT=/usr/lib/ocf, where Pacemaker looks)
#   make deb              target/debian/umha_<version>_<arch>.deb
#   make man              regenerate man/ from the agents' parameter tables
#   make check            every test (tests/run-all.sh; root, Debian 12)
#
# Installing builds nothing: run `make` first as a user, `make install` as
# root, as usual.

PREFIX ?= /usr
OCF_ROOT ?= /usr/lib/ocf
DESTDIR ?=
TARGET ?= x86_64-unknown-linux-musl
CARGO ?= cargo

.PHONY: all build install deb man check

all: build

build:
	$(CARGO) build --release --locked --target $(TARGET) --workspace --bins

install:
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" OCF_ROOT="$(OCF_ROOT)" bash packaging/install.sh

deb:
	bash packaging/build-deb.sh

man:
	bash man/generate.sh

check:
	bash tests/run-all.sh
