# DLink toolchain. Two commands set up a fresh machine and do the work:
#   make demo   -- the whole pipeline on the offline synthetic default
#   make test   -- the test suite
# Both create .venv when missing, install the pinned Python packages (every extra: `.[all]`) and,
# when the Arm toolchain or QEMU are missing, the Debian packages for them.

PYTHON  ?= $(shell command -v python3.11 || command -v python3)
VENV    ?= .venv
RUN     ?= runs/demo
CONFIG  ?= configs/demo.yaml
BOARD   ?= mps2-an386
PYTEST_ARGS ?=

# Paths may hold spaces, quotes or other shell characters: recipes read them from the environment
# ("$$RUN"), never pasted into the command line. The venv folder is a make target, which cannot.
export RUN CONFIG BOARD PYTHON VENV
ifneq ($(words $(VENV)),1)
$(error VENV='$(VENV)': the venv folder is a make target and may not contain spaces)
endif

VENV_OK := $(VENV)/.dlink-installed
APT_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm

.PHONY: venv toolchain pretrain pretrain-demo distill export firmware flash bench demo test test-slow check sanitize clean-run help

help:
	@echo "make demo     distill, export, firmware build, flash (emulated $$BOARD) and bench $$RUN"
	@echo "make test     run the tests"
	@echo "make sanitize the C runtime and the demo's generated model under ASan/UBSan on the host"
	@echo "make distill export flash bench   one stage each (RUN=$$RUN CONFIG=$$CONFIG BOARD=$$BOARD)"
	@echo "make pretrain self-supervised pretraining of CONFIG's teacher into $$RUN/pretrained.pth"
	@echo "make pretrain-demo  rebuild the shipped demo teacher weights $(DEMO_WEIGHTS)"

venv: $(VENV_OK)

$(VENV_OK): pyproject.toml
	@test -x "$$VENV/bin/python" || "$$PYTHON" -m venv "$$VENV"
	"$$VENV/bin/python" -m pip install --quiet --upgrade pip==24.3.1
	"$$VENV/bin/python" -m pip install --quiet -e '.[all]'
	"$$VENV/bin/python" -m pip check
	@touch $@

# The Arm toolchain and QEMU: installed from Debian when any of them is missing.
toolchain:
	@missing=""; for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then :; \
	elif ! command -v apt-get >/dev/null; then \
	    if command -v arm-none-eabi-gcc >/dev/null && command -v qemu-system-arm >/dev/null; then :; else \
	    echo "error: arm-none-eabi-gcc (with newlib) and qemu-system-arm are needed: install them"; exit 1; fi; \
	elif [ "$$(id -u)" = 0 ]; then \
	    echo "Installing from Debian:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	elif command -v sudo >/dev/null; then \
	    echo "Installing from Debian (sudo):$$missing"; \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	    echo "error: missing Debian packages:$$missing; install them as root:"; \
	    echo "       apt-get install --no-install-recommends$$missing"; exit 1; \
	fi

# Each stage runs the one before it first when that one never finished in $(RUN), so
# `make flash` on a fresh machine distills, exports, builds and runs. A stage whose input changed
# since it ran is refused by dlink itself, with the command that brings it up to date.
# (RUN, CONFIG and BOARD reach the sub-make through the environment, exported above.)
needs = @test -f "$$RUN/.stamps/$(1).json" || $(MAKE) --no-print-directory $(2)

distill: venv
	"$$VENV/bin/dlink" distill "$$CONFIG" --run "$$RUN"

pretrain: venv
	"$$VENV/bin/dlink" teacher pretrain "$$CONFIG" --run "$$RUN"

# The demo teacher's pretrained weights ship in the repository so that `make demo` stays short;
# this rebuilds them with their seeded recipe (the pretrain: section of configs/demo.yaml; about
# 20-60 min on 2 cores, ~850 MB of window shards in the data cache). Interrupted, it resumes.
DEMO_WEIGHTS := configs/weights/demo_labram_pretrained.pth
pretrain-demo: venv
	"$$VENV/bin/dlink" teacher pretrain configs/demo.yaml --run runs/demo_pretrain -v
	cp runs/demo_pretrain/pretrained.pth $(DEMO_WEIGHTS)

export: venv
	$(call needs,distill,distill)
	"$$VENV/bin/dlink" export "$$RUN"

firmware: venv toolchain
	$(call needs,export,export)
	"$$VENV/bin/dlink" firmware build "$$RUN" --board "$$BOARD"

flash: firmware
	"$$VENV/bin/dlink" flash "$$RUN" --board "$$BOARD"

bench: venv toolchain
	$(call needs,flash-$(BOARD),flash)
	"$$VENV/bin/dlink" bench "$$RUN"

check: venv
	$(call needs,export,export)
	"$$VENV/bin/dlink" check "$$RUN"

demo: venv toolchain
	$(MAKE) --no-print-directory distill export flash bench

test: venv toolchain
	"$$VENV/bin/python" -m pytest -q $(PYTEST_ARGS)

test-slow: venv toolchain
	"$$VENV/bin/python" -m pytest -q -m slow $(PYTEST_ARGS)

# The C runtime and the generated model of RUN (exported first when needed) under
# AddressSanitizer + UndefinedBehaviorSanitizer on the host: test vectors, random and extreme
# windows; the generator's fuzz test on mutants of the same model. See docs/robustness.md.
sanitize: venv
	$(call needs,export,export)
	"$$VENV/bin/python" -m dlink.firmware.sanitize "$$RUN"

clean-run:
	rm -rf -- "$$RUN"
