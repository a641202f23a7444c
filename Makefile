# genbench developer targets. `make test` installs into .venv first when needed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
OLDEST ?= .venv-oldest
SEEDS  ?= 0,1,2
GAP_SEEDS ?= 0,1,2,3,4,5,6,7

.PHONY: install test test-oldest test-slow lint format bench leaderboards leaderboards-conditional leaderboards-extrapolated classifier checkpoints ddim-gap run clean

install: $(STAMP)

# Let pip resolve torch and torchvision from the registry together (never pin the local CPU wheel:
# torchvision's compiled ops only load beside the matching full torch build).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

# `make test` and `make lint` at the lowest versions pyproject.toml declares, in .venv-oldest: each
# NAME>=FLOOR of the dependencies and the dev extra installed as exactly FLOOR (FLOORS below writes
# them as pip constraints), what those need in turn at its newest. pip fetches a second torch for it (GBs).
# The whole package's mypy check is left to `make test`: it reads the installed libraries' type hints,
# which the floors lack or spell otherwise (matplotlib's and Pillow's none, numpy 1 has no numpy._core,
# torch 2.5 no get_unsafe_globals_in_checkpoint, which checkpoint.py calls where it exists).
test-oldest: $(OLDEST)/.installed-stamp
	$(OLDEST)/bin/python -m pytest -q --deselect tests/test_public_types.py::test_the_package_passes_mypy
	$(OLDEST)/bin/ruff check genbench baselines tests benchmarks
	$(OLDEST)/bin/ruff format --check genbench baselines tests benchmarks

$(OLDEST)/.installed-stamp: pyproject.toml
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(PYTHON) -c "$$FLOORS" > $(OLDEST)/floors.txt
	$(OLDEST)/bin/python -m pip install --quiet -c $(OLDEST)/floors.txt -e '.[dev]'
	touch $@

define FLOORS
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]:
    name, at_least, floor = requirement.partition(">=")
    if at_least:
        print(f"{name.strip()}=={floor.strip()}")
endef
export FLOORS

# Long quality checks (baseline FIDs on digits, mode recovery): minutes, not in `make test`. They train
# into test-slow/ inside the cache, which no `genbench run` reads (they never load the shipped weights).
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check genbench baselines tests benchmarks
	$(VENV)/bin/ruff format --check genbench baselines tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format genbench baselines tests benchmarks
	$(VENV)/bin/ruff check --fix genbench baselines tests benchmarks

# Speed on this machine: every model on digits (samples/s, NFE, peak memory; the training time is the
# checkpoint's, of the shipped ones where they were trained: add --retrain to time it here), the DDIM
# step sweep with its FID-vs-speed plot, then the CIFAR-10-sized models on synthetic data (GPU when
# there is one; on the CPU a smoke run). Numbers land in runs/bench/.
bench: $(STAMP)
	$(PY) -m genbench run --models ddpm,ddim,vae,gan-ns,gaussian --dataset digits --seeds 0 --out runs/bench
	$(PY) -m genbench run --models ddim --set ddim.steps=10,20,50,100 --dataset digits --seeds 0 --out runs/bench
	$(PY) -m genbench report --out runs/bench --leaderboards runs/bench/leaderboards
	$(PY) benchmarks/cifar10_synthetic.py --out runs/bench/cifar10_synthetic.json

# The published leaderboards: every baseline and control on the embedded datasets, 3 seeds.
leaderboards: $(STAMP)
	$(PY) -m genbench run --dataset digits --seeds $(SEEDS) --out runs/leaderboards
	$(PY) -m genbench run --models ddim --set ddim.steps=10,20,50,100 --dataset digits --seeds $(SEEDS) --out runs/leaderboards
	$(PY) -m genbench run --models ddim --set ddim.steps=100 --set ddim.eta=1 --dataset digits --seeds $(SEEDS) --out runs/leaderboards
	$(PY) -m genbench run --models vae,gan-ns,gan-sat,ddpm,ddim,copy,collapse,gaussian --dataset ring8 --seeds $(SEEDS) --out runs/leaderboards
	$(PY) -m genbench run --models vae,gan-ns,gan-sat,ddpm,ddim,copy,collapse,gaussian --dataset grid25 --seeds $(SEEDS) --out runs/leaderboards
	$(PY) -m genbench report --out runs/leaderboards --leaderboards leaderboards

