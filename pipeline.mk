# pipeline.mk: the pipeline of one product line as make targets with real file dependencies.
#
#   make -f pipeline.mk PRODUCT=casting            (or `make pipeline PRODUCT=casting`)
#
# configs/$(PRODUCT).json  ->  out/$(PRODUCT)/:
#   data/ (+ test-images/) -> base.h5 -> profile-device.json, profile-edge.json -> plan.json (+ plan.svg)
#   -> tl.h5 -> tuned-stage1.h5 -> tuned.h5 -> device.h5 + edge.h5 (and notl-device.h5 +
#   notl-edge.h5, the best split without a TL) -> eval-*.json, bench.json -> report.html
#
# `sl-pipeline config` writes each step's arguments to out/$(PRODUCT)/cfg/<step>.args and
# rewrites a file only when its content changes, so editing one section of the config re-runs
# only the steps that read it. Profiles measured on the real device and edge can be given with
# DEVICE_PROFILE=path and EDGE_PROFILE=path instead of measuring them here.

PRODUCT ?= casting
BUILD   ?= build
BIN     ?= $(BUILD)/bin
CFG     ?= configs/$(PRODUCT).json
OUT     ?= out/$(PRODUCT)
A       := $(OUT)/cfg
DATA    := $(OUT)/data
PP      := $(BIN)/sl-preprocess
TRAIN   := $(BIN)/sl-train
OFF     := $(BIN)/sl-offload
SLDATA  := $(BIN)/sl-data
PIPE    := $(BIN)/sl-pipeline

# Arguments of a step, with the shell quoting sl-pipeline config wrote.
args = $$(cat $(A)/$(1).args)

.PHONY: pipeline
# A step that fails leaves no half-written target behind.
.DELETE_ON_ERROR:
pipeline: $(OUT)/report.html

$(A)/.stamp: $(CFG) $(PIPE)
	@mkdir -p $(A)
	$(PIPE) config $(CFG) --out $(OUT)
	@touch $@
$(A)/%.args: $(A)/.stamp ;

# 1. the product line's images (a synthetic line, or a folder of yours linked in), and its test
#    split as a folder of links, test-images/<class>/, for the bench: a flat folder's test split
#    is a seeded ratio split, not a folder, and a dataset without test images stops here, not
#    after training
$(OUT)/dataset.stamp: $(A)/dataset.args $(A)/data-open.args
	rm -rf $(DATA)
	eval "set -- $(call args,dataset)"; \
	if [ "$$1" = synth ]; then shift; $(SLDATA) synth "$$@" --out $(DATA); \
	else ln -s "$$(realpath "$$2")" $(DATA); fi
	eval "$(SLDATA) stats $(DATA) $(call args,data-open) -o $(OUT)/data-stats.json"
	rm -rf $(OUT)/test-images
	eval "$(SLDATA) list $(DATA) $(call args,data-open) --split test --link $(OUT)/test-images"
	@touch $@

# 2. the base model, trained on the product line; with "train": false the given model.bundle is
#    copied as it is (its weights unchanged: profiled, planned and given a TL as they are)
$(OUT)/base.h5: $(OUT)/dataset.stamp $(A)/model.args $(A)/train.args $(A)/base.args
	if [ "$$(cat $(A)/base.args)" = keep ]; then \
	  eval "set -- $(call args,model)"; cp "$$2" $@.tmp && mv $@.tmp $@; \
	else eval "$(TRAIN) fit --data $(DATA) $(call args,model) $(call args,train) --log $(OUT)/base-metrics.jsonl -o $@"; fi

# 3. profiles of the device and the edge; the wire sizes are measured on the line's own images
$(OUT)/profile-device.json: $(OUT)/base.h5 $(A)/profile-device.args $(DEVICE_PROFILE)
	if [ -n "$(DEVICE_PROFILE)" ]; then cp "$(DEVICE_PROFILE)" $@; \
	else eval "$(PP) profile $< $(call args,profile-device) --images $(DATA) -o $@"; fi
$(OUT)/profile-edge.json: $(OUT)/base.h5 $(A)/profile-edge.args $(EDGE_PROFILE)
	if [ -n "$(EDGE_PROFILE)" ]; then cp "$(EDGE_PROFILE)" $@; \
	else eval "$(PP) profile $< $(call args,profile-edge) --images $(DATA) -o $@"; fi

