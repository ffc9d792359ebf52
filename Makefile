# SMEC reproduction harness. Every target does its own setup (idempotent), so a fresh clone needs
# only the .NET SDK:  make reproduce TABLE=2   |   make test
SHELL        := /bin/bash
CONFIG       ?= Release
TORCH_BACKEND ?= cpu
TABLE        ?= 2
PROFILE      ?= local
# Optional: SEEDS=N (default 5: mean and sample SD over seeds 1..N), QUICK=1 (seed 1 only, every
# output labelled "quick"), EMBEDDINGS=manifest.yaml (paper profile), FORCE=1.
SEEDS        ?=
QUICK        ?=
EMBEDDINGS   ?=
FORCE        ?=
# ROBUSTNESS=1: also judge every claim under each protocol variant (docs/REPRODUCING.md, "Robustness of each finding").
ROBUSTNESS   ?=
# JOBS=N: worker processes for trained experiments (default one per core, at most 4; 1 = in-process).
JOBS         ?=
RUN_FLAGS    := $(if $(SEEDS),--seeds $(SEEDS)) $(if $(QUICK),--quick) $(if $(EMBEDDINGS),--embeddings $(EMBEDDINGS))
REPRO_FLAGS  := $(RUN_FLAGS) $(if $(JOBS),--jobs $(JOBS)) $(if $(FORCE),--force) $(if $(ROBUSTNESS),--robustness)
DOTNET_FLAGS := -c $(CONFIG) -p:TorchBackend=$(TORCH_BACKEND) -nologo -v minimal -clp:NoSummary
SMEC         := dotnet Smec.Experiments/bin/$(CONFIG)/net10.0/linux-x64/smec.dll
STAMP        := .cache/setup.stamp
# When make started (setup and build count in reproduce's timing breakdown).
MAKE_STARTED := $(shell date +%s.%N)
NOTEBOOK_RUNNER := dotnet tools/NotebookRunner/bin/$(CONFIG)/net10.0/linux-x64/notebook-runner.dll

export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

.PHONY: setup build program test reproduce reproduce-all check bless list bench notebooks examples sweep clean help

help:
	@echo "make reproduce TABLE=N [PROFILE=local|paper]   reproduce one catalog item (default TABLE=2)"
	@echo "     [SEEDS=N | QUICK=1] [EMBEDDINGS=manifest.yaml] [FORCE=1] [JOBS=N]  seeds per trained cell (default 5; QUICK: 1, labelled), the paper's embeddings, recompute, worker processes"
	@echo "make reproduce-all | list | check | bless TABLE=N   every item | the catalog | verdicts from the cache | record values"
	@echo "make test                                       build and run every test"
	@echo "make notebooks                                  execute every notebook headless (executed copies in results/notebooks/)"
	@echo "make examples                                   run every examples/*.fsx with dotnet fsi"
	@echo "make sweep SPEC=examples/sweeps/ablation.yaml   run a sweep spec [SWEEP_FLAGS=\"--executor slurm ...\"]"
	@echo "make setup | build | program | bench | clean    (program: the smec command line alone)"

# Debian packages the project needs, NuGet packages and local dotnet tools. Re-run when these change.
$(STAMP): build/setup.sh Directory.Packages.props .config/dotnet-tools.json
	@bash build/setup.sh
	@mkdir -p $(dir $@) && touch $@

setup: $(STAMP)

build: $(STAMP)
	@dotnet build Smec.sln $(DOTNET_FLAGS)

# The smec program alone: what reproduce, check, bless, list, bench and sweep run. `build` adds the
# tests and the notebook runner, which a reproduction does not need (13 of 31 s in a fresh clone).
program: $(STAMP)
	@dotnet build Smec.Experiments/Smec.Experiments.fsproj $(DOTNET_FLAGS)

test: build
	@bash build/run-tests.sh $(CONFIG)

reproduce: program
	@SMEC_MAKE_STARTED=$(MAKE_STARTED) $(SMEC) reproduce --table $(TABLE) --profile $(PROFILE) $(REPRO_FLAGS)

reproduce-all: program
	@SMEC_MAKE_STARTED=$(MAKE_STARTED) $(SMEC) reproduce --all --profile $(PROFILE) $(REPRO_FLAGS)

# Verdicts of every item from cached results only (nothing runs); fails (exit 1) on any FAIL or
# IMPROVED (a cell better than its blessed band: re-bless or explain); TIEs are counted, do not fail;
# exit 2 (INCOMPLETE) when experiments an item needs are not cached (make reproduce computes them).
check: program
	@$(SMEC) check --profile $(PROFILE) $(RUN_FLAGS)

# Record the current values of item TABLE (from the cache, every seed) as its regression
# reference. Quick (single-seed) results are refused.
bless: program
	@$(SMEC) bless --table $(TABLE) --profile $(PROFILE) $(RUN_FLAGS)

list: program
	@$(SMEC) list $(if $(EMBEDDINGS),--embeddings $(EMBEDDINGS))

bench: program
	@$(SMEC) bench

# A sweep spec (examples/sweeps/*.yaml); SWEEP_FLAGS="--executor slurm --cpus-per-task 4" etc.
SPEC         ?=
SWEEP_FLAGS  ?=
sweep: program
	@$(if $(SPEC),,$(error give SPEC=path/to/sweep.yaml, e.g. make sweep SPEC=examples/sweeps/ablation.yaml))
	@$(SMEC) sweep run $(SPEC) $(SWEEP_FLAGS)

# Each notebook runs in a fresh kernel; the runner makes its private kernel copy itself (.cache/).
notebooks: build
	@$(NOTEBOOK_RUNNER) --out results/notebooks notebooks

examples: build
	@bash scripts/run-examples.sh

clean:
	@dotnet clean Smec.sln -nologo -v quiet
	@rm -rf .cache