# The class-conditional board (leaderboards/conditional/): ddpm-cond and ddim-cond (classifier-free
# guidance at the default w = 0.1, and DDIM's guidance sweep over the same weights), gan-cond, the
# copy-cond floor, and the unconditional ddpm, ddim and gan-ns beside them, 3 seeds on digits (about
# 35 minutes on 2 cores).
leaderboards-conditional: $(STAMP)
	$(PY) -m genbench run --models ddpm-cond,ddim-cond,gan-cond,copy-cond,ddpm,ddim,gan-ns --dataset digits --seeds $(SEEDS) --out runs/conditional
	$(PY) -m genbench run --models ddim-cond --set ddim-cond.guidance=0,0.3,1,3 --dataset digits --seeds $(SEEDS) --out runs/conditional
	$(PY) -m genbench report --out runs/conditional --leaderboards leaderboards/conditional

# FID and IS extrapolated to infinitely many samples (fid_inf, is_inf: Chong & Forsyth 2020) beside FID
# and IS at N, for the trained baselines on digits, 3 seeds, from the shipped checkpoints
# (leaderboards/extrapolated/, which docs/metrics.md quotes; about 15 minutes on 2 cores).
leaderboards-extrapolated: $(STAMP)
	$(PY) -m genbench run --models ddpm,vae,gan-ns,gan-sat --dataset digits --seeds $(SEEDS) --metrics fid,fid_inf,is,is_inf --out runs/extrapolated
	$(PY) -m genbench report --out runs/extrapolated --leaderboards leaderboards/extrapolated

# Issue #3's DDIM-at-100-steps against DDPM-at-1000 over 8 seeds, paired by seed (DDIM samples each
# seed's DDPM checkpoint): ddpm and ddim at 100 steps (eta 0 and 1) on digits, then each DDIM row's
# excess over DDPM with its paired 95% interval (benchmarks/ddim_gap.py). Seeds 0-2 load the shipped
# checkpoints, 3-7 train (about 45 minutes on 2 cores).
ddim-gap: $(STAMP)
	$(PY) -m genbench run --models ddpm --dataset digits --seeds $(GAP_SEEDS) --out runs/ddim-gap
	$(PY) -m genbench run --models ddim --set ddim.steps=100 --dataset digits --seeds $(GAP_SEEDS) --out runs/ddim-gap
	$(PY) -m genbench run --models ddim --set ddim.steps=100 --set ddim.eta=1 --dataset digits --seeds $(GAP_SEEDS) --out runs/ddim-gap
	$(PY) benchmarks/ddim_gap.py --out runs/ddim-gap

# Remake the digits classifier weights that ship in genbench/features/weights/ (seconds). On another
# CPU they come out different, which changes every digits FID: then also `make leaderboards`.
classifier: $(STAMP)
	$(PY) -m genbench.features.ship_classifier digits

# Remake the trained digits checkpoints that ship in baselines/weights/ (vae, gan-ns, gan-sat, ddpm;
# about 30 minutes on 2 cores for 3 seeds). On another CPU they come out different (within the spread
# over seeds), which changes the digits board: then also `make leaderboards`, with GENBENCH_CACHE set to
# an empty folder (a cache's own checkpoint of a key is loaded before the shipped one).
checkpoints: $(STAMP)
	$(PY) -m baselines.ship_weights --seeds $(SEEDS)

# The README's first command: every reference model and control on the embedded digits, then the table
# (under runs/, leaving the published leaderboards/ as they are).
run: $(STAMP)
	$(VENV)/bin/genbench run --out runs/quickstart
	$(VENV)/bin/genbench report --out runs/quickstart --leaderboards runs/quickstart/leaderboards

# build/ too: a wheel built again in a clone still shipped modules deleted since the last build
clean:
	rm -rf $(VENV) $(OLDEST) runs .pytest_cache build *.egg-info