# 4. the slice point: ranked plans with and without a TL, and the chart
$(OUT)/plan.json: $(OUT)/profile-device.json $(OUT)/profile-edge.json $(A)/select.args
	eval "$(PP) select --device $(OUT)/profile-device.json --edge $(OUT)/profile-edge.json $(call args,select) --top 5 --versus --plot $(OUT)/plan.svg -o $@" > $(OUT)/plan.txt
	cat $(OUT)/plan.txt

# 5. the TL at the chosen cut, then fine-tuned in two stages against the base model
$(OUT)/tl.h5: $(OUT)/base.h5 $(OUT)/plan.json $(A)/insert.args
	eval "$(PP) insert $< --plan $(OUT)/plan.json $(call args,insert) -o $@"
$(OUT)/tuned-stage1.h5: $(OUT)/tl.h5 $(OUT)/base.h5 $(OUT)/dataset.stamp $(A)/finetune-stage1.args
	eval "$(TRAIN) fit --data $(DATA) --model $< --tl-stage 1 --tl-teacher $(OUT)/base.h5 $(call args,finetune-stage1) --log $(OUT)/stage1-metrics.jsonl -o $@"
$(OUT)/tuned.h5: $(OUT)/tuned-stage1.h5 $(OUT)/base.h5 $(A)/finetune-stage2.args
	if [ "$$(cat $(A)/finetune-stage2.args)" = skip ]; then cp $< $@.tmp && mv $@.tmp $@; \
	else eval "$(TRAIN) fit --data $(DATA) --model $< --tl-stage 2 --tl-teacher $(OUT)/base.h5 $(call args,finetune-stage2) --log $(OUT)/stage2-metrics.jsonl -o $@"; fi

# 6. paired device and edge bundles: with the TL, and the best split without one
$(OUT)/split.stamp: $(OUT)/tuned.h5
	$(PP) split $< --device $(OUT)/device.h5 --edge $(OUT)/edge.h5
	@touch $@
$(OUT)/notl-split.stamp: $(OUT)/base.h5 $(OUT)/plan.json
	$(PP) split $< --plan $(OUT)/plan.json --use best_split_without_tl --device $(OUT)/notl-device.h5 --edge $(OUT)/notl-edge.h5
	@touch $@

# 7. accuracy of the base model and of the split pair, on the test images
$(OUT)/eval-base.json: $(OUT)/base.h5 $(OUT)/dataset.stamp
	$(TRAIN) eval --model $< --data $(DATA) --split test --json -o $@
$(OUT)/eval-pair.json: $(OUT)/split.stamp $(OUT)/dataset.stamp
	$(TRAIN) eval --pair $(OUT)/device.h5 $(OUT)/edge.h5 --data $(DATA) --split test --json -o $@

# 8. measured latency: local, edge-only, split, split + TL over loopback with the config's link
$(OUT)/bench.json: $(OUT)/split.stamp $(OUT)/notl-split.stamp $(OUT)/plan.json $(A)/bench.args
	eval "$(OFF) bench --model $(OUT)/base.h5 --pair $(OUT)/notl-device.h5 $(OUT)/notl-edge.h5 --tl-pair $(OUT)/device.h5 $(OUT)/edge.h5 --plan $(OUT)/plan.json --images $(OUT)/test-images $(call args,bench) --json" > $@

# 9. the report, readable without the terminal
$(OUT)/report.html: $(OUT)/eval-base.json $(OUT)/eval-pair.json $(OUT)/bench.json $(OUT)/plan.json
	$(PIPE) report --dir $(OUT) -o $@
	@echo "report: $@"

# 10. (optional) an adaptive device's plans (issue 16, docs/formats/plan-bundles.md): with the
#     table's links in the config (`network.bandwidths`) or given as
#     `make -f pipeline.mk plans PRODUCT=... BANDWIDTHS=1mbit,5mbit,20mbit` (which wins), it
#     ranks the plans at each link (select --bandwidths, the config's RTT and constraints) and
#     builds every plan of the table, at most CUTS of them (default 3): a TL plan gets its TL
#     inserted at its cut, fine-tuned in the config's two stages and split; a plan without a TL
#     is the base model split at its cut; edge-only and local-only use the base model. Out:
#     $(OUT)/plans/ with table.json, plans.json (the manifest for `sl-offload device --plans`),
#     the bundles, and edge/ (the files to put in the edge's store). `pipeline` and `demo` do
#     not build it.
BANDWIDTHS ?=
CUTS       ?= 3
PLANS      := $(OUT)/plans

