# make book | make test | make bench | make data | make clean   (SCALE=tiny|quick|smoke|paper, EXECUTOR=local|ray, TRAIN=none)
SHELL := /bin/bash
SCALE ?= quick
# EXECUTOR=ray spreads populations over a Ray cluster ($$RAY_ADDRESS; none: a local one)
EXECUTOR ?=
# TRAIN=none renders what the stores and the shipped packs hold and trains nothing
TRAIN ?=
VENV ?= .venv
PY := $(VENV)/bin/python
# A local folder of CPU torch wheels, where the machine has one (pip reads it, uv does not).
FIND_LINKS := $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS))
TORCH ?= torch==2.13.0
VENDOR := book/_vendor
# make test: pytest-xdist workers of one thread each (the notebooks' kernels too), a test file
# per unit of work, the two longest first (tests/conftest.py): 826 s on 2 cores, where one
# process of two threads (whose small kernels wait on each other) took 1,464 s in CI
TEST_WORKERS ?= 2
NPM_PACKAGES := @jupyter-widgets/html-manager@1.0.15 requirejs@2.3.7 mathjax@3.2.2
# MathJax: the one component the pages load (tex-mml-chtml.js), its fonts, and what it may
# load on demand (TeX extensions by autoload, MathML entities); not the other combined
# components nor the speech engine (sre), which only the menu's accessibility explorer loads.
MATHJAX_FILES := tex-mml-chtml.js output/chtml/fonts/woff-v2 input/tex/extensions input/mml

.PHONY: book test bench data clean notebooks html lint

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade uv
	$(VENV)/bin/uv pip install --python $(PY) --compile-bytecode $(FIND_LINKS) "$(TORCH)" -e ".[book,test,ray]"
	touch $@

# Web assets the static book needs, vendored so that pages load nothing from the internet.
# html-manager's icon fonts: once, woff2 only (what every browser that runs html-manager 1.x
# loads), in _static/widgets/, where widgets-paths.js maps html-manager's module URLs (else
# the folder depends on the order its scripts load in).
$(VENDOR)/.done: Makefile book/_ext/widgets-paths.js
	rm -rf $(VENDOR) book/_extra && mkdir -p $(VENDOR)/widgets $(VENDOR)/mathjax
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent $(NPM_PACKAGES) >/dev/null && \
	  for f in *.tgz; do mkdir -p $${f%.tgz} && tar -xzf $$f -C $${f%.tgz}; done && \
	  cd - >/dev/null && \
	  cp $$tmp/requirejs-*/package/require.js $(VENDOR)/widgets/require.js && \
	  cp $$tmp/jupyter-widgets-html-manager-*/package/dist/embed-amd.js $(VENDOR)/widgets/ && \
	  cp $$tmp/jupyter-widgets-html-manager-*/package/dist/*.woff2 $(VENDOR)/widgets/ && \
	  for f in $(MATHJAX_FILES); do mkdir -p $(VENDOR)/mathjax/$$(dirname $$f) && \
	    cp -r $$tmp/mathjax-*/package/es5/$$f $(VENDOR)/mathjax/$$f || exit 1; done && \
	  rm -rf $$tmp
	cp book/_ext/widgets-paths.js $(VENDOR)/widgets/
	touch $@

notebooks: $(VENV)/.installed
	$(if $(TRAIN),LT_TRAIN=$(TRAIN)) $(PY) -m lt_core notebooks --scale $(SCALE) $(if $(EXECUTOR),--executor $(EXECUTOR))

html: $(VENV)/.installed $(VENDOR)/.done
	rm -rf book/_build   # a clean build: incremental ones can miss html_extra_path changes
	$(VENV)/bin/jupyter-book build book --warningiserror --nitpick --quiet

book: notebooks html
	@echo "Book: file://$(CURDIR)/book/_build/html/index.html"

test: $(VENV)/.installed $(VENDOR)/.done
	$(PY) -m ruff check lt_core tests book
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: $(VENV)/.installed
	$(PY) -m lt_core.bench

data: $(VENV)/.installed
	$(PY) -m lt_core data

lint: $(VENV)/.installed
	$(PY) -m ruff check lt_core tests book

clean:
	rm -rf book/_build book/*.ipynb $(VENDOR) book/_extra .pytest_cache