.PHONY: plans
plans: $(PLANS)/plans.stamp

# select's arguments from the config, less its single --bandwidth (the table has its own links:
# plans.args, the config's network.bandwidths, or BANDWIDTHS). A BANDWIDTHS given or dropped
# since the last table is seen through $(PLANS)/bandwidths, which holds its value and is
# rewritten only when that changes (when make is asked for the plans).
ifneq ($(filter plans $(PLANS)/%,$(MAKECMDGOALS)),)
$(shell mkdir -p $(PLANS) && [ -f $(PLANS)/bandwidths ] && [ "$$(cat $(PLANS)/bandwidths)" = "$(BANDWIDTHS)" ] || \
  echo "$(BANDWIDTHS)" > $(PLANS)/bandwidths)
endif

$(PLANS)/table.json: $(OUT)/profile-device.json $(OUT)/profile-edge.json $(A)/select.args $(A)/plans.args $(PLANS)/bandwidths
	@links="$(BANDWIDTHS)"; [ -n "$$links" ] || [ -n "$$(cat $(A)/plans.args)" ] || { \
	  echo "plans: give the table's links: network.bandwidths in $(CFG), or BANDWIDTHS=1mbit,5mbit,20mbit" >&2; exit 2; }
	@mkdir -p $(PLANS)
	eval "set -- $(call args,select)"; skip=0; \
	for a do shift; if [ $$skip = 1 ]; then skip=0; elif [ "$$a" = --bandwidth ]; then skip=1; \
	  else set -- "$$@" "$$a"; fi; done; \
	if [ -n "$(BANDWIDTHS)" ]; then set -- "$$@" --bandwidths "$(BANDWIDTHS)"; \
	else eval "set -- \"\$$@\" $(call args,plans)"; fi; \
	$(PP) select --device $(OUT)/profile-device.json --edge $(OUT)/profile-edge.json "$$@" \
	  --plot $(PLANS)/table.svg -o $@

$(PLANS)/plans.stamp: $(PLANS)/table.json $(OUT)/base.h5 $(OUT)/dataset.stamp $(A)/finetune-stage1.args $(A)/finetune-stage2.args
	$(OFF) plans $< --cuts $(CUTS) --manifest $(PLANS)/plans.json > $(PLANS)/plans.txt
	cp $(OUT)/base.h5 $(PLANS)/model.h5
	rm -rf $(PLANS)/edge && mkdir -p $(PLANS)/edge
	tab=$$(printf '\t'); while IFS=$$tab read -r id kind cut tensor tl; do \
	  p=$(PLANS)/plan$$id; \
	  case $$kind in \
	  slice) if [ "$$tl" = - ]; then $(PP) split $(OUT)/base.h5 --at $$tensor --device $$p-device.h5 --edge $$p-edge.h5 || exit 1; \
	    else $(PP) insert $(OUT)/base.h5 --at $$tensor --tl $$tl -o $$p-tl.h5 && \
	      eval "$(TRAIN) fit --data $(DATA) --model $$p-tl.h5 --tl-stage 1 --tl-teacher $(OUT)/base.h5 $(call args,finetune-stage1) -o $$p-stage1.h5" && \
	      if [ "$$(cat $(A)/finetune-stage2.args)" = skip ]; then cp $$p-stage1.h5 $$p-tuned.h5; \
	      else eval "$(TRAIN) fit --data $(DATA) --model $$p-stage1.h5 --tl-stage 2 --tl-teacher $(OUT)/base.h5 $(call args,finetune-stage2) -o $$p-tuned.h5"; fi && \
	      $(PP) split $$p-tuned.h5 --device $$p-device.h5 --edge $$p-edge.h5 || exit 1; fi; \
	    cp $$p-edge.h5 $(PLANS)/edge/ ;; \
	  edge-only) cp $(PLANS)/model.h5 $(PLANS)/edge/ ;; \
	  esac; \
	done < $(PLANS)/plans.txt
	@touch $@
	@echo "plans: $(PLANS)/plans.json ($$(wc -l < $(PLANS)/plans.txt) plans)"
